// Package engine holds cartd's use cases. Every call is one store transaction: it reads what
// it needs, applies the domain's rules (package cart) and re-prices the cart (package pricing)
// before committing, so a response's figures always match what was stored. Front doors
// (the native API and the dialects) translate to and from these calls and hold no rules.
package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/lograte"
	"github.com/cartd/cartd/store"
)

// Config tunes an Engine.
type Config struct {
	// ReservationTTL is how long a line's stock reservation lasts after its last quantity
	// change. Zero turns reservations off: stock is checked at change time, nothing is held.
	ReservationTTL time.Duration
	Logger         *slog.Logger
	// Observer, when set, is told the outcomes of calls, for metrics (see Observer).
	Observer Observer
	// AnonymousHold caps what the anonymous carts of one client address hold of a SKU (see
	// AnonymousHold); the zero value sets no cap, DefaultAnonymousHold is cartd's default.
	AnonymousHold AnonymousHold
	// EventsWritten, when set, is told after each commit that recorded events how many: the
	// delivery loops wake on it, and metrics count it. It must be cheap and not block.
	EventsWritten func(n int)
	// CompletedCart renders the data of cart.checked_out: the completed cart as a front door
	// shows it. Nil records the event with null data.
	CompletedCart func(cart.View) (json.RawMessage, error)
	// Tracer, when set, records a span per quantity call and per store transaction
	// (tracing.go). Nil traces nothing and costs one comparison.
	Tracer trace.Tracer
}

// Engine runs cartd's use cases over a Store.
type Engine struct {
	st       store.Store
	ttl      time.Duration
	log      *slog.Logger
	obs      Observer // nil: nothing observed
	tracer   trace.Tracer
	inflight inflight
	keys     keyCache
	hold     AnonymousHold
	capLog   lograte.Sampler // of the log lines of capped anonymous holdings

	eventsWritten func(n int)
	completedCart func(cart.View) (json.RawMessage, error)

	snaps *snapshots // nil: reads read the store (snapshot.go)
}

// New returns an Engine over st.
func New(st store.Store, cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{st: st, ttl: cfg.ReservationTTL, log: cfg.Logger, obs: cfg.Observer, tracer: cfg.Tracer, hold: cfg.AnonymousHold,
		eventsWritten: cfg.EventsWritten, completedCart: cfg.CompletedCart}
	if sw, ok := st.(soleWriter); ok && sw.SoleWriter() {
		e.snaps = newSnapshots(sw)
		e.st = snapshotStore{Store: st, snaps: e.snaps}
	}
	return e
}

// ReservedUnits returns the units of stock carts hold right now, over every SKU: the metrics'
// reservations gauge, read at scrape time so that it is exact whichever node changed what.
func (e *Engine) ReservedUnits(ctx context.Context) (int64, error) {
	var n int64
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		n, err = tx.ReservedUnits(ctx)
		return err
	})
	return n, err
}

// Reserving reports whether lines hold stock.
func (e *Engine) Reserving() bool { return e.ttl > 0 }

// Ready reports whether the store answers.
func (e *Engine) Ready(ctx context.Context) error { return e.st.Ping(ctx) }

func require(p auth.Principal, scope auth.Scope) error {
	if !p.Can(scope) {
		return cart.Errorf(cart.Forbidden, "missing_scope", "this credential lacks the %s scope", scope)
	}
	return nil
}
