package sourcehub

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/cartd/cartd/cart"
)

// FuzzDecodeUpdateItem feeds the query decoder arbitrary query strings: it never panics, what
// it accepts is in range (a canonical customer id, a positive item, a quantity of 0 or more),
// and what it refuses is a 422 in the seed's words naming one parameter.
func FuzzDecodeUpdateItem(f *testing.F) {
	for _, seed := range []string{
		"quantity=2&customer_id=9&cart_id=79532", // the seed's sample request
		"quantity=0&customer_id=9&cart_id=1",
		"quantity=6&cart_id=79532",
		"quantity=-1&customer_id=9&cart_id=1",
		"quantity=1.5&customer_id=09&cart_id=+7",
		"quantity=99999999999999999999&customer_id=9&cart_id=1",
		"customer_id[]=9&cart_id=ci_1&quantity=%00",
		"quantity=2&quantity=3&customer_id=9&customer_id=&cart_id=0",
		"%zz",
	} {
		f.Add(seed)
	}
	fields := []string{"customer_id", "cart_id", "quantity"}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // what a server reads of a bad query: the pairs that parse
		req, err := decodeUpdateItem(q)
		if err != nil {
			var e *cart.Error
			if !errors.As(err, &e) || e.Code != cart.Invalid || len(e.Fields) != 1 {
				t.Fatalf("%q: error %v is not a 422 naming one field", raw, err)
			}
			if !strings.HasPrefix(e.Message, "The ") || !strings.HasSuffix(e.Message, ".") {
				t.Fatalf("%q: message %q is not in the seed's words", raw, e.Message)
			}
			found := false
			for _, name := range fields {
				found = found || e.Fields[0].Field == name
			}
			if !found {
				t.Fatalf("%q: error names %q", raw, e.Fields[0].Field)
			}
			return
		}
		if n, err := strconv.ParseInt(req.CustomerID, 10, 64); err != nil || strconv.FormatInt(n, 10) != req.CustomerID {
			t.Fatalf("%q: customer id %q is not canonical", raw, req.CustomerID)
		}
		if req.ItemNum <= 0 || req.Quantity < 0 {
			t.Fatalf("%q: accepted item %d, quantity %d", raw, req.ItemNum, req.Quantity)
		}
		if got := strconv.FormatInt(req.Quantity, 10); got != strings.TrimLeft(strings.TrimPrefix(q.Get("quantity"), "+"), "0") && req.Quantity != 0 {
			t.Fatalf("%q: quantity %d read from %q", raw, req.Quantity, q.Get("quantity"))
		}
	})
}
