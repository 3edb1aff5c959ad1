package engine_test

import (
	"errors"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// guestShop is a shop whose guest carts hold at most 2 units of an item, with 100 of SKU
// FLASH in stock.
func guestShop(t *testing.T) (*shop, cart.Product) {
	t.Helper()
	s := mustShop(t)
	p := s.product(t, "prod_flash", "", 100, "FLASH")
	two := int64(2)
	if _, err := s.eng.PutSettings(t.Context(), s.admin, engine.SettingsUpdate{MaxGuestQuantityPerItem: &two}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	return s, p
}

// wantReason fails unless err is a *cart.Error with code and reason.
func wantReason(t *testing.T, err error, code cart.Code, reason string) *cart.Error {
	t.Helper()
	var ce *cart.Error
	if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
		t.Fatalf("error %v, want %s %s", err, code, reason)
	}
	return ce
}

func TestGuestQuantityLimit(t *testing.T) {
	add := func(n int64) *cart.Change { c := cart.AddDelta(n); return &c }
	set := func(n int64) *cart.Change { c := cart.SetTo(n); return &c }
	tests := []struct {
		name     string
		customer string
		changes  []*cart.Change
		policy   cart.Policy
		want     int64  // the line's quantity after the last change
		reason   string // of the last change's refusal; "" when it succeeds
	}{
		{name: "a guest cart holds up to the cap", changes: []*cart.Change{add(2)}, want: 2},
		{name: "a guest cart refuses a set above the cap", changes: []*cart.Change{set(3)}, reason: "guest_quantity_limit"},
		{name: "a guest cart refuses a delta past the cap", changes: []*cart.Change{add(2), add(1)}, want: 2, reason: "guest_quantity_limit"},
		{name: "the cap is validation: clamp refuses too", changes: []*cart.Change{set(5)}, policy: cart.Clamp, reason: "guest_quantity_limit"},
		{name: "the cap is validation: ignore refuses too", changes: []*cart.Change{set(5)}, policy: cart.Ignore, reason: "guest_quantity_limit"},
		{name: "a customer's cart is not capped", customer: "c1", changes: []*cart.Change{set(50)}, want: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := guestShop(t)
			c, err := s.eng.CreateCart(t.Context(), s.admin, engine.NewCart{CustomerID: tt.customer, Currency: "USD"}, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for _, ch := range tt.changes {
				_, last = s.eng.Update(t.Context(), s.admin, c.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "FLASH"}, Change: ch, Policy: tt.policy}}, engine.Options{})
			}
			if tt.reason != "" {
				ce := wantReason(t, last, cart.Invalid, tt.reason)
				if len(ce.Fields) != 1 || ce.Message == "" {
					t.Fatalf("refusal names no field: %+v", ce)
				}
			} else if last != nil {
				t.Fatal(last)
			}
			v := s.cart(t, c.Cart.Num)
			var got int64
			for _, l := range v.Lines {
				got += l.Item.Quantity
			}
			if got != tt.want {
				t.Fatalf("quantity %d, want %d", got, tt.want)
			}
			if held := s.stock(t, "FLASH").Reserved; held != tt.want {
				t.Fatalf("reserved %d, want %d: a refused change holds nothing", held, tt.want)
			}
		})
	}

	t.Run("a storefront session is a guest cart", func(t *testing.T) {
		s, p := guestShop(t)
		res, err := s.eng.UpdateSession(t.Context(), "", engine.SessionChange{ProductNum: p.Num, SKU: "FLASH", Change: cart.AddDelta(2), Policy: cart.Reject, Add: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.eng.UpdateSession(t.Context(), res.Secret, engine.SessionChange{ProductNum: p.Num, SKU: "FLASH", Change: cart.AddDelta(1), Policy: cart.Clamp})
		wantReason(t, err, cart.Invalid, "guest_quantity_limit")
		if _, err := s.eng.UpdateSession(t.Context(), "", engine.SessionChange{ProductNum: p.Num, SKU: "FLASH", Change: cart.AddDelta(3), Policy: cart.Reject, Add: true}); err == nil {
			t.Fatal("a new session's first add above the cap was accepted")
		}
		if held := s.stock(t, "FLASH").Reserved; held != 2 {
			t.Fatalf("reserved %d, want 2", held)
		}
	})

	t.Run("the cap lifts when the cart is given to a customer", func(t *testing.T) {
		s, _ := guestShop(t)
		c, err := s.eng.CreateCart(t.Context(), s.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		customer := "c7"
		if _, err := s.eng.UpdateCart(t.Context(), s.admin, c.Cart.Num, engine.CartUpdate{CustomerID: &customer}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.Update(t.Context(), s.admin, c.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "FLASH"}, Change: set(10)}}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a merge into a guest cart moves at most the cap", func(t *testing.T) {
		s, _ := guestShop(t)
		from, err := s.eng.CreateCart(t.Context(), s.admin, engine.NewCart{CustomerID: "c8", Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		into, err := s.eng.CreateCart(t.Context(), s.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.Update(t.Context(), s.admin, from.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "FLASH"}, Change: set(5)}}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		v, err := s.eng.MergeCart(t.Context(), s.admin, from.Cart.Num, into.Cart.Num, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Lines) != 1 || v.Lines[0].Item.Quantity != 2 {
			t.Fatalf("merged guest cart lines %+v, want 2 units of FLASH", v.Lines)
		}
		if held := s.stock(t, "FLASH").Reserved; held != 2 {
			t.Fatalf("reserved %d, want 2: what stayed behind was released with its merged cart", held)
		}
	})

	t.Run("the setting is validated", func(t *testing.T) {
		s := mustShop(t)
		for _, n := range []int64{-1, 1_000_001} {
			_, err := s.eng.PutSettings(t.Context(), s.admin, engine.SettingsUpdate{MaxGuestQuantityPerItem: &n}, engine.Options{})
			wantReason(t, err, cart.Invalid, "invalid_limit")
		}
		zero := int64(0)
		got, err := s.eng.PutSettings(t.Context(), s.admin, engine.SettingsUpdate{MaxGuestQuantityPerItem: &zero}, engine.Options{})
		if err != nil || got.MaxGuestQuantityPerItem != 0 {
			t.Fatalf("settings %+v, %v", got, err)
		}
	})
}
