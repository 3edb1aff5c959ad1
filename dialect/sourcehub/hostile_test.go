package sourcehub_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cartd/cartd/internal/testserver"
)

// A query parameter that is not UTF-8 text is refused with 422 in the seed's envelope, naming
// the parameter, and changes nothing.
func TestHostileQueriesAreRefused(t *testing.T) {
	s := mustServer(t)
	s.MustProduct(t, testserver.SimpleProduct("prod_a", 1000, "A"), 5)
	cartNum, items := s.MustCart(t, "9", "USD", "A", 2)
	before := s.Version(t, cartNum)
	r := s.do(t, "POST", updateItem(3, 9, items[0])+"&note=%C3%28", s.Admin).MustStatus(t, http.StatusUnprocessableEntity)
	if !utf8.Valid(r.Body) || !strings.Contains(strings.ToLower(string(r.Body)), "note") || !strings.Contains(string(r.Body), "UTF-8") {
		t.Fatalf("refusal = %s", r.Body)
	}
	if v := s.Version(t, cartNum); v != before {
		t.Fatalf("a refused call moved the cart from version %d to %d", before, v)
	}
}
