package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The native API's carts and their lines over HTTP (see api_test.go for the helpers every
// response goes through).

func TestCarts(t *testing.T) {
	s := mustServer(t)

	t.Run("a new cart is 201 at version 1 with the default currency and no customer", func(t *testing.T) {
		r := s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, nil)
		c := cartOf(t, r)
		if r.Header.Get("ETag") != `"1"` || c.Version != 1 {
			t.Errorf("ETag %s version %d, want \"1\" and 1", r.Header.Get("ETag"), c.Version)
		}
		if loc := r.Header.Get("Location"); loc != "/v1/carts/"+c.ID {
			t.Errorf("Location = %q, want /v1/carts/%s", loc, c.ID)
		}
		if !strings.HasPrefix(c.ID, "cart_") || c.Currency != "USD" || c.CustomerID != nil || c.Status != "active" {
			t.Errorf("cart = %+v", c)
		}
		if !strings.Contains(string(r.Body), `"customer_id":null`) {
			t.Errorf("customer_id is not null: %s", r.Body)
		}
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Total != 0 {
			t.Errorf("a new cart is not empty: %s", r.Body)
		}
	})

	t.Run("an empty JSON object also opens a cart with the defaults", func(t *testing.T) {
		c := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{})
		if c.Currency != "USD" {
			t.Errorf("currency = %s", c.Currency)
		}
	})

	t.Run("a cart takes its currency, customer and metadata from the request", func(t *testing.T) {
		c := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{
			"currency": "EUR", "customer_id": "cust_42", "metadata": map[string]any{"channel": "app"}})
		if c.Currency != "EUR" || c.CustomerID == nil || *c.CustomerID != "cust_42" {
			t.Errorf("cart = %+v", c)
		}
		var md map[string]any
		if err := json.Unmarshal(c.Metadata, &md); err != nil || md["channel"] != "app" {
			t.Errorf("metadata = %s", c.Metadata)
		}
		got := s.getCart(t, c.ID)
		if got.Currency != "EUR" || *got.CustomerID != "cust_42" || string(got.Metadata) != string(c.Metadata) {
			t.Errorf("stored cart = %+v", got)
		}
	})

	t.Run("the default currency follows the settings", func(t *testing.T) {
		s2 := mustServer(t)
		s2.putSettings(t, map[string]any{"default_currency": "JPY"})
		if c := s2.mustCartCall(t, 201, "POST", "/v1/carts", nil); c.Currency != "JPY" {
			t.Errorf("currency = %s, want JPY", c.Currency)
		}
	})

	invalid := []struct {
		name, body, field string
	}{
		{"an unknown currency is 422", `{"currency": "ZZZ"}`, "currency"},
		{"a lower-case currency is 422", `{"currency": "usd"}`, "currency"},
		{"an empty currency is 422", `{"currency": ""}`, "currency"},
		{"an empty customer_id is 422", `{"customer_id": ""}`, "customer_id"},
		{"metadata that is not an object is 422", `{"metadata": [1, 2]}`, "metadata"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			p := s.mustReject(t, "", nil, 422, "", "POST", "/v1/carts", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("a cart reads back as it was created", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.getCart(t, id)
		if c.ID != id || c.Version != 1 {
			t.Errorf("cart = %+v", c)
		}
	})

	for _, id := range []string{"cart_999999", "cart_abc", "cart_0", "cart_01", "cart_-1", "42", "ci_1", "cart_99999999999999999999"} {
		t.Run("getting cart "+id+" is 404", func(t *testing.T) {
			s.mustReject(t, "", nil, 404, "cart_not_found", "GET", "/v1/carts/"+id, s.Admin, nil)
		})
	}
}

func TestItems(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 100, "A", "A2")
	s.mustProduct(t, "prod_b", 250, 100, "B")

	t.Run("adding an item answers the cart holding it", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "A", "quantity": 2, "notes": "gift", "metadata": map[string]any{"k": "v"}})
		it := c.item("A")
		if it == nil || it.Quantity != 2 || it.UnitPrice != 1000 || it.Subtotal != 2000 || it.Notes != "gift" ||
			it.VariantID != "var_A" || it.ProductID != "prod_a" || !strings.HasPrefix(it.ID, "ci_") || it.InventoryStatus != "in_stock" {
			t.Fatalf("item = %+v", it)
		}
		if m := c.message("item_added"); m == nil || m.Type != "info" || m.ItemID != it.ID {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Version != 2 {
			t.Errorf("version = %d, want 2", c.Version)
		}
	})

	t.Run("adding a variant already in the cart adds to its line", func(t *testing.T) {
		id := s.mustCart(t)
		first := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "A", "quantity": 3})
		if len(c.Items) != 1 || c.Items[0].ID != first || c.Items[0].Quantity != 5 || c.UniqueItemCount != 1 || c.ItemCount != 5 {
			t.Errorf("after the second add: %+v", c.Items)
		}
		c = s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"variant_id": "var_A"})
		if len(c.Items) != 1 || c.Items[0].Quantity != 6 {
			t.Errorf("an add by variant_id without quantity adds 1 to the same line: %+v", c.Items)
		}
	})

	t.Run("an item can be added by variant_id", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"variant_id": "var_B", "quantity": 4})
		if it := c.item("B"); it == nil || it.Quantity != 4 || it.Subtotal != 1000 {
			t.Errorf("items = %+v", c.Items)
		}
	})

	addInvalid := []struct {
		name, body, field, code string
	}{
		{"an unknown SKU", `{"sku": "NOPE", "quantity": 1}`, "sku", "unknown_variant"},
		{"an unknown variant_id", `{"variant_id": "var_nope", "quantity": 1}`, "variant_id", "unknown_variant"},
		{"no sku nor variant_id", `{"quantity": 1}`, "sku", "missing_item"},
		{"an empty sku", `{"sku": "", "quantity": 1}`, "sku", "missing_item"},
		{"both sku and variant_id", `{"sku": "A", "variant_id": "var_A", "quantity": 1}`, "variant_id", "conflicting_item"},
		{"quantity 0", `{"sku": "A", "quantity": 0}`, "quantity", "invalid_quantity"},
		{"a negative quantity", `{"sku": "A", "quantity": -2}`, "quantity", "invalid_quantity"},
		{"quantity_delta, which add does not take", `{"sku": "A", "quantity_delta": 1}`, "quantity_delta", "unknown_field"},
		{"notes over 1000 bytes", `{"sku": "A", "notes": "` + strings.Repeat("n", 1001) + `"}`, "notes", "notes_too_long"},
		{"metadata that is not an object", `{"sku": "A", "metadata": "x"}`, "metadata", "invalid_metadata"},
	}
	for _, tt := range addInvalid {
		t.Run("adding with "+tt.name+" is 422 and changes nothing", func(t *testing.T) {
			id := s.mustCart(t)
			s.mustAdd(t, id, "A", 1)
			p := s.mustReject(t, id, []string{"A"}, 422, tt.code, "POST", "/v1/carts/"+id+"/items", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("PUT sets the quantity and notes as in the Stateset seed", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		s.mustAdd(t, id, "B", 1)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, `{
    "quantity": 3,
    "notes": "Updated quantity"
}`)
		it := c.item("A")
		if it == nil || it.ID != item || it.Quantity != 3 || it.Notes != "Updated quantity" || it.Subtotal != 3000 {
			t.Fatalf("item = %+v", it)
		}
		if len(c.Messages) != 1 || c.Messages[0].Type != "info" || c.Messages[0].Message != "Item quantity updated" {
			t.Errorf("messages = %+v, want the seed's one info message", c.Messages)
		}
		if c.ItemCount != 4 || c.UniqueItemCount != 2 || c.Subtotal != 3250 {
			t.Errorf("item_count %d unique %d subtotal %d", c.ItemCount, c.UniqueItemCount, c.Subtotal)
		}
		if got := s.getCart(t, id).item("A"); got.Quantity != 3 || got.Notes != "Updated quantity" {
			t.Errorf("stored item = %+v", got)
		}
	})

	t.Run("PUT quantity 0 removes the item", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 0})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("item_removed"); m == nil || m.ItemID != item {
			t.Errorf("messages = %+v", c.Messages)
		}
		s.mustReject(t, id, nil, 404, "item_not_found", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 1})
	})

	t.Run("PUT with only notes or metadata leaves the quantity alone", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"notes": "blue ribbon"})
		if it := c.item("A"); it.Quantity != 2 || it.Notes != "blue ribbon" {
			t.Errorf("item = %+v", it)
		}
		c = s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"metadata": map[string]any{"gift": true}})
		it := c.item("A")
		if it.Quantity != 2 || it.Notes != "blue ribbon" || !strings.Contains(string(it.Metadata), `"gift":true`) {
			t.Errorf("item = %+v", it)
		}
		if c.Version != 4 {
			t.Errorf("version = %d, want 4 (create, add, notes, metadata)", c.Version)
		}
		if st := s.stock(t, "A"); st.Reserved < 2 {
			t.Errorf("a notes edit dropped the reservation: %+v", st)
		}
	})

	t.Run("PATCH quantity_delta adds to the quantity", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 3})
		if it := c.item("A"); it.Quantity != 5 {
			t.Errorf("quantity = %d, want 5", it.Quantity)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": -1})
		if it := c.item("A"); it.Quantity != 4 {
			t.Errorf("quantity = %d, want 4", it.Quantity)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 7})
		if it := c.item("A"); it.Quantity != 7 {
			t.Errorf("PATCH quantity sets: %d, want 7", it.Quantity)
		}
	})

	for _, delta := range []int64{-7, -8} {
		t.Run(fmt.Sprintf("PATCH quantity_delta %d down to %d removes the item", delta, 7+delta), func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 7)
			c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": delta})
			if len(c.Items) != 0 || c.message("item_removed") == nil {
				t.Errorf("cart = %+v", c)
			}
		})
	}

	changeInvalid := []struct {
		name, method, body, field string
	}{
		{"PUT with quantity_delta", "PUT", `{"quantity_delta": 1}`, "quantity_delta"},
		{"PATCH with both quantity and quantity_delta", "PATCH", `{"quantity": 2, "quantity_delta": 1}`, "quantity_delta"},
		{"PATCH with quantity_delta 0", "PATCH", `{"quantity_delta": 0}`, "quantity_delta"},
		{"PUT with a negative quantity", "PUT", `{"quantity": -1}`, "quantity"},
		{"PUT with nothing to change", "PUT", `{}`, "quantity"},
		{"PATCH with a delta that overflows", "PATCH", `{"quantity_delta": 9223372036854775807}`, "quantity_delta"},
		{"PUT with validate_inventory and stock_policy", "PUT", `{"quantity": 2, "validate_inventory": true, "stock_policy": "clamp"}`, "validate_inventory"},
		{"PATCH with an unknown stock_policy", "PATCH", `{"quantity": 2, "stock_policy": "sometimes"}`, "stock_policy"},
	}
	for _, tt := range changeInvalid {
		t.Run(tt.name+" is 422 and changes nothing", func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 3)
			p := s.mustReject(t, id, []string{"A"}, 422, "", tt.method, "/v1/carts/"+id+"/items/"+item, s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("DELETE removes one item and releases its stock", func(t *testing.T) {
		id := s.mustCart(t)
		a := s.mustAdd(t, id, "A", 2)
		s.mustAdd(t, id, "B", 1)
		before := s.stock(t, "A")
		c := s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+a, nil)
		if len(c.Items) != 1 || c.item("B") == nil || c.message("item_removed") == nil {
			t.Errorf("cart = %+v", c)
		}
		if after := s.stock(t, "A"); after.Reserved != before.Reserved-2 {
			t.Errorf("reserved %d -> %d, want 2 released", before.Reserved, after.Reserved)
		}
	})

	t.Run("DELETE of all items empties the cart and releases its stock", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_a", 1000, 100, "A")
		s2.mustProduct(t, "prod_b", 250, 100, "B")
		id := s2.mustCart(t)
		s2.mustAdd(t, id, "A", 2)
		s2.mustAdd(t, id, "B", 3)
		c := s2.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Subtotal != 0 || c.Total != 0 || c.Version != 4 {
			t.Errorf("cart = %+v", c)
		}
		s2.checkReservations(t, []string{"A", "B"}, id)
		s2.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil) // emptying an empty cart is fine
	})

	t.Run("an unknown item is 404 for PUT, PATCH and DELETE", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "A", 1)
		other := s.mustCart(t)
		otherItem := s.mustAdd(t, other, "B", 1)
		for _, item := range []string{"ci_999999", "ci_abc", "ci_0", "A", otherItem} {
			for _, m := range []string{"PUT", "PATCH", "DELETE"} {
				var body any
				if m != "DELETE" {
					body = map[string]any{"quantity": 2}
				}
				s.mustReject(t, id, []string{"A", "B"}, 404, "item_not_found", m, "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			}
		}
	})

	t.Run("a change to an unknown cart is 404", func(t *testing.T) {
		s.mustReject(t, "", nil, 404, "cart_not_found", "POST", "/v1/carts/cart_999999/items", s.Admin, map[string]any{"sku": "A"})
		s.mustReject(t, "", nil, 404, "cart_not_found", "DELETE", "/v1/carts/cart_999999/items", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "cart_not_found", "PUT", "/v1/carts/cart_x/items/ci_1", s.Admin, map[string]any{"quantity": 1})
	})
}
