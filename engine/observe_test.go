package engine_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// observed records what the engine reports to its Observer.
type observed struct {
	mu       sync.Mutex
	quantity map[engine.QuantityOutcome]int
	released map[engine.ReleaseReason]int64
	replays  int
	capped   int
}

func (o *observed) QuantityChanged(outcome engine.QuantityOutcome, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.quantity[outcome] += n
}

func (o *observed) ReservationReleased(reason engine.ReleaseReason, units int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released[reason] += units
}

func (o *observed) SweepRan(int, error) {}

func (o *observed) AnonymousHoldCapped() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.capped++
}

func (o *observed) IdempotentReplay() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.replays++
}

// take returns what was reported since the last take.
func (o *observed) take() (map[engine.QuantityOutcome]int, map[engine.ReleaseReason]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q, r := o.quantity, o.released
	o.quantity, o.released = map[engine.QuantityOutcome]int{}, map[engine.ReleaseReason]int64{}
	return q, r
}

// mustObservedLife is mustLife with an Observer.
func mustObservedLife(tb testing.TB) (*life, *observed) {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	obs := &observed{}
	obs.take()
	eng := engine.New(st, engine.Config{ReservationTTL: ttl, Observer: obs})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &life{eng: eng, clock: clock, admin: p}, obs
}

// TestObserverSeesOutcomes drives the engine through each outcome and release, and checks
// what the observer was told after each step: only committed work counts.
func TestObserverSeesOutcomes(t *testing.T) {
	f, obs := mustObservedLife(t)
	f.product(t, "p", "", 5, "A", "B")
	a, b := f.open(t), f.open(t)
	type want struct {
		quantity map[engine.QuantityOutcome]int
		released map[engine.ReleaseReason]int64
	}
	held := func(t *testing.T, sku string) int64 { t.Helper(); return f.stock(t, sku).Reserved }
	for _, step := range []struct {
		name string
		do   func(t *testing.T)
		want want
	}{
		{"an add is a set", func(t *testing.T) { f.mustSet(t, a, "A", 3) }, want{
			quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1}}},
		{"above stock under clamp is clamped", func(t *testing.T) {
			if _, err := f.set(t, a, "A", 9, cart.Clamp); err != nil {
				t.Fatal(err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantityClamped: 1}}},
		{"above stock under reject is rejected", func(t *testing.T) {
			if _, err := f.set(t, b, "A", 1, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
				t.Fatalf("err = %v, want StockShort", err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantityRejected: 1}}},
		{"above stock under ignore is backordered", func(t *testing.T) {
			if _, err := f.set(t, b, "A", 2, cart.Ignore); err != nil {
				t.Fatal(err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantityBackordered: 1}}},
		{"the sweeper releases a lapsed reservation as expired", func(t *testing.T) {
			f.mustSet(t, b, "B", 4)
			f.clock.Advance(ttl + time.Second)
			if n := f.sweep(t); n != 2 {
				t.Fatalf("Sweep changed %d carts, want 2", n)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1},
			released: map[engine.ReleaseReason]int64{engine.ReleaseExpired: 9}}}, // A: 5 (a), B: 4 (b)
		{"a refused change of a lapsed line releases nothing", func(t *testing.T) {
			f.mustSet(t, a, "A", 5) // holds all 5 again
			f.clock.Advance(ttl + time.Second)
			// The call first releases the cart's lapsed A, then fails: all of it rolls back.
			if _, err := f.set(t, a, "B", 9, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
				t.Fatalf("err = %v, want StockShort", err)
			}
			if got := held(t, "A"); got != 5 {
				t.Fatalf("A reserved %d after the refused call, want the 5 it held", got)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1, engine.QuantityRejected: 1}}},
		{"a cart short of a SKU takes back another's lapsed units as expired", func(t *testing.T) {
			if _, err := f.set(t, b, "A", 5, cart.Reject); err != nil {
				t.Fatal(err)
			}
			if got := held(t, "A"); got != 5 {
				t.Fatalf("A reserved %d, want 5", got)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1},
			released: map[engine.ReleaseReason]int64{engine.ReleaseExpired: 5}}},
		{"lowering on_hand below what carts hold releases the newest", func(t *testing.T) {
			f.setStock(t, "A", 2)
		}, want{released: map[engine.ReleaseReason]int64{engine.ReleaseStockLowered: 3}}},
		{"a deactivated variant's line is released as unavailable", func(t *testing.T) {
			f.mustSet(t, a, "B", 1)
			p := cart.Product{ID: "p", Name: "Product p", Variants: []cart.Variant{
				{ID: "var_A", SKU: "A", Prices: map[string]int64{"USD": 1000}, Active: true},
				{ID: "var_B", SKU: "B", Prices: map[string]int64{"USD": 1000}, Active: false},
			}}
			if _, err := f.eng.PutProduct(t.Context(), f.admin, p, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			f.sweep(t)
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1},
			released: map[engine.ReleaseReason]int64{engine.ReleaseUnavailable: 1}}},
		{"removing a line is removed", func(t *testing.T) {
			l, _ := line(f.cart(t, b), "A")
			if _, err := f.eng.RemoveItem(t.Context(), f.admin, b, l.Item.Num, engine.Options{}); err != nil {
				t.Fatal(err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantityRemoved: 1}}},
		{"an import lowering on_hand below what carts hold releases as stock_lowered", func(t *testing.T) {
			f.setStock(t, "A", 5)
			f.mustSet(t, a, "A", 4)
			res, err := f.eng.ImportCatalog(t.Context(), f.admin, []engine.ImportRow{{Stock: []engine.StockLevel{{SKU: "A", OnHand: cart.Whole(1)}}}})
			if err != nil || len(res) != 1 || res[0].Err != nil {
				t.Fatalf("import: %+v, %v", res, err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1},
			released: map[engine.ReleaseReason]int64{engine.ReleaseStockLowered: 3}}},
		{"purging abandoned guest carts releases what they held as abandoned", func(t *testing.T) {
			f.setStock(t, "A", 5)
			c := f.open(t)
			f.mustSet(t, c, "A", 2)
			f.clock.Advance(48 * time.Hour)
			if n, err := f.eng.PurgeAbandonedCarts(t.Context(), 24*time.Hour); err != nil || n == 0 {
				t.Fatalf("purged %d carts, %v; want some", n, err)
			}
		}, want{quantity: map[engine.QuantityOutcome]int{engine.QuantitySet: 1},
			released: map[engine.ReleaseReason]int64{engine.ReleaseAbandoned: 3}}}, // c's 2 and a's 1: both guest carts, idle
	} {
		t.Run(step.name, func(t *testing.T) {
			step.do(t)
			q, r := obs.take()
			if step.want.quantity == nil {
				step.want.quantity = map[engine.QuantityOutcome]int{}
			}
			if step.want.released == nil {
				step.want.released = map[engine.ReleaseReason]int64{}
			}
			if diff := cmp.Diff(step.want, want{q, r}, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("observed (-want +got):\n%s", diff)
			}
		})
	}
}
