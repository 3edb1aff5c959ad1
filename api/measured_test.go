package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// docs/measured-quantities.md: a variant sold by the kilogram, through every front door.
// The native API takes and shows exact decimals; the dialects, whose formats have integer
// quantities only, refuse to change the line in their own invalid-quantity error (and change
// nothing), show it rounded with the exact figure in its name, and may remove it.
func TestMeasuredQuantitiesInEachFrontDoor(t *testing.T) {
	f := mustFrontDoors(t)
	ctx := context.Background()
	st, body := f.send(t, f.client, "PUT", "/v1/products/prod_coffee", f.bearer(), map[string]any{"name": "Coffee",
		"variants": []any{map[string]any{"id": "var_coffee", "sku": "COFFEE", "price": map[string]any{"USD": 1299},
			"quantity_scale": 3, "unit": "kg", "quantity_rule": map[string]any{"min": 0.25, "increment": 0.05},
			"tiers": []any{map[string]any{"min_quantity": 5.5, "price": map[string]any{"USD": 1199}}}}}})
	if st != 200 || !bytes.Contains(body, []byte(`"tiers":[{"min_quantity":5.500,`)) || !bytes.Contains(body, []byte(`"quantity_rule":{"min":0.250,"increment":0.050},"quantity_scale":3,"unit":"kg"`)) {
		t.Fatalf("PUT product: %d %s", st, body)
	}
	prodNum := numberOfT(t, body)
	if st, body = f.send(t, f.client, "PUT", "/v1/inventory/COFFEE", f.bearer(), map[string]any{"on_hand": json.Number("10.5")}); st != 200 ||
		!bytes.Contains(body, []byte(`"on_hand":10.500,"reserved":0.000,"available":10.500`)) {
		t.Fatalf("PUT inventory: %d %s", st, body)
	}
	const customer = "78"
	c, err := f.eng.CreateCart(ctx, f.p, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := fmt.Sprintf("/v1/carts/cart_%d/items", c.Cart.Num)
	st, body = f.send(t, f.client, "POST", items, f.bearer(), map[string]any{"sku": "COFFEE", "quantity": json.Number("1.25")})
	for _, want := range []string{`"quantity":1.250,"reserved_quantity":1.250,`, `"unit_price":1299,`, `"subtotal":1624,`, `"available_quantity":10.500,"quantity_scale":3,"unit":"kg"`,
		`"quantity_rule":{"min":0.250,"max":null,"increment":0.050,"max_per_customer":null}`, `"item_count":2,`, `"requested":1.250,"applied":1.250`} {
		if st != 200 || !bytes.Contains(body, []byte(want)) {
			t.Fatalf("add 1.25 kg: %d %s\nwant %s", st, body, want)
		}
	}
	item := f.lines(t, c.Cart.Num)[0].Item.Num
	const held = 1250
	// A line of whole units beside it: the dialects' calls that answer with the cart change it.
	if st, body := f.send(t, f.client, "PUT", "/v1/products/prod_tee", f.bearer(), map[string]any{"name": "Tee",
		"variants": []any{map[string]any{"id": "var_tee", "sku": "TEE", "price": map[string]any{"USD": 1000}}}}); st != 200 {
		t.Fatalf("PUT product: %d %s", st, body)
	}
	f.send(t, f.client, "PUT", "/v1/inventory/TEE", f.bearer(), map[string]any{"on_hand": 100})
	if st, body := f.send(t, f.client, "POST", items, f.bearer(), map[string]any{"sku": "TEE", "quantity": 1}); st != 200 {
		t.Fatalf("add a tee: %d %s", st, body)
	}
	tee := f.lines(t, c.Cart.Num)[1].Item.Num
	token, _, err := f.eng.IssueToken(ctx, f.p, customer, 0)
	if err != nil {
		t.Fatal(err)
	}
	ebayHeaders := map[string]string{"Authorization": "Bearer " + token, "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}
	key := fmt.Sprintf("prod%d_COFFEE_dflt", prodNum)
	tests := []struct {
		name   string
		send   func() (int, []byte)
		status int
		has    string // in the body
		want   int64  // the line's quantity after, in grams
	}{
		{"the native API refuses more digits than the scale", func() (int, []byte) {
			return f.send(t, f.client, "PATCH", fmt.Sprintf("%s/ci_%d", items, item), f.bearer(), map[string]any{"quantity_delta": json.Number("0.0505")})
		}, 422, `"code":"quantity_precision"`, held},
		{"the native API names the rule's nearest quantities in kilograms", func() (int, []byte) {
			return f.send(t, f.client, "PUT", fmt.Sprintf("%s/ci_%d", items, item), f.bearer(), map[string]any{"quantity": json.Number("1.26")})
		}, 422, `"requested":1.260,"nearest_below":1.250,"nearest_above":1.300`, held},
		{"the native API refuses a batch whose second change has too many digits, and applies none", func() (int, []byte) {
			return f.send(t, f.client, "PATCH", items, f.bearer(), map[string]any{"changes": []any{
				map[string]any{"sku": "COFFEE", "quantity": 2}, map[string]any{"sku": "COFFEE", "quantity_delta": json.Number("0.0001")}}})
		}, 422, `"field":"changes[1].quantity_delta"`, held},
		{"trailing zeros add no digits", func() (int, []byte) {
			return f.send(t, f.client, "PATCH", fmt.Sprintf("%s/ci_%d", items, item), f.bearer(), map[string]any{"quantity": json.Number("1.5000000")})
		}, 200, `"quantity":1.500,`, 1500},
		{"SourceHub refuses to change a measured line with its validation envelope", func() (int, []byte) {
			return f.send(t, f.client, "POST", fmt.Sprintf("/api/cart/update-item?quantity=2&customer_id=%s&cart_id=%d", customer, item), f.bearer(), nil)
		}, 422, `"code":"VALIDATION_ERROR"`, 1500},
		{"eBay refuses with its invalid-quantity error 10009", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/buy/browse/v1/shopping_cart/update_quantity", ebayHeaders,
				map[string]any{"cartItemId": fmt.Sprintf("ci_%d", item), "quantity": 2})
		}, 400, `"errorId":10009`, 1500},
		{"JackThreads refuses with its failure body", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/services/v1/cart/set_qty", nil, url.Values{"qty": {"3"}, "sku": {"COFFEE"}, "oauth_token": {token}})
		}, 400, `{"success":false,"code":"measured_quantity"`, 1500},
		{"the storefront refuses an add with its quantity field error", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/api/v1/cart/", nil, map[string]any{"item_key": key, "quantity": 1})
		}, 400, `{"quantity":["`, 1500},
		{"SourceHub shows the line rounded, the exact figure in its name", func() (int, []byte) {
			return f.send(t, f.client, "POST", fmt.Sprintf("/api/cart/update-item?quantity=2&customer_id=%s&cart_id=%d", customer, tee), f.bearer(), nil)
		}, 200, `"quantity":2,"product":{"id":` + strconv.FormatInt(prodNum, 10) + `,"name":"Coffee (1.500 kg)"`, 1500},
		{"eBay shows the line rounded half up, the exact figure in its title", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/buy/browse/v1/shopping_cart/update_quantity", ebayHeaders,
				map[string]any{"cartItemId": fmt.Sprintf("ci_%d", tee), "quantity": 3})
		}, 200, `"quantity":2,"title":"Coffee (1.500 kg)"`, 1500},
		{"SourceHub removes it", func() (int, []byte) {
			return f.send(t, f.client, "POST", fmt.Sprintf("/api/cart/update-item?quantity=0&customer_id=%s&cart_id=%d", customer, item), f.bearer(), nil)
		}, 200, ``, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := tt.send()
			if st != tt.status || !strings.Contains(string(body), tt.has) {
				t.Fatalf("got %d %s\nwant %d with %s", st, body, tt.status, tt.has)
			}
			var got int64
			for _, l := range f.lines(t, c.Cart.Num) {
				if l.Item.Num == item {
					got = l.Item.Quantity
				}
			}
			if got != tt.want {
				t.Fatalf("the line holds %d, want %d", got, tt.want)
			}
		})
	}
	if st, body := f.send(t, f.client, "GET", "/v1/inventory/COFFEE", f.bearer(), nil); st != 200 || !bytes.Contains(body, []byte(`"reserved":0.000,"available":10.500`)) {
		t.Fatalf("the removal left %s", body)
	}
	// The scale cannot change under stock.
	st, body = f.send(t, f.client, "PUT", "/v1/products/prod_coffee", f.bearer(), map[string]any{"name": "Coffee",
		"variants": []any{map[string]any{"id": "var_coffee", "sku": "COFFEE", "price": map[string]any{"USD": 1299}, "quantity_scale": 2, "unit": "kg"}}})
	if st != 409 || !bytes.Contains(body, []byte(`"code":"quantity_scale_in_use"`)) {
		t.Fatalf("a scale change under stock: %d %s", st, body)
	}
}

