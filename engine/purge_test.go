package engine_test

// Tests of housekeeping's purges of abandoned guest carts and old customer tokens, and of
// listing and revoking API keys, on a real SQLite store whose clock the test moves.

import (
	"context"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

const day = 24 * time.Hour

// openWith opens a cart of customer ("" for a guest cart) holding q units of each SKU.
func (s *shop) openWith(tb testing.TB, customer string, q int64, skus ...string) int64 {
	tb.Helper()
	v, err := s.eng.CreateCart(tb.Context(), s.admin, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		ch := cart.SetTo(q)
		if _, err := s.eng.Update(tb.Context(), s.admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: sku}, Change: &ch}}, engine.Options{}); err != nil {
			tb.Fatalf("set %s to %d in cart %d: %v", sku, q, v.Cart.Num, err)
		}
	}
	return v.Cart.Num
}

// exists reports whether cart num is stored.
func (s *shop) exists(tb testing.TB, num int64) bool {
	tb.Helper()
	_, err := s.eng.Cart(tb.Context(), s.admin, num)
	if err != nil && cart.ErrorCode(err) != cart.NotFound {
		tb.Fatal(err)
	}
	return err == nil
}

// wantHeld checks invariant 1 for sku: the stock's reserved count is what the stored items
// hold, and equals want.
func (s *shop) wantHeld(tb testing.TB, sku string, want int64) cart.Stock {
	tb.Helper()
	st := s.stock(tb, sku)
	var held int64
	err := s.st.Read(tb.Context(), func(tx store.ReadTx) error {
		items, err := tx.StockHolders(tb.Context(), sku)
		for _, it := range items {
			held += it.ReservedQuantity
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if st.Reserved != held || st.Reserved != want {
		tb.Errorf("%s: reserved %d, the items hold %d; want %d", sku, st.Reserved, held, want)
	}
	return st
}

func TestPurgeAbandonedCarts(t *testing.T) {
	t.Run("an idle guest cart gives back its stock and is deleted; others stay", func(t *testing.T) {
		s := mustShop(t)
		ctx := context.Background()
		s.product(t, "prod_p", "", 10, "A", "B")
		idle := s.openWith(t, "", 3, "A", "B")
		customers := s.openWith(t, "cust_1", 2, "A")
		empty := s.openWith(t, "", 0)
		done := s.openWith(t, "", 1, "B")
		if _, err := s.eng.Checkout(ctx, s.admin, done, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(20 * day)
		recent := s.openWith(t, "", 1, "A")
		s.clock.Advance(11 * day)

		beforeA, beforeB := s.wantHeld(t, "A", 3+2+1), s.wantHeld(t, "B", 3)
		n, err := s.eng.PurgeAbandonedCarts(ctx, 30*day)
		if err != nil || n != 2 {
			t.Fatalf("PurgeAbandonedCarts = %d, %v; want 2 (the idle cart and the empty one)", n, err)
		}
		for num, want := range map[int64]bool{idle: false, empty: false, customers: true, done: true, recent: true} {
			if got := s.exists(t, num); got != want {
				t.Errorf("cart %d exists: %v, want %v", num, got, want)
			}
		}
		afterA, afterB := s.wantHeld(t, "A", 2+1), s.wantHeld(t, "B", 0)
		if afterA.Version != beforeA.Version+1 || afterB.Version != beforeB.Version+1 {
			t.Errorf("stock versions went A %d -> %d, B %d -> %d; want one write each", beforeA.Version, afterA.Version, beforeB.Version, afterB.Version)
		}
		if afterA.OnHand != 10 || afterB.OnHand != 9 || afterB.Available() != 9 {
			t.Errorf("after the purge A is %+v and B %+v: want on_hand untouched and B all available", afterA, afterB)
		}
		if n, err := s.eng.PurgeAbandonedCarts(ctx, 30*day); err != nil || n != 0 {
			t.Errorf("purging again: %d, %v; want 0", n, err)
		}
	})

	t.Run("an idle time of 0 purges nothing", func(t *testing.T) {
		s := mustShop(t)
		num := s.openWith(t, "", 0)
		s.clock.Advance(1000 * day)
		if n, err := s.eng.PurgeAbandonedCarts(context.Background(), 0); err != nil || n != 0 || !s.exists(t, num) {
			t.Errorf("PurgeAbandonedCarts(0) = %d, %v; want 0 with the cart kept", n, err)
		}
	})

	t.Run("a cart that a live storefront session names waits for the session to expire", func(t *testing.T) {
		s := mustShop(t)
		ctx := context.Background()
		p := s.product(t, "prod_p", "", 10, "A")
		res, err := s.eng.UpdateSession(ctx, "", add(p.Num, "A", 2))
		if err != nil {
			t.Fatal(err)
		}
		num := res.View.Cart.Num
		s.clock.Advance(2 * day)
		if n, err := s.eng.PurgeAbandonedCarts(ctx, day); err != nil || n != 0 || !s.exists(t, num) {
			t.Fatalf("with its session live: purged %d, %v; want the cart kept", n, err)
		}
		s.clock.Advance(engine.SessionTTL)
		if n, err := s.eng.PurgeAbandonedCarts(ctx, day); err != nil || n != 1 || s.exists(t, num) {
			t.Fatalf("once its session expired: purged %d, %v; want the cart gone", n, err)
		}
		s.wantHeld(t, "A", 0)
		// The shopper's cookie now names nothing: they get a new, empty cart.
		again, err := s.eng.SessionCart(ctx, res.Secret)
		if err != nil || again.View.Cart.Num != 0 || len(again.View.Lines) != 0 {
			t.Errorf("the purged cart's session: %+v, %v; want an empty cart not stored", again.View.Cart, err)
		}
	})

	t.Run("carts merged into a purged cart go with it", func(t *testing.T) {
		s := mustShop(t)
		ctx := context.Background()
		s.product(t, "prod_p", "", 10, "A")
		into := s.openWith(t, "", 1, "A")
		src := s.openWith(t, "", 2, "A")
		if _, err := s.eng.MergeCart(ctx, s.admin, src, into, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(31 * day)
		if n, err := s.eng.PurgeAbandonedCarts(ctx, 30*day); err != nil || n != 1 {
			t.Fatalf("PurgeAbandonedCarts = %d, %v; want 1 (the merged cart is not active)", n, err)
		}
		if s.exists(t, into) || s.exists(t, src) {
			t.Errorf("after purging cart %d: it exists %v, cart %d merged into it exists %v", into, s.exists(t, into), src, s.exists(t, src))
		}
		s.wantHeld(t, "A", 0)
	})

	t.Run("more carts than one batch are all purged", func(t *testing.T) {
		s := mustShop(t)
		s.product(t, "prod_p", "", 1000, "A")
		const carts = 250
		for range carts {
			s.openWith(t, "", 1, "A")
		}
		s.clock.Advance(31 * day)
		if n, err := s.eng.PurgeAbandonedCarts(context.Background(), 30*day); err != nil || n != carts {
			t.Errorf("PurgeAbandonedCarts = %d, %v; want %d", n, err, carts)
		}
		s.wantHeld(t, "A", 0)
	})
}

func TestPurgeTokens(t *testing.T) {
	s := mustShop(t)
	ctx := context.Background()
	short, _, err := s.eng.IssueToken(ctx, s.admin, "cust_1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	long, longTok, err := s.eng.IssueToken(ctx, s.admin, "cust_1", 30*day)
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedTok, err := s.eng.IssueToken(ctx, s.admin, "cust_2", 30*day)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.eng.RevokeToken(ctx, s.admin, "cust_2", revokedTok.Num); err != nil {
		t.Fatal(err)
	}
	purge := func() int {
		t.Helper()
		n, err := s.eng.PurgeTokens(ctx, engine.DefaultTokenGrace)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := purge(); n != 0 {
		t.Errorf("purged %d tokens at once, want 0", n)
	}
	s.clock.Advance(engine.DefaultTokenGrace)
	if n := purge(); n != 0 {
		t.Errorf("purged %d tokens within the grace period, want 0", n)
	}
	s.clock.Advance(2 * time.Hour)
	if n := purge(); n != 2 {
		t.Errorf("purged %d tokens after the grace period, want 2 (expired and revoked)", n)
	}
	// A revoked token's revocation, retried, finds it no more; the others are refused as before.
	if err := s.eng.RevokeToken(ctx, s.admin, "cust_2", revokedTok.Num); cart.ErrorCode(err) != cart.NotFound {
		t.Errorf("revoking a purged token: %v, want NotFound", err)
	}
	for _, secret := range []string{short, revoked} {
		if _, err := s.eng.Authenticate(ctx, secret); cart.ErrorCode(err) != cart.Unauthorized {
			t.Errorf("a purged token authenticates: %v", err)
		}
	}
	if p, err := s.eng.Authenticate(ctx, long); err != nil || p.TokenNum != longTok.Num {
		t.Errorf("the live token after the purge: %+v, %v", p, err)
	}
}

func TestKeys(t *testing.T) {
	s := mustShop(t) // holds one admin key, "test"
	ctx := context.Background()
	secret, web, err := s.eng.CreateKey(ctx, []auth.Scope{auth.CartsRead, auth.CartsWrite}, "web")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.eng.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Label != "test" || keys[1].Num != web.Num || keys[1].Label != "web" || !keys[1].RevokedAt.IsZero() {
		t.Fatalf("Keys = %+v, want test then web, neither revoked", keys)
	}
	if _, err := s.eng.Authenticate(ctx, secret); err != nil {
		t.Fatalf("the new key does not authenticate: %v", err)
	}

	s.clock.Advance(time.Minute)
	k, err := s.eng.RevokeKey(ctx, web.Num)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.clock.Now(); !k.RevokedAt.Equal(want) || k.Label != "web" {
		t.Errorf("RevokeKey = %+v, want web revoked at %v", k, want)
	}
	if _, err := s.eng.Authenticate(ctx, secret); cart.ErrorCode(err) != cart.Unauthorized {
		t.Errorf("a revoked key authenticates: %v", err)
	}
	s.clock.Advance(time.Minute)
	again, err := s.eng.RevokeKey(ctx, web.Num)
	if err != nil || !again.RevokedAt.Equal(k.RevokedAt) {
		t.Errorf("revoking again: %+v, %v; want success keeping %v", again, err, k.RevokedAt)
	}
	if _, err := s.eng.RevokeKey(ctx, 424242); cart.ErrorCode(err) != cart.NotFound {
		t.Errorf("revoking an unknown key: %v, want NotFound", err)
	}
}
