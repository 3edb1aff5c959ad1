package engine

import (
	"context"
	"time"
)

// Housekeeping configures Housekeep.
type Housekeeping struct {
	// Every is the time between passes.
	Every time.Duration
	// GuestCartTTL is how long a guest cart may sit untouched before it is purged (see
	// PurgeAbandonedCarts); 0 keeps guest carts for ever.
	GuestCartTTL time.Duration
	// TokenGrace is how long expired and revoked customer tokens are kept (see PurgeTokens).
	TokenGrace time.Duration
	// EventRetention is how long events are kept (see PurgeEvents); 0 keeps them for ever.
	EventRetention time.Duration
	// AbandonAfter is how long an active cart with items sits untouched before cart.abandoned
	// reports it (see ReportAbandoned); 0 reports none.
	AbandonAfter time.Duration
}

// Housekeep runs periodic maintenance until ctx ends: purging expired idempotency records,
// storefront sessions and customer tokens, abandoned guest carts and old events, and reporting
// abandoned carts (cart.abandoned). Each purge is a few
// short transactions, so it never holds the writer for long; a failed one is logged and tried
// again at the next pass.
func (e *Engine) Housekeep(ctx context.Context, h Housekeeping) {
	t := time.NewTicker(h.Every)
	defer t.Stop()
	purges := []struct {
		what  string
		purge func(context.Context) (int, error)
	}{
		{"idempotency records", e.PurgeIdempotency},
		{"expired sessions", e.PurgeSessions},
		{"customer tokens", func(ctx context.Context) (int, error) { return e.PurgeTokens(ctx, h.TokenGrace) }},
		{"abandoned guest carts", func(ctx context.Context) (int, error) { return e.PurgeAbandonedCarts(ctx, h.GuestCartTTL) }},
		{"old events", func(ctx context.Context) (int, error) { return e.PurgeEvents(ctx, h.EventRetention) }},
		{"carts reported abandoned", func(ctx context.Context) (int, error) { return e.ReportAbandoned(ctx, h.AbandonAfter) }},
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range purges {
			n, err := p.purge(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				e.log.ErrorContext(ctx, "housekeeping: purge "+p.what, "err", err)
			case n > 0:
				e.log.InfoContext(ctx, "housekeeping: purged "+p.what, "count", n)
			}
		}
	}
}

// Sweeper runs Sweep every interval until ctx ends, so that stock held by lapsed reservations
// and unavailable lines goes back to available within about one interval. It is safe to run
// on every node of a cluster at once (see Sweep).
func (e *Engine) Sweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := e.Sweep(ctx)
		if e.obs != nil && ctx.Err() == nil {
			e.obs.SweepRan(n, err)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.ErrorContext(ctx, "sweeper: release reservations", "err", err)
		case n > 0:
			e.log.DebugContext(ctx, "sweeper: released reservations", "carts", n)
		}
	}
}
