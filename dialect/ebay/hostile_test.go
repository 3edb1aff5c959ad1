package ebay_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// A body that is not UTF-8 text, holds a lone surrogate or names a member twice is refused
// with 422 in eBay's error shape, saying where, and changes nothing.
func TestHostileBodiesAreRefused(t *testing.T) {
	s, token, cartNum, ball, _ := seedShop(t)
	before := s.Version(t, cartNum)
	for _, c := range []struct{ name, body, where string }{
		{"a member given twice", `{"cartItemId":"` + ci(ball) + `","quantity":1,"quantity":5}`, "quantity"},
		{"a lone surrogate", `{"cartItemId":"` + ci(ball) + `\ud800","quantity":1}`, "cartItemId"},
		{"bytes that are not UTF-8", "{\"cartItemId\":\"" + ci(ball) + "\xc3\x28\",\"quantity\":1}", "cartItemId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, "POST", updatePath, token, c.body, marketplace...).MustStatus(t, http.StatusUnprocessableEntity)
			if !utf8.Valid(r.Body) || !strings.Contains(string(r.Body), c.where) || !strings.Contains(string(r.Body), `"errorId":2004`) {
				t.Fatalf("refusal = %s, want error 2004 naming %s", r.Body, c.where)
			}
			if v := s.Version(t, cartNum); v != before {
				t.Fatalf("a refused call moved the cart from version %d to %d", before, v)
			}
		})
	}
}
