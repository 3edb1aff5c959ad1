package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/cartd/cartd/engine"
)

// TestQuantityNotAllowedInEachFrontDoorsFormat sends each dialect a quantity a sold-in-pairs
// rule does not allow: a door that clamps lowers it to the allowed quantity below, with its
// own warning, and refuses it in its own error format when there is none; a door that
// rejects refuses it in its own format, naming the nearest allowed quantities.
func TestQuantityNotAllowedInEachFrontDoorsFormat(t *testing.T) {
	f := mustFrontDoors(t)
	ctx := context.Background()
	st, body := f.send(t, f.client, "PUT", "/v1/products/prod_pairs", f.bearer(), map[string]any{"name": "Socks",
		"quantity_rule": map[string]any{"increment": 2, "max": 10},
		"variants":      []any{map[string]any{"id": "var_pairs", "sku": "PAIRS", "price": map[string]any{"USD": 500}}}})
	if st != 200 {
		t.Fatalf("PUT product: %d %s", st, body)
	}
	prodNum := numberOfT(t, body)
	f.send(t, f.client, "PUT", "/v1/inventory/PAIRS", f.bearer(), map[string]any{"on_hand": 100})
	const customer = "77"
	c, err := f.eng.CreateCart(ctx, f.p, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, body = f.send(t, f.client, "POST", fmt.Sprintf("/v1/carts/cart_%d/items", c.Cart.Num), f.bearer(), map[string]any{"sku": "PAIRS", "quantity": 2})
	if st != 200 {
		t.Fatalf("add: %d %s", st, body)
	}
	item := f.lines(t, c.Cart.Num)[0].Item.Num
	token, _, err := f.eng.IssueToken(ctx, f.p, customer, 0)
	if err != nil {
		t.Fatal(err)
	}
	ebayHeaders := map[string]string{"Authorization": "Bearer " + token, "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}
	key := fmt.Sprintf("prod%d_PAIRS_dflt", prodNum)
	tests := []struct {
		name   string
		send   func() (int, []byte)
		status int
		has    string // in the body
		want   int64  // the line's quantity after
	}{
		{"SourceHub refuses an odd quantity with its validation envelope, naming the nearest allowed", func() (int, []byte) {
			return f.send(t, f.client, "POST", fmt.Sprintf("/api/cart/update-item?quantity=3&customer_id=%s&cart_id=%d", customer, item), f.bearer(), nil)
		}, 422, `"code":"VALIDATION_ERROR","description":"Quantity 3 is not allowed: sold in multiples of 2, at most 10 per cart; the nearest allowed are 2 and 4."`, 2},
		{"eBay refuses a quantity below every allowed one with its invalid-quantity error 10009", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/buy/browse/v1/shopping_cart/update_quantity", ebayHeaders,
				map[string]any{"cartItemId": fmt.Sprintf("ci_%d", item), "quantity": 1})
		}, 400, `"errorId":10009`, 2},
		{"eBay clamps above max with its warning 10006", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/buy/browse/v1/shopping_cart/update_quantity", ebayHeaders,
				map[string]any{"cartItemId": fmt.Sprintf("ci_%d", item), "quantity": 12})
		}, 200, `"errorId":10006`, 10},
		{"JackThreads clamps an odd quantity down to the allowed one below", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/services/v1/cart/set_qty", nil, url.Values{"qty": {"7"}, "sku": {"PAIRS"}, "oauth_token": {token}})
		}, 200, `"qty":6`, 6},
		{"JackThreads refuses a quantity below every allowed one with its failure body", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/services/v1/cart/set_qty", nil, url.Values{"qty": {"1"}, "sku": {"PAIRS"}, "oauth_token": {token}})
		}, 400, `{"success":false,"code":"quantity_not_allowed"`, 6},
		{"the storefront refuses an odd add with its quantity field error", func() (int, []byte) {
			return f.send(t, f.client, "POST", "/api/v1/cart/", nil, map[string]any{"item_key": key, "quantity": 3})
		}, 400, `{"quantity":["Quantity 3 is not allowed: sold in multiples of 2, at most 10 per cart; the nearest allowed are 2 and 4."]}`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := tt.send()
			if st != tt.status || !strings.Contains(string(body), tt.has) {
				t.Fatalf("got %d %s\nwant %d with %s", st, body, tt.status, tt.has)
			}
			if got := f.lines(t, c.Cart.Num)[0].Item.Quantity; got != tt.want {
				t.Fatalf("the line holds %d, want %d", got, tt.want)
			}
		})
	}
}

