package sourcehub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
	"github.com/cartd/cartd/money"
)

// The SourceHub row of docs/dialects.md: quantity sets, 0 removes, above the stock is refused (422)
// and changes nothing.
func TestQuantityRules(t *testing.T) {
	s := mustServer(t)
	s.MustProduct(t, testserver.SimpleProduct("prod_a", 1000, "A", "B"), 5)
	cartNum, items := s.MustCart(t, "9", "USD", "A", 2, "B", 1)
	a := items[0]
	quantities := func(r response) map[int64]int64 {
		got := map[int64]int64{}
		for _, it := range at(r.JSON(t), "data", "items").([]any) {
			got[num(t, at(it.(map[string]any), "id"))] = num(t, at(it.(map[string]any), "quantity"))
		}
		return got
	}

	t.Run("quantity sets the line's quantity, up and down", func(t *testing.T) {
		for _, q := range []int64{4, 1, 5} {
			r := s.do(t, "POST", updateItem(q, 9, a), s.Admin).MustStatus(t, http.StatusOK)
			if got := quantities(r)[a]; got != q {
				t.Fatalf("quantity %d after setting %d", got, q)
			}
		}
	})

	t.Run("above the stock is a 422 that changes nothing", func(t *testing.T) {
		before := s.Version(t, cartNum)
		stock, err := s.Engine.Inventory(context.Background(), s.Principal, "A")
		if err != nil {
			t.Fatal(err)
		}
		r := s.do(t, "POST", updateItem(6, 9, a), s.Admin).MustStatus(t, http.StatusUnprocessableEntity)
		if code := at(r.JSON(t), "error", "code"); code != "VALIDATION_ERROR" {
			t.Fatalf("code = %v", code)
		}
		after, err := s.Engine.Inventory(context.Background(), s.Principal, "A")
		if err != nil {
			t.Fatal(err)
		}
		if v := s.Version(t, cartNum); v != before || after.Reserved != stock.Reserved {
			t.Fatalf("version %d -> %d, reserved %d -> %d", before, v, stock.Reserved, after.Reserved)
		}
	})

	t.Run("0 removes the line", func(t *testing.T) {
		r := s.do(t, "POST", updateItem(0, 9, a), s.Admin).MustStatus(t, http.StatusOK)
		got := r.JSON(t)
		if _, still := quantities(r)[a]; still || num(t, at(got, "data", "cart_item_count")) != 1 {
			t.Fatalf("line still listed after quantity 0: %s", r.Body)
		}
		if msg := got["message"]; msg != "Cart item quantity updated" {
			t.Errorf("message = %v", msg)
		}
		// Removed, so no longer in the customer's cart.
		s.do(t, "POST", updateItem(1, 9, a), s.Admin).MustStatus(t, http.StatusUnprocessableEntity)
	})
}

