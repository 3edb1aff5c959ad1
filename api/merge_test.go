package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// mergedBody is what the tests read of a cart beyond cartBody: where it was merged into.
type mergedBody struct {
	Status     string  `json:"status"`
	MergedInto *string `json:"merged_into"`
}

func mergedOf(tb testing.TB, r response) mergedBody {
	tb.Helper()
	var m mergedBody
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("cart body: %v: %s", err, r.Body)
	}
	return m
}

// mustToken issues a customer token.
func (s *testServer) mustToken(tb testing.TB, customerID string) string {
	tb.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(s.mustCall(tb, 201, "POST", "/v1/customers/"+customerID+"/tokens", s.Admin, nil).Body, &tok); err != nil {
		tb.Fatal(err)
	}
	return tok.Token
}

// mustCustomerCart opens a USD cart of a customer and returns its id.
func (s *testServer) mustCustomerCart(tb testing.TB, customerID string) string {
	tb.Helper()
	return s.mustCartCall(tb, 201, "POST", "/v1/carts", map[string]any{"customer_id": customerID, "currency": "USD"}).ID
}

// merge merges cart from into cart into and returns the target as answered.
func (s *testServer) merge(tb testing.TB, from, into string, headers ...string) cartBody {
	tb.Helper()
	return s.mustCartCall(tb, 200, "POST", "/v1/carts/"+from+"/merge", map[string]any{"into": into}, headers...)
}

// messages returns the messages with the code.
func (c cartBody) messages(code string) []messageBody {
	var out []messageBody
	for _, m := range c.Messages {
		if m.Code == code {
			out = append(out, m)
		}
	}
	return out
}

