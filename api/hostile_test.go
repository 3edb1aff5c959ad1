package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Nothing a client sends makes cartd store, or answer with, text that strict clients cannot
// read: text that is not UTF-8 and lone surrogate escapes are refused with 422 naming where
// they are, as is a body naming a member twice, and one SKU rule holds for every SKU (README
// "Limits and ranges"). Each refusal changes nothing, and the cart reads back as valid JSON.
func TestHostileInputIsRefused(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_h", 1000, 50, "H-1")
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "H-1", 1)
	before := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)

	cases := []struct {
		name, method, path, body string
		headers                  []string
		code, field              string
	}{
		{"invalid UTF-8 in an item's metadata", "POST", "/v1/carts/" + id + "/items",
			"{\"sku\":\"H-1\",\"quantity\":1,\"metadata\":{\"k\":\"\xc3\x28\"}}", nil, "invalid_text", "metadata.k"},
		{"invalid UTF-8 in notes", "PATCH", "/v1/carts/" + id + "/items/" + item,
			"{\"notes\":\"gift \xff wrap\"}", nil, "invalid_text", "notes"},
		{"a lone surrogate in notes", "PATCH", "/v1/carts/" + id + "/items/" + item,
			`{"notes":"a\ud800b"}`, nil, "invalid_text", "notes"},
		{"a lone surrogate in metadata", "PUT", "/v1/carts/" + id + "/items/" + item,
			`{"quantity":2,"metadata":{"k":"\udfff"}}`, nil, "invalid_text", "metadata.k"},
		{"a member given twice", "PATCH", "/v1/carts/" + id + "/items/" + item,
			`{"quantity_delta":1,"quantity_delta":-2}`, nil, "duplicate_member", "quantity_delta"},
		{"a member given twice in a batch", "PATCH", "/v1/carts/" + id + "/items",
			`{"changes":[{"item_id":"` + item + `","quantity":3,"quantity":0}]}`, nil, "duplicate_member", "changes[0].quantity"},
		{"an Idempotency-Key that is not UTF-8", "PATCH", "/v1/carts/" + id + "/items/" + item,
			`{"quantity":3}`, []string{"Idempotency-Key", "k\xff"}, "invalid_text", "Idempotency-Key"},
		{"a stock write of a SKU with a NUL", "PUT", "/v1/inventory/AB%00CD", `{"on_hand":5}`, nil, "invalid_sku", "sku"},
		{"a stock write of a SKU with a newline", "PUT", "/v1/inventory/X%0AY", `{"on_hand":5}`, nil, "invalid_sku", "sku"},
		{"a relative stock write of a SKU with a newline", "PATCH", "/v1/inventory/X%0AY", `{"on_hand_delta":5}`, nil, "invalid_sku", "sku"},
		{"a stock write of a SKU that is not UTF-8", "PUT", "/v1/inventory/AB%FF", `{"on_hand":5}`, nil, "invalid_sku", "sku"},
		{"a stock read of a SKU with a NUL", "GET", "/v1/inventory/AB%00CD", "", nil, "invalid_sku", "sku"},
		{"a product name that is not UTF-8", "PUT", "/v1/products/prod_bad",
			"{\"name\":\"\xe2\x82\",\"variants\":[{\"id\":\"v\",\"sku\":\"B-1\",\"price\":{\"USD\":1}}]}", nil, "invalid_text", "name"},
		{"a new cart's metadata with a lone surrogate", "POST", "/v1/carts",
			`{"currency":"USD","metadata":{"k":"\ud83d"}}`, nil, "invalid_text", "metadata.k"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := s.do(t, c.method, c.path, s.Admin, body, c.headers...).mustStatus(t, 422)
			if !utf8.Valid(r.Body) {
				t.Fatalf("the refusal is not valid UTF-8: %q", r.Body)
			}
			var p struct {
				Code   string `json:"code"`
				Detail string `json:"detail"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != c.code || len(p.Errors) == 0 || p.Errors[0].Field != c.field || !strings.Contains(p.Detail, c.field) {
				t.Fatalf("refusal = %s, want %s naming %s", r.Body, c.code, c.field)
			}
			after := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)
			if string(after.Body) != string(before.Body) {
				t.Fatalf("a refused call changed the cart:\n%s\nwas\n%s", after.Body, before.Body)
			}
		})
	}
	// No stock row came of the refused SKUs, and the product was not stored.
	s.do(t, "GET", "/v1/products/prod_bad", s.Admin, nil).mustStatus(t, 404)
	for _, sku := range []string{"AB\x00CD", "X\nY", "AB\xff"} {
		err := s.Store.Read(t.Context(), func(tx store.ReadTx) error {
			st, err := tx.Stock(t.Context(), sku)
			if err == nil && st.Version != 0 {
				t.Errorf("the refused SKU %q has a stock row: %+v", sku, st)
			}
			return err
		})
		// PostgreSQL cannot even look up text it cannot hold: no row can have it.
		if err != nil && cart.ErrorCode(err) != cart.Invalid {
			t.Fatal(err)
		}
	}
}
