package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// Quantity rules, stock moves and rejected calls over HTTP (see api_test.go for the helpers
// every response goes through).

func TestQuantityRules(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_q", 500, 5, "Q")
	s.mustProduct(t, "prod_big", 100, 100000, "BIG")

	t.Run("above the per-item limit is 422 even under clamp", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_l", 100, 1000, "L")
		s2.putSettings(t, map[string]any{"max_quantity_per_item": 10})
		id := s2.mustCart(t)
		item := s2.mustAdd(t, id, "L", 10)
		for _, policy := range []string{"reject", "clamp", "ignore"} {
			p := s2.mustReject(t, id, []string{"L"}, 422, "quantity_limit", "PUT", "/v1/carts/"+id+"/items/"+item, s2.Admin, map[string]any{"quantity": 11, "stock_policy": policy})
			if !slices.Contains(p.fields(), "quantity") {
				t.Errorf("%s: errors name %v", policy, p.fields())
			}
			p = s2.mustReject(t, id, []string{"L"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s2.Admin, map[string]any{"sku": "L", "quantity": 1, "stock_policy": policy})
			if !slices.Equal(p.fields(), []string{"quantity"}) {
				t.Errorf("%s: an add's errors name %v, want the quantity it sent", policy, p.fields())
			}
		}
	})

	t.Run("the default limit is 999 per item", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"BIG"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "BIG", "quantity": 1000})
		s.mustReject(t, id, []string{"BIG"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "BIG", "quantity": int64(9223372036854775807)})
		s.mustAdd(t, id, "BIG", 999)
	})

	t.Run("reject above stock is 409 with the available quantity and the unchanged cart", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "Q", 2)
		before := s.getCart(t, id)
		for _, body := range []map[string]any{{"quantity": 6}, {"quantity": 6, "stock_policy": "reject"}, {"quantity": 6, "validate_inventory": true}} {
			p := s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			if p.Available == nil || *p.Available != 5 {
				t.Errorf("%v: available = %v, want 5 (3 free + the 2 the item holds)", body, p.Available)
			}
			if p.Cart == nil || p.Cart.Version != before.Version || p.Cart.item("Q").Quantity != 2 || p.Cart.Total != before.Total {
				t.Errorf("%v: problem's cart = %+v, want the unchanged cart", body, p.Cart)
			}
		}
		p := s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "quantity": 4})
		if !slices.Equal(p.fields(), []string{"quantity"}) || p.Available == nil || *p.Available != 5 {
			t.Errorf("an add above stock: errors name %v, available %v; want quantity and 5", p.fields(), p.Available)
		}
		p = s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 4})
		if !slices.Equal(p.fields(), []string{"quantity_delta"}) {
			t.Errorf("a delta above stock: errors name %v, want quantity_delta", p.fields())
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("clamp applies what is available with a warning naming requested, applied and available", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Q", "quantity": 8, "stock_policy": "clamp"})
		it := c.item("Q")
		if it == nil || it.Quantity != 5 || it.ReservedQuantity != 5 {
			t.Fatalf("item = %+v", it)
		}
		m := c.message("quantity_clamped")
		if m == nil || m.Type != "warning" || m.ItemID != it.ID || *m.Requested != 8 || *m.Applied != 5 || *m.Available != 5 {
			t.Fatalf("messages = %+v", c.Messages)
		}
		for _, n := range []string{"8", "5"} {
			if !strings.Contains(m.Message, n) {
				t.Errorf("message %q does not name %s", m.Message, n)
			}
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("clamp with nothing available adds nothing, with a warning", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_z", 100, 0, "Z")
		id := s2.mustCart(t)
		c := s2.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Z", "quantity": 2, "stock_policy": "clamp"})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("out_of_stock"); m == nil || m.Type != "warning" || *m.Requested != 2 || *m.Applied != 0 || *m.Available != 0 {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Version != 1 {
			t.Errorf("version = %d after a call that stored nothing, want 1", c.Version)
		}
		s2.checkReservations(t, []string{"Z"}, id)
	})

	t.Run("clamp with nothing available removes an existing line, with a warning", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_z", 100, 2, "Z")
		id := s2.mustCart(t)
		item := s2.mustAdd(t, id, "Z", 2)
		s2.setStock(t, "Z", 0) // takes the line's reservation away
		c := s2.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 1, "stock_policy": "clamp"})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("item_removed"); m == nil || m.Type != "warning" || *m.Requested != 3 || *m.Applied != 0 {
			t.Errorf("messages = %+v", c.Messages)
		}
		s2.checkReservations(t, []string{"Z"}, id)
	})

	t.Run("ignore backorders: the quantity stands and only what exists is reserved", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Q", "quantity": 8, "stock_policy": "ignore"})
		it := c.item("Q")
		if it == nil || it.Quantity != 8 || it.ReservedQuantity != 5 || it.InventoryStatus != "backordered" {
			t.Fatalf("item = %+v", it)
		}
		if m := c.message("backordered"); m == nil || m.Type != "warning" {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Subtotal != 8*500 {
			t.Errorf("subtotal = %d, want all 8 units", c.Subtotal)
		}
		if st := s.stock(t, "Q"); st.Reserved != 5 || st.Available != 0 || st.OnHand != 5 {
			t.Errorf("stock = %+v", st)
		}
		s.checkReservations(t, []string{"Q"}, id)
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("validate_inventory false backorders and true rejects", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "Q", 1)
		s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 7, "validate_inventory": true})
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 7, "validate_inventory": false})
		if it := c.item("Q"); it.Quantity != 7 || it.ReservedQuantity != 5 || it.InventoryStatus != "backordered" {
			t.Errorf("item = %+v", it)
		}
		s.checkReservations(t, []string{"Q"}, id)
		c = s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 6})
		if it := c.item("Q"); it.Quantity != 6 || it.ReservedQuantity != 5 {
			t.Errorf("lowering a backordered line under reject: %+v", it)
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		s.checkReservations(t, []string{"Q"}, id)
	})

	t.Run("validate_inventory together with stock_policy is 422", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"Q"}, 422, "conflicting_stock_policy", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "validate_inventory": false, "stock_policy": "ignore"})
	})

	t.Run("an unknown stock_policy is 422", func(t *testing.T) {
		id := s.mustCart(t)
		for _, p := range []string{"CLAMP", "backorder", " reject"} {
			s.mustReject(t, id, []string{"Q"}, 422, "invalid_stock_policy", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "stock_policy": p})
		}
	})
}

