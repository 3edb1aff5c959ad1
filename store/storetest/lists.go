package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// listOf reads one list in a read transaction.
func listOf[T any](t *testing.T, s store.Store, list func(ctx context.Context, tx store.ReadTx) ([]T, error)) []T {
	t.Helper()
	var out []T
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		var err error
		out, err = list(ctx, tx)
		return err
	})
	return out
}

func ptr[T any](v T) *T { return &v }

// testLists checks every list's filters, order and cursor (docs/lists.md).
func testLists(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("carts are listed newest first, filtered and paged", func(t *testing.T) { testListCarts(t, open(t)) })
	t.Run("products are found by id, name or SKU prefix", func(t *testing.T) { testListProducts(t, open(t)) })
	t.Run("stock is listed by SKU, by prefix and at or below an availability", func(t *testing.T) { testListStock(t, open(t)) })
	t.Run("the items holding a SKU are listed with their customers", func(t *testing.T) { testListHolds(t, open(t)) })
	t.Run("promotions and sales are listed newest first", func(t *testing.T) { testListPromotionsSales(t, open(t)) })
}

func testListCarts(t *testing.T, s store.Store) {
	prod := MustPutProduct(t, s, newProduct("prod_l", newVariant("var_l", "L-1")))
	vnum := prod.Variants[0].Num
	// Four carts: alice's with two lines (units 2+3), alice's empty and completed, bob's with
	// one line, a guest's empty one updated later than the rest.
	a1 := newCart("alice")
	a2 := newCart("alice")
	a2.Status = cart.StatusCompleted
	b1 := newCart("bob")
	g1 := newCart("")
	g1.UpdatedAt = at(50)
	var nums []int64
	for _, c := range []cart.Cart{a1, a2, b1, g1} {
		nums = append(nums, MustInsertCart(t, s, c).Num)
	}
	MustInsertItem(t, s, newItem(nums[0], vnum, 2))
	MustInsertItem(t, s, newItem(nums[0], vnum, 3))
	MustInsertItem(t, s, newItem(nums[2], vnum, 1))

	list := func(f store.CartFilter) []store.CartSummary {
		if f.Limit == 0 {
			f.Limit = 10
		}
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]store.CartSummary, error) { return tx.ListCarts(ctx, f) })
	}
	numsOf := func(l []store.CartSummary) []int64 {
		out := []int64{}
		for _, c := range l {
			out = append(out, c.Cart.Num)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.CartFilter
		want []int64
	}{
		{"no filter", store.CartFilter{}, []int64{nums[3], nums[2], nums[1], nums[0]}},
		{"one customer", store.CartFilter{CustomerID: ptr("alice")}, []int64{nums[1], nums[0]}},
		{"guests", store.CartFilter{CustomerID: ptr("")}, []int64{nums[3]}},
		{"a status", store.CartFilter{Status: ptr(cart.StatusActive)}, []int64{nums[3], nums[2], nums[0]}},
		{"updated after", store.CartFilter{UpdatedAfter: at(2)}, []int64{nums[3]}},
		{"with items", store.CartFilter{HasItems: ptr(true)}, []int64{nums[2], nums[0]}},
		{"without items", store.CartFilter{HasItems: ptr(false)}, []int64{nums[3], nums[1]}},
		{"filters combined", store.CartFilter{CustomerID: ptr("alice"), HasItems: ptr(true), Status: ptr(cart.StatusActive)}, []int64{nums[0]}},
		{"a first page", store.CartFilter{Limit: 2}, []int64{nums[3], nums[2]}},
		{"the page after a cursor", store.CartFilter{Before: nums[2], Limit: 2}, []int64{nums[1], nums[0]}},
		{"past the oldest", store.CartFilter{Before: nums[0]}, []int64{}},
		{"nobody's", store.CartFilter{CustomerID: ptr("carol")}, []int64{}},
	}
	for _, tc := range cases {
		if got := numsOf(list(tc.f)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: carts %v, want %v", tc.name, got, tc.want)
		}
	}
	got := list(store.CartFilter{CustomerID: ptr("alice")})
	want := []store.CartSummary{{Cart: a2, Lines: 0, Units: 0}, {Cart: a1, Lines: 2, Units: 5}}
	want[0].Cart.Num, want[1].Cart.Num = nums[1], nums[0]
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("alice's carts as listed (-want +got):\n%s", diff)
	}
}

