package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// newCart is an active cart of a customer with every field set.
func newCart(customerID string) cart.Cart {
	return cart.Cart{
		CustomerID:   customerID,
		Currency:     "USD",
		Status:       cart.StatusActive,
		Version:      1,
		Metadata:     json.RawMessage(`{"source": "app", "tags": ["a", "b"], "n": 1}`),
		CreatedAt:    at(1),
		UpdatedAt:    at(2),
		LastActivity: at(3),
	}
}

// newItem is an item holding all its quantity, with every field set.
func newItem(cartNum, variantNum, quantity int64) cart.Item {
	return cart.Item{
		CartNum:          cartNum,
		VariantNum:       variantNum,
		Quantity:         quantity,
		ReservedQuantity: quantity,
		AddedUnitPrice:   1250,
		UnitPrice:        1200,
		Notes:            "gift wrap",
		Metadata:         json.RawMessage(`{"engraving": "A.B."}`),
		ReservedUntil:    at(900),
		CreatedAt:        at(10),
		UpdatedAt:        at(11),
	}
}

// MustInsertCart stores c and returns it with its Num.
func MustInsertCart(tb testing.TB, s store.Store, c cart.Cart) cart.Cart {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertCart(ctx, &c) })
	return c
}

// MustInsertItem stores it and returns it with its Num.
func MustInsertItem(tb testing.TB, s store.Store, it cart.Item) cart.Item {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertItem(ctx, &it) })
	return it
}

func readCart(t *testing.T, s store.Store, num int64) cart.Cart {
	t.Helper()
	var c cart.Cart
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		c, err = tx.Cart(ctx, num)
		return err
	})
	return c
}

func readLines(t *testing.T, s store.Store, cartNum int64) []cart.Line {
	t.Helper()
	var lines []cart.Line
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		lines, err = tx.Lines(ctx, cartNum)
		return err
	})
	return lines
}

// itemsOf returns the items of lines, for comparing without what they join.
func itemsOf(lines []cart.Line) []cart.Item {
	var items []cart.Item
	for _, l := range lines {
		items = append(items, l.Item)
	}
	return items
}

func testCarts(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		cart cart.Cart
	}{
		{"a customer's cart with metadata round trips", newCart("cust_1")},
		{"a guest cart without metadata round trips", cart.Cart{
			Currency: "JPY", Status: cart.StatusActive, Version: 1,
			CreatedAt: at(1), UpdatedAt: at(1), LastActivity: at(1),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			want := MustInsertCart(t, s, tt.cart)
			if want.Num == 0 {
				t.Fatal("InsertCart left Num 0")
			}
			if diff := cmp.Diff(want, readCart(t, s, want.Num), cmpOpts); diff != "" {
				t.Errorf("Cart (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("an update stores customer, status, version, metadata and times", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart(""))
		want := c
		want.CustomerID = "cust_2"
		want.Status = cart.StatusCompleted
		want.Version = 7
		want.Metadata = json.RawMessage(`{"checked_out": true}`)
		want.UpdatedAt = at(50)
		want.LastActivity = at(51)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCart(ctx, want) })
		if diff := cmp.Diff(want, readCart(t, s, c.Num), cmpOpts); diff != "" {
			t.Errorf("Cart (-want +got):\n%s", diff)
		}
	})

	t.Run("carts get distinct numbers", func(t *testing.T) {
		s := open(t)
		a := MustInsertCart(t, s, newCart("cust_1"))
		b := MustInsertCart(t, s, newCart("cust_1"))
		if a.Num == b.Num {
			t.Errorf("two carts got Num %d", a.Num)
		}
	})
}

