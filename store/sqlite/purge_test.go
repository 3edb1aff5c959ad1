package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/storetest"
)

// TestWriterCacheForgetsDeletedCarts holds DeleteCart to the writer cache's rule: the writer's
// reads answer as the database does, after a deletion and after one rolled back.
func TestWriterCacheForgetsDeletedCarts(t *testing.T) {
	s := mustOpen(t, tempDB(t), Options{})
	p := storetest.MustPutProduct(t, s, cart.Product{ID: "prod_1", Name: "P", Variants: []cart.Variant{
		{ID: "var_1", SKU: "SKU-1", Active: true, Prices: map[string]int64{"USD": 100}}}})
	storetest.MustPutPromotion(t, s, cart.Promotion{Code: "CODE", Name: "Code", Type: cart.Percent, Method: cart.Manual, Rate: 1000, Active: true})
	doomed := storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 1})
	merged := storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusMerged, Version: 2, MergedInto: doomed.Num})
	storetest.MustInsertItem(t, s, cart.Item{CartNum: doomed.Num, VariantNum: p.Variants[0].Num, Quantity: 2, UnitPrice: 100, AddedUnitPrice: 100})
	storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AddCoupon(ctx, cart.Coupon{CartNum: doomed.Num, Code: "CODE"})
	})

	// snapshot reads both carts as the writer sees them, through its cache and around it.
	snapshot := func(t *testing.T) (cached, direct []any) {
		t.Helper()
		read := func(ctx context.Context, tx store.ReadTx) []any {
			var out []any
			for _, num := range []int64{doomed.Num, merged.Num} {
				c, err := tx.Cart(ctx, num)
				lines, lerr := tx.Lines(ctx, num)
				coupons, cerr := tx.Coupons(ctx, num)
				out = append(out, c, cart.ErrorCode(err), lines, lerr, coupons, cerr)
			}
			return out
		}
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			cached = read(ctx, tx)
			around := *tx.(*txn)
			around.c = nil
			direct = read(ctx, &around)
			return nil
		})
		return cached, direct
	}
	before, _ := snapshot(t) // also fills the cache

	errUndo := errors.New("undo")
	err := s.Write(t.Context(), func(tx store.Tx) error {
		if err := tx.DeleteCart(t.Context(), doomed.Num); err != nil {
			return err
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatalf("Write = %v", err)
	}
	cached, direct := snapshot(t)
	if diff := cmp.Diff(before, cached); diff != "" {
		t.Errorf("after a deletion rolled back, the cache differs from before (-before +cached):\n%s", diff)
	}
	if diff := cmp.Diff(direct, cached); diff != "" {
		t.Errorf("after a deletion rolled back (-database +cache):\n%s", diff)
	}

	storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCart(ctx, doomed.Num) })
	cached, direct = snapshot(t)
	if diff := cmp.Diff(direct, cached); diff != "" {
		t.Errorf("after a deletion (-database +cache):\n%s", diff)
	}
	if cached[1] != cart.NotFound || cached[7] != cart.NotFound {
		t.Errorf("the writer still reads the deleted carts: %v", cached)
	}
}