func testListProducts(t *testing.T, s store.Store) {
	// Ids, names and SKUs chosen so that each prefix finds a different set.
	mk := func(id, name string, skus ...string) cart.Product {
		var vs []cart.Variant
		for i, sku := range skus {
			vs = append(vs, newVariant(id+"_v"+string(rune('a'+i)), sku))
		}
		p := newProduct(id, vs...)
		p.Name = name
		return MustPutProduct(t, s, p)
	}
	hat := mk("prod_hat", "Blue Hat", "HAT-BLUE", "HAT-RED")
	tee := mk("prod_tee", "Tee shirt", "TEE-S")
	cap := mk("cap_1", "Baseball cap", "HAT-CAP")
	gone := mk("prod_gone", "Blue gone", "GONE-1")
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteProduct(ctx, gone.ID) })
	// A variant dropped from a product no longer finds it by its SKU.
	tee2 := newProduct("prod_tee", newVariant("prod_tee_vb", "TEE-M"))
	tee2.Name = tee.Name
	tee = MustPutProduct(t, s, tee2)

	list := func(f store.ProductFilter) []cart.Product {
		if f.Limit == 0 {
			f.Limit = 10
		}
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]cart.Product, error) { return tx.ListProducts(ctx, f) })
	}
	ids := func(l []cart.Product) []string {
		out := []string{}
		for _, p := range l {
			out = append(out, p.ID)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.ProductFilter
		want []string
	}{
		{"every live product, newest first", store.ProductFilter{}, []string{cap.ID, tee.ID, hat.ID}},
		{"an id prefix", store.ProductFilter{Prefix: "prod_"}, []string{tee.ID, hat.ID}},
		{"a SKU prefix", store.ProductFilter{Prefix: "HAT-"}, []string{cap.ID, hat.ID}},
		{"a SKU prefix of a dropped variant", store.ProductFilter{Prefix: "TEE-S"}, []string{}},
		{"a name prefix in another case", store.ProductFilter{Prefix: "blue"}, []string{hat.ID}},
		{"a name prefix as written", store.ProductFilter{Prefix: "Base"}, []string{cap.ID}},
		{"an id is matched by case", store.ProductFilter{Prefix: "PROD_"}, []string{}},
		{"nothing matches", store.ProductFilter{Prefix: "zzz"}, []string{}},
		{"a page", store.ProductFilter{Limit: 1}, []string{cap.ID}},
		{"after a cursor", store.ProductFilter{After: cap.ID}, []string{tee.ID, hat.ID}},
		{"after a withdrawn product's cursor", store.ProductFilter{After: gone.ID}, []string{cap.ID, tee.ID, hat.ID}},
		{"a prefix after a cursor", store.ProductFilter{Prefix: "HAT", After: cap.ID}, []string{hat.ID}},
	}
	for _, tc := range cases {
		if got := ids(list(tc.f)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: products %v, want %v", tc.name, got, tc.want)
		}
	}
	if diff := cmp.Diff([]cart.Product{hat}, list(store.ProductFilter{Prefix: "HAT-B"}), cmpOpts); diff != "" {
		t.Errorf("a listed product differs from the stored one (-want +got):\n%s", diff)
	}
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		_, err := tx.ListProducts(ctx, store.ProductFilter{After: "prod_never", Limit: 10})
		wantCode(t, err, cart.Invalid, "unknown_cursor")
		return nil
	})
}

func testListStock(t *testing.T, s store.Store) {
	rows := []cart.Stock{
		{SKU: "A-1", OnHand: 10, Reserved: 9, Version: 3, UpdatedAt: at(1)},    // available 1
		{SKU: "A-2", OnHand: 10, Reserved: 0, Version: 1, UpdatedAt: at(2)},    // available 10
		{SKU: "B-1", OnHand: 5, Reserved: 5, Backordered: 2, UpdatedAt: at(3)}, // available 0
		{SKU: "a-3", OnHand: 1, UpdatedAt: at(4)},                              // lower case sorts after
	}
	for _, st := range rows {
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutStock(ctx, st) })
	}
	list := func(f store.StockFilter) []cart.Stock {
		if f.Limit == 0 {
			f.Limit = 10
		}
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]cart.Stock, error) { return tx.ListStock(ctx, f) })
	}
	skus := func(l []cart.Stock) []string {
		out := []string{}
		for _, st := range l {
			out = append(out, st.SKU)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.StockFilter
		want []string
	}{
		{"every SKU, bytewise", store.StockFilter{}, []string{"A-1", "A-2", "B-1", "a-3"}},
		{"a prefix", store.StockFilter{SKUPrefix: "A-"}, []string{"A-1", "A-2"}},
		{"a prefix is matched by case", store.StockFilter{SKUPrefix: "a"}, []string{"a-3"}},
		{"low stock", store.StockFilter{MaxAvailable: ptr(int64(1))}, []string{"A-1", "B-1", "a-3"}},
		{"out of stock", store.StockFilter{MaxAvailable: ptr(int64(0))}, []string{"B-1"}},
		{"a page", store.StockFilter{Limit: 2}, []string{"A-1", "A-2"}},
		{"after a cursor", store.StockFilter{After: "A-2"}, []string{"B-1", "a-3"}},
		{"after a SKU never stocked", store.StockFilter{After: "A-10"}, []string{"A-2", "B-1", "a-3"}},
		{"filters and a cursor", store.StockFilter{SKUPrefix: "A", MaxAvailable: ptr(int64(5)), After: "A-0"}, []string{"A-1"}},
	}
	for _, tc := range cases {
		if got := skus(list(tc.f)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: SKUs %v, want %v", tc.name, got, tc.want)
		}
	}
	if diff := cmp.Diff(rows[2:3], list(store.StockFilter{SKUPrefix: "B"}), cmpOpts); diff != "" {
		t.Errorf("a listed stock row differs from the stored one (-want +got):\n%s", diff)
	}
}

