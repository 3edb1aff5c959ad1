package engine_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// testClock is a settable clock for the store's transactions.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// idemFixture is an engine over a SQLite file on a test clock, with an admin principal.
type idemFixture struct {
	eng   *engine.Engine
	st    store.Store
	clock *testClock
	admin auth.Principal
}

func mustIdemFixture(tb testing.TB) *idemFixture {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &idemFixture{eng: eng, st: st, clock: clock, admin: p}
}

// open runs CreateCart under an idempotency key, with a request body standing for currency,
// and returns the new cart's number, or the replayed response. recorded counts the calls
// of Record.
func (f *idemFixture) open(key, currency string, recorded *int) (int64, *engine.Replayed, error) {
	opt := engine.Options{Idempotency: &engine.Idempotency{
		Scope: "test POST /v1/carts", Key: key, RequestHash: sha256.Sum256([]byte(currency)),
		Record: func(result any) (engine.Response, error) {
			if recorded != nil {
				*recorded++
			}
			num := result.(cart.View).Cart.Num
			return engine.Response{Status: 201, Header: map[string]string{"Content-Type": "text/plain"}, Body: fmt.Appendf(nil, "%d", num)}, nil
		},
	}}
	v, err := f.eng.CreateCart(context.Background(), f.admin, engine.NewCart{Currency: currency}, opt)
	var replayed *engine.Replayed
	if errors.As(err, &replayed) {
		return 0, replayed, nil
	}
	return v.Cart.Num, nil, err
}

// mustOpen is open for a call that must be applied, not replayed.
func (f *idemFixture) mustOpen(tb testing.TB, key string) int64 {
	tb.Helper()
	num, replayed, err := f.open(key, "USD", nil)
	if err != nil || replayed != nil {
		tb.Fatalf("key %q: %v, replayed %+v; want the call applied", key, err, replayed)
	}
	return num
}

