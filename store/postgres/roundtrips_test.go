package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/postgres"
)

// statementLog is a pgx tracer that records the round trips the store makes: each statement
// sent alone (BEGIN and COMMIT included) and each batch of statements sent together.
type statementLog struct {
	mu    sync.Mutex
	on    bool
	batch bool
	sqls  []string
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.sqls = append(l.sqls, strings.Join(strings.Fields(d.SQL), " "))
	}
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A batch is one round trip however many statements it carries: it is recorded as one entry,
// its statements joined by " | ".
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.sqls = append(l.sqls, "")
		l.batch = true
	}
	return ctx
}

func (l *statementLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on && l.batch {
		last := &l.sqls[len(l.sqls)-1]
		if *last != "" {
			*last += " | "
		}
		*last += strings.Join(strings.Fields(d.SQL), " ")
	}
}

func (l *statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batch = false
}

// count returns the statements fn sent.
func (l *statementLog) count(fn func()) []string {
	l.mu.Lock()
	l.on, l.sqls = true, nil
	l.mu.Unlock()
	fn()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.sqls
}

// TestQuantityChangeRoundTrips counts the round trips one quantity change of a one-line cart
// makes to PostgreSQL, the native PATCH's engine call with the whole cart answered, without
// and with an idempotency key, on a warm pool, and those of a read of the cart. The counts are pinned: a change that sends
// more fails here (one that sends fewer says so, to lower the pin). docs/scale.md lists them.
func TestQuantityChangeRoundTrips(t *testing.T) {
	ctx := t.Context()
	trace := &statementLog{}
	_, eng, admin, num := mustTeeCart(t, postgres.Options{MaxConns: 4, Tracer: trace}, 1500, 1000)
	q := int64(0)
	change := func(opt engine.Options) {
		q = q%5 + 1
		ch := cart.SetTo(q)
		if _, err := eng.Update(ctx, admin, num, []engine.Update{{Item: engine.ItemRef{SKU: "TEE"}, Change: &ch}}, opt); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // the line exists and every statement has been sent once
		change(engine.Options{})
	}
	keyed := func(key string) engine.Options {
		return engine.Options{Idempotency: &engine.Idempotency{Scope: "test PATCH", Key: key,
			Record: func(any) (engine.Response, error) { return engine.Response{Status: 200, Body: []byte("{}")}, nil }}}
	}
	change(keyed("warm"))
	for _, c := range []struct {
		name string
		opt  engine.Options
		pin  int
	}{
		// Each includes the one INSERT of the change's events into the outbox (docs/events.md).
		{"without an idempotency key", engine.Options{}, 5},
		{"with an idempotency key", keyed("counted"), 9},
	} {
		sqls := trace.count(func() { change(c.opt) })
		t.Logf("a quantity change %s makes %d round trips:\n  %s", c.name, len(sqls), strings.Join(sqls, "\n  "))
		switch {
		case len(sqls) > c.pin:
			t.Errorf("a quantity change %s makes %d round trips, more than the %d pinned", c.name, len(sqls), c.pin)
		case len(sqls) < c.pin:
			t.Logf("fewer than the %d pinned: lower the pin", c.pin)
		}
	}
	// A read of the whole cart: BEGIN with the clock and the cache's version, the cart, its
	// lines with its coupons, COMMIT. Fewer than a change, which locks and writes.
	const readPin = 4
	if _, err := eng.Cart(ctx, admin, num); err != nil { // warm
		t.Fatal(err)
	}
	sqls := trace.count(func() {
		if _, err := eng.Cart(ctx, admin, num); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("a read of the cart makes %d round trips:\n  %s", len(sqls), strings.Join(sqls, "\n  "))
	switch {
	case len(sqls) > readPin:
		t.Errorf("a read of the cart makes %d round trips, more than the %d pinned", len(sqls), readPin)
	case len(sqls) < readPin:
		t.Logf("fewer than the %d pinned: lower the pin", readPin)
	}
}