// wantClosed fails unless cart id is merged into cart into, holds nothing and refuses changes.
func (s *testServer) wantClosed(tb testing.TB, id, into string, itemIDs ...string) {
	tb.Helper()
	r := s.mustCall(tb, 200, "GET", "/v1/carts/"+id, s.Admin, nil)
	c, m := cartOf(tb, r), mergedOf(tb, r)
	if m.Status != "merged" || m.MergedInto == nil || *m.MergedInto != into {
		tb.Errorf("cart %s: status %s merged_into %v, want merged into %s", id, m.Status, m.MergedInto, into)
	}
	if len(c.Items) != 0 || len(c.UnavailableItems) != 0 || c.ItemCount != 0 || c.Total != 0 {
		tb.Errorf("merged cart %s still holds lines: %s", id, r.Body)
	}
	for _, item := range itemIDs {
		s.mustReject(tb, id, nil, 409, "cart_not_active", "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 1})
		s.mustReject(tb, id, nil, 409, "cart_not_active", "DELETE", "/v1/carts/"+id+"/items/"+item, s.Admin, nil)
	}
	s.mustReject(tb, id, nil, 409, "cart_not_active", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"})
	s.mustReject(tb, id, nil, 409, "cart_not_active", "DELETE", "/v1/carts/"+id+"/items", s.Admin, nil)
	s.mustReject(tb, id, nil, 409, "cart_not_active", "PATCH", "/v1/carts/"+id, s.Admin, map[string]any{"metadata": map[string]any{"k": 1}})
	s.mustReject(tb, id, nil, 409, "cart_not_active", "POST", "/v1/carts/"+id+"/merge", s.Admin, map[string]any{"into": into})
	s.mustReject(tb, into, nil, 409, "cart_not_active", "POST", "/v1/carts/"+into+"/merge", s.Admin, map[string]any{"into": id})
}

func TestMerge(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 1000, "A")
	s.mustProduct(t, "prod_b", 250, 1000, "B")

	t.Run("quantities of one variant are added and the other lines move", func(t *testing.T) {
		into, from := s.mustCustomerCart(t, "cust_sum"), s.mustCart(t)
		kept := s.mustAdd(t, into, "A", 2)
		s.mustAdd(t, from, "A", 3)
		moved := s.mustAdd(t, from, "B", 4)
		before := s.getCart(t, into)
		stockA, stockB := s.stock(t, "A"), s.stock(t, "B")

		c := s.merge(t, from, into)
		if c.ID != into || c.Version != before.Version+1 {
			t.Errorf("answered cart %s at version %d, want %s at %d", c.ID, c.Version, into, before.Version+1)
		}
		a, b := c.item("A"), c.item("B")
		if a == nil || a.ID != kept || a.Quantity != 5 || a.ReservedQuantity != 5 || a.Subtotal != 5000 {
			t.Errorf("line A = %+v, want item %s with 5 held", a, kept)
		}
		if b == nil || b.ID == moved || b.Quantity != 4 || b.ReservedQuantity != 4 {
			t.Errorf("line B = %+v, want a new line of the target with 4 held", b)
		}
		if len(c.Messages) == 0 || c.Messages[0].Code != "cart_merged" {
			t.Errorf("messages = %+v, want cart_merged first", c.Messages)
		}
		merged := c.messages("item_merged")
		if len(merged) != 2 || merged[0].ItemID != kept || *merged[0].Requested != 5 || *merged[0].Applied != 5 || merged[1].ItemID != b.ID {
			t.Errorf("item_merged messages = %+v, want one per line naming the target's items", merged)
		}
		if now := s.stock(t, "A"); now.Reserved != stockA.Reserved || now.OnHand != stockA.OnHand {
			t.Errorf("stock of A %+v -> %+v: a merge moves reservations, it does not change their sum", stockA, now)
		}
		if now := s.stock(t, "B"); now.Reserved != stockB.Reserved {
			t.Errorf("stock of B %+v -> %+v", stockB, now)
		}
		s.checkReservations(t, []string{"A", "B"}, into, from)
		s.wantClosed(t, from, into, moved)
		if got := s.getCart(t, into); got.Version != c.Version || got.ItemCount != 9 {
			t.Errorf("stored target = %+v, want the answered one", got)
		}
	})

	t.Run("what the target cannot hold stays behind, with warnings naming the target's items", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_s", 100, 10, "S")
		s2.mustProduct(t, "prod_l", 100, 1000, "L")
		s2.mustProduct(t, "prod_z", 100, 2, "Z")
		s2.putSettings(t, map[string]any{"max_quantity_per_item": 10})
		into, from := s2.mustCustomerCart(t, "cust_clamp"), s2.mustCart(t)
		short := s2.mustAdd(t, into, "S", 4)
		s2.mustAdd(t, from, "S", 6)
		limited := s2.mustAdd(t, into, "L", 6)
		s2.mustAdd(t, from, "L", 6)
		s2.mustAdd(t, from, "Z", 2)
		// The shelf count drops: the newest reservations (the source's) are cut first, so the
		// source's S line holds 4 of its 6 and its Z line nothing.
		s2.setStock(t, "S", 8)
		s2.setStock(t, "Z", 0)

		c := s2.merge(t, from, into)
		if it := c.item("S"); it == nil || it.ID != short || it.Quantity != 8 || it.ReservedQuantity != 8 {
			t.Errorf("line S = %+v, want 8 held: all there is", it)
		}
		if it := c.item("L"); it == nil || it.ID != limited || it.Quantity != 10 {
			t.Errorf("line L = %+v, want the per-item limit of 10", it)
		}
		if it := c.item("Z"); it != nil {
			t.Errorf("line Z = %+v, want none: none is left", it)
		}
		clamped := c.messages("quantity_clamped")
		if len(clamped) != 2 {
			t.Fatalf("quantity_clamped messages = %+v, want 2", clamped)
		}
		for _, m := range clamped {
			want := map[string][3]int64{short: {10, 8, 8}, limited: {12, 10, 1000}}[m.ItemID]
			if m.Type != "warning" || m.Requested == nil || m.Applied == nil || m.Available == nil ||
				[3]int64{*m.Requested, *m.Applied, *m.Available} != want {
				t.Errorf("message %+v, want item %s (of %s, %s) with requested, applied, available %v", m, m.ItemID, short, limited, want)
			}
		}
		if m := c.message("out_of_stock"); m == nil || m.ItemID != "" || *m.Requested != 2 || *m.Applied != 0 {
			t.Errorf("messages = %+v, want out_of_stock for Z naming no item", c.Messages)
		}
		s2.checkReservations(t, []string{"S", "L", "Z"}, into, from)
		if st := s2.stock(t, "S"); st.Reserved != 8 || st.Available != 0 {
			t.Errorf("stock of S = %+v", st)
		}
		s2.wantClosed(t, from, into)
	})

	t.Run("a backordered target line keeps its backorder, and the source's backorder stays behind", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_bo", 100, 5, "BO")
		into, from := s2.mustCustomerCart(t, "cust_bo"), s2.mustCart(t)
		s2.mustCartCall(t, 200, "POST", "/v1/carts/"+into+"/items", map[string]any{"sku": "BO", "quantity": 4, "stock_policy": "ignore"})
		s2.mustCartCall(t, 200, "POST", "/v1/carts/"+from+"/items", map[string]any{"sku": "BO", "quantity": 3, "stock_policy": "ignore"})
		c := s2.merge(t, from, into)
		it := c.item("BO")
		if it == nil || it.Quantity != 5 || it.ReservedQuantity != 5 || it.InventoryStatus != "in_stock" {
			t.Errorf("line = %+v, want 5 held: the 4 it had and what stock allows of the rest", it)
		}
		if m := c.message("quantity_clamped"); m == nil || *m.Requested != 7 || *m.Applied != 5 {
			t.Errorf("messages = %+v", c.Messages)
		}
		s2.checkReservations(t, []string{"BO"}, into, from)

		// A target line short by a backorder: it keeps its quantity and flag, and takes what the
		// source releases.
		s2.mustProduct(t, "prod_bo2", 100, 4, "BO2")
		into, from = s2.mustCustomerCart(t, "cust_bo2"), s2.mustCart(t)
		item := s2.mustAdd(t, into, "BO2", 2)
		s2.mustAdd(t, from, "BO2", 1)
		s2.mustCartCall(t, 200, "PATCH", "/v1/carts/"+into+"/items/"+item, map[string]any{"quantity": 6, "stock_policy": "ignore"})
		c = s2.merge(t, from, into)
		if it := c.item("BO2"); it == nil || it.Quantity != 6 || it.ReservedQuantity != 4 || it.InventoryStatus != "backordered" {
			t.Errorf("line = %+v, want its 6, backordered, holding the 4 there are", it)
		}
		if m := c.message("quantity_clamped"); m == nil || m.ItemID != item || *m.Requested != 7 || *m.Applied != 6 {
			t.Errorf("messages = %+v", c.Messages)
		}
		s2.checkReservations(t, []string{"BO2"}, into, from)
	})

	t.Run("an unavailable line is not moved and its stock is released", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_keep", 100, 10, "KEEP")
		s2.mustProduct(t, "prod_gone", 100, 10, "GONE")
		into, from := s2.mustCustomerCart(t, "cust_gone"), s2.mustCart(t)
		s2.mustAdd(t, from, "KEEP", 1)
		s2.mustAdd(t, from, "GONE", 3)
		s2.mustCall(t, 204, "DELETE", "/v1/products/prod_gone", s2.Admin, nil)
		c := s2.merge(t, from, into)
		if len(c.Items) != 1 || c.item("KEEP") == nil || len(c.UnavailableItems) != 0 {
			t.Errorf("target = %+v, want only KEEP", c)
		}
		if m := c.message("item_unavailable"); m == nil || m.Type != "warning" || *m.Requested != 3 || *m.Applied != 0 || !strings.Contains(m.Message, "GONE") {
			t.Errorf("messages = %+v, want item_unavailable for GONE", c.Messages)
		}
		if st := s2.stock(t, "GONE"); st.Reserved != 0 {
			t.Errorf("stock of GONE = %+v, want its reservation released", st)
		}
		s2.checkReservations(t, []string{"KEEP", "GONE"}, into, from)
		s2.wantClosed(t, from, into)
	})

	t.Run("a new line beyond the target's line limit is not moved", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_m", 100, 10, "M1", "M2", "M3", "M4")
		s2.putSettings(t, map[string]any{"max_lines_per_cart": 3})
		into, from := s2.mustCustomerCart(t, "cust_lines"), s2.mustCart(t)
		s2.mustAdd(t, into, "M1", 1)
		s2.mustAdd(t, into, "M4", 1)
		s2.mustAdd(t, from, "M1", 1)
		s2.mustAdd(t, from, "M2", 1)
		s2.mustAdd(t, from, "M3", 1)
		c := s2.merge(t, from, into)
		if len(c.Items) != 3 || c.item("M1").Quantity != 2 || c.item("M2") == nil {
			t.Errorf("target items = %+v", c.Items)
		}
		if m := c.message("too_many_lines"); m == nil || !strings.Contains(m.Message, "M3") {
			t.Errorf("messages = %+v, want too_many_lines for M3", c.Messages)
		}
		s2.checkReservations(t, []string{"M1", "M2", "M3", "M4"}, into, from)
	})

	t.Run("with Prefer: return=minimal a merge answers the target's lines it changed", func(t *testing.T) {
		into, from := s.mustCustomerCart(t, "cust_min"), s.mustCart(t)
		untouched := s.mustAdd(t, into, "B", 1)
		kept := s.mustAdd(t, into, "A", 1)
		s.mustAdd(t, from, "A", 2)
		m := s.mustMinimal(t, 200, "POST", "/v1/carts/"+from+"/merge", map[string]any{"into": into})
		if m.ID != into || len(m.Items) != 1 || m.Items[0].ID != kept || m.Items[0].Quantity != 3 || len(m.RemovedItemIDs) != 0 {
			t.Errorf("minimal answer = %+v, want only item %s (not %s)", m, kept, untouched)
		}
		guest := s.mustCart(t)
		s.mustAdd(t, guest, "B", 1)
		m = s.mustMinimal(t, 200, "PATCH", "/v1/carts/"+guest, map[string]any{"customer_id": "cust_min"})
		if m.ID != into || len(m.Items) != 1 || m.Items[0].ID != untouched || m.Items[0].Quantity != 2 {
			t.Errorf("minimal answer of a sign-in = %+v, want only item %s", m, untouched)
		}
	})

	t.Run("a merge stores the target's new catalog prices, as any write of it", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_p", 1000, 100, "P")
		into, from := s2.mustCustomerCart(t, "cust_price"), s2.mustCart(t)
		s2.mustAdd(t, into, "P", 1)
		s2.mustAdd(t, from, "P", 1)
		s2.mustProduct(t, "prod_p", 1200, 100, "P")
		c := s2.merge(t, from, into)
		if m := c.message("price_changed"); m == nil || c.item("P").UnitPrice != 1200 || c.item("P").Quantity != 2 {
			t.Errorf("target = %+v, want the new price stored with a price_changed message", c)
		}
		if got := s2.getCart(t, into); got.message("price_changed") != nil {
			t.Errorf("a read after the merge still reports a price change: %+v", got.Messages)
		}
	})

	t.Run("an empty cart merges without changing the target", func(t *testing.T) {
		into, from := s.mustCustomerCart(t, "cust_empty"), s.mustCart(t)
		s.mustAdd(t, into, "A", 1)
		before := s.getCart(t, into)
		c := s.merge(t, from, into)
		if c.Version != before.Version || len(c.Messages) != 1 || c.Messages[0].Code != "cart_merged" {
			t.Errorf("target = %+v, want it unchanged with one cart_merged message", c)
		}
		s.wantClosed(t, from, into)
	})

	t.Run("with reservations off a merge checks stock and holds nothing", func(t *testing.T) {
		s2 := mustServer(t, serverOptions{})
		s2.mustProduct(t, "prod_n", 100, 5, "N")
		into, from := s2.mustCustomerCart(t, "cust_n"), s2.mustCart(t)
		s2.mustAdd(t, into, "N", 3)
		s2.mustAdd(t, from, "N", 4)
		c := s2.merge(t, from, into)
		if it := c.item("N"); it == nil || it.Quantity != 5 || it.ReservedQuantity != 0 {
			t.Errorf("line = %+v, want 5 (all there is), holding nothing", it)
		}
		if st := s2.stock(t, "N"); st.Reserved != 0 {
			t.Errorf("stock = %+v", st)
		}
	})

	t.Run("carts of two currencies do not merge", func(t *testing.T) {
		into := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{"currency": "EUR"}).ID
		s.mustAdd(t, into, "A", 1)
		from := s.mustCart(t)
		s.mustAdd(t, from, "A", 1)
		target := s.snapshot(t, into)
		p := s.mustReject(t, from, []string{"A"}, 422, "currency_mismatch", "POST", "/v1/carts/"+from+"/merge", s.Admin, map[string]any{"into": into})
		if !slices.Contains(p.fields(), "into") {
			t.Errorf("errors name %v, want into", p.fields())
		}
		target.unchanged(t)
	})

	t.Run("a cart does not merge into itself", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "A", 1)
		s.mustReject(t, id, []string{"A"}, 422, "merge_into_self", "POST", "/v1/carts/"+id+"/merge", s.Admin, map[string]any{"into": id})
	})

	t.Run("a bad target is 422 or 404 and changes nothing", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "A", 1)
		for _, tt := range []struct {
			body         any
			status       int
			code, reason string
		}{
			{map[string]any{}, 422, "missing_field", "no into"},
			{map[string]any{"into": "42"}, 422, "invalid_cart_id", "a bare number"},
			{map[string]any{"into": 42}, 422, "invalid_type", "a number"},
			{map[string]any{"into": "cart_999999"}, 404, "cart_not_found", "an unknown cart"},
			{map[string]any{"into": "cart_1", "also": 1}, 422, "unknown_field", "an unknown field"},
		} {
			s.mustReject(t, id, []string{"A"}, tt.status, tt.code, "POST", "/v1/carts/"+id+"/merge", s.Admin, tt.body)
		}
		s.mustReject(t, "", nil, 404, "cart_not_found", "POST", "/v1/carts/cart_999999/merge", s.Admin, map[string]any{"into": id})
	})

	t.Run("a stale If-Match on the source is 412 with the source, and changes nothing", func(t *testing.T) {
		into, from := s.mustCustomerCart(t, "cust_412"), s.mustCart(t)
		s.mustAdd(t, into, "A", 1)
		s.mustAdd(t, from, "A", 2)
		target := s.snapshot(t, into)
		source := s.getCart(t, from)
		// The target's version is no precondition of the merge: only the source's counts.
		for _, stale := range []string{`"1"`, fmt.Sprintf(`"%d"`, source.Version+1), "W/" + fmt.Sprintf(`"%d"`, source.Version)} {
			p := s.mustReject(t, from, []string{"A"}, 412, "version_mismatch", "POST", "/v1/carts/"+from+"/merge", s.Admin, map[string]any{"into": into}, "If-Match", stale)
			if p.Cart == nil || p.Cart.ID != from || *p.Version != source.Version {
				t.Errorf("412 carries %+v, want the source at version %d", p.Cart, source.Version)
			}
		}
		target.unchanged(t)
		c := s.merge(t, from, into, "If-Match", fmt.Sprintf(`"%d"`, source.Version))
		if it := c.item("A"); it.Quantity != 3 {
			t.Errorf("after a matching If-Match: %+v", it)
		}
	})

	t.Run("a customer token merges its own carts, and no other's", func(t *testing.T) {
		alice, bob := s.mustToken(t, "alice_m"), s.mustToken(t, "bob_m")
		a1 := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", alice, nil)).ID
		a2 := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", alice, nil)).ID
		b1 := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", bob, nil)).ID
		guest := s.mustCart(t)
		for _, id := range []string{a1, a2, b1, guest} {
			s.mustAdd(t, id, "A", 1)
		}
		other := s.snapshot(t, b1)
		for _, tt := range []struct{ from, into string }{{a1, b1}, {b1, a1}, {guest, a1}, {a1, guest}} {
			s.mustReject(t, tt.from, []string{"A"}, 404, "cart_not_found", "POST", "/v1/carts/"+tt.from+"/merge", alice, map[string]any{"into": tt.into})
		}
		other.unchanged(t)
		c := cartOf(t, s.mustCall(t, 200, "POST", "/v1/carts/"+a1+"/merge", alice, map[string]any{"into": a2}))
		if c.ID != a2 || c.item("A").Quantity != 2 {
			t.Errorf("alice's merge = %+v", c)
		}
		s.mustReject(t, "", nil, 403, "missing_scope", "POST", "/v1/carts/"+a2+"/merge", s.mustKey(t, "carts:read"), map[string]any{"into": a1})
	})
}

