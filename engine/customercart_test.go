package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// customerFixture is an engine with reservations over a SQLite file on a test clock, an admin
// principal, and one product whose SKUs the tests put in customers' carts.
type customerFixture struct {
	eng   *engine.Engine
	clock *testClock
	admin auth.Principal
}

func mustCustomerFixture(tb testing.TB, onHand int64, skus ...string) *customerFixture {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	f := &customerFixture{eng: eng, clock: clock, admin: admin}
	var variants []cart.Variant
	for _, sku := range skus {
		variants = append(variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": 1000}, Active: true})
	}
	if _, err := eng.PutProduct(ctx, admin, cart.Product{ID: "prod_1", Name: "Product", Variants: variants}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		f.setStock(tb, sku, onHand)
	}
	return f
}

func (f *customerFixture) setStock(tb testing.TB, sku string, onHand int64) {
	tb.Helper()
	if _, err := f.eng.PutInventory(context.Background(), f.admin, sku, engine.StockChange{OnHand: &cart.Decimal{N: onHand}}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
}

// cartWith opens a cart for customer ("" for a guest) holding quantity of sku, and returns
// the cart's and the line's numbers.
func (f *customerFixture) cartWith(tb testing.TB, customer, sku string, quantity int64) (int64, int64) {
	tb.Helper()
	ctx := context.Background()
	v, err := f.eng.CreateCart(ctx, f.admin, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ch := cart.AddDelta(quantity)
	v, err = f.eng.Update(ctx, f.admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: sku}, Change: &ch, Add: true}}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return v.Cart.Num, v.Lines[len(v.Lines)-1].Item.Num
}

func (f *customerFixture) quantityOf(tb testing.TB, cartNum, itemNum int64) (int64, bool) {
	tb.Helper()
	v, err := f.eng.Cart(context.Background(), f.admin, cartNum)
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range append(v.Lines, v.Unavailable...) {
		if l.Item.Num == itemNum {
			return l.Item.Quantity, true
		}
	}
	return 0, false
}

func TestUpdateCustomerItem(t *testing.T) {
	ctx := context.Background()
	set := func(customer string, item, n int64, policy cart.Policy) engine.CustomerItemChange {
		return engine.CustomerItemChange{CustomerID: customer, ItemNum: item, Change: cart.SetTo(n), Policy: policy}
	}

	t.Run("it sets the quantity of a line of the customer's cart, and 0 removes it", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		cartNum, item := f.cartWith(t, "9", "A", 2)
		v, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", item, 6, cart.Reject), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Cart.Num != cartNum || v.ItemCount != 6 || v.Subtotal != 6000 {
			t.Fatalf("cart %d with %d units, subtotal %d; want cart %d, 6 units, 6000", v.Cart.Num, v.ItemCount, v.Subtotal, cartNum)
		}
		if v, err = f.eng.UpdateCustomerItem(ctx, f.admin, set("9", item, 0, cart.Reject), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.quantityOf(t, cartNum, item); ok || len(v.Lines) != 0 {
			t.Fatalf("line still in the cart after quantity 0: %+v", v.Lines)
		}
	})

	t.Run("a line of another customer's cart is not found", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		f.cartWith(t, "9", "A", 1)
		otherCart, other := f.cartWith(t, "10", "A", 1)
		_, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", other, 3, cart.Reject), engine.Options{})
		if e := cart.AsError(err); e.Code != cart.NotFound || e.Reason != "item_not_found" {
			t.Fatalf("err = %v, want not_found item_not_found", err)
		}
		if q, _ := f.quantityOf(t, otherCart, other); q != 1 {
			t.Fatalf("the other customer's line changed to %d", q)
		}
	})

	t.Run("a customer without an active cart has no cart to change", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		_, guestItem := f.cartWith(t, "", "A", 1)
		_, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", guestItem, 3, cart.Reject), engine.Options{})
		if e := cart.AsError(err); e.Code != cart.NotFound || e.Reason != "cart_not_found" {
			t.Fatalf("err = %v, want not_found cart_not_found", err)
		}
	})

	t.Run("only the customer's most recently active cart is the customer's cart", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		_, older := f.cartWith(t, "9", "A", 1)
		f.clock.Advance(time.Second)
		_, newer := f.cartWith(t, "9", "A", 1)
		if _, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", newer, 2, cart.Reject), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		_, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", older, 2, cart.Reject), engine.Options{})
		if cart.ErrorCode(err) != cart.NotFound {
			t.Fatalf("err = %v, want not_found for a line of an older cart", err)
		}
	})

	t.Run("a customer token changes its own customer's cart and finds no other", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		_, item := f.cartWith(t, "9", "A", 1)
		_, other := f.cartWith(t, "10", "A", 1)
		secret, _, err := f.eng.IssueToken(ctx, f.admin, "9", 0)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.eng.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.UpdateCustomerItem(ctx, p, set("", item, 4, cart.Reject), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []engine.CustomerItemChange{set("10", other, 4, cart.Reject), set("", other, 4, cart.Reject)} {
			if _, err := f.eng.UpdateCustomerItem(ctx, p, ch, engine.Options{}); cart.ErrorCode(err) != cart.NotFound {
				t.Fatalf("%+v: err = %v, want not_found", ch, err)
			}
		}
	})

	t.Run("a key without carts:write is forbidden", func(t *testing.T) {
		f := mustCustomerFixture(t, 10, "A")
		_, item := f.cartWith(t, "9", "A", 1)
		p := auth.Principal{KeyNum: 99, Scopes: []auth.Scope{auth.CartsRead}}
		if _, err := f.eng.UpdateCustomerItem(ctx, p, set("9", item, 2, cart.Reject), engine.Options{}); cart.ErrorCode(err) != cart.Forbidden {
			t.Fatalf("err = %v, want forbidden", err)
		}
	})

	t.Run("reject leaves a short line and the stock as they were", func(t *testing.T) {
		f := mustCustomerFixture(t, 5, "A")
		cartNum, item := f.cartWith(t, "9", "A", 2)
		_, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", item, 6, cart.Reject), engine.Options{})
		e := cart.AsError(err)
		if e.Code != cart.StockShort || e.Available == nil || *e.Available != 5 || e.Cart == nil {
			t.Fatalf("err = %v, want stock_short with 5 available and the cart", err)
		}
		if q, _ := f.quantityOf(t, cartNum, item); q != 2 {
			t.Fatalf("quantity %d after a rejected change, want 2", q)
		}
	})

	t.Run("clamp applies what is available", func(t *testing.T) {
		f := mustCustomerFixture(t, 5, "A")
		_, item := f.cartWith(t, "9", "A", 2)
		for _, keep := range []bool{false, true} {
			ch := set("9", item, 50, cart.Clamp)
			ch.KeepOutOfStock = keep
			v, err := f.eng.UpdateCustomerItem(ctx, f.admin, ch, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.ItemCount != 5 || len(v.Messages) == 0 || v.Messages[0].Code != "quantity_clamped" || *v.Messages[0].Requested != 50 {
				t.Fatalf("keep %v: %d units, messages %+v; want 5 units clamped from 50", keep, v.ItemCount, v.Messages)
			}
		}
	})

	t.Run("with nothing available clamp removes the line, unless it is kept", func(t *testing.T) {
		f := mustCustomerFixture(t, 3, "A")
		cartNum, item := f.cartWith(t, "9", "A", 3)
		// The shelf count drops to nothing: the line keeps its quantity and holds no stock.
		f.setStock(t, "A", 0)

		ch := set("9", item, 4, cart.Clamp)
		ch.KeepOutOfStock = true
		v, err := f.eng.UpdateCustomerItem(ctx, f.admin, ch, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if q, ok := f.quantityOf(t, cartNum, item); !ok || q != 3 {
			t.Fatalf("kept line has quantity %d (in cart: %v), want 3", q, ok)
		}
		m := v.Messages[0]
		if m.Code != "out_of_stock" || m.Type != cart.Warning || m.ItemNum != item || *m.Requested != 4 || *m.Applied != 3 || *m.Available != 0 {
			t.Fatalf("message = %+v, want out_of_stock warning for the item, requested 4, applied 3, available 0", m)
		}

		if _, err := f.eng.UpdateCustomerItem(ctx, f.admin, set("9", item, 4, cart.Clamp), engine.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.quantityOf(t, cartNum, item); ok {
			t.Fatal("clamp without KeepOutOfStock kept a line nothing is available for")
		}
	})

	t.Run("invalid values are refused before the cart is read", func(t *testing.T) {
		f := mustCustomerFixture(t, 5, "A")
		for _, ch := range []engine.CustomerItemChange{set("", 1, 1, cart.Reject), set("9", 0, 1, cart.Reject), set("9\n", 1, 1, cart.Reject)} {
			if _, err := f.eng.UpdateCustomerItem(ctx, f.admin, ch, engine.Options{}); cart.ErrorCode(err) != cart.Invalid {
				t.Fatalf("%+v: err = %v, want invalid", ch, err)
			}
		}
	})
}
