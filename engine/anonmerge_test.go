package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/sqlite"
)

// shopOn is a shop over st with an engine of cfg (its clock is the store's own).
func shopOn(tb testing.TB, st store.Store, cfg engine.Config) *shop {
	tb.Helper()
	ctx := context.Background()
	eng := engine.New(st, cfg)
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &shop{eng: eng, st: st, admin: admin}
}

// bothStores runs fn on a SQLite file and, when CARTD_TEST_POSTGRES_URL is set, on a
// PostgreSQL schema of its own: the cap on anonymous holdings is read from the database, so
// each store must hold it.
func bothStores(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) store.Store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cartd.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) store.Store {
			st, err := postgres.Open(t.Context(), postgrestest.URL(t), postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

// TestAnonymousHoldingsGrowByNoOtherPath holds every way a storefront session's guest cart
// can grow to its address's share, not only the session's own calls: a merge into it, and a
// change of it through the native API with a key. A merge into a customer's cart, and a guest
// cart given to a customer, leave the address's count: a signed-in customer is held to the
// customer's limits instead.
func TestAnonymousHoldingsGrowByNoOtherPath(t *testing.T) {
	const addr = "192.0.2.7"
	bothStores(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		// 150 units: one address's anonymous carts hold at most 15 (the defaults).
		newShop := func(t *testing.T) (*shop, *observed, cart.Product) {
			obs := &observed{quantity: map[engine.QuantityOutcome]int{}, released: map[engine.ReleaseReason]int64{}}
			s := shopOn(t, open(t), engine.Config{ReservationTTL: 15 * time.Minute, AnonymousHold: engine.DefaultAnonymousHold, Observer: obs})
			return s, obs, s.product(t, "prod_drop", "", 150, "DROP")
		}
		session := func(t *testing.T, s *shop, p cart.Product, n int64) int64 {
			t.Helper()
			ch := add(p.Num, "DROP", n)
			ch.ClientAddr = addr
			res, err := s.eng.UpdateSession(t.Context(), "", ch)
			if err != nil {
				t.Fatal(err)
			}
			return res.View.Cart.Num
		}
		// keyCart is a guest cart the shop's backend opens with its key, holding n: no session's,
		// so no address's.
		keyCart := func(t *testing.T, s *shop, customer string, n int64) int64 {
			t.Helper()
			c, err := s.eng.CreateCart(t.Context(), s.admin, engine.NewCart{Currency: "USD", CustomerID: customer}, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			set(t, s, c.Cart.Num, n, cart.Reject)
			return c.Cart.Num
		}
		wantHeld := func(t *testing.T, s *shop, num, want, reserved int64) {
			t.Helper()
			if q := quantities(s.cart(t, num))["DROP"]; q != want {
				t.Fatalf("cart %d holds %d, want %d", num, q, want)
			}
			if st := s.stock(t, "DROP"); st.Reserved != reserved {
				t.Fatalf("reserved %d, want %d", st.Reserved, reserved)
			}
		}

		t.Run("a merge into a session's cart takes what the address's share leaves", func(t *testing.T) {
			s, obs, p := newShop(t)
			into := session(t, s, p, 4)
			session(t, s, p, 3) // another session of the address: 7 of 15 held
			from := keyCart(t, s, "", 20)
			v, err := s.eng.MergeCart(t.Context(), s.admin, from, into, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(messages(v, "quantity_clamped")) != 1 {
				t.Fatalf("messages %+v, want quantity_clamped", v.Messages)
			}
			wantHeld(t, s, into, 4+8, 15) // the 20 of the key's cart went back to stock
			if obs.capped != 1 {
				t.Fatalf("capped changes observed: %d, want 1", obs.capped)
			}
		})

		t.Run("a merge of a session's cart into another of the same address moves its share", func(t *testing.T) {
			s, _, p := newShop(t)
			into, from := session(t, s, p, 10), session(t, s, p, 5)
			if _, err := s.eng.MergeCart(t.Context(), s.admin, from, into, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			wantHeld(t, s, into, 15, 15) // the source's 5 are released before they move
		})

		t.Run("a change of a session's cart through the native API with a key", func(t *testing.T) {
			s, _, p := newShop(t)
			num := session(t, s, p, 5)
			_, err := s.eng.Update(t.Context(), s.admin, num, []engine.Update{{Item: engine.ItemRef{SKU: "DROP"}, Change: &cart.Change{Set: true, N: 40}, Policy: cart.Reject}}, engine.Options{})
			mustCode(t, err, cart.StockShort, "insufficient_stock")
			set(t, s, num, 40, cart.Clamp)
			wantHeld(t, s, num, 15, 15)
			// The shop's own guest carts are no address's.
			other := keyCart(t, s, "", 40)
			wantHeld(t, s, other, 40, 55)
		})

		t.Run("a merge into a customer's cart is the customer's", func(t *testing.T) {
			s, _, p := newShop(t)
			guest := session(t, s, p, 10)
			mine := keyCart(t, s, "cust_1", 12)
			cust := "cust_1"
			v, err := s.eng.UpdateCart(t.Context(), s.admin, guest, engine.CartUpdate{CustomerID: &cust}, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Cart.Num != mine {
				t.Fatalf("merged into cart %d, want the customer's %d", v.Cart.Num, mine)
			}
			wantHeld(t, s, mine, 22, 22)
			// And the address's share is free again for its next anonymous shopper.
			session(t, s, p, 15)
		})
	})
}

// set sets a cart's DROP line to n with the key, under policy.
func set(t *testing.T, s *shop, num, n int64, policy cart.Policy) {
	t.Helper()
	if _, err := s.eng.Update(t.Context(), s.admin, num, []engine.Update{{Item: engine.ItemRef{SKU: "DROP"}, Change: &cart.Change{Set: true, N: n}, Policy: policy}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
}

// messages returns a view's messages with the code.
func messages(v cart.View, code string) []cart.Message {
	var out []cart.Message
	for _, m := range v.Messages {
		if m.Code == code {
			out = append(out, m)
		}
	}
	return out
}
