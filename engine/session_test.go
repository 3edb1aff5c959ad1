package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// shop is an engine with 15-minute reservations over a SQLite file on a test clock, with an
// admin principal, for the tests of the dialects' engine calls (sessions, the customer's
// cart upsert).
type shop struct {
	eng   *engine.Engine
	st    store.Store
	clock *testClock
	admin auth.Principal
}

func mustShop(tb testing.TB) *shop {
	tb.Helper()
	return mustShopWith(tb, engine.Config{ReservationTTL: 15 * time.Minute})
}

// mustShopWith is mustShop with an engine of cfg.
func mustShopWith(tb testing.TB, cfg engine.Config) *shop {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, cfg)
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &shop{eng: eng, st: st, clock: clock, admin: admin}
}

// product stores a product with one variant per SKU at 10.00 USD, each with onHand units and
// the sale saleID ("" for none), and returns it with its numbers.
func (s *shop) product(tb testing.TB, id, saleID string, onHand int64, skus ...string) cart.Product {
	tb.Helper()
	p := cart.Product{ID: id, Name: "Product " + id}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": 1000}, Active: true, Returnable: true, SaleID: saleID})
	}
	p, err := s.eng.PutProduct(tb.Context(), s.admin, p, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		n := onHand
		if _, err := s.eng.PutInventory(tb.Context(), s.admin, sku, engine.StockChange{OnHand: &cart.Decimal{N: n}}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

func (s *shop) stock(tb testing.TB, sku string) cart.Stock {
	tb.Helper()
	st, err := s.eng.Inventory(tb.Context(), s.admin, sku)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func (s *shop) cart(tb testing.TB, num int64) cart.View {
	tb.Helper()
	v, err := s.eng.Cart(tb.Context(), s.admin, num)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// cartCount is how many carts the store holds.
func (s *shop) cartCount(tb testing.TB) int64 {
	tb.Helper()
	var n int64
	if err := s.st.Read(tb.Context(), func(tx store.ReadTx) error {
		for n = 0; ; n++ {
			if _, err := tx.Cart(tb.Context(), n+1); cart.ErrorCode(err) == cart.NotFound {
				return nil
			} else if err != nil {
				return err
			}
		}
	}); err != nil {
		tb.Fatal(err)
	}
	return n
}

// quantities are a view's items (the lines that count and the expired ones), SKU to quantity.
func quantities(v cart.View) map[string]int64 {
	out := map[string]int64{}
	for _, lines := range [][]cart.LineView{v.Lines, v.ExpiredLines} {
		for _, l := range lines {
			out[l.Variant.SKU] = l.Item.Quantity
		}
	}
	return out
}

// mustCode fails the test unless err is a *cart.Error of the code and reason.
func mustCode(tb testing.TB, err error, code cart.Code, reason string) *cart.Error {
	tb.Helper()
	var ce *cart.Error
	if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
		tb.Fatalf("err = %v, want %s/%s", err, code, reason)
	}
	return ce
}

func add(productNum int64, sku string, n int64) engine.SessionChange {
	return engine.SessionChange{ProductNum: productNum, SKU: sku, Change: cart.AddDelta(n), Policy: cart.Reject, Add: true}
}

func adjust(productNum int64, sku string, n int64) engine.SessionChange {
	return engine.SessionChange{ProductNum: productNum, SKU: sku, Change: cart.AddDelta(n), Policy: cart.Clamp}
}

func TestSessions(t *testing.T) {
	t.Run("an add without a session starts one, with a guest cart, in one transaction", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S")
		res, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Secret, auth.SessionPrefix) || !res.ExpiresAt.Equal(s.clock.Now().Add(engine.SessionTTL)) {
			t.Errorf("secret %q expiring %v, want a %s secret expiring after SessionTTL", res.Secret, res.ExpiresAt, auth.SessionPrefix)
		}
		if res.View.Cart.Num == 0 || res.View.Cart.CustomerID != "" || quantities(res.View)["TEE-S"] != 2 {
			t.Errorf("cart %d of %q holding %v, want a stored guest cart with 2 TEE-S", res.View.Cart.Num, res.View.Cart.CustomerID, quantities(res.View))
		}
		if len(res.Change) != 1 || res.Change[0].Code != "item_added" {
			t.Errorf("change messages = %+v, want item_added", res.Change)
		}
		if st := s.stock(t, "TEE-S"); st.Reserved != 2 {
			t.Errorf("reserved = %d, want 2", st.Reserved)
		}

		again, err := s.eng.UpdateSession(t.Context(), res.Secret, add(p.Num, "TEE-S", 1))
		if err != nil {
			t.Fatal(err)
		}
		if again.Secret != "" || again.View.Cart.Num != res.View.Cart.Num || quantities(again.View)["TEE-S"] != 3 {
			t.Errorf("second add: secret %q, cart %d holding %v; want no new session, cart %d holding 3",
				again.Secret, again.View.Cart.Num, quantities(again.View), res.View.Cart.Num)
		}
		read, err := s.eng.SessionCart(t.Context(), res.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if read.View.Cart.Num != res.View.Cart.Num || read.View.Cart.Version != again.View.Cart.Version {
			t.Errorf("read cart %d v%d, want cart %d v%d", read.View.Cart.Num, read.View.Cart.Version, res.View.Cart.Num, again.View.Cart.Version)
		}
	})

	t.Run("a refused add stores neither a session nor a cart", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S")
		other := s.product(t, "prod_mug", "", 5, "MUG")
		_, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 6))
		if ce := mustCode(t, err, cart.StockShort, "insufficient_stock"); ce.Available == nil || *ce.Available != 5 {
			t.Errorf("available = %v, want 5", ce.Available)
		}
		_, err = s.eng.UpdateSession(t.Context(), "", add(p.Num, "NOPE", 1))
		mustCode(t, err, cart.Invalid, "unknown_variant")
		_, err = s.eng.UpdateSession(t.Context(), "", add(other.Num, "TEE-S", 1))
		mustCode(t, err, cart.Invalid, "item_key_mismatch")
		_, err = s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 0))
		mustCode(t, err, cart.Invalid, "invalid_quantity")
		if n := s.cartCount(t); n != 0 {
			t.Errorf("%d carts stored, want none", n)
		}
		if st := s.stock(t, "TEE-S"); st.Reserved != 0 {
			t.Errorf("reserved = %d, want 0", st.Reserved)
		}
	})

	t.Run("reading or emptying without a session stores nothing and answers an empty cart", func(t *testing.T) {
		s := mustShop(t)
		for name, call := range map[string]func(context.Context, string) (engine.SessionResult, error){
			"SessionCart": s.eng.SessionCart, "ClearSession": s.eng.ClearSession,
		} {
			for _, secret := range []string{"", "ss_unknown", "garbage"} {
				res, err := call(t.Context(), secret)
				if err != nil {
					t.Fatalf("%s(%q): %v", name, secret, err)
				}
				if res.View.Cart.Num != 0 || res.View.Cart.Currency != "USD" || len(res.View.Lines) != 0 || res.Secret != "" {
					t.Errorf("%s(%q) = cart %d in %q with %d lines, secret %q; want an empty USD cart, no session",
						name, secret, res.View.Cart.Num, res.View.Cart.Currency, len(res.View.Lines), res.Secret)
				}
			}
		}
		if n := s.cartCount(t); n != 0 {
			t.Errorf("%d carts stored, want none", n)
		}
	})

	t.Run("a change is additive, clamps at stock, and removes at zero or less", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		secret := start.Secret
		for _, step := range []struct {
			delta, want int64
			code        string
		}{
			{+1, 3, "quantity_updated"},
			{+10, 5, "quantity_clamped"},
			{-4, 1, "quantity_updated"},
			{-3, 0, "item_removed"},
		} {
			res, err := s.eng.UpdateSession(t.Context(), secret, adjust(p.Num, "TEE-S", step.delta))
			if err != nil {
				t.Fatalf("%+d: %v", step.delta, err)
			}
			if got := quantities(res.View)["TEE-S"]; got != step.want {
				t.Errorf("%+d: quantity %d, want %d", step.delta, got, step.want)
			}
			if len(res.Change) != 1 || res.Change[0].Code != step.code {
				t.Errorf("%+d: change messages %+v, want one %s", step.delta, res.Change, step.code)
			}
			if st := s.stock(t, "TEE-S"); st.Reserved != step.want {
				t.Errorf("%+d: reserved %d, want %d", step.delta, st.Reserved, step.want)
			}
		}
		_, err = s.eng.UpdateSession(t.Context(), secret, adjust(p.Num, "TEE-S", 1))
		mustCode(t, err, cart.NotFound, "item_not_found")
		_, err = s.eng.UpdateSession(t.Context(), "", adjust(p.Num, "TEE-S", 1))
		mustCode(t, err, cart.NotFound, "item_not_found")
	})

	t.Run("a line is named by its product's number and its SKU, case-sensitively", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S")
		other := s.product(t, "prod_mug", "", 5, "MUG")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range []engine.SessionChange{adjust(other.Num, "TEE-S", 1), adjust(p.Num, "tee-s", 1)} {
			_, err := s.eng.UpdateSession(t.Context(), start.Secret, ch)
			mustCode(t, err, cart.NotFound, "item_not_found")
		}
	})

	t.Run("lines that can no longer be bought are removed on read, and the removal is stored", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.UpdateSession(t.Context(), start.Secret, add(p.Num, "TEE-M", 1)); err != nil {
			t.Fatal(err)
		}
		p.Variants[0].Active = false
		if _, err := s.eng.PutProduct(t.Context(), s.admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		res, err := s.eng.SessionCart(t.Context(), start.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Removed) != 1 || res.Removed[0].Variant.SKU != "TEE-S" || res.Removed[0].UnavailableReason != cart.UnavailableInactive {
			t.Fatalf("removed %+v, want TEE-S (inactive)", res.Removed)
		}
		if q := quantities(res.View); len(q) != 1 || q["TEE-M"] != 1 || len(res.View.Unavailable) != 0 {
			t.Errorf("cart holds %v and %d unavailable lines, want TEE-M only", q, len(res.View.Unavailable))
		}
		found := false
		for _, m := range res.View.Messages {
			found = found || m.Code == "item_removed" && m.Type == cart.Warning && strings.Contains(m.Text, "TEE-S")
		}
		if !found {
			t.Errorf("messages %+v, want an item_removed warning about TEE-S", res.View.Messages)
		}
		stored := s.cart(t, res.View.Cart.Num)
		if len(stored.Unavailable) != 0 || stored.Cart.Version != res.View.Cart.Version {
			t.Errorf("stored cart v%d has %d unavailable lines, want the removal stored at v%d", stored.Cart.Version, len(stored.Unavailable), res.View.Cart.Version)
		}
		if st := s.stock(t, "TEE-S"); st.Reserved != 0 {
			t.Errorf("TEE-S reserved = %d, want 0", st.Reserved)
		}
		again, err := s.eng.SessionCart(t.Context(), start.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Removed) != 0 || again.View.Cart.Version != res.View.Cart.Version {
			t.Errorf("a second read removed %d lines and is at v%d, want nothing and v%d", len(again.Removed), again.View.Cart.Version, res.View.Cart.Version)
		}
	})

	t.Run("a change naming a line that can no longer be bought is not applied, and the removal stands", func(t *testing.T) {
		s := mustShop(t)
		s.clock.now = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
		if _, err := s.eng.PutSale(t.Context(), s.admin, cart.Sale{ID: "sale_flash", Name: "Flash",
			StartsAt: s.clock.Now().Add(-time.Hour), EndsAt: s.clock.Now().Add(time.Hour)}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		p := s.product(t, "prod_tee", "sale_flash", 5, "TEE-S")
		q := s.product(t, "prod_mug", "", 5, "MUG")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.UpdateSession(t.Context(), start.Secret, add(q.Num, "MUG", 1)); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(2 * time.Hour) // the sale ended
		res, err := s.eng.UpdateSession(t.Context(), start.Secret, adjust(p.Num, "TEE-S", 1))
		if err != nil {
			t.Fatal(err)
		}
		if res.Gone == nil || res.Gone.Variant.SKU != "TEE-S" || res.Gone.UnavailableReason != cart.UnavailableSaleEnded || len(res.Change) != 0 {
			t.Fatalf("gone %+v, change %+v; want TEE-S gone (sale ended) and no change applied", res.Gone, res.Change)
		}
		stored := s.cart(t, res.View.Cart.Num)
		if q := quantities(stored); len(q) != 1 || q["MUG"] != 1 || len(stored.Unavailable) != 0 {
			t.Errorf("stored cart holds %v, %d unavailable; want MUG only", q, len(stored.Unavailable))
		}
	})

	t.Run("a change of another line removes them too", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.UpdateSession(t.Context(), start.Secret, add(p.Num, "TEE-M", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.eng.DeleteProduct(t.Context(), s.admin, "prod_tee", engine.Options{}); err != nil {
			t.Fatal(err)
		}
		s.product(t, "prod_mug", "", 5, "MUG")
		mug, err := s.eng.Product(t.Context(), s.admin, "prod_mug")
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.eng.UpdateSession(t.Context(), start.Secret, add(mug.Num, "MUG", 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Removed) != 2 || res.Gone != nil || res.Removed[0].UnavailableReason != cart.UnavailableDeleted {
			t.Errorf("removed %+v, gone %+v; want both TEE lines removed (deleted), the add applied", res.Removed, res.Gone)
		}
		if q := quantities(res.View); len(q) != 1 || q["MUG"] != 1 {
			t.Errorf("cart holds %v, want MUG only", q)
		}
	})

	t.Run("an expired session, or one whose cart was given to a customer, reaches nothing", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 50, "TEE-S")
		expiring, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 1))
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 1))
		if err != nil {
			t.Fatal(err)
		}
		customer := "cust_1"
		if _, err := s.eng.UpdateCart(t.Context(), s.admin, claimed.View.Cart.Num, engine.CartUpdate{CustomerID: &customer}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		res, err := s.eng.SessionCart(t.Context(), claimed.Secret)
		if err != nil || res.View.Cart.Num != 0 {
			t.Errorf("a claimed cart's session reads cart %d (%v), want none", res.View.Cart.Num, err)
		}
		res, err = s.eng.UpdateSession(t.Context(), claimed.Secret, add(p.Num, "TEE-S", 1))
		if err != nil || res.Secret == "" || res.View.Cart.Num == claimed.View.Cart.Num {
			t.Errorf("an add with a claimed cart's session: cart %d, secret %q (%v); want a new session and cart", res.View.Cart.Num, res.Secret, err)
		}
		if got := s.cart(t, claimed.View.Cart.Num); quantities(got)["TEE-S"] != 1 {
			t.Errorf("the customer's cart holds %v, want it untouched", quantities(got))
		}

		s.clock.Advance(engine.SessionTTL)
		res, err = s.eng.SessionCart(t.Context(), expiring.Secret)
		if err != nil || res.View.Cart.Num != 0 {
			t.Errorf("an expired session reads cart %d (%v), want none", res.View.Cart.Num, err)
		}
		_, err = s.eng.UpdateSession(t.Context(), expiring.Secret, adjust(p.Num, "TEE-S", 1))
		mustCode(t, err, cart.NotFound, "item_not_found")
		s.clock.Advance(time.Second)
		n, err := s.eng.PurgeSessions(t.Context())
		if err != nil || n != 3 {
			t.Errorf("PurgeSessions = %d (%v), want the 3 sessions, all expired", n, err)
		}
	})

	t.Run("emptying a session's cart releases its stock", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M")
		start, err := s.eng.UpdateSession(t.Context(), "", add(p.Num, "TEE-S", 2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.UpdateSession(t.Context(), start.Secret, add(p.Num, "TEE-M", 3)); err != nil {
			t.Fatal(err)
		}
		res, err := s.eng.ClearSession(t.Context(), start.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.View.Lines) != 0 || res.View.Cart.Num != start.View.Cart.Num {
			t.Errorf("cleared cart %d holds %v", res.View.Cart.Num, quantities(res.View))
		}
		for _, sku := range []string{"TEE-S", "TEE-M"} {
			if st := s.stock(t, sku); st.Reserved != 0 {
				t.Errorf("%s reserved = %d, want 0", sku, st.Reserved)
			}
		}
	})
}
