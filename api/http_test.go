package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HTTP itself: methods, headers, bodies (see api_test.go for the helpers every response goes
// through).

func TestHTTP(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 100, "A")

	t.Run("the version goes up by one with every change and is the ETag", func(t *testing.T) {
		id := s.mustCart(t)
		want := int64(1)
		step := func(r response) {
			t.Helper()
			want++
			if c := cartOf(t, r); c.Version != want {
				t.Errorf("version = %d, want %d", c.Version, want)
			}
		}
		step(s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"}))
		item := s.getCart(t, id).Items[0].ID
		step(s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 4}))
		step(s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 2}))
		step(s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"notes": "n"}))
		step(s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+item, s.Admin, nil))
		r := s.mustCall(t, 200, "GET", "/v1/carts/"+id, s.Admin, nil)
		if c := cartOf(t, r); c.Version != want || r.Header.Get("ETag") != strconv.Quote(strconv.FormatInt(want, 10)) {
			t.Errorf("a read changed the version: %d, ETag %s", c.Version, r.Header.Get("ETag"))
		}
	})

	t.Run("If-Match with the current version applies the change", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 2}, "If-Match", `"2"`)
		if c.Version != 3 || c.item("A").Quantity != 2 {
			t.Errorf("cart = %+v", c)
		}
		s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 1}, "If-Match", "*")
	})

	for _, im := range []string{`"1"`, `"99"`, `2`, `W/"2"`, `"abc"`} {
		t.Run("If-Match "+im+" not matching is 412 with the current cart", func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 1)
			calls := []struct {
				method, path string
				body         any
			}{
				{"PUT", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity": 5}},
				{"PATCH", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity_delta": 1}},
				{"POST", "/v1/carts/" + id + "/items", map[string]any{"sku": "A"}},
				{"DELETE", "/v1/carts/" + id + "/items/" + item, nil},
				{"DELETE", "/v1/carts/" + id + "/items", nil},
			}
			for _, c := range calls {
				r := s.call(t, c.method, c.path, s.Admin, c.body, "If-Match", im)
				p := s.mustReject(t, id, []string{"A"}, 412, "version_mismatch", c.method, c.path, s.Admin, c.body, "If-Match", im)
				if p.Version == nil || *p.Version != 2 || p.Cart == nil || p.Cart.Version != 2 || p.Cart.item("A").Quantity != 1 {
					t.Errorf("%s %s: problem = %+v", c.method, c.path, p)
				}
				if r.Header.Get("ETag") != `"2"` {
					t.Errorf("%s %s: ETag = %s, want the current \"2\"", c.method, c.path, r.Header.Get("ETag"))
				}
			}
		})
	}

	bodies := []struct {
		name        string
		body        string
		status      int
		code, field string
	}{
		{"malformed JSON", `{"quantity": `, 400, "malformed_body", ""},
		{"JSON with a syntax error", `{"quantity": 2,}`, 400, "malformed_body", ""},
		{"an empty body", ``, 400, "malformed_body", ""},
		{"two JSON values", `{"quantity": 2} {"quantity": 3}`, 400, "malformed_body", ""},
		{"a JSON array", `[{"quantity": 2}]`, 400, "malformed_body", ""},
		{"a JSON string", `"quantity"`, 400, "malformed_body", ""},
		{"a JSON number", `2`, 400, "malformed_body", ""},
		{"JSON null", `null`, 400, "malformed_body", ""},
		{"an unknown field", `{"quantity": 2, "colour": "red"}`, 422, "unknown_field", "colour"},
		{"a quantity as a string", `{"quantity": "2"}`, 422, "invalid_type", "quantity"},
		// A decimal is a quantity of a measured variant; of one sold in whole units it has
		// more digits than its scale (docs/measured-quantities.md).
		{"a fractional quantity", `{"quantity": 2.5}`, 422, "quantity_precision", "quantity"},
		{"a quantity in exponent form", `{"quantity": 1e3}`, 422, "invalid_quantity", "quantity"},
		{"a quantity as a string", `{"quantity": "2"}`, 422, "invalid_type", "quantity"},
		{"notes as a number", `{"notes": 5}`, 422, "invalid_type", "notes"},
		{"validate_inventory as a string", `{"quantity": 2, "validate_inventory": "yes"}`, 422, "invalid_type", "validate_inventory"},
		{"a quantity that overflows int64", `{"quantity": 99999999999999999999}`, 422, "quantity_out_of_range", "quantity"},
		{"a negative quantity that overflows int64", `{"quantity": -99999999999999999999}`, 422, "quantity_out_of_range", "quantity"},
		{"a quantity_delta that overflows int64", `{"quantity_delta": 99999999999999999999}`, 422, "quantity_out_of_range", "quantity_delta"},
	}
	for _, tt := range bodies {
		t.Run(fmt.Sprintf("a PATCH with %s is %d", tt.name, tt.status), func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 1)
			p := s.mustReject(t, id, []string{"A"}, tt.status, tt.code, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, tt.body)
			if tt.field != "" && !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	for _, path := range []string{"/v1/carts", "/v1/carts/{cart}/items", "/v1/products/prod_x", "/v1/inventory/A", "/v1/settings"} {
		t.Run("a body that is not an object is 400 at "+path, func(t *testing.T) {
			id := s.mustCart(t)
			p := strings.ReplaceAll(path, "{cart}", id)
			method := "PUT"
			if strings.HasPrefix(path, "/v1/carts") {
				method = "POST"
			}
			for _, body := range []string{`[]`, `null`, `"x"`, `true`, `{"a":1`} {
				s.mustReject(t, id, []string{"A"}, 400, "malformed_body", method, p, s.Admin, body)
			}
		})
	}

	t.Run("a body that is not JSON is 415", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/xml"} {
			s.mustReject(t, id, []string{"A"}, 415, "unsupported_media_type", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, `{"quantity": 3}`, "Content-Type", ct)
		}
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, `{"quantity": 3}`, "Content-Type", "application/json; charset=utf-8")
	})

	t.Run("a body over the limit is 413", func(t *testing.T) {
		small := mustServer(t, serverOptions{MaxBody: 1024, ReservationTTL: 15 * time.Minute})
		small.mustProduct(t, "prod_a", 100, 100, "A")
		id := small.mustCart(t)
		item := small.mustAdd(t, id, "A", 1)
		big := `{"quantity": 2, "notes": "` + strings.Repeat("x", 2000) + `"}`
		small.mustReject(t, id, []string{"A"}, 413, "body_too_large", "PUT", "/v1/carts/"+id+"/items/"+item, small.Admin, big)
		small.mustReject(t, id, []string{"A"}, 413, "body_too_large", "POST", "/v1/carts", small.Admin, big)
		small.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, small.Admin, `{"quantity": 2, "notes": "fits"}`)
	})

	t.Run("an unknown route is a 404 problem", func(t *testing.T) {
		for _, p := range []string{"/v1/nope", "/v2/carts", "/v1/carts/cart_1/coupons/x/y", "/"} {
			s.mustReject(t, "", nil, 404, "route_not_found", "GET", p, s.Admin, nil)
		}
		s.mustReject(t, "", nil, 404, "route_not_found", "GET", "/v1/nope", "", nil)
	})

	t.Run("a wrong method is a 405 problem with Allow", func(t *testing.T) {
		for _, c := range []struct{ method, path, allow string }{
			{"PUT", "/v1/carts", "POST"},
			{"GET", "/v1/carts/cart_1/items", "POST"},
			{"POST", "/v1/carts/cart_1", "GET"},
			{"POST", "/v1/settings", "PUT"},
		} {
			r := s.call(t, c.method, c.path, s.Admin, nil).mustStatus(t, 405)
			if !strings.Contains(r.Header.Get("Allow"), c.allow) {
				t.Errorf("%s %s: Allow = %q, want it to name %s", c.method, c.path, r.Header.Get("Allow"), c.allow)
			}
			if p := problemOf(t, r); p.Code != "method_not_allowed" {
				t.Errorf("%s %s: code = %s", c.method, c.path, p.Code)
			}
		}
	})

	t.Run("health and the OpenAPI document answer without credentials", func(t *testing.T) {
		s.mustCall(t, 200, "GET", "/healthz", "", nil)
		s.mustCall(t, 200, "GET", "/readyz", "", nil)
		var doc map[string]any
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/openapi.json", "", nil).Body, &doc); err != nil {
			t.Errorf("openapi.json: %v", err)
		}
	})
}
