package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Prices above 10^12 minor units are refused where they come in, so that a stored cart can
// always be read (docs/limits-and-ranges.md).
func TestPricesAboveTheirRangeAreRefused(t *testing.T) {
	s := mustServer(t)
	variant := func(field string, amount int64) map[string]any {
		v := map[string]any{"id": "var_big", "sku": "BIG", "price": map[string]any{"USD": 100}}
		switch field {
		case "price":
			v["price"] = map[string]any{"USD": amount}
		case "retail_price":
			v["retail_price"] = map[string]any{"USD": amount}
		case "tiers":
			v["tiers"] = []any{map[string]any{"min_quantity": 2, "price": map[string]any{"USD": amount}}}
		}
		return map[string]any{"name": "Big", "variants": []any{v}}
	}
	for _, c := range []struct {
		field  string
		amount int64
	}{{"price", 1_000_000_000_001}, {"price", 1_000_000_000_000_000}, {"price", 9_000_000_000_000_000_000},
		{"retail_price", 1_000_000_000_001}, {"tiers", 1_000_000_000_001}} {
		r := s.do(t, "PUT", "/v1/products/prod_big", s.Admin, variant(c.field, c.amount)).mustStatus(t, 422)
		if !strings.Contains(string(r.Body), "variants[0]."+c.field) {
			t.Errorf("%s %d: the refusal does not name the field: %s", c.field, c.amount, r.Body)
		}
	}
	s.do(t, "GET", "/v1/products/prod_big", s.Admin, nil).mustStatus(t, 404)
	s.do(t, "PUT", "/v1/products/prod_big", s.Admin, variant("price", 1_000_000_000_000)).mustStatus(t, 200)

	s.do(t, "PUT", "/v1/promotions/HUGE", s.Admin, map[string]any{"type": "cash", "amount": map[string]any{"USD": 1_000_000_000_001}}).mustStatus(t, 422)
	s.do(t, "PUT", "/v1/settings", s.Admin, map[string]any{"shipping": map[string]any{"USD": map[string]any{"flat": 1_000_000_000_001}}}).mustStatus(t, 422)

	ndjson := `{"type":"product","id":"p_huge","name":"Huge","variants":[{"id":"v_huge","sku":"HUGE","price":{"USD":1000000000000000},"on_hand":1}]}
`
	sum := decodeSummary(t, s.do(t, "POST", "/v1/catalog/import", s.Admin, ndjson, "Content-Type", ndjsonType).mustStatus(t, 200))
	if sum.Imported != 0 || len(sum.Errors) != 1 || !strings.Contains(sum.Errors[0].Message, "price") {
		t.Fatalf("import of a price of 10^15: %+v, want the row refused", sum)
	}
}

// A change that would take a figure of a cart above 2^53-1 is refused with 422
// amount_out_of_range and changes nothing; one that brings a cart already above it (a tax
// rate raised since) down is taken.
func TestFiguresStayWithinWhatEveryClientReadsExactly(t *testing.T) {
	s := mustServer(t)
	s.do(t, "PUT", "/v1/settings", s.Admin, map[string]any{"max_quantity_per_item": 100000, "prices_include_tax": false}).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/products/prod_max", s.Admin, map[string]any{"name": "Max", "variants": []any{
		map[string]any{"id": "var_max", "sku": "MAX", "price": map[string]any{"USD": 1_000_000_000_000}}}}).mustStatus(t, 200)
	s.do(t, "PUT", "/v1/inventory/MAX", s.Admin, map[string]any{"on_hand": 100000}).mustStatus(t, 200)
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "MAX", 9007) // 9,007,000,000,000,000: just under 2^53-1
	before := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200)

	r := s.do(t, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 1}).mustStatus(t, 422)
	if !strings.Contains(string(r.Body), `"code":"amount_out_of_range"`) || !strings.Contains(string(r.Body), "9007199254740991") {
		t.Fatalf("refusal = %s", r.Body)
	}
	if after := s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200); string(after.Body) != string(before.Body) {
		t.Fatalf("a refused change changed the cart:\n%s\nwas\n%s", after.Body, before.Body)
	}
	var stock struct {
		Reserved int64 `json:"reserved"`
	}
	if err := json.Unmarshal(s.do(t, "GET", "/v1/inventory/MAX", s.Admin, nil).mustStatus(t, 200).Body, &stock); err != nil || stock.Reserved != 9007 {
		t.Fatalf("stock reserved %d after a refused change, want 9007 (%v)", stock.Reserved, err)
	}

	// A tax rate raised since takes the cart above the bound; the shopper can still shrink it,
	// but not grow it.
	s.do(t, "PUT", "/v1/products/prod_max", s.Admin, map[string]any{"name": "Max", "variants": []any{
		map[string]any{"id": "var_max", "sku": "MAX", "price": map[string]any{"USD": 1_000_000_000_000}, "tax_rate": 100}}}).mustStatus(t, 200)
	s.do(t, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 1}).mustStatus(t, 422)
	s.do(t, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": -1}).mustStatus(t, 200)
}