func testItems(t *testing.T, open func(t *testing.T) store.Store) {
	// fixture is a store with a product of two variants, stock for the first, and a cart.
	type fixture struct {
		s    store.Store
		p    cart.Product
		c    cart.Cart
		sku1 cart.Stock
	}
	setup := func(t *testing.T) fixture {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))
		st := cart.Stock{SKU: "TEE-S", OnHand: 10, Reserved: 3, Backordered: 1, UpdatedAt: at(5)}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutStock(ctx, st) })
		return fixture{s: s, p: p, c: MustInsertCart(t, s, newCart("cust_1")), sku1: st}
	}

	t.Run("a line joins its item, variant, product and stock", func(t *testing.T) {
		f := setup(t)
		it := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 3))
		if it.Num == 0 {
			t.Fatal("InsertItem left Num 0")
		}
		product := f.p
		product.Variants = nil
		want := []cart.Line{{Item: it, Variant: &f.p.Variants[0], Product: &product, Stock: f.sku1}}
		if diff := cmp.Diff(want, readLines(t, f.s, f.c.Num), cmpOpts); diff != "" {
			t.Errorf("Lines (-want +got):\n%s", diff)
		}
	})

	t.Run("a line of a SKU never stocked has zero stock", func(t *testing.T) {
		f := setup(t)
		MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[1].Num, 1))
		lines := readLines(t, f.s, f.c.Num)
		if len(lines) != 1 {
			t.Fatalf("got %d lines, want 1", len(lines))
		}
		if diff := cmp.Diff(cart.Stock{SKU: "TEE-M"}, lines[0].Stock, cmpOpts); diff != "" {
			t.Errorf("Stock (-want +got):\n%s", diff)
		}
	})

	t.Run("lines are the cart's own, oldest first", func(t *testing.T) {
		f := setup(t)
		other := MustInsertCart(t, f.s, newCart("cust_2"))
		var want []cart.Item
		for i, v := range []int{1, 0, 1} {
			it := newItem(f.c.Num, f.p.Variants[v].Num, int64(i+1))
			it.ReservedUntil = time.Time{} // holds no reservation
			it.ReservedQuantity = 0
			want = append(want, MustInsertItem(t, f.s, it))
			MustInsertItem(t, f.s, newItem(other.Num, f.p.Variants[0].Num, 1))
		}
		if diff := cmp.Diff(want, itemsOf(readLines(t, f.s, f.c.Num)), cmpOpts); diff != "" {
			t.Errorf("Lines (-want +got):\n%s", diff)
		}
	})

	t.Run("an update stores quantity, reservation, prices, notes and metadata", func(t *testing.T) {
		f := setup(t)
		it := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 3))
		for _, change := range []func(*cart.Item){
			func(it *cart.Item) {
				it.Quantity, it.ReservedQuantity, it.Backorder = 5, 2, true
				it.AddedUnitPrice, it.UnitPrice = 1300, 1100
				it.Notes = ""
				it.Metadata = nil
				it.ReservedUntil = time.Time{}
				it.UpdatedAt = at(60)
			},
			func(it *cart.Item) {
				it.Quantity, it.ReservedQuantity, it.Backorder = 1, 1, false
				it.Notes = "again"
				it.Metadata = json.RawMessage(`{"k": [1, 2]}`)
				it.ReservedUntil = at(1800)
				it.UpdatedAt = at(61)
			},
		} {
			change(&it)
			MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateItem(ctx, it) })
			if diff := cmp.Diff([]cart.Item{it}, itemsOf(readLines(t, f.s, f.c.Num)), cmpOpts); diff != "" {
				t.Errorf("Lines (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("deleting an item removes only that item", func(t *testing.T) {
		f := setup(t)
		a := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 1))
		b := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[1].Num, 1))
		MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteItem(ctx, a.Num) })
		if diff := cmp.Diff([]cart.Item{b}, itemsOf(readLines(t, f.s, f.c.Num)), cmpOpts); diff != "" {
			t.Errorf("Lines (-want +got):\n%s", diff)
		}
	})

	t.Run("deleting all items empties only that cart", func(t *testing.T) {
		f := setup(t)
		other := MustInsertCart(t, f.s, newCart("cust_2"))
		MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 1))
		MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[1].Num, 1))
		kept := MustInsertItem(t, f.s, newItem(other.Num, f.p.Variants[0].Num, 1))
		for range 2 { // the second time there is nothing to delete, which is no error
			MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteItems(ctx, f.c.Num) })
		}
		if lines := readLines(t, f.s, f.c.Num); len(lines) != 0 {
			t.Errorf("cart has %d lines after DeleteItems", len(lines))
		}
		if diff := cmp.Diff([]cart.Item{kept}, itemsOf(readLines(t, f.s, other.Num)), cmpOpts); diff != "" {
			t.Errorf("other cart's lines (-want +got):\n%s", diff)
		}
	})

	t.Run("item numbers are never reused", func(t *testing.T) {
		f := setup(t)
		first := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 1))
		MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteItem(ctx, first.Num) })
		second := MustInsertItem(t, f.s, newItem(f.c.Num, f.p.Variants[0].Num, 1))
		if second.Num <= first.Num {
			t.Errorf("item inserted after deleting item %d got Num %d", first.Num, second.Num)
		}
	})
}