func TestStockMoves(t *testing.T) {
	t.Run("every change moves stock between available and reserved", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_a", 100, 10, "A")
		s.mustProduct(t, "prod_b", 100, 10, "B")
		skus := []string{"A", "B"}
		id, other := s.mustCart(t), s.mustCart(t)
		a := s.mustAdd(t, id, "A", 3)
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity": 5})
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity_delta": -2})
		s.checkReservations(t, skus, id, other)
		s.mustAdd(t, other, "A", 7)
		s.mustAdd(t, id, "B", 4)
		s.checkReservations(t, skus, id, other)
		if st := s.stock(t, "A"); st.Reserved != 10 || st.Available != 0 {
			t.Errorf("A = %+v, want all 10 reserved", st)
		}
		s.mustReject(t, id, skus, 409, "insufficient_stock", "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity_delta": 1})
		s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+a, s.Admin, nil)
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", s.Admin, nil)
		s.checkReservations(t, skus, id, other)
		if st := s.stock(t, "B"); st.Reserved != 0 || st.Available != 10 {
			t.Errorf("B = %+v, want everything released", st)
		}
	})

	t.Run("reserved_until is about now plus the reservation TTL", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_a", 100, 10, "A")
		id := s.mustCart(t)
		start := time.Now()
		s.mustAdd(t, id, "A", 1)
		it := s.getCart(t, id).item("A")
		if it.ReservedUntil == nil {
			t.Fatal("reserved_until is null with reservations on")
		}
		until, err := time.Parse(time.RFC3339Nano, *it.ReservedUntil)
		if err != nil {
			t.Fatal(err)
		}
		if d := until.Sub(start); d < 15*time.Minute-time.Minute || d > 15*time.Minute+time.Minute {
			t.Errorf("reserved_until = %s, %s after the add, want about 15m", *it.ReservedUntil, d)
		}
	})

	t.Run("with a reservation TTL of 0 nothing is reserved but stock is still checked", func(t *testing.T) {
		s := mustServer(t, serverOptions{ReservationTTL: 0})
		s.mustProduct(t, "prod_a", 100, 5, "A")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 3)
		it := s.getCart(t, id).item("A")
		if it.ReservedQuantity != 0 || it.ReservedUntil != nil || it.InventoryStatus != "in_stock" || it.AvailableQuantity != 5 {
			t.Errorf("item = %+v", it)
		}
		if st := s.stock(t, "A"); st.Reserved != 0 || st.Available != 5 {
			t.Errorf("stock = %+v", st)
		}
		p := s.mustReject(t, id, []string{"A"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 6})
		if p.Available == nil || *p.Available != 5 {
			t.Errorf("available = %v, want 5", p.Available)
		}
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 5})
		other := s.mustCart(t)
		s.mustAdd(t, other, "A", 5) // nothing is held, so another cart may take the same units
	})
}

