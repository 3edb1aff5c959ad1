package engine_test

// Tests of the stock lifecycle (reservation expiry, sales, unavailable lines, checkout) on a
// real SQLite store whose clock the test moves: the sweeper runs when a test calls Sweep, and
// nothing sleeps.

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

const ttl = 15 * time.Minute

// life is an engine with reservations of ttl over a SQLite file on a test clock.
type life struct {
	eng   *engine.Engine
	clock *testClock
	admin auth.Principal
}

func mustLife(tb testing.TB, reservation time.Duration) *life {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: reservation})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &life{eng: eng, clock: clock, admin: p}
}

// product stores a product with one variant per SKU at 1000 USD cents, each with onHand units
// and the sale saleID ("" for none).
func (f *life) product(tb testing.TB, id, saleID string, onHand int64, skus ...string) {
	tb.Helper()
	p := cart.Product{ID: id, Name: "Product " + id}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": 1000}, Active: true, SaleID: saleID})
	}
	if _, err := f.eng.PutProduct(tb.Context(), f.admin, p, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		f.setStock(tb, sku, onHand)
	}
}

func (f *life) setStock(tb testing.TB, sku string, onHand int64) {
	tb.Helper()
	if _, err := f.eng.PutInventory(tb.Context(), f.admin, sku, engine.StockChange{OnHand: &cart.Decimal{N: onHand}}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
}

func (f *life) stock(tb testing.TB, sku string) cart.Stock {
	tb.Helper()
	st, err := f.eng.Inventory(tb.Context(), f.admin, sku)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func (f *life) open(tb testing.TB) int64 {
	tb.Helper()
	v, err := f.eng.CreateCart(tb.Context(), f.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return v.Cart.Num
}

func (f *life) cart(tb testing.TB, num int64) cart.View {
	tb.Helper()
	v, err := f.eng.Cart(tb.Context(), f.admin, num)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// set sets the quantity of sku's line in a cart (upserting it) under a policy.
func (f *life) set(tb testing.TB, num int64, sku string, q int64, policy cart.Policy) (cart.View, error) {
	tb.Helper()
	ch := cart.SetTo(q)
	return f.eng.Update(tb.Context(), f.admin, num, []engine.Update{{Item: engine.ItemRef{SKU: sku}, Change: &ch, Policy: policy}}, engine.Options{})
}

func (f *life) mustSet(tb testing.TB, num int64, sku string, q int64) cart.View {
	tb.Helper()
	v, err := f.set(tb, num, sku, q, cart.Reject)
	if err != nil {
		tb.Fatalf("set %s to %d in cart %d: %v", sku, q, num, err)
	}
	return v
}

func (f *life) sweep(tb testing.TB) int {
	tb.Helper()
	n, err := f.eng.Sweep(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func (f *life) checkout(tb testing.TB, num int64) (cart.View, error) {
	tb.Helper()
	return f.eng.Checkout(tb.Context(), f.admin, num, engine.Options{})
}

// line returns the view's line of sku among its lines, expired lines and unavailable lines,
// and which of the three it is in.
func line(v cart.View, sku string) (cart.LineView, string) {
	for _, set := range []struct {
		name  string
		lines []cart.LineView
	}{{"lines", v.Lines}, {"expired", v.ExpiredLines}, {"unavailable", v.Unavailable}} {
		for _, l := range set.lines {
			if l.Variant.SKU == sku {
				return l, set.name
			}
		}
	}
	return cart.LineView{}, ""
}

func hasMessage(v cart.View, code string) bool {
	for _, m := range v.Messages {
		if m.Code == code {
			return true
		}
	}
	return false
}

func wantErr(tb testing.TB, err error, code cart.Code, reason string) *cart.Error {
	tb.Helper()
	var e *cart.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		tb.Fatalf("err = %v, want %s/%s", err, code, reason)
	}
	return e
}

func wantStock(tb testing.TB, f *life, sku string, onHand, reserved int64) {
	tb.Helper()
	if st := f.stock(tb, sku); st.OnHand != onHand || st.Reserved != reserved {
		tb.Errorf("%s: on_hand %d reserved %d, want %d and %d", sku, st.OnHand, st.Reserved, onHand, reserved)
	}
}

func TestReservationExpiry(t *testing.T) {
	t.Run("a lapsed reservation leaves the item in the cart, expired and out of the totals", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A", "B")
		num := f.open(t)
		f.mustSet(t, num, "A", 3)
		v := f.mustSet(t, num, "B", 1)
		if l, _ := line(v, "A"); !l.Item.ReservedUntil.Equal(f.clock.Now().Add(ttl)) {
			t.Errorf("reserved_until = %v, want now + ttl", l.Item.ReservedUntil)
		}

		f.clock.Advance(ttl - time.Second)
		if v := f.cart(t, num); len(v.ExpiredLines) != 0 || v.ItemCount != 4 {
			t.Fatalf("a second before the lapse: %d expired lines, item_count %d", len(v.ExpiredLines), v.ItemCount)
		}
		f.mustSet(t, num, "B", 2) // B's reservation starts again; A's does not
		f.clock.Advance(time.Second)
		v = f.cart(t, num)
		a, in := line(v, "A")
		if in != "expired" || !a.Expired || a.Subtotal != 0 {
			t.Fatalf("A is in %s, expired %v, subtotal %d; want expired out of the totals", in, a.Expired, a.Subtotal)
		}
		if v.Expired != 3 || v.ItemCount != 2 || v.UniqueItemCount != 1 || v.Subtotal != 2000 {
			t.Errorf("expired %d item_count %d unique %d subtotal %d, want 3, 2, 1, 2000", v.Expired, v.ItemCount, v.UniqueItemCount, v.Subtotal)
		}
		if !hasMessage(v, "reservation_expired") {
			t.Errorf("messages %+v, want reservation_expired", v.Messages)
		}
		// Until released, the stock is still held.
		wantStock(t, f, "A", 10, 3)
	})

	t.Run("the sweeper releases lapsed stock once, with a new version", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A")
		num := f.open(t)
		f.mustSet(t, num, "A", 3)
		before := f.cart(t, num)
		if n := f.sweep(t); n != 0 {
			t.Fatalf("a sweep before any lapse changed %d carts", n)
		}
		f.clock.Advance(ttl)
		if n := f.sweep(t); n != 1 {
			t.Fatalf("sweep changed %d carts, want 1", n)
		}
		wantStock(t, f, "A", 10, 0)
		v := f.cart(t, num)
		a, in := line(v, "A")
		if in != "expired" || a.Item.ReservedQuantity != 0 || a.Item.Quantity != 3 {
			t.Errorf("after the sweep A is in %s holding %d of %d", in, a.Item.ReservedQuantity, a.Item.Quantity)
		}
		if v.Cart.Version != before.Cart.Version+1 || !v.Cart.LastActivity.Equal(before.Cart.LastActivity) {
			t.Errorf("version %d -> %d, last activity %v -> %v; want one more version and the same activity",
				before.Cart.Version, v.Cart.Version, before.Cart.LastActivity, v.Cart.LastActivity)
		}
		if n := f.sweep(t); n != 0 {
			t.Errorf("a second sweep changed %d carts", n)
		}
		if again := f.cart(t, num); again.Cart.Version != v.Cart.Version {
			t.Errorf("a second sweep moved the version to %d", again.Cart.Version)
		}
	})

	t.Run("concurrent sweepers release every lapsed reservation exactly once", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 1000, "A", "B")
		var carts []int64
		for range 30 {
			num := f.open(t)
			f.mustSet(t, num, "A", 2)
			f.mustSet(t, num, "B", 1)
			carts = append(carts, num)
		}
		versions := map[int64]int64{}
		for _, num := range carts {
			versions[num] = f.cart(t, num).Cart.Version
		}
		f.clock.Advance(ttl)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			wg.Go(func() {
				n, err := f.eng.Sweep(t.Context())
				if err != nil {
					t.Errorf("Sweep: %v", err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if total != len(carts) {
			t.Errorf("the sweepers changed %d carts between them, want %d", total, len(carts))
		}
		wantStock(t, f, "A", 1000, 0)
		wantStock(t, f, "B", 1000, 0)
		for _, num := range carts {
			if v := f.cart(t, num); v.Cart.Version != versions[num]+1 {
				t.Errorf("cart %d at version %d, want %d", num, v.Cart.Version, versions[num]+1)
			}
		}
	})

	t.Run("a cart short of stock takes back lapsed reservations at once", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 5, "A")
		holder, other := f.open(t), f.open(t)
		f.mustSet(t, holder, "A", 5)
		before := f.cart(t, holder)
		if _, err := f.set(t, other, "A", 3, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
			t.Fatalf("while the holder's reservation runs: %v, want StockShort", err)
		}
		f.clock.Advance(ttl)
		v := f.mustSet(t, other, "A", 3)
		if l, _ := line(v, "A"); l.Item.ReservedQuantity != 3 {
			t.Errorf("the short cart holds %d, want 3", l.Item.ReservedQuantity)
		}
		wantStock(t, f, "A", 5, 3)
		h := f.cart(t, holder)
		if a, in := line(h, "A"); in != "expired" || a.Item.ReservedQuantity != 0 {
			t.Errorf("the lapsed holder's line is in %s holding %d", in, a.Item.ReservedQuantity)
		}
		if h.Cart.Version != before.Cart.Version+1 {
			t.Errorf("the lapsed holder's version %d -> %d, want one more", before.Cart.Version, h.Cart.Version)
		}
	})

	t.Run("a cart not short leaves lapsed reservations to the sweeper", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A")
		holder, other := f.open(t), f.open(t)
		f.mustSet(t, holder, "A", 5)
		f.clock.Advance(ttl)
		f.mustSet(t, other, "A", 3)
		wantStock(t, f, "A", 10, 8)
	})

	t.Run("a write of the cart releases its own lapsed lines", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A", "B")
		num := f.open(t)
		f.mustSet(t, num, "A", 4)
		f.clock.Advance(ttl)
		f.mustSet(t, num, "B", 1)
		wantStock(t, f, "A", 10, 0)
		if _, in := line(f.cart(t, num), "A"); in != "expired" {
			t.Errorf("A is in %s after the write, want still expired", in)
		}
	})

	t.Run("touching an expired item reserves again what is available, under the policy", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A")
		num, rival := f.open(t), f.open(t)
		f.mustSet(t, num, "A", 6)
		f.clock.Advance(ttl)
		f.sweep(t)
		f.mustSet(t, rival, "A", 7) // only 3 left for the expired line

		before, stockBefore := f.cart(t, num), f.stock(t, "A")
		// Lowering is a new request for stock too: 5 are not available.
		ch := cart.AddDelta(-1)
		_, err := f.eng.Update(t.Context(), f.admin, num, []engine.Update{{Item: engine.ItemRef{SKU: "A"}, Change: &ch}}, engine.Options{})
		e := wantErr(t, err, cart.StockShort, "insufficient_stock")
		if e.Available == nil || *e.Available != 3 {
			t.Errorf("available = %v, want 3", e.Available)
		}
		if after := f.cart(t, num); after.Cart.Version != before.Cart.Version || f.stock(t, "A") != stockBefore {
			t.Errorf("a refused touch changed the cart or the stock")
		}

		v, err := f.set(t, num, "A", 6, cart.Clamp)
		if err != nil {
			t.Fatal(err)
		}
		a, in := line(v, "A")
		if in != "lines" || a.Item.Quantity != 3 || a.Item.ReservedQuantity != 3 || !hasMessage(v, "quantity_clamped") {
			t.Errorf("a clamped touch: A in %s, quantity %d holding %d, messages %+v", in, a.Item.Quantity, a.Item.ReservedQuantity, v.Messages)
		}
		if !a.Item.ReservedUntil.Equal(f.clock.Now().Add(ttl)) {
			t.Errorf("reserved_until = %v, want a new reservation", a.Item.ReservedUntil)
		}
		wantStock(t, f, "A", 10, 10)
	})

	t.Run("touching an expired item under ignore backorders what is missing", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 4, "A")
		num := f.open(t)
		f.mustSet(t, num, "A", 4)
		f.clock.Advance(ttl)
		f.setStock(t, "A", 2)
		v, err := f.set(t, num, "A", 4, cart.Ignore)
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := line(v, "A"); a.Item.Quantity != 4 || a.Item.ReservedQuantity != 2 || a.InventoryStatus != cart.Backordered {
			t.Errorf("A: quantity %d holding %d, %s; want 4 holding 2, backordered", a.Item.Quantity, a.Item.ReservedQuantity, a.InventoryStatus)
		}
	})

	t.Run("lowering on_hand takes from lapsed reservations first", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 8, "A")
		lapsed := f.open(t)
		f.mustSet(t, lapsed, "A", 4)
		f.clock.Advance(ttl)
		live := f.open(t)
		f.mustSet(t, live, "A", 4)
		f.setStock(t, "A", 5)
		wantStock(t, f, "A", 5, 4)
		if l, _ := line(f.cart(t, live), "A"); l.Item.ReservedQuantity != 4 || l.InventoryStatus != cart.InStock {
			t.Errorf("the live line holds %d (%s), want all 4", l.Item.ReservedQuantity, l.InventoryStatus)
		}
		if l, in := line(f.cart(t, lapsed), "A"); in != "expired" || l.Item.ReservedQuantity != 0 {
			t.Errorf("the lapsed line is in %s holding %d, want expired holding nothing", in, l.Item.ReservedQuantity)
		}
		// Below what the live reservation holds, that one is cut too, and is short.
		f.setStock(t, "A", 1)
		wantStock(t, f, "A", 1, 1)
		v := f.cart(t, live)
		if l, _ := line(v, "A"); l.Item.ReservedQuantity != 1 || l.InventoryStatus != cart.Insufficient || !hasMessage(v, "insufficient_stock") {
			t.Errorf("the live line holds %d (%s), messages %+v", l.Item.ReservedQuantity, l.InventoryStatus, v.Messages)
		}
	})

	t.Run("without reservations nothing is held and nothing expires", func(t *testing.T) {
		f := mustLife(t, 0)
		f.product(t, "prod_a", "", 5, "A")
		num := f.open(t)
		v := f.mustSet(t, num, "A", 5)
		if a, _ := line(v, "A"); a.Item.ReservedQuantity != 0 || !a.Item.ReservedUntil.IsZero() {
			t.Errorf("A holds %d until %v, want nothing", a.Item.ReservedQuantity, a.Item.ReservedUntil)
		}
		f.clock.Advance(24 * time.Hour)
		if v := f.cart(t, num); len(v.ExpiredLines) != 0 || v.ItemCount != 5 {
			t.Errorf("a day later: %d expired lines, item_count %d", len(v.ExpiredLines), v.ItemCount)
		}
		if _, err := f.set(t, f.open(t), "A", 6, cart.Reject); cart.ErrorCode(err) != cart.StockShort {
			t.Errorf("6 of 5 without reservations: %v, want StockShort", err)
		}
	})
}