func TestCartPatch(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 1000, "A")
	s.mustProduct(t, "prod_b", 250, 1000, "B")

	t.Run("a guest cart goes into the customer's most recently active cart", func(t *testing.T) {
		older, newer := s.mustCustomerCart(t, "cust_p1"), s.mustCustomerCart(t, "cust_p1")
		s.mustAdd(t, newer, "B", 1)
		item := s.mustAdd(t, older, "A", 1) // now the more recently active
		guest := s.mustCart(t)
		s.mustAdd(t, guest, "A", 2)
		s.mustAdd(t, guest, "B", 1)
		untouched := s.snapshot(t, newer)

		r := s.mustCall(t, 200, "PATCH", "/v1/carts/"+guest, s.Admin, map[string]any{"customer_id": "cust_p1"})
		c := cartOf(t, r)
		if c.ID != older || c.item("A").ID != item || c.item("A").Quantity != 3 || c.item("B").Quantity != 1 {
			t.Errorf("answered %+v, want cart %s with the guest's lines", c, older)
		}
		if c.message("cart_merged") == nil || len(c.messages("item_merged")) != 2 {
			t.Errorf("messages = %+v", c.Messages)
		}
		untouched.unchanged(t)
		s.wantClosed(t, guest, older)
		if m := mergedOf(t, s.mustCall(t, 200, "GET", "/v1/carts/"+guest, s.Admin, nil)); m.Status != "merged" {
			t.Errorf("guest cart %+v", m)
		}
		if got := s.getCart(t, guest); got.CustomerID == nil || *got.CustomerID != "cust_p1" {
			t.Errorf("the merged guest cart's customer = %v, want cust_p1", got.CustomerID)
		}
		s.checkReservations(t, []string{"A", "B"}, older, newer, guest)
	})

	t.Run("a guest cart of a customer without a cart becomes theirs", func(t *testing.T) {
		closed := s.mustCustomerCart(t, "cust_p2")
		s.merge(t, closed, s.mustCart(t)) // the customer's only cart is no longer active
		guest := s.mustCart(t)
		s.mustAdd(t, guest, "A", 2)
		before := s.getCart(t, guest)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+guest, map[string]any{"customer_id": "cust_p2"})
		if c.ID != guest || c.CustomerID == nil || *c.CustomerID != "cust_p2" || c.Version != before.Version+1 || c.item("A").Quantity != 2 {
			t.Errorf("cart = %+v", c)
		}
		if m := c.message("customer_assigned"); m == nil || m.Type != "info" {
			t.Errorf("messages = %+v", c.Messages)
		}
		tok := s.mustToken(t, "cust_p2")
		s.mustCall(t, 200, "GET", "/v1/carts/"+guest, tok, nil)
		// It is now the customer's cart: the next guest cart goes into it.
		next := s.mustCart(t)
		s.mustAdd(t, next, "A", 1)
		if c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+next, map[string]any{"customer_id": "cust_p2"}); c.ID != guest || c.item("A").Quantity != 3 {
			t.Errorf("second sign-in answered %+v", c)
		}
	})

	t.Run("naming the customer a cart has changes nothing", func(t *testing.T) {
		id := s.mustCustomerCart(t, "cust_p3")
		other := s.mustCustomerCart(t, "cust_p3")
		s.mustAdd(t, other, "A", 1)
		sn := s.snapshot(t, id)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id, map[string]any{"customer_id": "cust_p3"})
		if c.ID != id || len(c.Messages) != 0 {
			t.Errorf("cart = %+v", c)
		}
		sn.unchanged(t)
	})

	t.Run("metadata is replaced, and null clears it", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id, map[string]any{"metadata": map[string]any{"channel": "app"}})
		if !strings.Contains(string(c.Metadata), `"channel":"app"`) || c.Version != 2 || c.CustomerID != nil {
			t.Errorf("cart = %+v", c)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id, `{"metadata": null}`)
		if string(c.Metadata) != "{}" || c.Version != 3 {
			t.Errorf("cart = %+v", c)
		}
	})

	t.Run("metadata sent with a sign-in stays with the cart named", func(t *testing.T) {
		into, guest := s.mustCustomerCart(t, "cust_p4"), s.mustCart(t)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+guest, map[string]any{"customer_id": "cust_p4", "metadata": map[string]any{"from": "login"}})
		if c.ID != into || strings.Contains(string(c.Metadata), "login") {
			t.Errorf("target = %+v", c)
		}
		if g := s.getCart(t, guest); !strings.Contains(string(g.Metadata), "login") {
			t.Errorf("guest cart metadata = %s", g.Metadata)
		}
	})

	t.Run("refused changes change nothing", func(t *testing.T) {
		owned := s.mustCustomerCart(t, "cust_p5")
		s.mustAdd(t, owned, "A", 1)
		guest := s.mustCart(t)
		s.mustAdd(t, guest, "A", 1)
		euro := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{"currency": "EUR"}).ID
		s.mustAdd(t, euro, "A", 1)
		tok := s.mustToken(t, "cust_p5")
		path := func(id string) string { return "/v1/carts/" + id }
		for _, tt := range []struct {
			name, cart, credential string
			body                   any
			status                 int
			code                   string
			headers                []string
		}{
			{"another customer", owned, s.Admin, map[string]any{"customer_id": "cust_other"}, 409, "customer_already_set", nil},
			{"a token naming another customer", owned, tok, map[string]any{"customer_id": "cust_other"}, 403, "customer_mismatch", nil},
			{"a token on a guest cart", guest, tok, map[string]any{"customer_id": "cust_p5"}, 404, "cart_not_found", nil},
			{"a sign-in mixing currencies", euro, s.Admin, map[string]any{"customer_id": "cust_p5"}, 422, "currency_mismatch", nil},
			{"an empty customer_id", guest, s.Admin, map[string]any{"customer_id": ""}, 422, "invalid_customer_id", nil},
			{"a customer_id with a control character", guest, s.Admin, map[string]any{"customer_id": "a\u0001b"}, 422, "invalid_customer_id", nil},
			{"nothing to change", guest, s.Admin, map[string]any{}, 422, "empty_update", nil},
			{"metadata that is not an object", guest, s.Admin, map[string]any{"metadata": []int{1}}, 422, "invalid_metadata", nil},
			{"an unknown field", guest, s.Admin, map[string]any{"status": "completed"}, 422, "unknown_field", nil},
			{"a stale If-Match", guest, s.Admin, map[string]any{"customer_id": "cust_p5"}, 412, "version_mismatch", []string{"If-Match", `"1"`}},
			{"a read-only key", guest, s.mustKey(t, "carts:read"), map[string]any{"customer_id": "cust_p5"}, 403, "missing_scope", nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				other := s.snapshot(t, owned, "A")
				s.mustReject(t, tt.cart, []string{"A"}, tt.status, tt.code, "PATCH", path(tt.cart), tt.credential, tt.body, tt.headers...)
				other.unchanged(t)
			})
		}
		s.mustReject(t, "", nil, 404, "cart_not_found", "PATCH", "/v1/carts/cart_999999", s.Admin, map[string]any{"customer_id": "x"})
	})
}

