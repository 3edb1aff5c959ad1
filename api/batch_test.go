package api_test

import (
	"fmt"
	"slices"
	"testing"
)

func TestBatch(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 100, "A", "A2")
	s.mustProduct(t, "prod_b", 250, 100, "B")
	s.mustProduct(t, "prod_scarce", 700, 5, "SCARCE")
	s.putSettings(t, map[string]any{"max_quantity_per_item": 20})
	skus := []string{"A", "A2", "B", "SCARCE"}
	batch := func(id string, changes ...any) (string, map[string]any) {
		return "/v1/carts/" + id + "/items", map[string]any{"changes": changes}
	}
	// Every cart of s, for the stock checks: all of them hold stock of the same SKUs.
	var carts []string
	newCart := func(t *testing.T) string {
		id := s.mustCart(t)
		carts = append(carts, id)
		return id
	}

	t.Run("changes by item_id, sku and variant_id, sets and deltas, apply together in one version", func(t *testing.T) {
		id := newCart(t)
		a := s.mustAdd(t, id, "A", 2)
		b := s.mustAdd(t, id, "B", 1)
		before := s.getCart(t, id)
		path, body := batch(id,
			map[string]any{"item_id": a, "quantity": 5},
			map[string]any{"sku": "B", "quantity_delta": 2},
			map[string]any{"variant_id": "var_A2", "quantity": 3},
			map[string]any{"item_id": a, "quantity_delta": -1, "notes": "gift"},
			map[string]any{"sku": "A2", "metadata": map[string]any{"k": "v"}},
		)
		c := s.mustCartCall(t, 200, "PATCH", path, body)
		if c.Version != before.Version+1 {
			t.Errorf("version %d -> %d, want one step for the whole batch", before.Version, c.Version)
		}
		got := map[string]int64{}
		for _, it := range c.Items {
			got[it.SKU] = it.Quantity
		}
		if got["A"] != 4 || got["B"] != 3 || got["A2"] != 3 || len(c.Items) != 3 {
			t.Errorf("quantities = %v, want A 4, B 3, A2 3", got)
		}
		if it := c.item("A"); it.ID != a || it.Notes != "gift" {
			t.Errorf("A = %+v", it)
		}
		if it := c.item("B"); it.ID != b {
			t.Errorf("B changed line: %s, want %s", it.ID, b)
		}
		a2 := c.item("A2")
		if string(a2.Metadata) != `{"k":"v"}` {
			t.Errorf("A2 metadata = %s", a2.Metadata)
		}
		want := []string{"quantity_updated " + a, "quantity_updated " + b, "item_added " + a2.ID, "quantity_updated " + a, "item_updated " + a2.ID}
		if codes := messageCodesOf(c.Messages); !slices.Equal(codes, want) {
			t.Errorf("messages = %v, want one per change in order: %v", codes, want)
		}
		if got := s.getCart(t, id); got.Version != c.Version || got.ItemCount != 10 {
			t.Errorf("stored cart: version %d, item_count %d", got.Version, got.ItemCount)
		}
		s.checkReservations(t, skus, carts...)
	})

	t.Run("a change to 0 removes its line and a delta on a variant not in the cart adds it", func(t *testing.T) {
		id := newCart(t)
		b := s.mustAdd(t, id, "B", 2)
		path, body := batch(id, map[string]any{"item_id": b, "quantity": 0}, map[string]any{"sku": "A2", "quantity_delta": 2})
		c := s.mustCartCall(t, 200, "PATCH", path, body)
		if len(c.Items) != 1 || c.item("A2") == nil || c.item("A2").Quantity != 2 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("item_removed"); m == nil || m.ItemID != b {
			t.Errorf("messages = %+v", c.Messages)
		}
		s.checkReservations(t, skus, carts...)
	})

	t.Run("clamp and ignore apply per change", func(t *testing.T) {
		id := newCart(t)
		path, body := batch(id,
			map[string]any{"sku": "SCARCE", "quantity": 8, "stock_policy": "clamp"},
			map[string]any{"sku": "B", "quantity": 1})
		c := s.mustCartCall(t, 200, "PATCH", path, body)
		if it := c.item("SCARCE"); it == nil || it.Quantity != 5 || c.message("quantity_clamped") == nil {
			t.Errorf("cart = %+v", c)
		}
		path, body = batch(id, map[string]any{"sku": "SCARCE", "quantity_delta": 2, "validate_inventory": false})
		c = s.mustCartCall(t, 200, "PATCH", path, body)
		if it := c.item("SCARCE"); it.Quantity != 7 || it.ReservedQuantity != 5 || it.InventoryStatus != "backordered" {
			t.Errorf("SCARCE = %+v", it)
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		s.checkReservations(t, skus, carts...)
	})

	// Each batch is valid up to its change at index 2, which fails: nothing of it may apply.
	rejected := []struct {
		name   string
		change any
		status int
		code   string
		field  string
	}{
		{"a quantity over the limit", map[string]any{"sku": "B", "quantity": 21}, 422, "quantity_limit", "changes[2].quantity"},
		{"a delta over the limit", map[string]any{"sku": "A", "quantity_delta": 20}, 422, "quantity_limit", "changes[2].quantity_delta"},
		{"an unknown item", map[string]any{"item_id": "ci_999999", "quantity": 1}, 404, "item_not_found", "changes[2].item_id"},
		{"stock short under reject", map[string]any{"sku": "SCARCE", "quantity": 6}, 409, "insufficient_stock", "changes[2].quantity"},
		{"an unknown sku", map[string]any{"sku": "NOPE", "quantity": 1}, 422, "unknown_variant", "changes[2].sku"},
		{"an unknown variant_id", map[string]any{"variant_id": "var_nope", "quantity": 1}, 422, "unknown_variant", "changes[2].variant_id"},
		{"a new line without a quantity", map[string]any{"sku": "A2", "notes": "x"}, 422, "invalid_quantity", "changes[2].quantity"},
		{"quantity and quantity_delta", map[string]any{"sku": "B", "quantity": 1, "quantity_delta": 1}, 422, "conflicting_quantity", "changes[2].quantity_delta"},
		{"a zero delta", map[string]any{"sku": "B", "quantity_delta": 0}, 422, "invalid_quantity", "changes[2].quantity_delta"},
		{"a negative quantity", map[string]any{"sku": "B", "quantity": -1}, 422, "invalid_quantity", "changes[2].quantity"},
		{"nothing to change", map[string]any{"sku": "B"}, 422, "empty_update", "changes[2].quantity"},
		{"no line named", map[string]any{"quantity": 1}, 422, "missing_item", "changes[2].item_id"},
		{"two names for the line", map[string]any{"item_id": "ci_1", "sku": "B", "quantity": 1}, 422, "conflicting_item", "changes[2].sku"},
		{"an empty sku", map[string]any{"sku": "", "quantity": 1}, 422, "missing_item", "changes[2].sku"},
		{"a malformed item_id", map[string]any{"item_id": "cart_1", "quantity": 1}, 422, "invalid_item_id", "changes[2].item_id"},
		{"a quantity as a string", map[string]any{"sku": "B", "quantity": "1"}, 422, "invalid_type", "changes[2].quantity"},
		{"an unknown field", map[string]any{"sku": "B", "quantity": 1, "colour": "red"}, 422, "unknown_field", "changes[2].colour"},
		{"an unknown stock_policy", map[string]any{"sku": "B", "quantity": 1, "stock_policy": "maybe"}, 422, "invalid_stock_policy", "changes[2].stock_policy"},
		{"both stock policies", map[string]any{"sku": "B", "quantity": 1, "stock_policy": "clamp", "validate_inventory": true}, 422, "conflicting_stock_policy", "changes[2].validate_inventory"},
		{"notes over 1000 bytes", map[string]any{"sku": "B", "notes": string(make([]byte, 1001))}, 422, "notes_too_long", "changes[2].notes"},
		{"metadata that is not an object", map[string]any{"sku": "B", "metadata": []int{1}}, 422, "invalid_metadata", "changes[2].metadata"},
		{"a change that is not an object", []int{1}, 422, "invalid_type", "changes[2]"},
		{"a null change", nil, 422, "invalid_type", "changes[2]"},
	}
	for _, tt := range rejected {
		t.Run("a batch with "+tt.name+" at index 2 is "+fmt.Sprint(tt.status)+" naming it and changes nothing", func(t *testing.T) {
			id := newCart(t)
			a := s.mustAdd(t, id, "A", 2)
			s.mustAdd(t, id, "B", 1)
			path, body := batch(id,
				map[string]any{"item_id": a, "quantity_delta": 1},
				map[string]any{"sku": "SCARCE", "quantity": 1},
				tt.change,
				map[string]any{"sku": "B", "quantity": 3})
			p := s.mustReject(t, id, skus, tt.status, tt.code, "PATCH", path, s.Admin, body)
			if !slices.Equal(p.fields(), []string{tt.field}) {
				t.Errorf("errors name %v, want [%s]", p.fields(), tt.field)
			}
			if tt.status == 409 {
				if p.Available == nil || *p.Available != 5 || p.Cart == nil || p.Cart.item("SCARCE") != nil || p.Cart.item("A").Quantity != 2 {
					t.Errorf("a stock problem without available 5 and the unchanged cart: %+v", p)
				}
			}
		})
	}

	t.Run("a stock problem after a removal and an update carries the cart as it was", func(t *testing.T) {
		id := newCart(t)
		a := s.mustAdd(t, id, "A", 2)
		s.mustAdd(t, id, "B", 1)
		path, body := batch(id,
			map[string]any{"sku": "B", "quantity": 0},
			map[string]any{"item_id": a, "quantity": 4},
			map[string]any{"sku": "SCARCE", "quantity": 6})
		p := s.mustReject(t, id, skus, 409, "insufficient_stock", "PATCH", path, s.Admin, body)
		if p.Cart == nil || p.Cart.item("B") == nil || p.Cart.item("B").Quantity != 1 || p.Cart.item("A").Quantity != 2 || len(p.Cart.Items) != 2 {
			t.Errorf("the problem's cart is not the cart as it was (A 2, B 1): %+v", p.Cart)
		}
		if p.Cart != nil && len(p.Cart.Items) == 2 && p.Cart.Items[0].SKU != "A" {
			t.Errorf("the problem's cart lists its lines out of order: %+v", p.Cart.Items)
		}
	})

	t.Run("a change naming a line that became unavailable is 409 naming it", func(t *testing.T) {
		s.mustProduct(t, "prod_gone", 100, 10, "GONE")
		id := newCart(t)
		gone := s.mustAdd(t, id, "GONE", 1)
		s.mustAdd(t, id, "B", 1)
		s.mustCall(t, 204, "DELETE", "/v1/products/prod_gone", s.Admin, nil)
		path, body := batch(id, map[string]any{"sku": "B", "quantity": 2}, map[string]any{"item_id": gone, "quantity": 2})
		p := s.mustReject(t, id, []string{"B", "GONE"}, 409, "item_unavailable", "PATCH", path, s.Admin, body)
		if !slices.Equal(p.fields(), []string{"changes[1].item_id"}) || p.Cart == nil {
			t.Errorf("errors name %v, cart %v", p.fields(), p.Cart != nil)
		}
		path, body = batch(id, map[string]any{"item_id": gone, "quantity": 0})
		if c := s.mustCartCall(t, 200, "PATCH", path, body); len(c.UnavailableItems) != 0 {
			t.Errorf("the unavailable line was not removed: %+v", c.UnavailableItems)
		}
	})

	for _, tt := range []struct{ name, body, code string }{
		{"no changes", `{"changes": []}`, "empty_batch"},
		{"changes left out", `{}`, "missing_field"},
		{"null changes", `{"changes": null}`, "missing_field"},
		{"changes that are no list", `{"changes": {"sku": "B"}}`, "invalid_type"},
	} {
		t.Run("a batch with "+tt.name+" is 422 naming changes", func(t *testing.T) {
			id := newCart(t)
			s.mustAdd(t, id, "B", 1)
			p := s.mustReject(t, id, skus, 422, tt.code, "PATCH", "/v1/carts/"+id+"/items", s.Admin, tt.body)
			if !slices.Equal(p.fields(), []string{"changes"}) {
				t.Errorf("errors name %v", p.fields())
			}
		})
	}

	t.Run("a batch holds at most max_lines_per_cart changes", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_l", 100, 100, "L1", "L2", "L3", "L4")
		s2.putSettings(t, map[string]any{"max_lines_per_cart": 3})
		id := s2.mustCart(t)
		var changes []any
		for _, sku := range []string{"L1", "L2", "L3", "L1"} {
			changes = append(changes, map[string]any{"sku": sku, "quantity_delta": 1})
		}
		p := s2.mustReject(t, id, []string{"L1"}, 422, "too_many_changes", "PATCH", "/v1/carts/"+id+"/items", s2.Admin, map[string]any{"changes": changes})
		if !slices.Equal(p.fields(), []string{"changes"}) {
			t.Errorf("errors name %v", p.fields())
		}
		c := s2.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": changes[:3]})
		if c.UniqueItemCount != 3 {
			t.Errorf("unique_item_count = %d", c.UniqueItemCount)
		}
		// The line limit itself still holds within a batch.
		p = s2.mustReject(t, id, []string{"L4"}, 422, "too_many_lines", "PATCH", "/v1/carts/"+id+"/items", s2.Admin,
			map[string]any{"changes": []any{map[string]any{"sku": "L1", "quantity": 2}, map[string]any{"sku": "L4", "quantity": 1}}})
		if !slices.Equal(p.fields(), []string{"changes[1].sku"}) {
			t.Errorf("errors name %v", p.fields())
		}
	})

	t.Run("If-Match guards a batch", func(t *testing.T) {
		id := newCart(t)
		s.mustAdd(t, id, "B", 1)
		path, body := batch(id, map[string]any{"sku": "B", "quantity": 2})
		s.mustReject(t, id, skus, 412, "version_mismatch", "PATCH", path, s.Admin, body, "If-Match", `"1"`)
		s.mustCall(t, 200, "PATCH", path, s.Admin, body, "If-Match", `"2"`)
	})

	t.Run("another customer's cart is 404", func(t *testing.T) {
		id := newCart(t)
		tok := s.mustCall(t, 201, "POST", "/v1/customers/cust_x/tokens", s.Admin, nil).JSON(t)["token"].(string)
		path, body := batch(id, map[string]any{"sku": "B", "quantity": 2})
		s.mustReject(t, id, skus, 404, "cart_not_found", "PATCH", path, tok, body)
	})
}