// TestRejectedCallsChangeNothing drives a battery of rejected calls at one cart holding
// stock and holds each to invariant 4: the cart, its version and the stock stay as they were.
func TestRejectedCallsChangeNothing(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 5, "A")
	s.mustProduct(t, "prod_b", 100, 5, "B")
	s.putSettings(t, map[string]any{"max_quantity_per_item": 20})
	id := s.mustCart(t)
	a := s.mustAdd(t, id, "A", 2)
	s.mustAdd(t, id, "B", 1)
	readOnly := s.mustKey(t, auth.CartsRead)
	items := "/v1/carts/" + id + "/items"
	calls := []struct {
		name, method, path, cred string
		body                     any
		status                   int
		headers                  []string
	}{
		{"an add above stock", "POST", items, s.Admin, map[string]any{"sku": "A", "quantity": 4}, 409, nil},
		{"a set above stock", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 6}, 409, nil},
		{"a delta above stock", "PATCH", items + "/" + a, s.Admin, map[string]any{"quantity_delta": 4}, 409, nil},
		{"a set above the limit under clamp", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 21, "stock_policy": "clamp"}, 422, nil},
		{"a set above the limit under ignore", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 21, "validate_inventory": false}, 422, nil},
		{"an unknown SKU", "POST", items, s.Admin, map[string]any{"sku": "NOPE"}, 422, nil},
		{"a stale If-Match", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 1}, 412, []string{"If-Match", `"1"`}},
		{"a stale If-Match on clear", "DELETE", items, s.Admin, nil, 412, []string{"If-Match", `"1"`}},
		{"a read-only key", "DELETE", items, readOnly, nil, 403, nil},
		{"no credentials", "DELETE", items + "/" + a, "", nil, 401, nil},
		{"malformed JSON", "PUT", items + "/" + a, s.Admin, `{`, 400, nil},
		{"an overflowing quantity", "PUT", items + "/" + a, s.Admin, `{"quantity": 99999999999999999999}`, 422, nil},
		{"a text/plain body", "PUT", items + "/" + a, s.Admin, `{"quantity": 1}`, 415, []string{"Content-Type", "text/plain"}},
		{"an unknown item", "DELETE", items + "/ci_999999", s.Admin, nil, 404, nil},
		{"both quantity and delta", "PATCH", items + "/" + a, s.Admin, map[string]any{"quantity": 1, "quantity_delta": 1}, 422, nil},
	}
	for _, c := range calls {
		t.Run(c.name+" changes nothing", func(t *testing.T) {
			s.mustReject(t, id, []string{"A", "B"}, c.status, "", c.method, c.path, c.cred, c.body, c.headers...)
		})
	}
	s.checkReservations(t, []string{"A", "B"}, id)
}
