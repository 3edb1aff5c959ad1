package storefront_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// A body that is not UTF-8 text, holds a lone surrogate or names a member twice is refused
// with 422 in the dialect's field-error shape, naming the field, and changes nothing.
func TestHostileBodiesAreRefused(t *testing.T) {
	s := mustServer(t)
	p := s.MustProduct(t, simpleProduct("prod_tee", 2499, "TEE-S"), 8)
	key := fmt.Sprintf("prod%d_TEE-S_dflt", p.Num)
	b := s.shopper(t)
	b.add(t, key, 2).MustStatus(t, http.StatusOK)
	before := quantities(t, b.view(t))
	for _, c := range []struct{ name, method, body, contentType, field string }{
		{"a member given twice", "PUT", `{"item_key":"` + key + `","quantity":1,"quantity":-2}`, "application/json", "quantity"},
		{"a lone surrogate", "PUT", `{"item_key":"` + key + `\udc00","quantity":1}`, "application/json", "item_key"},
		{"bytes that are not UTF-8", "POST", "{\"item_key\":\"" + key + "\xff\",\"quantity\":1}", "application/json", "item_key"},
		{"a form value that is not UTF-8", "PUT", "item_key=" + key + "%C3%28&quantity=1", "application/x-www-form-urlencoded", "item_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/api/v1/cart/items/"
			if c.method == "POST" {
				path = "/api/v1/cart/"
			}
			r := b.do(t, c.method, path, c.body, "Content-Type", c.contentType).MustStatus(t, http.StatusUnprocessableEntity)
			if !utf8.Valid(r.Body) || !strings.Contains(string(r.Body), `"`+c.field+`"`) {
				t.Fatalf("refusal = %s, want one naming %s", r.Body, c.field)
			}
			if after := quantities(t, b.view(t)); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a refused call changed the cart: %v, was %v", after, before)
			}
		})
	}
}
