package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

func TestAnonymousHoldLimit(t *testing.T) {
	tests := []struct {
		hold   engine.AnonymousHold
		onHand int64
		want   int64
	}{
		{engine.DefaultAnonymousHold, 150, 15},
		{engine.DefaultAnonymousHold, 151, 16}, // rounded up
		{engine.DefaultAnonymousHold, 10_000, 1_000},
		{engine.DefaultAnonymousHold, 25, 3},
		{engine.DefaultAnonymousHold, 10, 2}, // the floor
		{engine.DefaultAnonymousHold, 0, 2},
		{engine.AnonymousHold{Percent: 12.5}, 8, 1},
		{engine.AnonymousHold{Percent: 0.01}, 123_456_789, 12_346},
		{engine.AnonymousHold{Min: 7}, 1_000, 7},
		{engine.AnonymousHold{Percent: 100}, 42, 42},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v%% at least %d of %d is %d", tt.hold.Percent, tt.hold.Min, tt.onHand, tt.want), func(t *testing.T) {
			if got := tt.hold.Limit(tt.onHand); got != tt.want {
				t.Fatalf("Limit(%d) = %d", tt.onHand, got)
			}
		})
	}
}

// TestAnonymousHoldings makes up sessions from one address as a hoarding script would, and
// checks that together they hold no more than the address's share, while other addresses and
// signed-in customers are unaffected.
func TestAnonymousHoldings(t *testing.T) {
	const addr, other = "192.0.2.7", "2001:db8:7:7::/64"
	newShop := func(t *testing.T) (*shop, *observed, cart.Product) {
		obs := &observed{quantity: map[engine.QuantityOutcome]int{}, released: map[engine.ReleaseReason]int64{}}
		s := mustShopWith(t, engine.Config{ReservationTTL: 15 * time.Minute, AnonymousHold: engine.DefaultAnonymousHold, Observer: obs})
		return s, obs, s.product(t, "prod_drop", "", 150, "DROP")
	}
	from := func(ch engine.SessionChange, a string) engine.SessionChange { ch.ClientAddr = a; return ch }

	t.Run("made-up sessions from one address hold its share and no more", func(t *testing.T) {
		s, obs, p := newShop(t)
		held := 0
		for i := range 40 {
			_, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 5), addr))
			switch {
			case i < 3 && err != nil:
				t.Fatalf("session %d: %v", i, err)
			case i >= 3:
				ce := mustCode(t, err, cart.StockShort, "insufficient_stock")
				if *ce.Available != 0 {
					t.Fatalf("session %d: available %d, want 0", i, *ce.Available)
				}
			default:
				held += 5
			}
		}
		if st := s.stock(t, "DROP"); st.Reserved != 15 || held != 15 {
			t.Fatalf("reserved %d (sessions say %d), want 15 of 150", st.Reserved, held)
		}
		if obs.capped != 37 {
			t.Fatalf("capped changes observed: %d, want 37", obs.capped)
		}
		// Another address has a share of its own.
		if _, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 5), other)); err != nil {
			t.Fatal(err)
		}
		// And a signed-in customer's cart is not counted against any address.
		c, err := s.eng.CreateCart(t.Context(), s.customer(t, "cust_1"), engine.NewCart{}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.Update(t.Context(), s.customer(t, "cust_1"), c.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "DROP"}, Change: &cart.Change{Set: true, N: 50}, Policy: cart.Reject}}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if st := s.stock(t, "DROP"); st.Reserved != 70 {
			t.Fatalf("reserved %d, want 15 + 5 + 50", st.Reserved)
		}
	})

	t.Run("a session's changes clamp to the address's room, and lowering is never refused", func(t *testing.T) {
		s, _, p := newShop(t)
		first, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 10), addr))
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 2), addr))
		if err != nil {
			t.Fatal(err)
		}
		// The second session may grow to 5 (15 - 10), not to the 12 asked.
		res, err := s.eng.UpdateSession(t.Context(), second.Secret, adjust(p.Num, "DROP", 10))
		if err != nil {
			t.Fatal(err)
		}
		if q := res.View.Lines[0].Item.Quantity; q != 5 {
			t.Fatalf("clamped to %d, want 5", q)
		}
		// The cap counts the session's address, not the request's.
		if _, err := s.eng.UpdateSession(t.Context(), first.Secret, from(adjust(p.Num, "DROP", 1), other)); err != nil {
			t.Fatal(err)
		}
		if q := s.cart(t, first.View.Cart.Num).Lines[0].Item.Quantity; q != 10 {
			t.Fatalf("first session grew to %d at its address's cap, want 10", q)
		}
		// The shop lowers stock: the cap shrinks below what the first session holds, which
		// keeps it and may still lower it.
		n := int64(60)
		if _, err := s.eng.PutInventory(t.Context(), s.admin, "DROP", engine.StockChange{OnHand: &cart.Decimal{N: n}}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		res, err = s.eng.UpdateSession(t.Context(), first.Secret, adjust(p.Num, "DROP", -1))
		if err != nil {
			t.Fatal(err)
		}
		if q := res.View.Lines[0].Item.Quantity; q != 9 {
			t.Fatalf("lowered to %d, want 9", q)
		}
	})

	t.Run("lapsed reservations do not count", func(t *testing.T) {
		s, _, p := newShop(t)
		for range 3 {
			if _, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 5), addr)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 1), addr))
		mustCode(t, err, cart.StockShort, "insufficient_stock")
		s.clock.Advance(16 * time.Minute)
		if _, err := s.eng.UpdateSession(t.Context(), "", from(add(p.Num, "DROP", 5), addr)); err != nil {
			t.Fatalf("after the holds lapsed: %v", err)
		}
	})

	t.Run("a refused admission starts no session", func(t *testing.T) {
		s, _, p := newShop(t)
		before := s.cartCount(t)
		ch := from(add(p.Num, "DROP", 1), addr)
		ch.Admit = func() error { return cart.Errorf(cart.RateLimited, "session_rate_limited", "too many") }
		_, err := s.eng.UpdateSession(t.Context(), "", ch)
		mustCode(t, err, cart.RateLimited, "session_rate_limited")
		if got := s.cartCount(t); got != before {
			t.Fatalf("carts %d, want %d", got, before)
		}
		// A live session is not asked again.
		ch.Admit = nil
		res, err := s.eng.UpdateSession(t.Context(), "", ch)
		if err != nil {
			t.Fatal(err)
		}
		ch.Admit = func() error { t.Fatal("admission asked of a live session"); return nil }
		if _, err := s.eng.UpdateSession(t.Context(), res.Secret, ch); err != nil {
			t.Fatal(err)
		}
	})
}