// The same cart read through the native API agrees with the dialect's response: the same
// items and quantities, the same counts, the same amounts.
func TestAgreesWithNativeAPI(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	s.MustProduct(t, cart.Product{ID: "prod_tea", Name: "Tea", Variants: []cart.Variant{{
		ID: "var_tea", SKU: "TEA", Prices: map[string]int64{"USD": 1250}, TaxRate: 500, Active: true,
		Tiers: []cart.Tier{{MinQuantity: 10, Prices: map[string]int64{"USD": 999}}},
	}}}, 100)
	s.MustProduct(t, testserver.SimpleProduct("prod_cup", 2599, "CUP"), 100)
	if _, err := s.Engine.PutPromotion(ctx, s.Principal, cart.Promotion{Code: "TENOFF", Type: cart.Percent, Method: cart.Manual, Rate: 1000, Active: true}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	cartNum, items := s.MustCart(t, "9", "USD", "TEA", 1, "CUP", 3)
	if _, err := s.Engine.ApplyCoupon(ctx, s.Principal, cartNum, "TENOFF", engine.Options{}); err != nil {
		t.Fatal(err)
	}

	dialect := s.do(t, "POST", updateItem(12, 9, items[0]), s.Admin).MustStatus(t, http.StatusOK).JSON(t)["data"].(map[string]any)
	native := s.do(t, "GET", fmt.Sprintf("/v1/carts/cart_%d", cartNum), s.Admin).MustStatus(t, http.StatusOK).JSON(t)

	amount := func(field string) json.Number {
		s, err := money.Number(num(t, native[field]), "USD")
		if err != nil {
			t.Fatal(err)
		}
		return json.Number(s)
	}
	for _, pair := range [][2]any{
		{dialect["cart_item_count"], native["unique_item_count"]},
		{dialect["total_cart_quantity"], native["item_count"]},
		{dialect["cart_total"], amount("subtotal")},
		{dialect["discount"], amount("discount")},
		{dialect["billable_amount"], amount("total")},
	} {
		if pair[0] != pair[1] {
			t.Errorf("dialect %v, native %v", pair[0], pair[1])
		}
	}
	if dialect["discount"] == json.Number("0") {
		t.Error("the coupon took nothing off: the check proves little")
	}
	nativeItems := native["items"].([]any)
	dialectItems := dialect["items"].([]any)
	if len(nativeItems) != len(dialectItems) {
		t.Fatalf("%d items natively, %d in the dialect", len(nativeItems), len(dialectItems))
	}
	for i := range nativeItems {
		n, d := nativeItems[i].(map[string]any), dialectItems[i].(map[string]any)
		if n["id"] != fmt.Sprintf("ci_%d", num(t, d["id"])) || n["quantity"] != d["quantity"] || n["sku"] != at(d, "product", "sku") {
			t.Errorf("item %d: native %v %v %v, dialect %v %v %v", i, n["id"], n["quantity"], n["sku"], d["id"], d["quantity"], at(d, "product", "sku"))
		}
		unit, err := money.Number(num(t, n["unit_price"]), "USD")
		if err != nil {
			t.Fatal(err)
		}
		if p := at(d, "product", "productpricing", "price"); p != json.Number(unit) {
			t.Errorf("item %d: unit price %v natively, %v in the dialect", i, unit, p)
		}
	}
}

// A line whose reservation lapsed stays listed, as the native API lists it, out of the
// totals; setting its quantity reserves again.
func TestExpiredLines(t *testing.T) {
	s := mustServer(t)
	s.MustProduct(t, testserver.SimpleProduct("prod_a", 1000, "A", "B"), 5)
	cartNum, items := s.MustCart(t, "9", "USD", "A", 2)
	a := items[0]
	s.Clock.Advance(16 * time.Minute)
	ch := cart.AddDelta(1)
	v, err := s.Engine.Update(context.Background(), s.Principal, cartNum, []engine.Update{{Item: engine.ItemRef{SKU: "B"}, Change: &ch, Add: true}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.ExpiredLines) != 1 || len(v.Lines) != 1 {
		t.Fatalf("want one lapsed line and one fresh: %d and %d", len(v.ExpiredLines), len(v.Lines))
	}
	b := v.Lines[0].Item.Num

	got := s.do(t, "POST", updateItem(2, 9, b), s.Admin).MustStatus(t, http.StatusOK).JSON(t)["data"].(map[string]any)
	listed := got["items"].([]any)
	if len(listed) != 2 || num(t, at(listed[1].(map[string]any), "id")) != a {
		t.Fatalf("items %v, want the fresh line then the lapsed one", listed)
	}
	if q := num(t, got["total_cart_quantity"]); q != 2 {
		t.Errorf("total_cart_quantity = %d, want 2: the lapsed line is out of the totals", q)
	}
	if total := got["cart_total"]; total != json.Number("20") {
		t.Errorf("cart_total = %v, want 20", total)
	}
	got = s.do(t, "POST", updateItem(3, 9, a), s.Admin).MustStatus(t, http.StatusOK).JSON(t)["data"].(map[string]any)
	if q := num(t, got["total_cart_quantity"]); q != 5 {
		t.Errorf("total_cart_quantity = %d, want 5 once the lapsed line is set again", q)
	}
}
