package api

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// FuzzListQuery holds the list endpoints' query decoding to the rules of the request
// decoders (decode_fuzz_test.go): it never panics, fails only with Invalid naming a field, and
// what it accepts is within the bounds the engine and stores rely on.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{
		"", "limit=50", "limit=500", "limit=501", "limit=0", "limit=-1", "limit=1e3", "limit=99999999999999999999",
		"starting_after=cart_42", "starting_after=cart_0", "starting_after=cart_-1", "starting_after=ci_7",
		"customer_id=&status=active&has_items=true", "has_items=1", "has_items=TRUE",
		"updated_after=2026-12-01T09:00:00Z", "updated_after=yesterday", "low_stock=0", "low_stock=-3",
		"limit=1&limit=2", "customer=x", "%zz", "q=%00", "sku_prefix=A%20B",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/v1/carts", nil)
		r.URL.RawQuery = raw
		q := newListQuery(r, "customer_id", "status", "updated_after", "has_items", "low_stock")
		limit := q.limit()
		before := q.cursor(cartPrefix)
		q.instant("updated_after")
		q.boolean("has_items")
		low := q.integer("low_stock", 0)
		err := q.err()
		if err == nil {
			if limit < 0 || limit > engine.MaxListLimit || before < 0 || (low != nil && *low < 0) {
				t.Fatalf("accepted %q: limit %d, cursor %d, low_stock %v", raw, limit, before, low)
			}
			return
		}
		var ce *cart.Error
		if !errors.As(err, &ce) || ce.Code != cart.Invalid || len(ce.Fields) == 0 {
			t.Fatalf("%q: error %v, want Invalid naming a field", raw, err)
		}
	})
}
