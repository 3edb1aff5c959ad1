package engine_test

import (
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// customer issues a token for a customer and returns its principal.
func (s *shop) customer(tb testing.TB, id string) auth.Principal {
	tb.Helper()
	secret, _, err := s.eng.IssueToken(tb.Context(), s.admin, id, 0)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := s.eng.Authenticate(tb.Context(), secret)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func setSKU(sku string, n int64) engine.CustomerUpsert {
	return engine.CustomerUpsert{SKU: sku, Change: cart.SetTo(n), Policy: cart.Clamp}
}

func TestUpsertCustomerItem(t *testing.T) {
	t.Run("opens the customer's cart when they have none, then sets quantities in it", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M")
		alice := s.customer(t, "alice")
		v, err := s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 2), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Cart.Num == 0 || v.Cart.CustomerID != "alice" || v.Cart.Currency != "USD" || quantities(v)["TEE-S"] != 2 {
			t.Fatalf("cart %d of %q in %s holding %v, want alice's new USD cart with 2 TEE-S", v.Cart.Num, v.Cart.CustomerID, v.Cart.Currency, quantities(v))
		}
		first := v.Cart.Num
		// A set, not an add; by the variant's number too.
		if v, err = s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 1), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		byNum := engine.CustomerUpsert{VariantNum: p.Variants[1].Num, Change: cart.SetTo(3), Policy: cart.Clamp}
		if v, err = s.eng.UpsertCustomerItem(t.Context(), alice, byNum, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if q := quantities(v); v.Cart.Num != first || q["TEE-S"] != 1 || q["TEE-M"] != 3 {
			t.Errorf("cart %d holds %v, want cart %d with 1 TEE-S and 3 TEE-M", v.Cart.Num, q, first)
		}
		if st := s.stock(t, "TEE-S"); st.Reserved != 1 {
			t.Errorf("TEE-S reserved = %d, want 1", st.Reserved)
		}
		// Above stock clamps; 0 removes.
		if v, err = s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-M", 9), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if quantities(v)["TEE-M"] != 5 {
			t.Errorf("TEE-M = %d after asking 9 of 5, want 5", quantities(v)["TEE-M"])
		}
		if v, err = s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 0), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, ok := quantities(v)["TEE-S"]; ok {
			t.Errorf("TEE-S still in the cart after set to 0: %v", quantities(v))
		}
	})

	t.Run("changes the customer's most recently active cart", func(t *testing.T) {
		s := mustShop(t)
		s.product(t, "prod_tee", "", 50, "TEE-S")
		alice := s.customer(t, "alice")
		older, err := s.eng.CreateCart(t.Context(), alice, engine.NewCart{}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(time.Second)
		newer, err := s.eng.CreateCart(t.Context(), alice, engine.NewCart{}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 2), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Cart.Num != newer.Cart.Num || len(s.cart(t, older.Cart.Num).Lines) != 0 {
			t.Errorf("changed cart %d, want the newer %d (older %d untouched)", v.Cart.Num, newer.Cart.Num, older.Cart.Num)
		}
	})

	t.Run("a change that stores nothing opens no cart, and neither does a refused one", func(t *testing.T) {
		s := mustShop(t)
		s.product(t, "prod_tee", "", 0, "TEE-S")
		s.product(t, "prod_mug", "", 5, "MUG")
		alice := s.customer(t, "alice")
		for _, u := range []engine.CustomerUpsert{setSKU("MUG", 0), setSKU("TEE-S", 3)} {
			v, err := s.eng.UpsertCustomerItem(t.Context(), alice, u, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Cart.Num != 0 || len(v.Lines) != 0 || v.Cart.CustomerID != "alice" {
				t.Errorf("%s to %d: cart %d of %q with %v, want alice's empty cart, not stored", u.SKU, u.Change.N, v.Cart.Num, v.Cart.CustomerID, quantities(v))
			}
		}
		_, err := s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("NOPE", 1), engine.Options{})
		mustCode(t, err, cart.Invalid, "unknown_variant")
		_, err = s.eng.UpsertCustomerItem(t.Context(), alice, engine.CustomerUpsert{VariantNum: 424242, Change: cart.SetTo(1)}, engine.Options{})
		mustCode(t, err, cart.Invalid, "unknown_variant")
		_, err = s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("MUG", 1000), engine.Options{})
		mustCode(t, err, cart.Invalid, "quantity_limit")
		if n := s.cartCount(t); n != 0 {
			t.Errorf("%d carts stored, want none", n)
		}
	})

	t.Run("names exactly one variant, of the token's own customer", func(t *testing.T) {
		s := mustShop(t)
		s.product(t, "prod_tee", "", 5, "TEE-S")
		alice := s.customer(t, "alice")
		_, err := s.eng.UpsertCustomerItem(t.Context(), alice, engine.CustomerUpsert{Change: cart.SetTo(1)}, engine.Options{})
		mustCode(t, err, cart.Invalid, "missing_item")
		_, err = s.eng.UpsertCustomerItem(t.Context(), alice, engine.CustomerUpsert{SKU: "TEE-S", VariantNum: 1, Change: cart.SetTo(1)}, engine.Options{})
		mustCode(t, err, cart.Invalid, "missing_item")
		u := setSKU("TEE-S", 1)
		u.CustomerID = "bob"
		_, err = s.eng.UpsertCustomerItem(t.Context(), alice, u, engine.Options{})
		mustCode(t, err, cart.Forbidden, "customer_mismatch")
	})

	t.Run("a line of a withdrawn variant is still found by its number, to be removed", func(t *testing.T) {
		s := mustShop(t)
		p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M")
		alice := s.customer(t, "alice")
		if _, err := s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 2), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		gone := p.Variants[0].Num
		p.Variants = p.Variants[1:]
		if _, err := s.eng.PutProduct(t.Context(), s.admin, p, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		v, err := s.eng.UpsertCustomerItem(t.Context(), alice, engine.CustomerUpsert{VariantNum: gone, Change: cart.SetTo(1), Policy: cart.Clamp}, engine.Options{})
		mustCode(t, err, cart.Conflict, "item_unavailable")
		if v, err = s.eng.UpsertCustomerItem(t.Context(), alice, engine.CustomerUpsert{VariantNum: gone, Change: cart.SetTo(0), Policy: cart.Clamp}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if len(v.Lines)+len(v.Unavailable) != 0 {
			t.Errorf("cart still holds %d lines, %d unavailable", len(v.Lines), len(v.Unavailable))
		}
	})
}