// record reads a key's stored record; ok is false when there is none.
func (f *idemFixture) record(tb testing.TB, key string) (store.IdempotencyRecord, bool) {
	tb.Helper()
	var r store.IdempotencyRecord
	err := f.st.Read(context.Background(), func(tx store.ReadTx) error {
		var err error
		r, err = tx.Idempotency(context.Background(), "test POST /v1/carts", key)
		return err
	})
	if cart.ErrorCode(err) == cart.NotFound {
		return r, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	return r, true
}

func TestIdempotencyRecordLifetime(t *testing.T) {
	t.Run("a record replays for a day and then frees its key", func(t *testing.T) {
		f := mustIdemFixture(t)
		first := f.mustOpen(t, "k")
		if r, ok := f.record(t, "k"); !ok || r.ExpiresAt.Sub(r.CreatedAt) != engine.IdempotencyTTL {
			t.Fatalf("record %+v (found %v), want one kept for %v", r, ok, engine.IdempotencyTTL)
		}

		f.clock.Advance(engine.IdempotencyTTL - time.Second)
		_, replayed, err := f.open("k", "USD", nil)
		if err != nil || replayed == nil || replayed.Response.Status != 201 || string(replayed.Response.Body) != fmt.Sprint(first) {
			t.Fatalf("a second before expiry: %v, replayed %+v; want cart %d replayed", err, replayed, first)
		}

		f.clock.Advance(2 * time.Second)
		second := f.mustOpen(t, "k")
		if second == first {
			t.Errorf("after expiry the key's call opened cart %d again", second)
		}
		if r, _ := f.record(t, "k"); string(r.Body) != fmt.Sprint(second) || !r.CreatedAt.Equal(f.clock.Now()) {
			t.Errorf("the key's record is %+v, want the second call's", r)
		}
	})

	t.Run("a failed call records nothing and leaves its key free", func(t *testing.T) {
		f := mustIdemFixture(t)
		recorded := 0
		_, replayed, err := f.open("k", "QQQ", &recorded)
		if cart.ErrorCode(err) != cart.Invalid || replayed != nil {
			t.Fatalf("an unknown currency: %v, replayed %+v; want Invalid", err, replayed)
		}
		if _, ok := f.record(t, "k"); ok || recorded != 0 {
			t.Errorf("a failed call left a record (%v) or rendered one (%d times)", ok, recorded)
		}
		if _, replayed, err := f.open("k", "QQQ", &recorded); cart.ErrorCode(err) != cart.Invalid || replayed != nil {
			t.Errorf("the failed call again: %v, replayed %+v; want Invalid again", err, replayed)
		}
		f.mustOpen(t, "k")
	})

	t.Run("the same key with another request is Invalid and applies nothing", func(t *testing.T) {
		f := mustIdemFixture(t)
		first := f.mustOpen(t, "k")
		_, replayed, err := f.open("k", "EUR", nil)
		if e := cart.AsError(err); e.Code != cart.Invalid || e.Reason != "idempotency_key_reused" || replayed != nil {
			t.Fatalf("another body: %v, replayed %+v; want idempotency_key_reused", err, replayed)
		}
		if next := f.mustOpen(t, "other"); next != first+1 {
			t.Errorf("the next cart is %d after %d: the refused call opened one", next, first)
		}
	})
}

func TestPurgeIdempotency(t *testing.T) {
	t.Run("expired records are deleted and live ones kept", func(t *testing.T) {
		f := mustIdemFixture(t)
		ctx := context.Background()
		for _, k := range []string{"old-1", "old-2", "old-3"} {
			f.mustOpen(t, k)
		}
		f.clock.Advance(12 * time.Hour)
		for _, k := range []string{"new-1", "new-2"} {
			f.mustOpen(t, k)
		}
		if n, err := f.eng.PurgeIdempotency(ctx); err != nil || n != 0 {
			t.Errorf("with every record live: purged %d, %v; want 0", n, err)
		}

		f.clock.Advance(12*time.Hour + time.Second)
		if n, err := f.eng.PurgeIdempotency(ctx); err != nil || n != 3 {
			t.Errorf("a day after the first three: purged %d, %v; want 3", n, err)
		}
		for _, k := range []string{"old-1", "old-2", "old-3"} {
			if _, ok := f.record(t, k); ok {
				t.Errorf("expired %s was not purged", k)
			}
		}
		for _, k := range []string{"new-1", "new-2"} {
			if _, ok := f.record(t, k); !ok {
				t.Errorf("live %s was purged", k)
			}
		}
		if n, err := f.eng.PurgeIdempotency(ctx); err != nil || n != 0 {
			t.Errorf("purging again: %d, %v; want 0", n, err)
		}

		f.clock.Advance(12 * time.Hour)
		if n, err := f.eng.PurgeIdempotency(ctx); err != nil || n != 2 {
			t.Errorf("a day after the last two: purged %d, %v; want 2", n, err)
		}
	})

	t.Run("more expired records than one batch are all deleted", func(t *testing.T) {
		f := mustIdemFixture(t)
		ctx := context.Background()
		const expired = 1234
		now := f.clock.Now()
		err := f.st.Write(ctx, func(tx store.Tx) error {
			for i := range expired + 1 {
				r := store.IdempotencyRecord{Scope: "test POST /v1/carts", Key: fmt.Sprintf("k%d", i),
					Status: 200, Body: []byte("{}"), CreatedAt: now.Add(-engine.IdempotencyTTL - time.Hour), ExpiresAt: now.Add(-time.Hour)}
				if i == expired {
					r.Key, r.CreatedAt, r.ExpiresAt = "live", now, now.Add(engine.IdempotencyTTL)
				}
				if err := tx.PutIdempotency(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.eng.PurgeIdempotency(ctx); err != nil || n != expired {
			t.Errorf("purged %d, %v; want %d", n, err, expired)
		}
		if _, ok := f.record(t, "k0"); ok {
			t.Error("an expired record survived the purge")
		}
		if _, ok := f.record(t, "live"); !ok {
			t.Error("the live record was purged")
		}
	})
}
