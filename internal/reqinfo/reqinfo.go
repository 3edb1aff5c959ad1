// Package reqinfo carries, in a request's context, what cartd's access log needs to know about
// a request but only the code serving it learns: its request id, set by the middleware of
// internal/observe, and the principal it acted as, which each front door resolves itself.
// It is a separate, dependency-free package so that the front doors can report a principal
// without importing the metrics machinery.
package reqinfo

import (
	"context"
	"log/slog"

	"github.com/cartd/cartd/auth"
)

// Info is one request's record. The middleware allocates it with the request and reads it
// once the handler has returned; the handler fills it on the request's own goroutine.
type Info struct {
	// ID is the request id: the client's X-Request-Id when acceptable, otherwise generated.
	ID string

	principal    auth.Principal
	hasPrincipal bool
}

// Principal returns the principal a front door reported, and whether it reported one.
func (i *Info) Principal() (auth.Principal, bool) { return i.principal, i.hasPrincipal }

type key struct{}

// NewContext returns ctx carrying info.
func NewContext(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// FromContext returns the request's Info, or nil outside a request served through the
// middleware (a front door mounted on its own in a test, the sweeper).
func FromContext(ctx context.Context) *Info {
	info, _ := ctx.Value(key{}).(*Info)
	return info
}

// SetPrincipal records that the request authenticated as p. Front doors call it right after
// authenticating; it does nothing when no middleware put an Info in ctx. Only p.Label()
// reaches the log, never a secret.
func SetPrincipal(ctx context.Context, p auth.Principal) {
	if info := FromContext(ctx); info != nil {
		info.principal, info.hasPrincipal = p, true
	}
}

// LogHandler wraps h so that every record logged with a request's context carries the
// request's id (as request_id): an internal error a front door logs can then be matched with
// the access log line and with what the client saw in X-Request-Id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := FromContext(ctx); info != nil && info.ID != "" {
		r.AddAttrs(slog.String("request_id", info.ID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