func testListHolds(t *testing.T, s store.Store) {
	prod := MustPutProduct(t, s, newProduct("prod_h", newVariant("var_h1", "H-1"), newVariant("var_h2", "H-2")))
	v1, v2 := prod.Variants[0].Num, prod.Variants[1].Num
	alice := MustInsertCart(t, s, newCart("alice"))
	guest := MustInsertCart(t, s, newCart(""))
	i1 := MustInsertItem(t, s, newItem(alice.Num, v1, 2))
	MustInsertItem(t, s, newItem(alice.Num, v2, 4)) // another SKU
	released := newItem(guest.Num, v1, 3)
	released.ReservedQuantity = 0 // holds nothing: not listed
	MustInsertItem(t, s, released)
	i3 := MustInsertItem(t, s, newItem(guest.Num, v1, 1))

	list := func(f store.HoldFilter) []store.Hold {
		if f.Limit == 0 {
			f.Limit = 10
		}
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]store.Hold, error) { return tx.ListHolds(ctx, f) })
	}
	want := []store.Hold{{Item: i3, CustomerID: ""}, {Item: i1, CustomerID: "alice"}}
	if diff := cmp.Diff(want, list(store.HoldFilter{SKU: "H-1"}), cmpOpts); diff != "" {
		t.Errorf("holds of H-1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[:1], list(store.HoldFilter{SKU: "H-1", Limit: 1}), cmpOpts); diff != "" {
		t.Errorf("first page of holds of H-1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:], list(store.HoldFilter{SKU: "H-1", Before: i3.Num}), cmpOpts); diff != "" {
		t.Errorf("holds of H-1 after a cursor (-want +got):\n%s", diff)
	}
	if got := list(store.HoldFilter{SKU: "NONE"}); len(got) != 0 {
		t.Errorf("holds of a SKU nobody holds: %v", got)
	}
}

func testListPromotionsSales(t *testing.T, s store.Store) {
	p1 := MustPutPromotion(t, s, newPromotion("SAVE1", cart.Manual))
	p2 := MustPutPromotion(t, s, newPromotion("AUTO2", cart.Auto))
	p3 := MustPutPromotion(t, s, newPromotion("GONE3", cart.Manual))
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeletePromotion(ctx, p3.Code) })
	promos := func(f store.PromotionFilter) []cart.Promotion {
		f.Limit = max(f.Limit, 1)
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]cart.Promotion, error) { return tx.ListPromotions(ctx, f) })
	}
	if diff := cmp.Diff([]cart.Promotion{p2, p1}, promos(store.PromotionFilter{Limit: 10}), cmpOpts); diff != "" {
		t.Errorf("live promotions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cart.Promotion{p1}, promos(store.PromotionFilter{After: p2.Code, Limit: 10}), cmpOpts); diff != "" {
		t.Errorf("promotions after a cursor (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cart.Promotion{p2}, promos(store.PromotionFilter{After: p3.Code}), cmpOpts); diff != "" {
		t.Errorf("promotions after a withdrawn one's cursor (-want +got):\n%s", diff)
	}

	s1 := MustPutSale(t, s, newSale("sale_a", 0, 100))
	s2 := MustPutSale(t, s, newSale("sale_b", 50, 200))
	sales := func(f store.SaleFilter) []cart.Sale {
		return listOf(t, s, func(ctx context.Context, tx store.ReadTx) ([]cart.Sale, error) { return tx.ListSales(ctx, f) })
	}
	if diff := cmp.Diff([]cart.Sale{s2, s1}, sales(store.SaleFilter{Limit: 10}), cmpOpts); diff != "" {
		t.Errorf("sales (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cart.Sale{s1}, sales(store.SaleFilter{After: s2.ID, Limit: 10}), cmpOpts); diff != "" {
		t.Errorf("sales after a cursor (-want +got):\n%s", diff)
	}
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		_, err := tx.ListSales(ctx, store.SaleFilter{After: "sale_never", Limit: 10})
		wantCode(t, err, cart.Invalid, "unknown_cursor")
		_, err = tx.ListPromotions(ctx, store.PromotionFilter{After: "NEVER", Limit: 10})
		wantCode(t, err, cart.Invalid, "unknown_cursor")
		return nil
	})
}
