package sourcehub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
)

// seedExample is the seed's sample success response, verbatim.
const seedExample = `{
"data": {
"cart_item_count": 1,
"total_cart_quantity": 6,
"cart_total": 1200,
"discount": 0,
"billable_amount": 1200,
"items": [
{
"id": 79532,
"quantity": 6,
"product": {
"id": 4,
"name": "3 Roses Mrp 10 (408pc)",
"image": "https://sourcehub.in/public/images/product/1605342130.jpg",
"sku": "CP 2425 0046",
"hsn_code": "0902",
"description": "",
"price_per_unit": 10,
"maximum_retail_price": 4080,
"weight": 3000,
"vol": 0,
"gst_percent": 5,
"measurementtype": {
"id": 5,
"name": "bags"
},
"productcategory": {
"id": 3,
"name": "Tea ,Coffee and Beverages",
"image": "https://sourcehub.in/public/images/productcategory/1617180572.jpg"
},
"productpricing": {
"id": 1058,
"product_id": 4,
"buying_qty": 1,
"price": 200
}
}
}
]
},
"message": "Cart item quantity updated"
}`

// seed401 and seed422 are the seed's sample failure responses, verbatim.
const (
	seed401 = `{
"error": {
"code": "AUTHENTICATION_ERROR",
"description": "Invalid credential or token.",
"source": "https://webservices.sourcehub.in/api/items.product",
"status_code": 401
}
}`
	seed422 = `{
"error": {
"code": "VALIDATION_ERROR",
"description": "The customer id field is required.",
"source": "http://testwebservices.sourcehub.in/api/carts/add-item",
"status_code": 422
}
}`
)