func TestSiblings(t *testing.T) {
	s := mustShop(t)
	p := s.product(t, "prod_tee", "", 5, "TEE-S", "TEE-M", "TEE-L")
	s.product(t, "prod_mug", "", 0, "MUG")
	alice := s.customer(t, "alice")
	v, err := s.eng.UpsertCustomerItem(t.Context(), alice, setSKU("TEE-S", 5), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.eng.Siblings(t.Context(), alice, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[p.Num]) != 3 {
		t.Fatalf("siblings = %+v, want the 3 variants of product %d", got, p.Num)
	}
	for i, want := range []struct {
		sku       string
		available int64
	}{{"TEE-S", 0}, {"TEE-M", 5}, {"TEE-L", 5}} {
		vs := got[p.Num][i]
		if vs.Variant.SKU != want.sku || vs.Stock.Available() != want.available {
			t.Errorf("sibling %d = %s with %d available, want %s with %d", i, vs.Variant.SKU, vs.Stock.Available(), want.sku, want.available)
		}
	}
	if _, err := s.eng.Siblings(t.Context(), auth.Principal{KeyNum: 1, Scopes: []auth.Scope{auth.CatalogRead}}, v); cart.ErrorCode(err) != cart.Forbidden {
		t.Errorf("Siblings without carts:read: %v, want Forbidden", err)
	}
}