func TestSales(t *testing.T) {
	putSale := func(t *testing.T, f *life, id string, starts, ends time.Duration) {
		t.Helper()
		now := f.clock.Now()
		if _, err := f.eng.PutSale(t.Context(), f.admin, cart.Sale{ID: id, Name: "Sale " + id, StartsAt: now.Add(starts), EndsAt: now.Add(ends)}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a sale is stored, read and validated", func(t *testing.T) {
		f := mustLife(t, ttl)
		putSale(t, f, "sale_a", time.Hour, 2*time.Hour)
		s, now, err := f.eng.Sale(t.Context(), f.admin, "sale_a")
		if err != nil || s.Num == 0 || s.State(now) != cart.SaleScheduled {
			t.Fatalf("Sale = %+v at %v, %v", s, now, err)
		}
		for name, bad := range map[string]cart.Sale{
			"an empty window":     {ID: "sale_b", Name: "B", StartsAt: now, EndsAt: now},
			"no name":             {ID: "sale_b", StartsAt: now, EndsAt: now.Add(time.Hour)},
			"a bad id":            {ID: "sale b", Name: "B", StartsAt: now, EndsAt: now.Add(time.Hour)},
			"no start or end":     {ID: "sale_b", Name: "B"},
			"an end before start": {ID: "sale_b", Name: "B", StartsAt: now, EndsAt: now.Add(-time.Hour)},
		} {
			if _, err := f.eng.PutSale(t.Context(), f.admin, bad, engine.Options{}); cart.ErrorCode(err) != cart.Invalid {
				t.Errorf("%s: %v, want Invalid", name, err)
			}
		}
		if _, _, err := f.eng.Sale(t.Context(), f.admin, "sale_nope"); cart.ErrorCode(err) != cart.NotFound {
			t.Errorf("an unknown sale: %v", err)
		}
	})

	t.Run("an item cannot be added before its sale starts", func(t *testing.T) {
		f := mustLife(t, ttl)
		putSale(t, f, "sale_a", time.Hour, 2*time.Hour)
		f.product(t, "prod_a", "sale_a", 5, "A")
		num := f.open(t)
		_, err := f.set(t, num, "A", 1, cart.Reject)
		if e := wantErr(t, err, cart.Conflict, "sale_not_started"); e.Cart == nil {
			t.Error("the refusal does not carry the cart")
		}
		wantStock(t, f, "A", 5, 0)
		f.clock.Advance(time.Hour)
		f.mustSet(t, num, "A", 1)
	})

	t.Run("a variant naming a sale never stored is not restricted", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "sale_unknown", 5, "A")
		f.mustSet(t, f.open(t), "A", 1)
	})

	t.Run("a reservation never outlives its sale", func(t *testing.T) {
		f := mustLife(t, ttl)
		putSale(t, f, "sale_a", 0, 10*time.Minute)
		f.product(t, "prod_a", "sale_a", 5, "A")
		v := f.mustSet(t, f.open(t), "A", 2)
		if a, _ := line(v, "A"); !a.Item.ReservedUntil.Equal(f.clock.Now().Add(10 * time.Minute)) {
			t.Errorf("reserved_until = %v, want the sale's end", a.Item.ReservedUntil)
		}
	})

	t.Run("when the sale ends its items become unavailable and their stock is released", func(t *testing.T) {
		f := mustLife(t, ttl)
		putSale(t, f, "sale_a", 0, time.Hour)
		f.product(t, "prod_a", "sale_a", 5, "A")
		f.product(t, "prod_b", "", 5, "B")
		num := f.open(t)
		f.mustSet(t, num, "A", 2)
		f.clock.Advance(50 * time.Minute)
		f.mustSet(t, num, "A", 3) // reserved until the sale's end, in 10 minutes
		f.mustSet(t, num, "B", 1)
		f.clock.Advance(10 * time.Minute)
		v := f.cart(t, num)
		a, in := line(v, "A")
		if in != "unavailable" || a.UnavailableReason != cart.UnavailableSaleEnded || !hasMessage(v, "item_unavailable") {
			t.Fatalf("A is in %s (%q), messages %+v; want unavailable, sale_ended", in, a.UnavailableReason, v.Messages)
		}
		if v.ItemCount != 1 || v.Subtotal != 1000 {
			t.Errorf("item_count %d subtotal %d, want only B's", v.ItemCount, v.Subtotal)
		}
		if n := f.sweep(t); n != 1 {
			t.Errorf("sweep changed %d carts, want 1", n)
		}
		wantStock(t, f, "A", 5, 0)
		wantStock(t, f, "B", 5, 1)
		_, err := f.set(t, num, "A", 1, cart.Reject)
		wantErr(t, err, cart.Conflict, "item_unavailable")
		_, err = f.set(t, f.open(t), "A", 1, cart.Reject)
		wantErr(t, err, cart.Conflict, "sale_ended")
		f.mustSet(t, num, "A", 0) // removing it works
	})

	t.Run("the sweeper releases the lines of a sale ended early", func(t *testing.T) {
		f := mustLife(t, ttl)
		putSale(t, f, "sale_a", 0, 24*time.Hour)
		f.product(t, "prod_a", "sale_a", 5, "A")
		f.mustSet(t, f.open(t), "A", 2)
		putSale(t, f, "sale_a", -time.Hour, 0) // ends now
		f.sweep(t)
		wantStock(t, f, "A", 5, 0)
	})
}