// compareJSON holds got to want's shape: the same member names at every level, the same JSON
// types, arrays of the same length, and the same values, numbers compared as written (1200 is
// not 1200.0), except at the paths in ours ("data.items[].id"), whose values are cartd's.
func compareJSON(t *testing.T, path string, want, got any, ours map[string]bool) {
	t.Helper()
	if typeOf(want) != typeOf(got) {
		t.Errorf("%s: %s %v, want %s %v", path, typeOf(got), got, typeOf(want), want)
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range w {
			if _, ok := g[k]; !ok {
				t.Errorf("%s: member %q missing", path, k)
			}
		}
		for k, gv := range g {
			wv, ok := w[k]
			if !ok {
				t.Errorf("%s: member %q is not in the seed", path, k)
				continue
			}
			compareJSON(t, join(path, k), wv, gv, ours)
		}
	case []any:
		g := got.([]any)
		if len(g) != len(w) {
			t.Errorf("%s: %d elements, want %d", path, len(g), len(w))
			return
		}
		for i := range w {
			compareJSON(t, path+"[]", w[i], g[i], ours)
		}
	default:
		if !ours[path] && want != got {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func at(m map[string]any, path ...any) any {
	var v any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func num(tb testing.TB, v any) int64 {
	tb.Helper()
	n, err := strconv.ParseInt(string(v.(json.Number)), 10, 64)
	if err != nil {
		tb.Fatalf("%v is not an integer", v)
	}
	return n
}

func updateItem(quantity, customer, item any) string {
	return fmt.Sprintf("/api/cart/update-item?quantity=%v&customer_id=%v&cart_id=%v", quantity, customer, item)
}

// seedShop arranges the seed example's catalog: prices in INR including GST (the example's
// 1200 payable for 6 × 200 at GST 5%), and the example's product as the shop's fourth.
func seedShop(t *testing.T) (*testServer, int64, int64) {
	t.Helper()
	s := mustServer(t)
	inr, inclusive := "INR", true
	if _, err := s.Engine.PutSettings(context.Background(), s.Principal, engine.SettingsUpdate{DefaultCurrency: &inr, PricesIncludeTax: &inclusive}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		s.MustProduct(t, testserver.SimpleProduct(fmt.Sprintf("prod_filler_%d", i), 100, fmt.Sprintf("FILLER-%d", i)), 10)
	}
	s.MustProduct(t, cart.Product{
		ID: "prod_3_roses", Name: "3 Roses Mrp 10 (408pc)", Category: "Tea ,Coffee and Beverages",
		ImageURL: "https://sourcehub.in/public/images/product/1605342130.jpg", TaxCode: "0902",
		Variants: []cart.Variant{{
			ID: "var_3_roses", SKU: "CP-2425-0046", // cartd SKUs hold no spaces
			Prices: map[string]int64{"INR": 20000}, RetailPrices: map[string]int64{"INR": 408000},
			Tiers:   []cart.Tier{{MinQuantity: 12, Prices: map[string]int64{"INR": 19000}}}, // a pack of 12, not reached
			TaxRate: 500, WeightGrams: 3000, Active: true,
		}},
	}, 100)
	cartNum, items := s.MustCart(t, "9", "INR", "CP-2425-0046", 2)
	return s, cartNum, items[0]
}

func TestSeedExample(t *testing.T) {
	s, _, item := seedShop(t)
	// The seed's request, with the quantity its response shows (its quantity=2 answering 6
	// is garbled).
	r := s.do(t, "POST", updateItem(6, 9, item), s.Admin).MustStatus(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	got := r.JSON(t)
	compareJSON(t, "", testserver.DecodeJSON(t, []byte(seedExample)), got, map[string]bool{
		"data.items[].id":                            true, // checked below: the item's number
		"data.items[].product.sku":                   true, // cartd SKUs hold no spaces
		"data.items[].product.measurementtype.id":    true, // cartd has no measurement types
		"data.items[].product.measurementtype.name":  true,
		"data.items[].product.productcategory.id":    true, // nor category records
		"data.items[].product.productcategory.image": true,
		"data.items[].product.productpricing.id":     true, // checked below
		// The example's 10 beside a pricing set of 200 from 1 unit: in cartd the pricing set
		// from 1 unit is the base unit price, so both show 200.
		"data.items[].product.price_per_unit": true,
	})
	if id := num(t, at(got, "data", "items", 0, "id")); id != item {
		t.Errorf("items[0].id = %d, want the item's number %d", id, item)
	}
	product := at(got, "data", "items", 0, "product").(map[string]any)
	if product["sku"] != "CP-2425-0046" {
		t.Errorf("sku = %v", product["sku"])
	}
	v, err := s.Engine.Product(context.Background(), s.Principal, "prod_3_roses")
	if err != nil {
		t.Fatal(err)
	}
	if id := num(t, at(product, "productpricing", "id")); id != v.Variants[0].Num*1000 {
		t.Errorf("productpricing.id = %d, want variant %d's base price", id, v.Variants[0].Num)
	}
	if p := product["price_per_unit"]; p != json.Number("200") {
		t.Errorf("price_per_unit = %v, want 200", p)
	}
	if mt := product["measurementtype"].(map[string]any); mt["id"] != json.Number("0") || mt["name"] != "" {
		t.Errorf("measurementtype = %v", mt)
	}
}

func TestMoneyIsExact(t *testing.T) {
	s := mustServer(t)
	s.MustProduct(t, cart.Product{ID: "prod_tea", Name: "Tea", Variants: []cart.Variant{{
		ID: "var_tea", SKU: "TEA", Prices: map[string]int64{"USD": 1250, "KWD": 1005, "JPY": 500},
		Tiers:   []cart.Tier{{MinQuantity: 10, Prices: map[string]int64{"USD": 1205}}},
		TaxRate: 1250, Active: true,
	}}}, 100)
	for _, tc := range []struct {
		currency string
		quantity int
		total    string // billable_amount: tax is added, prices exclude it
		unit     string
		tier     int64 // buying_qty
	}{
		{"USD", 1, "14.06", "12.5", 1},     // 1250 + 156 tax
		{"USD", 10, "135.56", "12.05", 10}, // 12050 + 1506 tax
		{"KWD", 2, "2.261", "1.005", 1},    // 2010 + 251 tax
		{"JPY", 3, "1688", "500", 1},       // 1500 + 188 tax
	} {
		t.Run(tc.currency, func(t *testing.T) {
			customer := strconv.Itoa(100 + tc.quantity)
			_, items := s.MustCart(t, customer, tc.currency, "TEA", 1)
			r := s.do(t, "POST", updateItem(tc.quantity, customer, items[0]), s.Admin).MustStatus(t, http.StatusOK)
			got := r.JSON(t)
			p := at(got, "data", "items", 0, "product").(map[string]any)
			if b := at(got, "data", "billable_amount"); b != json.Number(tc.total) {
				t.Errorf("billable_amount = %v, want %s", b, tc.total)
			}
			if u := at(p, "productpricing", "price"); u != json.Number(tc.unit) {
				t.Errorf("productpricing.price = %v, want %s", u, tc.unit)
			}
			if q := num(t, at(p, "productpricing", "buying_qty")); q != tc.tier {
				t.Errorf("buying_qty = %d, want %d", q, tc.tier)
			}
			if g := p["gst_percent"]; g != json.Number("12.5") {
				t.Errorf("gst_percent = %v, want 12.5", g)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	s, cartNum, item := seedShop(t)
	before := s.Version(t, cartNum)
	_, otherItems := s.MustCart(t, "10", "INR", "CP-2425-0046", 1)
	readOnly := s.MustKey(t, auth.CartsRead)

	t.Run("the seed's 401 and 422 samples", func(t *testing.T) {
		for _, tc := range []struct {
			name, path, credential, seed string
		}{
			{"no credential", updateItem(6, 9, item), "", seed401},
			{"an unknown key", updateItem(6, 9, item), "sk_unknown", seed401},
			{"no customer id", fmt.Sprintf("/api/cart/update-item?quantity=6&cart_id=%d", item), s.Admin, seed422},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.do(t, "POST", tc.path, tc.credential)
				want := testserver.DecodeJSON(t, []byte(tc.seed))
				r.MustStatus(t, int(num(t, at(want, "error", "status_code"))))
				got := r.JSON(t)
				compareJSON(t, "", want, got, map[string]bool{"error.source": true})
				if src := at(got, "error", "source"); src != s.URL+"/api/cart/update-item" {
					t.Errorf("source = %v, want the URL called", src)
				}
			})
		}
	})

	for _, tc := range []struct {
		name, path, credential string
		status                 int
		code, description      string
	}{
		{"a Basic credential", updateItem(6, 9, item), "", 401, "AUTHENTICATION_ERROR", "Invalid credential or token."},
		{"a key without carts:write", updateItem(6, 9, item), readOnly, 403, "AUTHORIZATION_ERROR", "This credential lacks the carts:write scope."},
		{"an empty customer id", updateItem(6, "", item), s.Admin, 422, "VALIDATION_ERROR", "The customer id field is required."},
		{"a customer id not an integer", updateItem(6, "abc", item), s.Admin, 422, "VALIDATION_ERROR", "The customer id must be an integer."},
		{"no cart id", "/api/cart/update-item?quantity=6&customer_id=9", s.Admin, 422, "VALIDATION_ERROR", "The cart id field is required."},
		{"a cart id not an integer", updateItem(6, 9, "ci_1"), s.Admin, 422, "VALIDATION_ERROR", "The cart id must be an integer."},
		{"a cart id of 0", updateItem(6, 9, 0), s.Admin, 422, "VALIDATION_ERROR", "The selected cart id is invalid."},
		{"no quantity", fmt.Sprintf("/api/cart/update-item?customer_id=9&cart_id=%d", item), s.Admin, 422, "VALIDATION_ERROR", "The quantity field is required."},
		{"a fractional quantity", updateItem(1.5, 9, item), s.Admin, 422, "VALIDATION_ERROR", "The quantity must be an integer."},
		{"a quantity beyond int64", updateItem("99999999999999999999", 9, item), s.Admin, 422, "VALIDATION_ERROR", "The quantity must be an integer."},
		{"a negative quantity", updateItem(-1, 9, item), s.Admin, 422, "VALIDATION_ERROR", "The quantity must be at least 0."},
		{"an unknown customer", updateItem(6, 404, item), s.Admin, 422, "VALIDATION_ERROR", "The selected customer id is invalid."},
		{"another customer's item", updateItem(6, 9, otherItems[0]), s.Admin, 422, "VALIDATION_ERROR", "The selected cart id is invalid."},
		{"an unknown item", updateItem(6, 9, 987654), s.Admin, 422, "VALIDATION_ERROR", "The selected cart id is invalid."},
		{"more than the stock", updateItem(101, 9, item), s.Admin, 422, "VALIDATION_ERROR", "The quantity is not available: only 99 in stock."},
		{"more than the limit per item", updateItem(1000, 9, item), s.Admin, 422, "VALIDATION_ERROR", "Quantity 1000 is above the limit of 999 per item."},
		{"another method", updateItem(6, 9, item), s.Admin, 405, "METHOD_NOT_ALLOWED", "The GET method is not supported for this route."},
		{"another path", "/api/cart/list", s.Admin, 404, "NOT_FOUND", "The route api/cart/list could not be found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.status == 405 {
				method = "GET"
			}
			var r response
			if tc.name == "a Basic credential" {
				r = s.doBasic(t, tc.path)
			} else {
				r = s.do(t, method, tc.path, tc.credential)
			}
			r.MustStatus(t, tc.status)
			e := r.JSON(t)["error"].(map[string]any)
			if e["code"] != tc.code || e["description"] != tc.description || num(t, e["status_code"]) != int64(tc.status) {
				t.Errorf("error = %v, want %s %q %d", e, tc.code, tc.description, tc.status)
			}
		})
	}

	if after := s.Version(t, cartNum); after != before {
		t.Errorf("the cart went from version %d to %d through calls that all failed", before, after)
	}
}

func (s *testServer) doBasic(t *testing.T, path string) response {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("user", s.Admin)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
