package api_test

import (
	"slices"
	"testing"
)

// Prices and totals over HTTP (see api_test.go for the helpers every response goes through).

func TestPrices(t *testing.T) {
	s := mustServer(t)

	t.Run("the unit price switches to a tier at its min_quantity", func(t *testing.T) {
		s.mustPutProduct(t, "prod_t", map[string]any{"name": "Tiered", "variants": []any{map[string]any{
			"id": "var_t", "sku": "T", "price": map[string]int64{"USD": 1000},
			"tiers": []any{
				map[string]any{"min_quantity": 10, "price": map[string]int64{"USD": 700}},
				map[string]any{"min_quantity": 5, "price": map[string]int64{"USD": 800}},
			}}}})
		s.setStock(t, "T", 100)
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "T", 4)
		steps := []struct {
			body      map[string]any
			qty, unit int64
		}{
			{map[string]any{"quantity_delta": 1}, 5, 800},
			{map[string]any{"quantity": 9}, 9, 800},
			{map[string]any{"quantity": 10}, 10, 700},
			{map[string]any{"quantity": 4}, 4, 1000},
		}
		for _, st := range steps {
			it := cartOf(t, s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, st.body)).item("T")
			if it.Quantity != st.qty || it.UnitPrice != st.unit || it.Subtotal != st.qty*st.unit || it.PriceWhenAdded != 1000 {
				t.Errorf("after %v: item = %+v, want %d at %d", st.body, it, st.qty, st.unit)
			}
		}
	})

	t.Run("a retail price gives retail_total and saved", func(t *testing.T) {
		s.mustPutProduct(t, "prod_r", map[string]any{"name": "Discounted", "variants": []any{map[string]any{
			"id": "var_r", "sku": "R", "price": map[string]int64{"USD": 1000}, "retail_price": map[string]int64{"USD": 1500}}}})
		s.setStock(t, "R", 100)
		s.mustProduct(t, "prod_plain", 300, 100, "P")
		id := s.mustCart(t)
		s.mustAdd(t, id, "R", 2)
		s.mustAdd(t, id, "P", 3)
		c := s.getCart(t, id)
		if it := c.item("R"); it.RetailPrice == nil || *it.RetailPrice != 1500 {
			t.Errorf("retail_price = %v", it.RetailPrice)
		}
		if it := c.item("P"); it.RetailPrice != nil {
			t.Errorf("a variant without retail price shows %d", *it.RetailPrice)
		}
		if c.Subtotal != 2900 || c.RetailTotal != 3900 || c.Saved != 1000 || c.ItemCount != 5 || c.UniqueItemCount != 2 {
			t.Errorf("subtotal %d retail_total %d saved %d item_count %d unique %d", c.Subtotal, c.RetailTotal, c.Saved, c.ItemCount, c.UniqueItemCount)
		}
	})

	t.Run("a variant with no price in the cart's currency cannot be added", func(t *testing.T) {
		s.mustPutProduct(t, "prod_usd", map[string]any{"name": "Dollars only", "variants": []any{map[string]any{
			"id": "var_usd", "sku": "USDONLY", "price": map[string]int64{"USD": 1000}}}})
		s.setStock(t, "USDONLY", 10)
		id := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, map[string]any{"currency": "JPY"})).ID
		p := s.mustReject(t, id, []string{"USDONLY"}, 422, "currency_unavailable", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "USDONLY"})
		if !slices.Contains(p.fields(), "sku") {
			t.Errorf("errors name %v", p.fields())
		}
	})

	t.Run("tax per line rounds half up and shipping is waived over its threshold", func(t *testing.T) {
		s2 := mustServer(t)
		s2.putSettings(t, map[string]any{"shipping": map[string]any{"USD": map[string]int64{"flat": 500, "free_over": 10000}}})
		s2.mustPutProduct(t, "prod_tax", map[string]any{"name": "Taxed", "variants": []any{
			map[string]any{"id": "var_g", "sku": "G", "price": map[string]int64{"USD": 505}, "tax_rate": 500},
			map[string]any{"id": "var_h", "sku": "H", "price": map[string]int64{"USD": 1000}, "tax_rate": 825},
			map[string]any{"id": "var_n", "sku": "N", "price": map[string]int64{"USD": 333}},
		}})
		for _, sku := range []string{"G", "H", "N"} {
			s2.setStock(t, sku, 100)
		}
		id := s2.mustCart(t)
		if c := s2.getCart(t, id); c.Shipping != 0 {
			t.Errorf("an empty cart has shipping %d", c.Shipping)
		}
		s2.mustAdd(t, id, "G", 2) // 1010 at 5% = 50.5 -> 51
		h := s2.mustAdd(t, id, "H", 1)
		s2.mustAdd(t, id, "N", 1)
		c := s2.getCart(t, id)
		if g := c.item("G"); g.Tax != 51 || g.Total != 1061 {
			t.Errorf("G tax %d total %d, want 51 and 1061", g.Tax, g.Total)
		}
		if hh := c.item("H"); hh.Tax != 83 { // 1000 at 8.25% = 82.5 -> 83
			t.Errorf("H tax %d, want 83", hh.Tax)
		}
		if n := c.item("N"); n.Tax != 0 {
			t.Errorf("N tax %d, want 0", n.Tax)
		}
		if c.Subtotal != 2343 || c.Tax != 134 || c.Shipping != 500 || c.Total != 2343+134+500 {
			t.Errorf("subtotal %d tax %d shipping %d total %d", c.Subtotal, c.Tax, c.Shipping, c.Total)
		}
		c = cartOf(t, s2.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+h, s2.Admin, map[string]any{"quantity": 9}))
		// H: 9000 at 8.25% = 742.5 -> 743; subtotal 1010 + 9000 + 333 = 10343, over 10000.
		if c.Subtotal != 10343 || c.Tax != 51+743 || c.Shipping != 0 || c.Total != 10343+794 {
			t.Errorf("subtotal %d tax %d shipping %d total %d", c.Subtotal, c.Tax, c.Shipping, c.Total)
		}
	})
}
