package api_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/cartjson"
)

// A completed cart is a record: every figure of it, and every byte of its native rendering,
// reads back the same after the catalog, stock, settings and promotions it was priced with
// change or go (README "Checkout").
func TestCompletedCartIsARecord(t *testing.T) {
	s := mustServer(t)
	product := func(usd, tax, tierPrice int64, name string) map[string]any {
		return map[string]any{"name": name, "brand": "Acme", "image_url": "https://example.com/" + name + ".png", "variants": []any{
			map[string]any{"id": "var_REC", "sku": "REC-1", "name": "Blue / M",
				"options":      []any{map[string]any{"name": "color", "value": "Blue"}, map[string]any{"name": "size", "value": "M"}},
				"price":        map[string]any{"USD": usd},
				"retail_price": map[string]any{"USD": usd + 1000},
				"tiers":        []any{map[string]any{"min_quantity": 2, "price": map[string]any{"USD": tierPrice}}},
				"tax_rate":     tax}}}
	}
	s.do(t, "PUT", "/v1/products/prod_rec", s.Admin, product(5000, 1000, 4500, "Record")).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/inventory/REC-1", s.Admin, map[string]any{"on_hand": 10}).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/settings", s.Admin, map[string]any{"prices_include_tax": false,
		"shipping": map[string]any{"USD": map[string]any{"flat": 599, "free_over": 1000000}}}).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/promotions/TENOFF", s.Admin, map[string]any{"type": "cash", "method": "auto",
		"amount": map[string]any{"USD": 1000}}).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/promotions/SAVE5", s.Admin, map[string]any{"type": "percent", "rate": 500}).mustStatus(t, 200)

	id := s.mustCart(t)
	s.mustAdd(t, id, "REC-1", 2)
	s.do(t, "POST", "/v1/carts/"+id+"/coupons", s.Admin, map[string]any{"code": "SAVE5"}).mustStatus(t, 200)
	s.do(t, "POST", "/v1/carts/"+id+"/checkout", s.Admin, nil).mustStatus(t, 200)

	first := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)
	// cartjson.Record renders the record as every read answers it, whatever messages the
	// view carries.
	p, err := s.Engine.Authenticate(t.Context(), s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	num, _ := strconv.ParseInt(strings.TrimPrefix(id, "cart_"), 10, 64)
	v, err := s.Engine.Cart(t.Context(), p, num)
	if err != nil {
		t.Fatal(err)
	}
	v.Messages = []cart.Message{{Type: cart.Info, Code: "checked_out", Text: "a call's own message"}}
	rendered, err := json.Marshal(cartjson.Record(v))
	if err != nil {
		t.Fatal(err)
	}
	if string(rendered)+"\n" != string(first.Body) {
		t.Fatalf("cartjson.Record renders\n%s\nnot what a read answers\n%s", rendered, first.Body)
	}
	var c cartBody
	if err := json.Unmarshal(first.Body, &c); err != nil {
		t.Fatal(err)
	}
	// Every kind of figure the later changes would move is there to be moved.
	if c.Status != "completed" || c.Discount == 0 || c.Tax == 0 || c.Shipping != 599 || len(c.Items) != 1 ||
		c.Items[0].UnitPrice != 4500 || len(c.Coupons) != 2 {
		t.Fatalf("the completed cart is not what the test arranged: %s", first.Body)
	}

	changes := []struct {
		what         string
		method, path string
		body         any
		wantStatus   int
	}{
		{"prices, tax rate and tiers", "PUT", "/v1/products/prod_rec", product(9000, 2500, 100, "Renamed"), 200},
		{"stock", "PUT", "/v1/inventory/REC-1", map[string]any{"on_hand": 0}, 200},
		{"shipping and tax inclusion", "PUT", "/v1/settings", map[string]any{"prices_include_tax": true,
			"shipping": map[string]any{"USD": map[string]any{"flat": 1999}}}, 200},
		{"the automatic promotion deleted", "DELETE", "/v1/promotions/TENOFF", nil, 204},
		{"the coupon's promotion deleted", "DELETE", "/v1/promotions/SAVE5", nil, 204},
		{"the product deleted", "DELETE", "/v1/products/prod_rec", nil, 204},
	}
	for _, ch := range changes {
		s.do(t, ch.method, ch.path, s.Admin, ch.body).mustStatus(t, ch.wantStatus)
		again := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)
		if !bytes.Equal(again.Body, first.Body) {
			t.Fatalf("after %s the completed cart reads\n%s\nnot, as at checkout,\n%s", ch.what, again.Body, first.Body)
		}
		if again.Header.Get("ETag") != first.Header.Get("ETag") {
			t.Fatalf("after %s the ETag is %s, not %s", ch.what, again.Header.Get("ETag"), first.Header.Get("ETag"))
		}
	}

	// A refused change, and a refused merge of the cart into another, carry the cart as
	// recorded too.
	var want any
	if err := json.Unmarshal(first.Body, &want); err != nil {
		t.Fatal(err)
	}
	other := s.mustCart(t)
	for _, refused := range []struct {
		what, path string
		body       any
	}{
		{"an add", "/v1/carts/" + id + "/items", map[string]any{"sku": "REC-1", "quantity": 1}},
		{"a merge", "/v1/carts/" + id + "/merge", map[string]any{"into": other}},
	} {
		r := s.do(t, "POST", refused.path, s.Admin, refused.body).mustStatus(t, 409)
		var problem struct {
			Cart json.RawMessage `json:"cart"`
		}
		if err := json.Unmarshal(r.Body, &problem); err != nil {
			t.Fatal(err)
		}
		var got any
		if err := json.Unmarshal(problem.Cart, &got); err != nil {
			t.Fatalf("the 409 to %s carries no cart: %s", refused.what, r.Body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the 409 to %s carries\n%s\nnot the record\n%s", refused.what, problem.Cart, first.Body)
		}
	}
}

// A checkout that asked for a minimal answer still records the whole cart.
func TestMinimalCheckoutRecordsTheWholeCart(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_m", 1000, 50, "M-1", "M-2", "M-3")
	id := s.mustCart(t)
	for _, sku := range []string{"M-1", "M-2", "M-3"} {
		s.mustAdd(t, id, sku, 2)
	}
	// A minimal change first, so that the checkout may work on what it left.
	s.do(t, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "M-2", "quantity": 1}, "Prefer", "return=minimal").mustStatus(t, 200)
	s.do(t, "POST", "/v1/carts/"+id+"/checkout", s.Admin, nil, "Prefer", "return=minimal").mustStatus(t, 200)
	first := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)
	var c cartBody
	if err := json.Unmarshal(first.Body, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Items) != 3 || c.Subtotal != 7000 {
		t.Fatalf("the record holds %d items, subtotal %d; want 3 and 7000: %s", len(c.Items), c.Subtotal, first.Body)
	}
	s.mustProduct(t, "prod_m", 5000, 50, "M-1", "M-2", "M-3")
	if again := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200); !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("after a price change the completed cart reads\n%s\nnot\n%s", again.Body, first.Body)
	}
}