// TestQuantityRulesOnTheNativeAPI pins what the native API does at a rule's edges.
func TestQuantityRulesOnTheNativeAPI(t *testing.T) {
	f := mustFrontDoors(t)
	ctx := context.Background()
	put := func(t *testing.T, id string, product map[string]any) (int, []byte) {
		t.Helper()
		return f.send(t, f.client, "PUT", "/v1/products/"+id, f.bearer(), product)
	}
	variant := func(id, sku string, extra map[string]any) map[string]any {
		v := map[string]any{"id": id, "sku": sku, "price": map[string]any{"USD": 1000}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	openCart := func(t *testing.T, customer string) int64 {
		t.Helper()
		c, err := f.eng.CreateCart(ctx, f.p, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Cart.Num
	}
	add := func(t *testing.T, c int64, sku string, q int64, policy string) (int, string) {
		t.Helper()
		st, body := f.send(t, f.client, "POST", fmt.Sprintf("/v1/carts/cart_%d/items", c), f.bearer(),
			map[string]any{"sku": sku, "quantity": q, "stock_policy": policy})
		return st, string(body)
	}

	t.Run("a tier no allowed quantity reaches is refused", func(t *testing.T) {
		st, body := put(t, "prod_tiers", map[string]any{"name": "Tiers", "quantity_rule": map[string]any{"increment": 2, "max": 10},
			"variants": []any{variant("var_tiers", "TIERS", map[string]any{"tiers": []any{
				map[string]any{"min_quantity": 3, "price": map[string]any{"USD": 900}},
				map[string]any{"min_quantity": 4, "price": map[string]any{"USD": 800}},
				map[string]any{"min_quantity": 12, "price": map[string]any{"USD": 700}}}})}})
		if st != 422 || !strings.Contains(string(body), `"field":"variants[0].tiers[0].min_quantity"`) ||
			!strings.Contains(string(body), `"field":"variants[0].tiers[2].min_quantity"`) || strings.Contains(string(body), "tiers[1]") {
			t.Fatalf("got %d %s", st, body)
		}
	})

	t.Run("an add merging into a line is held to the rule on the sum", func(t *testing.T) {
		if st, body := put(t, "prod_pairs", map[string]any{"name": "Pairs", "quantity_rule": map[string]any{"increment": 2},
			"variants": []any{variant("var_pairs", "PAIRS", nil)}}); st != 200 {
			t.Fatalf("PUT: %d %s", st, body)
		}
		f.send(t, f.client, "PUT", "/v1/inventory/PAIRS", f.bearer(), map[string]any{"on_hand": 50})
		c := openCart(t, "")
		if st, body := add(t, c, "PAIRS", 2, "reject"); st != 200 {
			t.Fatalf("add 2: %d %s", st, body)
		}
		if st, body := add(t, c, "PAIRS", 1, "reject"); st != 422 || !strings.Contains(body, `"requested":3`) {
			t.Fatalf("add 1 more: %d %s", st, body)
		}
		if st, body := add(t, c, "PAIRS", 4, "reject"); st != 200 || !strings.Contains(body, `"quantity":6`) {
			t.Fatalf("add 4 more: %d %s", st, body)
		}
	})

	t.Run("clamp removes nothing and adds nothing when the stock cannot cover min", func(t *testing.T) {
		if st, body := put(t, "prod_min", map[string]any{"name": "Min", "variants": []any{variant("var_min", "MIN4",
			map[string]any{"quantity_rule": map[string]any{"min": 4}})}}); st != 200 {
			t.Fatalf("PUT: %d %s", st, body)
		}
		f.send(t, f.client, "PUT", "/v1/inventory/MIN4", f.bearer(), map[string]any{"on_hand": 3})
		c := openCart(t, "")
		st, body := add(t, c, "MIN4", 5, "clamp")
		if st != 200 || !strings.Contains(body, `"code":"out_of_stock"`) || !strings.Contains(body, `"items":[]`) {
			t.Fatalf("got %d %s", st, body)
		}
	})

	t.Run("a guest cart given to a customer is lowered to what their limit leaves", func(t *testing.T) {
		if st, body := put(t, "prod_ltd", map[string]any{"name": "Limited", "variants": []any{variant("var_ltd", "LTD",
			map[string]any{"quantity_rule": map[string]any{"max_per_customer": 3}})}}); st != 200 {
			t.Fatalf("PUT: %d %s", st, body)
		}
		f.send(t, f.client, "PUT", "/v1/inventory/LTD", f.bearer(), map[string]any{"on_hand": 50})
		bought := openCart(t, "cust_ltd")
		if st, body := add(t, bought, "LTD", 2, "reject"); st != 200 {
			t.Fatalf("add: %d %s", st, body)
		}
		if st, body := f.send(t, f.client, "POST", fmt.Sprintf("/v1/carts/cart_%d/checkout", bought), f.bearer(), nil); st != 200 {
			t.Fatalf("checkout: %d %s", st, body)
		}
		guest := openCart(t, "")
		if st, body := add(t, guest, "LTD", 3, "reject"); st != 200 {
			t.Fatalf("guest add: %d %s", st, body)
		}
		st, body := f.send(t, f.client, "PATCH", fmt.Sprintf("/v1/carts/cart_%d", guest), f.bearer(), map[string]any{"customer_id": "cust_ltd"})
		if st != 200 || !strings.Contains(string(body), `"code":"quantity_clamped"`) || !strings.Contains(string(body), `"quantity":1,`) {
			t.Fatalf("got %d %s", st, body)
		}
		if st, body := add(t, guest, "LTD", 1, "reject"); st != 422 || !strings.Contains(body, `"held_elsewhere":2`) {
			t.Fatalf("one more: %d %s", st, body)
		}
	})
}
