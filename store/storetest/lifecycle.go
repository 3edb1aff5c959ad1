package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// MustPutSale stores a sale and returns it as PutSale left it (with its Num).
func MustPutSale(tb testing.TB, s store.Store, sale cart.Sale) cart.Sale {
	tb.Helper()
	MustWrite(tb, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSale(ctx, &sale) })
	return sale
}

func newSale(id string, starts, ends int) cart.Sale {
	return cart.Sale{ID: id, Name: "Sale " + id, StartsAt: at(starts), EndsAt: at(ends), CreatedAt: at(1), UpdatedAt: at(1)}
}

func testSales(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a sale round trips and a second put keeps its number and creation", func(t *testing.T) {
		s := open(t)
		first := MustPutSale(t, s, newSale("sale_summer", 100, 200))
		if first.Num == 0 {
			t.Fatal("PutSale left Num 0")
		}
		again := newSale("sale_summer", 150, 300)
		again.Name = "Renamed"
		again.CreatedAt, again.UpdatedAt = at(50), at(50)
		got := MustPutSale(t, s, again)
		want := again
		want.Num, want.CreatedAt = first.Num, first.CreatedAt
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("PutSale result (-want +got):\n%s", diff)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			read, err := tx.Sale(ctx, "sale_summer")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, read, cmpOpts); diff != "" {
				t.Errorf("Sale (-want +got):\n%s", diff)
			}
			_, err = tx.Sale(ctx, "sale_nope")
			wantCode(t, err, cart.NotFound, "sale_not_found")
			return nil
		})
		if other := MustPutSale(t, s, newSale("sale_winter", 1, 2)); other.Num == first.Num {
			t.Errorf("two sales got Num %d", other.Num)
		}
	})

	t.Run("a line joins the sale its variant names, if it is stored", func(t *testing.T) {
		s := open(t)
		sale := MustPutSale(t, s, newSale("sale_summer", 100, 200))
		inSale, unknown, none := newVariant("var_a", "A"), newVariant("var_b", "B"), newVariant("var_c", "C")
		unknown.SaleID, none.SaleID = "sale_later", ""
		p := MustPutProduct(t, s, newProduct("prod_tee", inSale, unknown, none))
		c := MustInsertCart(t, s, newCart("cust_1"))
		for _, v := range p.Variants {
			MustInsertItem(t, s, newItem(c.Num, v.Num, 1))
		}
		lines := readLines(t, s, c.Num)
		if len(lines) != 3 {
			t.Fatalf("got %d lines, want 3", len(lines))
		}
		if diff := cmp.Diff(sale, lines[0].Sale, cmpOpts); diff != "" {
			t.Errorf("the line's sale (-want +got):\n%s", diff)
		}
		for _, l := range lines[1:] {
			if diff := cmp.Diff(cart.Sale{}, l.Sale, cmpOpts); diff != "" {
				t.Errorf("%s: sale (-want +got):\n%s", l.Variant.SKU, diff)
			}
		}
	})

	t.Run("expired reservations are the items holding stock past their lapse, earliest first", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_a", "A"), newVariant("var_b", "B")))
		c := MustInsertCart(t, s, newCart("cust_1"))
		item := func(variant int, reserved int64, until time.Time) cart.Item {
			it := newItem(c.Num, p.Variants[variant].Num, 3)
			it.ReservedQuantity, it.ReservedUntil = reserved, until
			return MustInsertItem(t, s, it)
		}
		late := item(0, 3, at(500))
		item(0, 3, at(1000)) // lapses after now
		early := item(1, 2, at(400))
		item(1, 0, at(300))          // released already
		item(1, 0, time.Time{})      // holds nothing
		atNow := item(1, 1, at(600)) // lapses at now exactly
		now := at(600)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.ExpiredReservations(ctx, now, 10)
			if err != nil {
				return err
			}
			if diff := cmp.Diff([]cart.Item{early, late, atNow}, got, cmpOpts); diff != "" {
				t.Errorf("ExpiredReservations (-want +got):\n%s", diff)
			}
			got, err = tx.ExpiredReservations(ctx, now, 2)
			if err != nil {
				return err
			}
			if diff := cmp.Diff([]cart.Item{early, late}, got, cmpOpts); diff != "" {
				t.Errorf("ExpiredReservations limited to 2 (-want +got):\n%s", diff)
			}
			holders, err := tx.ExpiredHolders(ctx, "A", now)
			if err != nil {
				return err
			}
			if diff := cmp.Diff([]cart.Item{late}, holders, cmpOpts); diff != "" {
				t.Errorf("ExpiredHolders(A) (-want +got):\n%s", diff)
			}
			return nil
		})
	})

	t.Run("expired holders include items of a deleted variant of the SKU", func(t *testing.T) {
		s := open(t)
		old := MustPutProduct(t, s, newProduct("prod_old", newVariant("var_old", "HOT")))
		MustPutProduct(t, s, newProduct("prod_old"))
		p := MustPutProduct(t, s, newProduct("prod_new", newVariant("var_new", "HOT")))
		c := MustInsertCart(t, s, newCart("cust_1"))
		var want []cart.Item
		for _, v := range []int64{old.Variants[0].Num, p.Variants[0].Num} {
			it := newItem(c.Num, v, 2)
			it.ReservedUntil = at(10)
			want = append(want, MustInsertItem(t, s, it))
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.ExpiredHolders(ctx, "HOT", at(10))
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("ExpiredHolders (-want +got):\n%s", diff)
			}
			return nil
		})
	})

	t.Run("unavailable reservations are the items holding stock that can no longer be sold", func(t *testing.T) {
		s := open(t)
		MustPutSale(t, s, newSale("sale_over", 100, 200))
		MustPutSale(t, s, newSale("sale_later", 900, 1000))
		MustPutSale(t, s, newSale("sale_now", 500, 700))
		vs := map[string]cart.Variant{}
		for _, id := range []string{"live", "inactive", "over", "later", "now", "unknown", "dropped"} {
			v := newVariant("var_"+id, id)
			v.SaleID = ""
			vs[id] = v
		}
		inactive, over, later, now, unknown := vs["inactive"], vs["over"], vs["later"], vs["now"], vs["unknown"]
		inactive.Active = false
		over.SaleID, later.SaleID, now.SaleID, unknown.SaleID = "sale_over", "sale_later", "sale_now", "sale_unknown"
		p := MustPutProduct(t, s, newProduct("prod_a", vs["live"], inactive, over, later, now, unknown, vs["dropped"]))
		gone := MustPutProduct(t, s, newProduct("prod_gone", newVariant("var_gone", "gone")))
		c := MustInsertCart(t, s, newCart("cust_1"))
		items := map[string]cart.Item{}
		for _, v := range append(p.Variants, gone.Variants...) {
			items[v.SKU] = MustInsertItem(t, s, newItem(c.Num, v.Num, 2))
		}
		held := newItem(c.Num, p.Variants[1].Num, 1) // inactive, but holding nothing
		held.ReservedQuantity = 0
		MustInsertItem(t, s, held)
		MustPutProduct(t, s, newProduct("prod_a", vs["live"], inactive, over, later, now, unknown)) // drops "dropped"
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteProduct(ctx, "prod_gone") })

		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.UnavailableReservations(ctx, at(600), 10)
			if err != nil {
				return err
			}
			want := []cart.Item{items["inactive"], items["over"], items["later"], items["dropped"], items["gone"]}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("UnavailableReservations (-want +got):\n%s", diff)
			}
			got, err = tx.UnavailableReservations(ctx, at(600), 2)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want[:2], got, cmpOpts); diff != "" {
				t.Errorf("UnavailableReservations limited to 2 (-want +got):\n%s", diff)
			}
			// The running sale ends at 700: from then on its items are unavailable too.
			got, err = tx.UnavailableReservations(ctx, at(700), 10)
			if err != nil {
				return err
			}
			if len(got) != len(want)+1 {
				t.Errorf("UnavailableReservations at the sale's end = %d items, want %d", len(got), len(want)+1)
			}
			return nil
		})
	})

	t.Run("unavailable reservations include items without a price in their cart's currency", func(t *testing.T) {
		s := open(t)
		priced, unpriced, zero := newVariant("var_eur", "EUR-1"), newVariant("var_usd", "USD-1"), newVariant("var_free", "FREE-1")
		priced.Prices = map[string]int64{"USD": 100, "EUR": 90}
		unpriced.Prices = map[string]int64{"USD": 100}
		zero.Prices = map[string]int64{"EUR": 0} // free, but priced
		p := MustPutProduct(t, s, newProduct("prod_cur", priced, unpriced, zero))
		eur := newCart("cust_1")
		eur.Currency = "EUR"
		eur = MustInsertCart(t, s, eur)
		usd := MustInsertCart(t, s, newCart("cust_2"))
		var want []cart.Item
		for _, v := range p.Variants {
			it := MustInsertItem(t, s, newItem(eur.Num, v.Num, 1))
			if v.SKU == "USD-1" {
				want = append(want, it)
			}
			MustInsertItem(t, s, newItem(usd.Num, p.Variants[0].Num, 1))
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.UnavailableReservations(ctx, at(600), 10)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("UnavailableReservations (-want +got):\n%s", diff)
			}
			return nil
		})
	})
}