// TestMeasuredQuantityProperties runs random native calls on variants of random scales (0 to
// 6), with quantities written with random numbers of digits, and checks after each: a quantity
// with more digits than its variant's scale was refused (422 quantity_precision) and changed
// nothing; every item's quantity is written with exactly its scale's digits; each line's
// subtotal is its unit price times its quantity / 10^scale rounded half up; the cart's totals
// add up exactly (total = subtotal - discount + tax + shipping); and each SKU's reservations
// add up to its reserved stock, never above what is on hand. On the store CARTD_TEST_STORE
// names, so on both.
func TestMeasuredQuantityProperties(t *testing.T) {
	f := mustFrontDoors(t)
	ctx := context.Background()
	var round atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		n := strconv.FormatInt(round.Add(1), 10)
		scales := map[string]int{}
		var variants []any
		for i := range 2 {
			sku := fmt.Sprintf("M%d_%s", i, n)
			scales[sku] = rapid.IntRange(0, cart.MaxScale).Draw(rt, "scale")
			variants = append(variants, map[string]any{"id": "var_" + sku, "sku": sku, "quantity_scale": scales[sku], "unit": "kg",
				"price": map[string]any{"USD": rapid.Int64Range(0, 1_000_000).Draw(rt, "price")}})
		}
		if st, body := f.send(t, f.client, "PUT", "/v1/products/prod_m"+n, f.bearer(), map[string]any{"name": "Measured", "variants": variants}); st != 200 {
			rt.Fatalf("PUT product: %d %s", st, body)
		}
		// A quantity of up to 20 whole units, written with 0 to scale+1 digits.
		decimal := func(label string, sku string, signed bool) (json.Number, bool) {
			digits := rapid.IntRange(0, scales[sku]+1).Draw(rt, label+"_digits")
			q := rapid.Int64Range(1, 20*cart.Pow10(digits)).Draw(rt, label)
			if signed && rapid.Bool().Draw(rt, label+"_negative") {
				q = -q
			}
			text := cart.FormatScaled(q, digits)
			return json.Number(text), cart.ParseDecimal([]byte(text)).Digits <= uint8(scales[sku])
		}
		for sku := range scales {
			on, _ := decimal("on_hand", sku, false)
			if st, body := f.send(t, f.client, "PUT", "/v1/inventory/"+sku, f.bearer(), map[string]any{"on_hand": on}); st != 200 && st != 422 {
				rt.Fatalf("PUT inventory: %d %s", st, body)
			}
		}
		c, err := f.eng.CreateCart(ctx, f.p, engine.NewCart{CustomerID: "m" + n, Currency: "USD"}, engine.Options{})
		if err != nil {
			rt.Fatal(err)
		}
		path := fmt.Sprintf("/v1/carts/cart_%d", c.Cart.Num)
		skus := []string{"M0_" + n, "M1_" + n}
		for range rapid.IntRange(3, 10).Draw(rt, "steps") {
			sku := rapid.SampledFrom(skus).Draw(rt, "sku")
			policy := rapid.SampledFrom([]string{"reject", "clamp", "ignore"}).Draw(rt, "policy")
			before := f.lines(rt, c.Cart.Num)
			var st int
			var body []byte
			var exact bool
			switch rapid.IntRange(0, 3).Draw(rt, "call") {
			case 0:
				var q json.Number
				q, exact = decimal("add", sku, false)
				st, body = f.send(t, f.client, "POST", path+"/items", f.bearer(), map[string]any{"sku": sku, "quantity": q, "stock_policy": policy})
			case 1:
				var q json.Number
				q, exact = decimal("delta", sku, true)
				st, body = f.send(t, f.client, "PATCH", path+"/items", f.bearer(), map[string]any{"changes": []any{
					map[string]any{"sku": sku, "quantity_delta": q, "stock_policy": policy}}})
			case 2:
				var q json.Number
				q, exact = decimal("set", sku, false)
				st, body = f.send(t, f.client, "PATCH", path+"/items", f.bearer(), map[string]any{"changes": []any{
					map[string]any{"sku": sku, "quantity": q, "stock_policy": policy}}})
			case 3:
				var q json.Number
				q, exact = decimal("stock", sku, true)
				st, body = f.send(t, f.client, "PATCH", "/v1/inventory/"+sku, f.bearer(), map[string]any{"on_hand_delta": q})
			}
			if !exact {
				if st != 422 || !bytes.Contains(body, []byte(`"code":"quantity_precision"`)) {
					rt.Fatalf("a quantity with more digits than scale %d: %d %s", scales[sku], st, body)
				}
				if after := f.lines(rt, c.Cart.Num); !sameLines(before, after) {
					rt.Fatalf("a refused call changed the cart")
				}
			}
			if st == 200 && bytes.HasPrefix(body, []byte(`{"id":"cart_`)) {
				checkDigits(rt, body, scales)
			}
			checkMeasured(rt, f, c.Cart.Num, skus, scales)
		}
	})
}

