package storetest

import (
	"context"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// testReservedUnits checks the sum the metrics report as the stock held by carts.
func testReservedUnits(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	sum := func() int64 {
		t.Helper()
		var n int64
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			var err error
			n, err = tx.ReservedUnits(ctx)
			return err
		})
		return n
	}
	if got := sum(); got != 0 {
		t.Errorf("ReservedUnits of an empty store = %d, want 0", got)
	}
	steps := []struct {
		put  cart.Stock
		want int64
	}{
		{cart.Stock{SKU: "A", OnHand: 10, Reserved: 4, UpdatedAt: at(1)}, 4},
		{cart.Stock{SKU: "B", OnHand: 3, Reserved: 5, UpdatedAt: at(1)}, 9}, // above on_hand is accepted
		{cart.Stock{SKU: "C", OnHand: 7, UpdatedAt: at(1)}, 9},
		{cart.Stock{SKU: "A", OnHand: 10, Reserved: 1, Version: 1, UpdatedAt: at(2)}, 6},
	}
	for _, st := range steps {
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutStock(ctx, st.put) })
		if got := sum(); got != st.want {
			t.Errorf("after PutStock(%s reserved %d): ReservedUnits = %d, want %d", st.put.SKU, st.put.Reserved, got, st.want)
		}
	}
}
