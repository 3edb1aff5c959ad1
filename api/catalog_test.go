package api_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// The catalog over HTTP (see api_test.go for the helpers every response goes through).

func TestCatalog(t *testing.T) {
	s := mustServer(t)

	t.Run("a product reads back as written, with its variants", func(t *testing.T) {
		body := map[string]any{"name": "Wireless Headphones", "brand": "Acme", "variants": []any{
			map[string]any{"id": "var_blue_large", "sku": "WH-BL", "price": map[string]int64{"USD": 9999},
				"options": []any{map[string]any{"name": "color", "value": "Blue"}, map[string]any{"name": "size", "value": "Large"}}},
			map[string]any{"id": "var_red", "sku": "WH-R", "price": map[string]int64{"USD": 9999, "EUR": 8999}, "active": false},
		}}
		s.mustPutProduct(t, "prod_123", body)
		start := time.Now().Add(-time.Minute)
		var p struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			Brand     string    `json:"brand"`
			CreatedAt time.Time `json:"created_at"`
			UpdatedAt time.Time `json:"updated_at"`
			Variants  []struct {
				ID     string           `json:"id"`
				SKU    string           `json:"sku"`
				Name   string           `json:"name"`
				Price  map[string]int64 `json:"price"`
				Active bool             `json:"active"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/v1/products/prod_123", s.Admin, nil).Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != "prod_123" || p.Name != "Wireless Headphones" || p.Brand != "Acme" || len(p.Variants) != 2 {
			t.Fatalf("product = %+v", p)
		}
		if v := p.Variants[0]; v.SKU != "WH-BL" || v.Name != "Blue - Large" || v.Price["USD"] != 9999 || !v.Active {
			t.Errorf("variant 0 = %+v", v)
		}
		if v := p.Variants[1]; v.SKU != "WH-R" || v.Active || v.Price["EUR"] != 8999 {
			t.Errorf("variant 1 = %+v", v)
		}
		if p.CreatedAt.Before(start) || p.UpdatedAt.Before(start) {
			t.Errorf("created_at %s, updated_at %s: want the time of the PUT", p.CreatedAt, p.UpdatedAt)
		}
		created := p.CreatedAt
		body["name"] = "Wireless Headphones 2"
		s.mustPutProduct(t, "prod_123", body)
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/v1/products/prod_123", s.Admin, nil).Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Name != "Wireless Headphones 2" || !p.CreatedAt.Equal(created) || p.UpdatedAt.Before(created) {
			t.Errorf("after a second PUT: name %q created_at %s (was %s) updated_at %s", p.Name, p.CreatedAt, created, p.UpdatedAt)
		}
	})

	t.Run("an inactive variant cannot be added", func(t *testing.T) {
		s.setStock(t, "WH-R", 10)
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"WH-R"}, 422, "variant_unavailable", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "WH-R"})
		s.setStock(t, "WH-BL", 10)
		s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "WH-BL"})
	})

	t.Run("a variant left out of a product's PUT becomes unavailable in carts", func(t *testing.T) {
		s.mustProduct(t, "prod_two", 100, 10, "TWO-1", "TWO-2")
		id := s.mustCart(t)
		s.mustAdd(t, id, "TWO-1", 1)
		s.mustAdd(t, id, "TWO-2", 2)
		s.mustPutProduct(t, "prod_two", map[string]any{"name": "Two", "variants": []any{
			map[string]any{"id": "var_TWO-1", "sku": "TWO-1", "price": map[string]int64{"USD": 100}}}})
		c := s.getCart(t, id)
		if len(c.Items) != 1 || c.Items[0].SKU != "TWO-1" || len(c.UnavailableItems) != 1 || c.UnavailableItems[0].SKU != "TWO-2" {
			t.Errorf("items %+v unavailable %+v", c.Items, c.UnavailableItems)
		}
		s.checkReservations(t, []string{"TWO-1", "TWO-2"}, id)
	})

	t.Run("an unknown product is 404", func(t *testing.T) {
		s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/prod_nope", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "", "DELETE", "/v1/products/prod_nope", s.Admin, nil)
	})

	t.Run("a deleted product is 404 and its items become unavailable", func(t *testing.T) {
		s.mustProduct(t, "prod_gone", 700, 10, "GONE")
		s.mustProduct(t, "prod_stays", 100, 10, "STAYS")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "GONE", 2)
		s.mustAdd(t, id, "STAYS", 1)
		s.mustCall(t, 204, "DELETE", "/v1/products/prod_gone", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/prod_gone", s.Admin, nil)
		c := s.getCart(t, id)
		if len(c.Items) != 1 || len(c.UnavailableItems) != 1 || c.UnavailableItems[0].ID != item {
			t.Fatalf("items %+v unavailable %+v", c.Items, c.UnavailableItems)
		}
		if c.Subtotal != 100 || c.ItemCount != 1 || c.UniqueItemCount != 1 {
			t.Errorf("the unavailable item counts: subtotal %d item_count %d", c.Subtotal, c.ItemCount)
		}
		s.mustReject(t, id, []string{"GONE"}, 422, "unknown_variant", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "GONE"})
		for _, body := range []map[string]any{{"quantity": 3}, {"quantity": 1}, {"quantity_delta": 1}} {
			p := s.mustReject(t, id, []string{"GONE"}, 409, "item_unavailable", "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			if p.Cart == nil {
				t.Errorf("%v: the 409 carries no cart", body)
			}
		}
		c = s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+item, nil)
		if len(c.UnavailableItems) != 0 || len(c.Items) != 1 {
			t.Errorf("after removal: %+v", c)
		}
		s.checkReservations(t, []string{"GONE", "STAYS"}, id)
	})

	invalid := []struct {
		name, id string
		body     string
		field    string
	}{
		{"a bad id", "bad.id", `{"name": "x", "variants": [{"id": "v_bad", "sku": "BAD1", "price": {"USD": 1}}]}`, "id"},
		{"no variants", "prod_nov", `{"name": "x", "variants": []}`, "variants"},
		{"no name", "prod_non", `{"variants": [{"id": "v_non", "sku": "NON", "price": {"USD": 1}}]}`, "name"},
		{"a duplicate SKU within the product", "prod_dup", `{"name": "x", "variants": [{"id": "v1", "sku": "DUP", "price": {"USD": 1}}, {"id": "v2", "sku": "DUP", "price": {"USD": 1}}]}`, "variants[1].sku"},
		{"a duplicate variant id", "prod_dupv", `{"name": "x", "variants": [{"id": "v1", "sku": "DV1", "price": {"USD": 1}}, {"id": "v1", "sku": "DV2", "price": {"USD": 1}}]}`, "variants[1].id"},
		{"a negative price", "prod_neg", `{"name": "x", "variants": [{"id": "v_neg", "sku": "NEG", "price": {"USD": -1}}]}`, "variants[0].price"},
		{"no price", "prod_nop", `{"name": "x", "variants": [{"id": "v_nop", "sku": "NOP"}]}`, "variants[0].price"},
		{"a bad currency", "prod_cur", `{"name": "x", "variants": [{"id": "v_cur", "sku": "CUR", "price": {"usd": 100}}]}`, "variants[0].price"},
		{"a tier below 2", "prod_tier", `{"name": "x", "variants": [{"id": "v_tier", "sku": "TIER", "price": {"USD": 100}, "tiers": [{"min_quantity": 1, "price": {"USD": 90}}]}]}`, "variants[0].tiers[0].min_quantity"},
		{"a tax rate over 100%", "prod_tax", `{"name": "x", "variants": [{"id": "v_tax", "sku": "TAX", "price": {"USD": 100}, "tax_rate": 10001}]}`, "variants[0].tax_rate"},
		{"a SKU with a space", "prod_sp", `{"name": "x", "variants": [{"id": "v_sp", "sku": "A B", "price": {"USD": 100}}]}`, "variants[0].sku"},
		{"a body id differing from the path", "prod_mis", `{"id": "prod_other", "name": "x", "variants": [{"id": "v_mis", "sku": "MIS", "price": {"USD": 1}}]}`, "id"},
	}
	for _, tt := range invalid {
		t.Run("a product with "+tt.name+" is 422 naming "+tt.field, func(t *testing.T) {
			p := s.mustReject(t, "", nil, 422, "", "PUT", "/v1/products/"+tt.id, s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
			s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/"+tt.id, s.Admin, nil)
		})
	}

	t.Run("a SKU of another product is 422", func(t *testing.T) {
		s.mustProduct(t, "prod_owner", 100, 1, "OWNED")
		p := s.mustReject(t, "", []string{"OWNED"}, 422, "duplicate_sku", "PUT", "/v1/products/prod_thief", s.Admin,
			`{"name": "x", "variants": [{"id": "v_thief", "sku": "OWNED", "price": {"USD": 1}}]}`)
		if !slices.Contains(p.fields(), "variants[0].sku") {
			t.Errorf("errors name %v", p.fields())
		}
	})

	t.Run("inventory takes absolute and relative changes", func(t *testing.T) {
		var st stockBody
		json.Unmarshal(s.mustCall(t, 200, "PUT", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand": 10}).Body, &st)
		if st.SKU != "INV" || st.OnHand != 10 || st.Reserved != 0 || st.Available != 10 {
			t.Errorf("after PUT: %+v", st)
		}
		json.Unmarshal(s.mustCall(t, 200, "PATCH", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand_delta": 5}).Body, &st)
		if st.OnHand != 15 || st.Available != 15 {
			t.Errorf("after PATCH +5: %+v", st)
		}
		json.Unmarshal(s.mustCall(t, 200, "PATCH", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand_delta": -3}).Body, &st)
		if st.OnHand != 12 {
			t.Errorf("after PATCH -3: %+v", st)
		}
		if got := s.stock(t, "INV"); got.OnHand != 12 || got.Available != 12 {
			t.Errorf("GET: %+v", got)
		}
	})

	inventoryInvalid := []struct {
		name, method, body, field string
	}{
		{"a negative on_hand", "PUT", `{"on_hand": -1}`, "on_hand"},
		{"a delta below zero stock", "PATCH", `{"on_hand_delta": -13}`, "on_hand"},
		{"on_hand_delta in a PUT", "PUT", `{"on_hand_delta": 1}`, "on_hand_delta"},
		{"on_hand in a PATCH", "PATCH", `{"on_hand": 1}`, "on_hand"},
		{"no on_hand", "PUT", `{}`, "on_hand"},
		{"an on_hand that overflows", "PUT", `{"on_hand": 99999999999999999999}`, "on_hand"},
		{"a delta that overflows the stock", "PATCH", `{"on_hand_delta": 9223372036854775807}`, "on_hand_delta"},
	}
	for _, tt := range inventoryInvalid {
		t.Run("inventory "+tt.method+" with "+tt.name+" is 422", func(t *testing.T) {
			p := s.mustReject(t, "", []string{"INV"}, 422, "", tt.method, "/v1/inventory/INV", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("lowering on_hand below reserved releases the newest reservations first", func(t *testing.T) {
		s.mustProduct(t, "prod_shrink", 100, 10, "SHRINK")
		older, newer := s.mustCart(t), s.mustCart(t)
		s.mustAdd(t, older, "SHRINK", 3)
		item := s.mustAdd(t, newer, "SHRINK", 4)
		olderV, newerV := s.getCart(t, older).Version, s.getCart(t, newer).Version
		var st stockBody
		json.Unmarshal(s.mustCall(t, 200, "PUT", "/v1/inventory/SHRINK", s.Admin, map[string]int64{"on_hand": 5}).Body, &st)
		if st.OnHand != 5 || st.Reserved != 5 || st.Available != 0 {
			t.Errorf("stock = %+v, want reserved cut to on_hand", st)
		}
		o, n := s.getCart(t, older), s.getCart(t, newer)
		if it := o.item("SHRINK"); it.ReservedQuantity != 3 || it.InventoryStatus != "in_stock" || o.Version != olderV {
			t.Errorf("the older cart lost stock: %+v (version %d -> %d)", it, olderV, o.Version)
		}
		it := n.item("SHRINK")
		if it.ID != item || it.Quantity != 4 || it.ReservedQuantity != 2 || it.InventoryStatus != "insufficient" {
			t.Errorf("the newer line = %+v, want quantity 4, reserved 2, insufficient", it)
		}
		if n.Version != newerV+1 {
			t.Errorf("the newer cart's version %d -> %d, want one up", newerV, n.Version)
		}
		s.checkReservations(t, []string{"SHRINK"}, older, newer)
		// Raising the line again is a stock check like any other.
		s.mustReject(t, newer, []string{"SHRINK"}, 409, "insufficient_stock", "PATCH", "/v1/carts/"+newer+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 1})
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+newer+"/items/"+item, map[string]any{"quantity": 2})
		if it := c.item("SHRINK"); it.ReservedQuantity != 2 || it.InventoryStatus != "in_stock" {
			t.Errorf("after lowering to what it holds: %+v", it)
		}
		s.checkReservations(t, []string{"SHRINK"}, older, newer)
	})

	t.Run("stock taken from a line entirely leaves it holding nothing and with no reservation time", func(t *testing.T) {
		s.mustProduct(t, "prod_vanish", 100, 3, "VANISH")
		id := s.mustCart(t)
		s.mustAdd(t, id, "VANISH", 3)
		before := s.getCart(t, id)
		s.mustCall(t, 200, "PUT", "/v1/inventory/VANISH", s.Admin, map[string]int64{"on_hand": 0})
		c := s.getCart(t, id)
		it := c.item("VANISH")
		if it == nil || it.Quantity != 3 || it.ReservedQuantity != 0 || it.InventoryStatus == "in_stock" {
			t.Fatalf("item = %+v", it)
		}
		if it.ReservedUntil != nil {
			t.Errorf("reserved_until = %s on a line that holds nothing, want null", *it.ReservedUntil)
		}
		if c.Version != before.Version+1 {
			t.Errorf("version %d -> %d, want one up", before.Version, c.Version)
		}
		s.checkReservations(t, []string{"VANISH"}, id)
	})

	t.Run("settings read back as written", func(t *testing.T) {
		s2 := mustServer(t)
		var st struct {
			DefaultCurrency    string                      `json:"default_currency"`
			PricesIncludeTax   bool                        `json:"prices_include_tax"`
			MaxQuantityPerItem int64                       `json:"max_quantity_per_item"`
			MaxLinesPerCart    int64                       `json:"max_lines_per_cart"`
			Shipping           map[string]map[string]int64 `json:"shipping"`
		}
		json.Unmarshal(s2.mustCall(t, 200, "GET", "/v1/settings", s2.Admin, nil).Body, &st)
		if st.DefaultCurrency != "USD" || st.MaxQuantityPerItem != 999 || st.MaxLinesPerCart != 1000 || st.PricesIncludeTax {
			t.Errorf("defaults = %+v", st)
		}
		s2.putSettings(t, map[string]any{"default_currency": "EUR", "max_quantity_per_item": 50, "shipping": map[string]any{"EUR": map[string]int64{"flat": 400}}})
		json.Unmarshal(s2.mustCall(t, 200, "GET", "/v1/settings", s2.Admin, nil).Body, &st)
		if st.DefaultCurrency != "EUR" || st.MaxQuantityPerItem != 50 || st.MaxLinesPerCart != 1000 || st.Shipping["EUR"]["flat"] != 400 {
			t.Errorf("after PUT = %+v", st)
		}
		for _, body := range []string{`{"default_currency": "ZZZ"}`, `{"max_quantity_per_item": 0}`, `{"max_lines_per_cart": -1}`,
			`{"shipping": {"usd": {"flat": 1}}}`, `{"shipping": {"USD": {"flat": -1}}}`, `{"prices_include_tax": "yes"}`} {
			s2.mustReject(t, "", nil, 422, "", "PUT", "/v1/settings", s2.Admin, body)
		}
	})

	t.Run("the per-cart line limit holds", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_l", 100, 10, "L1", "L2")
		s2.putSettings(t, map[string]any{"max_lines_per_cart": 1})
		id := s2.mustCart(t)
		s2.mustAdd(t, id, "L1", 1)
		s2.mustReject(t, id, []string{"L2"}, 422, "too_many_lines", "POST", "/v1/carts/"+id+"/items", s2.Admin, map[string]any{"sku": "L2"})
		s2.mustAdd(t, id, "L1", 1)
	})
}
