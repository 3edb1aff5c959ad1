package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// Credentials and scopes over HTTP (see api_test.go for the helpers every response goes
// through).

func TestAuth(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 100, "A")
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "A", 1)

	t.Run("no or bad credentials are 401 with WWW-Authenticate", func(t *testing.T) {
		for _, tt := range []struct{ name, header string }{
			{"no Authorization", ""},
			{"an unknown key", "Bearer sk_unknown"},
			{"an unknown token", "Bearer ct_unknown"},
			{"a secret of no known kind", "Bearer hello"},
			{"Basic auth", "Basic dXNlcjpwYXNz"},
			{"an empty Bearer", "Bearer "},
		} {
			var headers []string
			if tt.header != "" {
				headers = []string{"Authorization", tt.header}
			}
			r := s.call(t, "GET", "/v1/carts/"+id, "", nil, headers...).mustStatus(t, 401)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", tt.name)
			}
			s.mustReject(t, id, []string{"A"}, 401, "", "PUT", "/v1/carts/"+id+"/items/"+item, "", map[string]any{"quantity": 5}, headers...)
		}
	})

	t.Run("a key without the scope is 403", func(t *testing.T) {
		cartsRead := s.mustKey(t, auth.CartsRead)
		catalogRead := s.mustKey(t, auth.CatalogRead)
		cartsWrite := s.mustKey(t, auth.CartsWrite)
		s.mustCall(t, 200, "GET", "/v1/carts/"+id, cartsRead, nil)
		s.mustCall(t, 200, "GET", "/v1/products/prod_a", catalogRead, nil)
		calls := []struct {
			name, key, method, path string
			body                    any
		}{
			{"a carts:read key adding an item", cartsRead, "POST", "/v1/carts/" + id + "/items", map[string]any{"sku": "A"}},
			{"a carts:read key changing an item", cartsRead, "PUT", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity": 3}},
			{"a carts:read key opening a cart", cartsRead, "POST", "/v1/carts", nil},
			{"a catalog:read key putting a product", catalogRead, "PUT", "/v1/products/prod_new", map[string]any{"name": "n", "variants": []any{map[string]any{"id": "v_new", "sku": "NEW", "price": map[string]int64{"USD": 1}}}}},
			{"a catalog:read key setting stock", catalogRead, "PUT", "/v1/inventory/A", map[string]int64{"on_hand": 1}},
			{"a catalog:read key reading a cart", catalogRead, "GET", "/v1/carts/" + id, nil},
			{"a carts:write key reading the catalog", cartsWrite, "GET", "/v1/products/prod_a", nil},
			{"a catalog:write key changing settings", s.mustKey(t, auth.CatalogWrite), "PUT", "/v1/settings", map[string]any{"max_quantity_per_item": 5}},
			{"a carts:write key issuing a customer token", cartsWrite, "POST", "/v1/customers/cust_1/tokens", nil},
		}
		for _, c := range calls {
			t.Run(c.name+" is 403", func(t *testing.T) {
				s.mustReject(t, id, []string{"A"}, 403, "missing_scope", c.method, c.path, c.key, c.body)
			})
		}
	})

	type tokenBody struct {
		ID         string `json:"id"`
		Token      string `json:"token"`
		CustomerID string `json:"customer_id"`
		ExpiresAt  string `json:"expires_at"`
	}
	issue := func(t *testing.T, customer string, body any) tokenBody {
		t.Helper()
		var tok tokenBody
		json.Unmarshal(s.mustCall(t, 201, "POST", "/v1/customers/"+customer+"/tokens", s.Admin, body).Body, &tok)
		if !strings.HasPrefix(tok.Token, "ct_") || !strings.HasPrefix(tok.ID, "tok_") || tok.CustomerID != customer {
			t.Fatalf("token = %+v", tok)
		}
		return tok
	}

	t.Run("a customer token reaches only its customer's carts", func(t *testing.T) {
		alice, bob := issue(t, "alice", nil), issue(t, "bob", map[string]any{"ttl_seconds": 3600})
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", alice.Token, nil))
		if c.CustomerID == nil || *c.CustomerID != "alice" {
			t.Errorf("a cart opened with alice's token belongs to %v", c.CustomerID)
		}
		c = cartOf(t, s.mustCall(t, 200, "POST", "/v1/carts/"+c.ID+"/items", alice.Token, map[string]any{"sku": "A", "quantity": 2}))
		aliceItem := c.item("A").ID
		s.mustCall(t, 200, "GET", "/v1/carts/"+c.ID, alice.Token, nil)
		s.mustCall(t, 200, "PATCH", "/v1/carts/"+c.ID+"/items/"+aliceItem, alice.Token, map[string]any{"quantity_delta": 1})

		// Bob gets 404 for alice's cart, and so does anyone for a guest cart.
		for _, target := range []struct{ cart, item string }{{c.ID, aliceItem}, {id, item}} {
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "GET", "/v1/carts/"+target.cart, bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "PATCH", "/v1/carts/"+target.cart+"/items/"+target.item, bob.Token, map[string]any{"quantity": 9})
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "DELETE", "/v1/carts/"+target.cart+"/items/"+target.item, bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "DELETE", "/v1/carts/"+target.cart+"/items", bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "POST", "/v1/carts/"+target.cart+"/items", bob.Token, map[string]any{"sku": "A"})
		}
		s.mustReject(t, "", nil, 403, "customer_mismatch", "POST", "/v1/carts", bob.Token, map[string]any{"customer_id": "alice"})
	})

	t.Run("a customer token cannot use the catalog or issue tokens", func(t *testing.T) {
		tok := issue(t, "carol", nil)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/products/prod_a", nil},
			{"PUT", "/v1/products/prod_a", map[string]any{"name": "n", "variants": []any{map[string]any{"id": "var_A", "sku": "A", "price": map[string]int64{"USD": 1}}}}},
			{"DELETE", "/v1/products/prod_a", nil},
			{"GET", "/v1/inventory/A", nil},
			{"PUT", "/v1/inventory/A", map[string]int64{"on_hand": 0}},
			{"GET", "/v1/settings", nil},
			{"POST", "/v1/customers/carol/tokens", nil},
		} {
			s.mustReject(t, "", []string{"A"}, 403, "missing_scope", c.method, c.path, tok.Token, c.body)
		}
		s.mustCall(t, 200, "GET", "/v1/products/prod_a", s.Admin, nil)
	})

	t.Run("a revoked token is 401", func(t *testing.T) {
		tok := issue(t, "dave", nil)
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", tok.Token, nil))
		s.mustReject(t, "", nil, 404, "token_not_found", "DELETE", "/v1/customers/erin/tokens/"+tok.ID, s.Admin, nil)
		s.mustReject(t, "", nil, 403, "missing_scope", "DELETE", "/v1/customers/dave/tokens/"+tok.ID, s.mustKey(t, auth.CartsWrite), nil)
		s.mustCall(t, 204, "DELETE", "/v1/customers/dave/tokens/"+tok.ID, s.Admin, nil)
		s.mustReject(t, c.ID, nil, 401, "invalid_credentials", "GET", "/v1/carts/"+c.ID, tok.Token, nil)
		s.mustReject(t, c.ID, []string{"A"}, 401, "invalid_credentials", "POST", "/v1/carts/"+c.ID+"/items", tok.Token, map[string]any{"sku": "A"})
	})

	t.Run("an expired token is 401", func(t *testing.T) {
		tok := issue(t, "frank", map[string]any{"ttl_seconds": 1})
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", tok.Token, nil))
		time.Sleep(1100 * time.Millisecond)
		s.mustReject(t, c.ID, nil, 401, "invalid_credentials", "GET", "/v1/carts/"+c.ID, tok.Token, nil)
	})

	t.Run("a token request with a bad ttl is 422", func(t *testing.T) {
		for _, body := range []string{`{"ttl_seconds": 0}`, `{"ttl_seconds": -5}`, `{"ttl_seconds": 99999999999}`} {
			s.mustReject(t, "", nil, 422, "invalid_ttl", "POST", "/v1/customers/gina/tokens", s.Admin, body)
		}
	})
}