func TestUnavailableLinesReleaseTheirStock(t *testing.T) {
	deactivate := func(t *testing.T, f *life) {
		p := cart.Product{ID: "prod_a", Name: "A", Variants: []cart.Variant{{ID: "var_A", SKU: "A", Prices: map[string]int64{"USD": 1000}, Active: false}}}
		if _, err := f.eng.PutProduct(t.Context(), f.admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, f *life) {
		if err := f.eng.DeleteProduct(t.Context(), f.admin, "prod_a", engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	unprice := func(t *testing.T, f *life) {
		p := cart.Product{ID: "prod_a", Name: "A", Variants: []cart.Variant{{ID: "var_A", SKU: "A", Prices: map[string]int64{"EUR": 900}, Active: true}}}
		if _, err := f.eng.PutProduct(t.Context(), f.admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name   string
		change func(*testing.T, *life)
		reason string
	}{{"deactivated", deactivate, cart.UnavailableInactive}, {"deleted", remove, cart.UnavailableDeleted},
		{"no-longer-priced (in the cart's currency)", unprice, cart.UnavailableNoPrice}} {
		t.Run("a "+tt.name+" variant's line is released by the sweeper", func(t *testing.T) {
			f := mustLife(t, ttl)
			f.product(t, "prod_a", "", 5, "A")
			num := f.open(t)
			f.mustSet(t, num, "A", 2)
			tt.change(t, f)
			v := f.cart(t, num)
			if a, in := line(v, "A"); in != "unavailable" || a.UnavailableReason != tt.reason || !hasMessage(v, "item_unavailable") {
				t.Fatalf("A is in %s (%q), messages %+v", in, a.UnavailableReason, v.Messages)
			}
			f.sweep(t)
			wantStock(t, f, "A", 5, 0)
		})
		t.Run("a "+tt.name+" variant's line is released by the cart's next write", func(t *testing.T) {
			f := mustLife(t, ttl)
			f.product(t, "prod_a", "", 5, "A")
			f.product(t, "prod_b", "", 5, "B")
			num := f.open(t)
			f.mustSet(t, num, "A", 2)
			tt.change(t, f)
			f.mustSet(t, num, "B", 1)
			wantStock(t, f, "A", 5, 0)
		})
	}
}

func TestCheckout(t *testing.T) {
	t.Run("checkout commits the stock and closes the cart", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A", "B")
		num := f.open(t)
		f.mustSet(t, num, "A", 3)
		before := f.mustSet(t, num, "B", 2)
		v, err := f.checkout(t, num)
		if err != nil {
			t.Fatal(err)
		}
		if v.Cart.Status != cart.StatusCompleted || v.Cart.Version != before.Cart.Version+1 || v.Total != before.Total || !hasMessage(v, "checked_out") {
			t.Errorf("checked out: status %s version %d total %d messages %+v", v.Cart.Status, v.Cart.Version, v.Total, v.Messages)
		}
		wantStock(t, f, "A", 7, 0)
		wantStock(t, f, "B", 8, 0)
		for _, l := range v.Lines {
			if l.Item.ReservedQuantity != 0 || l.InventoryStatus != cart.InStock {
				t.Errorf("%s: holds %d, %s", l.Variant.SKU, l.Item.ReservedQuantity, l.InventoryStatus)
			}
		}
		_, err = f.set(t, num, "A", 1, cart.Reject)
		wantErr(t, err, cart.Conflict, "cart_not_active")
		_, err = f.checkout(t, num)
		wantErr(t, err, cart.Conflict, "cart_not_active")

		// The final cart is a record: later catalog and clock changes do not alter it.
		p := cart.Product{ID: "prod_a", Name: "A", Variants: []cart.Variant{{ID: "var_A", SKU: "A", Prices: map[string]int64{"USD": 5}, Active: false}}}
		if _, err := f.eng.PutProduct(t.Context(), f.admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(ttl)
		if later := f.cart(t, num); later.Total != v.Total || len(later.Lines) != 2 || len(later.Messages) != 0 {
			t.Errorf("the completed cart changed: total %d lines %d messages %+v", later.Total, len(later.Lines), later.Messages)
		}
	})

	t.Run("a retried checkout under one Idempotency-Key is answered once", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 10, "A")
		num := f.open(t)
		f.mustSet(t, num, "A", 3)
		opt := engine.Options{Idempotency: &engine.Idempotency{Scope: "test POST checkout", Key: "k1", RequestHash: sha256.Sum256(nil),
			Record: func(result any) (engine.Response, error) {
				return engine.Response{Status: 200, Body: []byte(result.(cart.View).Cart.Status)}, nil
			}}}
		if _, err := f.eng.Checkout(t.Context(), f.admin, num, opt); err != nil {
			t.Fatal(err)
		}
		_, err := f.eng.Checkout(t.Context(), f.admin, num, opt)
		var replayed *engine.Replayed
		if !errors.As(err, &replayed) || string(replayed.Response.Body) != "completed" {
			t.Fatalf("the retry: %v, want the first answer replayed", err)
		}
		wantStock(t, f, "A", 7, 0)
	})

	refusals := []struct {
		name   string
		setup  func(*testing.T, *life, int64)
		code   cart.Code
		reason string
	}{
		{"an empty cart", func(*testing.T, *life, int64) {}, cart.Conflict, "cart_empty"},
		{"an expired item", func(t *testing.T, f *life, num int64) {
			f.mustSet(t, num, "A", 2)
			f.clock.Advance(ttl)
		}, cart.Conflict, "checkout_items_expired"},
		{"an expired item, once swept", func(t *testing.T, f *life, num int64) {
			f.mustSet(t, num, "A", 2)
			f.clock.Advance(ttl)
			f.sweep(t)
		}, cart.Conflict, "checkout_items_expired"},
		{"an unavailable item", func(t *testing.T, f *life, num int64) {
			f.mustSet(t, num, "A", 2)
			f.mustSet(t, num, "B", 1)
			if err := f.eng.DeleteProduct(t.Context(), f.admin, "prod_b", engine.Options{}); err != nil {
				t.Fatal(err)
			}
		}, cart.Conflict, "checkout_items_unavailable"},
		{"an item short of stock", func(t *testing.T, f *life, num int64) {
			f.mustSet(t, num, "A", 4)
			f.setStock(t, "A", 3)
		}, cart.StockShort, "insufficient_stock"},
	}
	for _, tt := range refusals {
		t.Run("checkout of "+tt.name+" is refused and changes nothing", func(t *testing.T) {
			f := mustLife(t, ttl)
			f.product(t, "prod_a", "", 10, "A")
			f.product(t, "prod_b", "", 10, "B")
			num := f.open(t)
			tt.setup(t, f, num)
			before, a, b := f.cart(t, num), f.stock(t, "A"), f.stock(t, "B")
			_, err := f.checkout(t, num)
			if e := wantErr(t, err, tt.code, tt.reason); e.Cart == nil || e.Cart.Cart.Version != before.Cart.Version {
				t.Errorf("the refusal carries %+v, want the cart as it is", e.Cart)
			}
			after := f.cart(t, num)
			if after.Cart.Version != before.Cart.Version || after.Cart.Status != cart.StatusActive || f.stock(t, "A") != a || f.stock(t, "B") != b {
				t.Errorf("a refused checkout changed the cart (v%d -> v%d, %s) or the stock", before.Cart.Version, after.Cart.Version, after.Cart.Status)
			}
		})
	}

	t.Run("a line short of what it holds takes the rest from what is available", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 4, "A")
		num := f.open(t)
		f.mustSet(t, num, "A", 4)
		f.setStock(t, "A", 2) // the line holds 2 of its 4
		f.setStock(t, "A", 9) // and 7 more arrive
		if _, err := f.checkout(t, num); err != nil {
			t.Fatal(err)
		}
		wantStock(t, f, "A", 5, 0)
	})

	t.Run("backordered units are counted, and on_hand never goes below zero", func(t *testing.T) {
		f := mustLife(t, ttl)
		f.product(t, "prod_a", "", 3, "A")
		num := f.open(t)
		if _, err := f.set(t, num, "A", 5, cart.Ignore); err != nil {
			t.Fatal(err)
		}
		v, err := f.checkout(t, num)
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := line(v, "A"); a.InventoryStatus != cart.Backordered || !hasMessage(v, "backordered") {
			t.Errorf("A is %s, messages %+v; want backordered", a.InventoryStatus, v.Messages)
		}
		if st := f.stock(t, "A"); st.OnHand != 0 || st.Reserved != 0 || st.Backordered != 2 {
			t.Errorf("stock %+v, want on_hand 0, reserved 0, backordered 2", st)
		}
	})

	t.Run("without reservations checkout takes from what is available", func(t *testing.T) {
		f := mustLife(t, 0)
		f.product(t, "prod_a", "", 5, "A")
		first, second := f.open(t), f.open(t)
		f.mustSet(t, first, "A", 4)
		f.mustSet(t, second, "A", 4)
		if _, err := f.checkout(t, first); err != nil {
			t.Fatal(err)
		}
		_, err := f.checkout(t, second)
		wantErr(t, err, cart.StockShort, "insufficient_stock")
		wantStock(t, f, "A", 1, 0)
	})
}
