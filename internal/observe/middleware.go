package observe

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/internal/reqinfo"
	"github.com/cartd/cartd/internal/tracing"
)

// FrontDoor names the front door that serves the paths under Prefix.
type FrontDoor struct {
	Name   string
	Prefix string
}

// Config configures the middleware.
type Config struct {
	// Logger receives one access log line per request; nil logs nothing.
	Logger *slog.Logger
	// Metrics records each request; nil records nothing.
	Metrics *Metrics
	// FrontDoors maps path prefixes to the front door label; a path under none is
	// DefaultFrontDoor's.
	FrontDoors []FrontDoor
	// DefaultFrontDoor labels paths under no prefix of FrontDoors ("native").
	DefaultFrontDoor string
	// CORS, when it allows any origin, answers browsers' preflights and marks responses to
	// the origins it allows.
	CORS CORS
	// Tracer, when set, gives each request a server span (continuing a W3C traceparent the
	// request carries), and its trace id to the access log line. Nil traces nothing and costs
	// nothing (docs/tracing.md).
	Tracer trace.Tracer
}

// Route labels that are no route pattern.
const (
	RouteUnmatched = "unmatched" // no route matched: a 404 or 405, or the mux's redirect
	RoutePreflight = "preflight" // a CORS preflight the middleware answered itself
)

// Middleware is the first handler of every request: it gives the request an id (X-Request-Id,
// echoed), answers CORS preflights, and once the front door has answered, records the request
// in the metrics and logs it.
type Middleware struct {
	next http.Handler
	cfg  Config
}

// New wraps next, the handler serving every front door.
func New(next http.Handler, cfg Config) *Middleware {
	if cfg.DefaultFrontDoor == "" {
		cfg.DefaultFrontDoor = "native"
	}
	return &Middleware{next: next, cfg: cfg}
}

// MaxRequestID bounds a client's X-Request-Id; a longer one is replaced.
const MaxRequestID = 128

// requestID returns the client's id if it is fit to log and echo (1 to MaxRequestID printable
// token characters), and a new random one otherwise.
func requestID(client string) string {
	if validRequestID(client) {
		return client
	}
	var b [16]byte
	lo, hi := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if s == "" || len(s) > MaxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.:/+=@~!#$%&*^|", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// frontDoor labels a path with the front door the outer mux sends it to (longest prefix).
func (m *Middleware) frontDoor(path string) string {
	door, best := m.cfg.DefaultFrontDoor, 0
	for _, d := range m.cfg.FrontDoors {
		if len(d.Prefix) > best && strings.HasPrefix(path, d.Prefix) {
			door, best = d.Name, len(d.Prefix)
		}
	}
	return door
}

// routeLabel bounds the route label. Every front door routes through an inner ServeMux whose
// patterns all name a method ("GET /v1/carts/{id}"); ServeMux.ServeHTTP sets the request's
// Pattern to the one it matched, on the very request the middleware passed down. A request no
// inner route matched keeps the mount pattern of the outer mux ("/", "/api/cart/"), and a
// mux's redirect may set a pattern made of the request's own path: neither names a method,
// and both become "unmatched", so that no client can mint label values.
func routeLabel(pattern string) string {
	if strings.IndexByte(pattern, ' ') < 0 {
		return RouteUnmatched
	}
	return pattern
}

// ServeHTTP serves r. The front door gets r with a reqinfo.Info in its context (which the
// front door fills with the principal) and a writer that records the status; both live in
// one allocation. The metrics and the log line come after the front door returns, when the
// route pattern it matched is on the request.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w}
	rw.info.ID = requestID(r.Header.Get("X-Request-Id"))
	w.Header().Set("X-Request-Id", rw.info.ID)
	route := ""
	ctx := r.Context()
	var span trace.Span
	if m.cfg.Tracer != nil {
		ctx, span = m.startSpan(r)
	}
	if m.cfg.CORS.enabled() && m.cfg.CORS.handle(w, r) {
		rw.status, route = http.StatusNoContent, RoutePreflight
	} else {
		req := r.WithContext(reqinfo.NewContext(ctx, &rw.info))
		m.next.ServeHTTP(rw, req)
		route = routeLabel(req.Pattern)
	}
	if rw.status == 0 {
		rw.status = http.StatusOK // the handler wrote nothing: net/http answers 200
	}
	end := time.Now()
	d := end.Sub(start)
	door := m.frontDoor(r.URL.Path)
	if span != nil {
		endSpan(span, route, door, rw, end)
	}
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.observeRequest(route, door, rw.status, d)
	}
	if m.cfg.Logger != nil {
		m.log(r, rw, route, door, end, d, span)
	}
}

// startSpan starts the request's server span, as the child of the caller's span when the
// request carries a W3C traceparent. Its name is the method until the route is known.
func (m *Middleware) startSpan(r *http.Request) (ctx context.Context, span trace.Span) {
	ctx = tracing.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return m.cfg.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
	))
}

// endSpan names the span by its route ("PATCH /v1/carts/{id}/items/{item_id}", bounded as
// the metrics' label is) and records the outcome: a 5xx is an error of the server's.
func endSpan(span trace.Span, route, door string, rw *recorder, end time.Time) {
	span.SetName(route)
	span.SetAttributes(
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", rw.status),
		attribute.String("cartd.front_door", door),
		attribute.String("cartd.request_id", rw.info.ID),
	)
	if p, ok := rw.info.Principal(); ok {
		span.SetAttributes(attribute.String("cartd.principal", p.Label()))
	}
	if rw.status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(rw.status))
	}
	span.End(trace.WithTimestamp(end))
}

// log writes the access log line. It logs with the request's original context, which carries
// no reqinfo: request_id is given here, once. The record goes straight to the handler, without
// the caller's program counter (the source location of an access log line says nothing),
// which spares a stack walk per request.
func (m *Middleware) log(r *http.Request, rw *recorder, route, door string, end time.Time, d time.Duration, span trace.Span) {
	level := slog.LevelInfo
	if rw.status >= 500 {
		level = slog.LevelWarn
	}
	h := m.cfg.Logger.Handler()
	if !h.Enabled(r.Context(), level) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("request_id", rw.info.ID),
		slog.String("front_door", door),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", rw.status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Int64("bytes", rw.bytes),
		slog.String("principal", ""),
		slog.String("trace_id", ""),
	}
	n := len(attrs) - 2
	if p, ok := rw.info.Principal(); ok {
		attrs[n] = slog.String("principal", p.Label())
		n++
	}
	if span != nil {
		if sc := span.SpanContext(); sc.IsValid() {
			attrs[n] = slog.String("trace_id", sc.TraceID().String())
			n++
		}
	}
	rec := slog.NewRecord(end, level, "request", 0)
	rec.AddAttrs(attrs[:n]...)
	h.Handle(r.Context(), rec)
}

// recorder captures the status and size of the response, and holds the request's reqinfo so
// that one allocation serves both.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	info   reqinfo.Info
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer (flushes, deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps the writer a Flusher for handlers that type-assert it.
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}