// Invariant 2 for batches: concurrent batches on one cart, all acknowledged, lose nothing.
func TestConcurrentBatchesLoseNothing(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_x", 100, 10000, "X", "Y")
	id := s.mustCart(t)
	before := s.mustCartDoc(t, id)

	n := 40
	if underRace {
		n = 16
	}
	client := concurrentClient(t, n)
	runClients(n, func(i int) {
		r, err := concurrentDo(client, s, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": []any{
			map[string]any{"sku": "X", "quantity_delta": 1},
			map[string]any{"variant_id": "var_Y", "quantity_delta": 2},
		}})
		if err != nil {
			t.Errorf("client %d: %v", i, err)
			return
		}
		if r.Status != 200 {
			t.Errorf("client %d: status %d: %s", i, r.Status, r.Body)
			return
		}
		c, err := decodeCart(t, r)
		if err != nil {
			t.Errorf("client %d: %v", i, err)
			return
		}
		// Each batch is one step of a serial history.
		steps := c.Version - before.Version
		x, _ := c.item("X")
		y, _ := c.item("Y")
		if x.Quantity != steps || y.Quantity != 2*steps {
			t.Errorf("client %d: X %d and Y %d at version %d, want %d and %d", i, x.Quantity, y.Quantity, c.Version, steps, 2*steps)
		}
	})
	after := s.mustCartDoc(t, id)
	x, _ := after.item("X")
	y, _ := after.item("Y")
	if x.Quantity != int64(n) || y.Quantity != int64(2*n) || after.Version != before.Version+int64(n) || len(after.Items) != 2 {
		t.Errorf("after %d batches: X %d, Y %d, version %d -> %d, %d lines", n, x.Quantity, y.Quantity, before.Version, after.Version, len(after.Items))
	}
	if st := s.mustStock(t, "X"); st.Reserved != int64(n) {
		t.Errorf("X reserved %d, want %d", st.Reserved, n)
	}
	if st := s.mustStock(t, "Y"); st.Reserved != int64(2*n) {
		t.Errorf("Y reserved %d, want %d", st.Reserved, 2*n)
	}
}
