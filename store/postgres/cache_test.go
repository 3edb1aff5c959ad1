package postgres_test

import (
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// TestCacheAcrossNodes: a price, a setting and an automatic promotion changed on node A are
// what node B's next change prices with, whether B hears A's notification or not (a node that
// does not listen learns of the change by the cache's version alone). B changes the cart
// first, so that its cache holds the settings and promotions as they were.
func TestCacheAcrossNodes(t *testing.T) {
	for _, listening := range []bool{true, false} {
		name := "B does not listen"
		if listening {
			name = "B listens"
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			u := postgrestest.URL(t)
			a, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			b, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 4, NoListen: !listening})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			cfg := engine.Config{ReservationTTL: 15 * time.Minute}
			ea, eb := engine.New(a, cfg), engine.New(b, cfg)
			secret, _, err := ea.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
			if err != nil {
				t.Fatal(err)
			}
			admin, err := ea.Authenticate(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			product := func(price int64) {
				t.Helper()
				if _, err := ea.PutProduct(ctx, admin, cart.Product{ID: "prod_tee", Name: "Tee", Variants: []cart.Variant{
					{ID: "var_tee", SKU: "TEE", Active: true, Prices: map[string]int64{"USD": price}}}}, engine.Options{}); err != nil {
					t.Fatal(err)
				}
			}
			product(1000)
			onHand := int64(100)
			if _, err := ea.PutInventory(ctx, admin, "TEE", engine.StockChange{OnHand: &cart.Decimal{N: onHand}}, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			v, err := ea.CreateCart(ctx, admin, engine.NewCart{Currency: "USD"}, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			set := func(q int64) cart.View {
				t.Helper()
				ch := cart.SetTo(q)
				v, err := eb.Update(ctx, admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "TEE"}, Change: &ch}}, engine.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			set(1)
			// B's cache now holds the settings and the (no) automatic promotions of before.
			if got := set(2); got.Total != 2000 || got.Discount != 0 {
				t.Fatalf("before any change: total %d, discount %d; want 2000, 0", got.Total, got.Discount)
			}

			maxQty := int64(3)
			if _, err := ea.PutSettings(ctx, admin, engine.SettingsUpdate{MaxQuantityPerItem: &maxQty}, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			ch := cart.SetTo(5)
			_, err = eb.Update(ctx, admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "TEE"}, Change: &ch}}, engine.Options{})
			if err == nil {
				t.Errorf("quantity 5 after max_quantity_per_item became 3 on the other node: err = %v, want the limit's error", err)
			}

			if _, err := ea.PutPromotion(ctx, admin, cart.Promotion{Code: "AUTO10", Name: "Ten percent", Type: cart.Percent,
				Method: cart.Auto, Rate: 1000, Active: true}, engine.Options{}); err != nil {
				t.Fatal(err)
			}
			product(1500)
			got := set(3)
			if got.Subtotal != 4500 || got.Discount != 450 {
				t.Errorf("after the price became 15.00 and a 10%% automatic promotion started on the other node: subtotal %d, discount %d; want 4500, 450",
					got.Subtotal, got.Discount)
			}
		})
	}
}

// TestWritesSentLater: a write the store sends with a later statement (UpdateItem) is seen by
// the reads after it in the same transaction, the lines read with the cart's lock included;
// and one that finds no row fails the whole transaction, rolling back the writes before it.
func TestWritesSentLater(t *testing.T) {
	ctx := t.Context()
	st, eng, admin, num := mustTeeCart(t, postgres.Options{MaxConns: 4}, 1000, 100)
	ch := cart.SetTo(1)
	if _, err := eng.Update(ctx, admin, num, []engine.Update{{Item: engine.ItemRef{SKU: "TEE"}, Change: &ch}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	quantity := func(tx store.ReadTx) int64 {
		t.Helper()
		lines, err := tx.Lines(ctx, num)
		if err != nil || len(lines) != 1 {
			t.Fatalf("lines %v, err %v", lines, err)
		}
		return lines[0].Item.Quantity
	}
	err := st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.Cart(ctx, num); err != nil { // reads the lines ahead
			return err
		}
		lines, err := tx.Lines(ctx, num)
		if err != nil {
			return err
		}
		it := lines[0].Item
		it.Quantity = 7
		if err := tx.UpdateItem(ctx, it); err != nil {
			return err
		}
		if q := quantity(tx); q != 7 {
			t.Errorf("after UpdateItem to 7, the same transaction reads quantity %d", q)
		}
		it.Quantity = 8
		if err := tx.UpdateItem(ctx, it); err != nil {
			return err
		}
		it.Num = 424242
		return tx.UpdateItem(ctx, it) // no such item: the transaction must fail
	})
	if cart.ErrorCode(err) != cart.NotFound {
		t.Fatalf("Write updating an unknown item: err = %v, want NotFound", err)
	}
	if err := st.Read(ctx, func(tx store.ReadTx) error {
		if q := quantity(tx); q != 1 {
			t.Errorf("after a failed transaction, quantity %d, want 1 (rolled back)", q)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