// Invariants 1 and 2 while guest carts merge into one customer cart and clients change both
// sides: every acknowledged delta is in the final quantity, whichever cart it went to, and the
// SKUs' reservations equal what the items hold.
func TestMergeUnderConcurrentChanges(t *testing.T) {
	const (
		plenty = "CM-1" // never short: every unit is accounted for
		scarce = "CM-2" // short: merges and deltas clamp
		guests = 8
		start  = 50 // each line's starting quantity, so -1 deltas never remove a line
	)
	deltas := 12 // per client
	if underRace {
		deltas = 5
	}
	s := mustServer(t)
	s.mustProduct(t, "prod_cm1", 300, 1_000_000, plenty)
	s.mustProduct(t, "prod_cm2", 700, 200, scarce)
	s.putSettings(t, map[string]any{"max_quantity_per_item": 100_000})
	target := s.mustCustomerCart(t, "cust_concurrent")
	targetItem := s.mustAdd(t, target, plenty, start)
	s.mustAdd(t, target, scarce, 10)
	guestIDs := make([]string, guests)
	guestItems := make([]string, guests)
	for i := range guestIDs {
		guestIDs[i] = s.mustCart(t)
		guestItems[i] = s.mustAdd(t, guestIDs[i], plenty, start)
		s.mustAdd(t, guestIDs[i], scarce, 10)
	}

	client := concurrentClient(t, 3*guests+2)
	var (
		mu      sync.Mutex
		ackedT  int64          // acknowledged deltas on the target's plenty line
		ackedG  [guests]int64  // and on each guest's
		mergedG [guests]string // how each guest was merged
	)
	delta := func(rng *rand.Rand, cartID, itemID string) (int64, bool) {
		d := int64(1)
		if rng.IntN(2) == 0 {
			d = -1
		}
		r, err := concurrentDo(client, s, "PATCH", "/v1/carts/"+cartID+"/items/"+itemID, map[string]int64{"quantity_delta": d})
		if err != nil {
			t.Errorf("delta on %s: %v", cartID, err)
			return 0, false
		}
		switch r.Status {
		case 200:
			if _, err := decodeCart(t, r); err != nil {
				t.Error(err)
			}
			return d, true
		case 409: // the cart was merged meanwhile
			if p, err := decodeProblem(t, r); err != nil || p.Code != "cart_not_active" || cartID == target {
				t.Errorf("delta on %s: 409 %s", cartID, r.Body)
			}
			return 0, false
		}
		t.Errorf("delta on %s: status %d: %s", cartID, r.Status, r.Body)
		return 0, false
	}
	// scarceChange adds to or takes from a cart's scarce line under clamp; *item is the line as
	// last seen ("" for none). A line clamped away is 404 and a merged cart 409 afterwards.
	scarceChange := func(rng *rand.Rand, cartID string, item *string) {
		method, path, body := "POST", "/v1/carts/"+cartID+"/items", map[string]any{"sku": scarce, "quantity": 1 + rng.IntN(4), "stock_policy": "clamp"}
		if *item != "" && rng.IntN(2) == 0 {
			method, path, body = "PATCH", path+"/"+*item, map[string]any{"quantity_delta": -1 - rng.IntN(3), "stock_policy": "clamp"}
		}
		r, err := concurrentDo(client, s, method, path, body)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		switch r.Status {
		case 200:
			c, err := decodeCart(t, r)
			if err != nil {
				t.Error(err)
			}
			it, _ := c.item(scarce)
			*item = it.ID
		case 404, 409:
			*item = ""
		default:
			t.Errorf("%s %s: status %d: %s", method, path, r.Status, r.Body)
		}
	}
	runClients(3*guests+2, func(i int) {
		rng := rand.New(rand.NewPCG(uint64(i), 0x6e7e))
		var scarceItem string
		switch {
		case i < guests: // changes a guest cart until it is merged
			for range deltas {
				if d, ok := delta(rng, guestIDs[i], guestItems[i]); ok {
					mu.Lock()
					ackedG[i] += d
					mu.Unlock()
				}
				scarceChange(rng, guestIDs[i], &scarceItem)
			}
		case i < 2*guests: // changes the target, then merges a guest into it, then goes on
			g := i - guests
			for op := range deltas {
				if op == deltas/2 {
					var r response
					var err error
					how := "merge"
					if g%2 == 0 {
						r, err = concurrentDo(client, s, "POST", "/v1/carts/"+guestIDs[g]+"/merge", map[string]any{"into": target})
					} else {
						how = "sign-in"
						r, err = concurrentDo(client, s, "PATCH", "/v1/carts/"+guestIDs[g], map[string]any{"customer_id": "cust_concurrent"})
					}
					if err != nil || r.Status != 200 {
						t.Errorf("%s of guest %d: %v %d %s", how, g, err, r.Status, r.Body)
						continue
					}
					c, err := decodeCart(t, r)
					if err != nil || c.ID != target {
						t.Errorf("%s of guest %d answered %s: %v", how, g, c.ID, err)
					}
					mu.Lock()
					mergedG[g] = how
					mu.Unlock()
				}
				if d, ok := delta(rng, target, targetItem); ok {
					mu.Lock()
					ackedT += d
					mu.Unlock()
				}
			}
		default: // scarce changes on the target only
			for range 2 * deltas {
				scarceChange(rng, target, &scarceItem)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("deltas acknowledged: %+d on the target, %v on the guests", ackedT, ackedG)

	want := start + ackedT
	for g := range guests {
		if mergedG[g] == "" {
			t.Fatalf("guest %d was not merged", g)
		}
		want += start + ackedG[g]
		s.wantClosed(t, guestIDs[g], target)
	}
	c := s.mustCartDoc(t, target)
	it, ok := c.item(plenty)
	if !ok || it.ID != targetItem || it.Quantity != want || it.ReservedQuantity != want {
		t.Errorf("target line %+v, want item %s with %d held: the starting quantities and every acknowledged delta", it, targetItem, want)
	}
	s.checkReservations(t, []string{plenty, scarce}, append(guestIDs, target)...)
	if st := s.stock(t, scarce); st.Reserved > st.OnHand || st.OnHand != 200 {
		t.Errorf("stock of %s = %+v", scarce, st)
	}
}
