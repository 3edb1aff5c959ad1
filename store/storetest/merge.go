package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// testCustomerCarts holds a store to what cart merges rely on: merged_into round trips, and
// ActiveCartOf finds a customer's most recently active cart.
func testCustomerCarts(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a merged cart stores the cart it went into, and an update can clear it", func(t *testing.T) {
		s := open(t)
		into := MustInsertCart(t, s, newCart("cust_1"))
		merged := newCart("")
		merged.Status, merged.MergedInto = cart.StatusMerged, into.Num
		merged = MustInsertCart(t, s, merged)
		if diff := cmp.Diff(merged, readCart(t, s, merged.Num), cmpOpts); diff != "" {
			t.Errorf("Cart (-want +got):\n%s", diff)
		}

		c := MustInsertCart(t, s, newCart(""))
		want := c
		want.Status, want.MergedInto, want.Version = cart.StatusMerged, into.Num, 2
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCart(ctx, want) })
		if diff := cmp.Diff(want, readCart(t, s, c.Num), cmpOpts); diff != "" {
			t.Errorf("Cart after merging (-want +got):\n%s", diff)
		}
		want.MergedInto = 0
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCart(ctx, want) })
		if got := readCart(t, s, c.Num); got.MergedInto != 0 {
			t.Errorf("MergedInto = %d after an update storing 0", got.MergedInto)
		}
	})

	activeCartOf := func(t *testing.T, s store.Store, customerID string) (cart.Cart, error) {
		t.Helper()
		var (
			c   cart.Cart
			err error
		)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			c, err = tx.ActiveCartOf(ctx, customerID)
			return nil
		})
		return c, err
	}

	t.Run("the active cart of a customer is the most recently active one", func(t *testing.T) {
		s := open(t)
		cartAt := func(customerID string, status cart.Status, activity int) cart.Cart {
			c := newCart(customerID)
			c.Status, c.LastActivity = status, at(activity)
			return MustInsertCart(t, s, c)
		}
		first := cartAt("cust_1", cart.StatusActive, 10)
		recent := cartAt("cust_1", cart.StatusActive, 30)
		cartAt("cust_1", cart.StatusActive, 20)
		cartAt("cust_1", cart.StatusCompleted, 40) // more recent, but closed
		cartAt("cust_1", cart.StatusMerged, 50)
		cartAt("cust_2", cart.StatusActive, 60) // another customer's
		cartAt("", cart.StatusActive, 70)       // a guest cart

		got, err := activeCartOf(t, s, "cust_1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(recent, got, cmpOpts); diff != "" {
			t.Errorf("ActiveCartOf (-want +got):\n%s", diff)
		}

		// Activity moves "the customer's cart" to another one.
		first.LastActivity = at(35)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCart(ctx, first) })
		if got, err := activeCartOf(t, s, "cust_1"); err != nil || got.Num != first.Num {
			t.Errorf("ActiveCartOf after activity = cart %d (%v), want %d", got.Num, err, first.Num)
		}
	})

	t.Run("of two carts active at the same instant, the newer is the customer's", func(t *testing.T) {
		s := open(t)
		MustInsertCart(t, s, newCart("cust_1"))
		newer := MustInsertCart(t, s, newCart("cust_1"))
		if got, err := activeCartOf(t, s, "cust_1"); err != nil || got.Num != newer.Num {
			t.Errorf("ActiveCartOf = cart %d (%v), want %d", got.Num, err, newer.Num)
		}
	})

	t.Run("a customer without an active cart has none", func(t *testing.T) {
		s := open(t)
		closed := newCart("cust_1")
		closed.Status = cart.StatusCompleted
		MustInsertCart(t, s, closed)
		MustInsertCart(t, s, newCart(""))
		for _, customer := range []string{"cust_1", "cust_9", ""} {
			_, err := activeCartOf(t, s, customer)
			wantCode(t, err, cart.NotFound, "cart_not_found")
		}
	})
}

// testStockVersion holds a store to keeping the stock version the engine writes.
func testStockVersion(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("the version is stored as put and read back by Stock and Lines", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S")))
		c := MustInsertCart(t, s, newCart("cust_1"))
		MustInsertItem(t, s, newItem(c.Num, p.Variants[0].Num, 1))
		for _, want := range []cart.Stock{
			{SKU: "TEE-S", OnHand: 10, Reserved: 1, Version: 1, UpdatedAt: at(1)},
			{SKU: "TEE-S", OnHand: 10, Reserved: 2, Version: 2, UpdatedAt: at(2)},
			{SKU: "TEE-S", OnHand: 12, Reserved: 2, Version: 41, UpdatedAt: at(3)},
		} {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutStock(ctx, want) })
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				got, err := tx.Stock(ctx, want.SKU)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("Stock (-want +got):\n%s", diff)
				}
				return nil
			})
			lines := readLines(t, s, c.Num)
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1", len(lines))
			}
			if diff := cmp.Diff(want, lines[0].Stock, cmpOpts); diff != "" {
				t.Errorf("line's Stock (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("a SKU never stocked is at version 0", func(t *testing.T) {
		s := open(t)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Stock(ctx, "NOPE")
			if err != nil {
				return err
			}
			if got.Version != 0 {
				t.Errorf("version of a SKU never stocked = %d, want 0", got.Version)
			}
			return nil
		})
	})
}