// checkDigits checks that every item of a cart's JSON writes its quantities with exactly its
// variant's scale's digits.
func checkDigits(rt *rapid.T, body []byte, scales map[string]int) {
	var c struct {
		Items []struct {
			SKU      string      `json:"sku"`
			Quantity json.Number `json:"quantity"`
			Reserved json.Number `json:"reserved_quantity"`
			Scale    int         `json:"quantity_scale"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		rt.Fatal(err)
	}
	for _, it := range c.Items {
		for _, q := range []json.Number{it.Quantity, it.Reserved} {
			_, frac, _ := strings.Cut(string(q), ".")
			if len(frac) != scales[it.SKU] || it.Scale != scales[it.SKU] {
				rt.Fatalf("%s of scale %d written %s (quantity_scale %d)", it.SKU, scales[it.SKU], q, it.Scale)
			}
		}
	}
}

func sameLines(a, b []cart.LineView) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Item.Num != b[i].Item.Num || a[i].Item.Quantity != b[i].Item.Quantity || a[i].Item.ReservedQuantity != b[i].Item.ReservedQuantity {
			return false
		}
	}
	return true
}

// checkMeasured checks a cart's figures and its SKUs' stock after a call.
func checkMeasured(rt *rapid.T, f *frontDoors, num int64, skus []string, scales map[string]int) {
	v, err := f.eng.Cart(context.Background(), f.p, num)
	if err != nil {
		rt.Fatal(err)
	}
	var sub, disc, tax int64
	for _, lv := range v.Lines {
		s := scales[lv.Variant.SKU]
		p := new(big.Int).Mul(big.NewInt(lv.UnitPrice), big.NewInt(lv.Item.Quantity))
		den := big.NewInt(cart.Pow10(s))
		p.Mul(p, big.NewInt(2)).Add(p, den)
		if want := p.Quo(p, den.Mul(den, big.NewInt(2))).Int64(); lv.Subtotal != want {
			rt.Fatalf("%s: subtotal %d of %d x %s, want %d", lv.Variant.SKU, lv.Subtotal, lv.UnitPrice, cart.FormatScaled(lv.Item.Quantity, s), want)
		}
		sub, disc, tax = sub+lv.Subtotal, disc+lv.Discount, tax+lv.Tax
	}
	if v.Subtotal != sub || v.Discount != disc || v.Tax != tax || v.Total != v.Subtotal-v.Discount+v.Tax+v.Shipping {
		rt.Fatalf("totals: subtotal %d (lines %d), discount %d (%d), tax %d (%d), shipping %d, total %d",
			v.Subtotal, sub, v.Discount, disc, v.Tax, tax, v.Shipping, v.Total)
	}
	for _, sku := range skus {
		st, err := f.eng.Inventory(context.Background(), f.p, sku)
		if err != nil {
			rt.Fatal(err)
		}
		var held int64
		for _, l := range f.lines(rt, num) {
			if l.Variant.SKU == sku {
				held += l.Item.ReservedQuantity
			}
		}
		if st.Reserved != held || st.Reserved < 0 || st.Reserved > st.OnHand {
			rt.Fatalf("%s: reserved %d, lines hold %d, on hand %d", sku, st.Reserved, held, st.OnHand)
		}
	}
}
