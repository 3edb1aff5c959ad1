package engine

import (
	"context"
	"time"
)

// Housekeep runs periodic maintenance until ctx ends: purging expired idempotency records and
// storefront sessions. Each pass is a few short transactions, so it never holds the writer
// for long.
func (e *Engine) Housekeep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := e.PurgeIdempotency(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.ErrorContext(ctx, "housekeeping: purge idempotency records", "err", err)
		case n > 0:
			e.log.InfoContext(ctx, "housekeeping: purged idempotency records", "count", n)
		}
		n, err = e.PurgeSessions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.ErrorContext(ctx, "housekeeping: purge sessions", "err", err)
		case n > 0:
			e.log.InfoContext(ctx, "housekeeping: purged expired sessions", "count", n)
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
