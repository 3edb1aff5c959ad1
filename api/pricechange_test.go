package api_test

import (
	"slices"
	"testing"
)

// messagesWith returns a cart's messages with the code.
func (c cartBody) messagesWith(code string) []messageBody {
	var out []messageBody
	for _, m := range c.Messages {
		if m.Code == code {
			out = append(out, m)
		}
	}
	return out
}

// priceChanges lists a cart's price_changed messages as item id -> [old, new].
func priceChanges(tb testing.TB, c cartBody) map[string][2]int64 {
	tb.Helper()
	out := map[string][2]int64{}
	for _, m := range c.messagesWith("price_changed") {
		if m.Type != "warning" || m.OldPrice == nil || m.NewPrice == nil || m.ItemID == "" || m.Message == "" {
			tb.Fatalf("incomplete price_changed message: %+v", m)
		}
		out[m.ItemID] = [2]int64{*m.OldPrice, *m.NewPrice}
	}
	return out
}

func TestPriceChanges(t *testing.T) {
	s := mustServer(t)
	pens := func(p1, tier1, p2 int64) map[string]any {
		return map[string]any{"name": "Pens", "variants": []any{
			map[string]any{"id": "var_p1", "sku": "P1", "price": map[string]int64{"USD": p1},
				"tiers": []any{map[string]any{"min_quantity": 5, "price": map[string]int64{"USD": tier1}}}},
			map[string]any{"id": "var_p2", "sku": "P2", "price": map[string]int64{"USD": p2}},
		}}
	}
	s.mustPutProduct(t, "prod_pens", pens(1000, 800, 500))
	s.setStock(t, "P1", 100)
	s.setStock(t, "P2", 100)
	s.mustProduct(t, "prod_q", 300, 100, "Q")

	id := s.mustCart(t)
	p1 := s.mustAdd(t, id, "P1", 2)
	p2 := s.mustAdd(t, id, "P2", 1)
	q := s.mustAdd(t, id, "Q", 1)

	t.Run("a cart whose prices did not change reports nothing", func(t *testing.T) {
		if c := s.getCart(t, id); len(c.Messages) != 0 {
			t.Errorf("messages = %+v", c.Messages)
		}
	})

	before := s.getCart(t, id)
	s.mustPutProduct(t, "prod_pens", pens(1200, 900, 550))

	t.Run("every read reports each changed line with its old and new price, at the new price", func(t *testing.T) {
		for range 2 {
			c := s.getCart(t, id)
			want := map[string][2]int64{p1: {1000, 1200}, p2: {500, 550}}
			if got := priceChanges(t, c); len(got) != 2 || got[p1] != want[p1] || got[p2] != want[p2] {
				t.Errorf("price changes = %v, want %v", got, want)
			}
			if c.Version != before.Version {
				t.Errorf("a catalog change bumped the cart's version %d -> %d; it is stored at the next write", before.Version, c.Version)
			}
			if it := c.item("P1"); it.UnitPrice != 1200 || it.Subtotal != 2400 || it.PriceWhenAdded != 1000 {
				t.Errorf("P1 = %+v, want the totals at the new price", it)
			}
			if c.Subtotal != 2400+550+300 {
				t.Errorf("subtotal = %d", c.Subtotal)
			}
		}
	})

	t.Run("a rejected write stores nothing, and its problem's cart reports the changes too", func(t *testing.T) {
		p := s.mustReject(t, id, []string{"P1", "P2", "Q"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+q, s.Admin, map[string]any{"quantity": 101})
		if p.Cart == nil || len(priceChanges(t, *p.Cart)) != 2 {
			t.Errorf("problem cart = %+v", p.Cart)
		}
	})

	t.Run("a write elsewhere in the cart reports the changes and stores them", func(t *testing.T) {
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+q, map[string]any{"notes": "blue"})
		if got := priceChanges(t, c); len(got) != 2 || got[p1] != [2]int64{1000, 1200} || got[p2] != [2]int64{500, 550} {
			t.Errorf("price changes = %v", got)
		}
		if c.message("item_updated") == nil || c.Version != before.Version+1 {
			t.Errorf("messages %v, version %d -> %d", messageCodesOf(c.Messages), before.Version, c.Version)
		}
		after := s.getCart(t, id)
		if len(after.Messages) != 0 {
			t.Errorf("the read after the write still reports %v", messageCodesOf(after.Messages))
		}
		if it := after.item("P1"); it.UnitPrice != 1200 || it.PriceWhenAdded != 1000 {
			t.Errorf("P1 = %+v, want unit_price 1200 and price_when_added still 1000", it)
		}
		if after.Version != c.Version {
			t.Errorf("version %d after the write, %d on the next read", c.Version, after.Version)
		}
	})

	t.Run("moving a line to another tier is no price change", func(t *testing.T) {
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+p1, map[string]any{"quantity": 5})
		if it := c.item("P1"); it.UnitPrice != 900 || len(c.messagesWith("price_changed")) != 0 {
			t.Errorf("P1 = %+v, messages %v", it, messageCodesOf(c.Messages))
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+p1, map[string]any{"quantity": 4})
		if it := c.item("P1"); it.UnitPrice != 1200 || len(c.messagesWith("price_changed")) != 0 {
			t.Errorf("P1 = %+v, messages %v", it, messageCodesOf(c.Messages))
		}
		if c := s.getCart(t, id); len(c.Messages) != 0 {
			t.Errorf("messages = %v", messageCodesOf(c.Messages))
		}
	})

	t.Run("a tier price change is a price change of the lines at that tier", func(t *testing.T) {
		s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+p1, map[string]any{"quantity": 6})
		s.mustPutProduct(t, "prod_pens", pens(1200, 850, 550))
		c := s.getCart(t, id)
		if got := priceChanges(t, c); len(got) != 1 || got[p1] != [2]int64{900, 850} {
			t.Errorf("price changes = %v, want P1 900 -> 850", got)
		}
	})

	t.Run("with return=minimal a write answers the repriced lines as changed", func(t *testing.T) {
		s.mustPutProduct(t, "prod_pens", pens(1200, 850, 600))
		m := s.mustMinimal(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+q, map[string]any{"notes": "green"})
		ids := itemIDs(m.Items)
		slices.Sort(ids)
		want := []string{p1, p2, q}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("items %v, want the repriced P1 and P2 and the changed Q", ids)
		}
		if codes := messageCodesOf(m.Messages); !slices.Equal(codes, []string{"price_changed " + p1, "price_changed " + p2, "item_updated " + q}) {
			t.Errorf("messages = %v", codes)
		}
	})

	t.Run("an unavailable line reports no price change", func(t *testing.T) {
		s.mustProduct(t, "prod_off", 100, 10, "OFF")
		id := s.mustCart(t)
		s.mustAdd(t, id, "OFF", 1)
		s.mustPutProduct(t, "prod_off", map[string]any{"name": "Off", "variants": []any{map[string]any{
			"id": "var_OFF", "sku": "OFF", "price": map[string]int64{"USD": 200}, "active": false}}})
		c := s.getCart(t, id)
		if codes := messageCodesOf(c.Messages); len(c.UnavailableItems) != 1 || !slices.Equal(codes, []string{"item_unavailable " + c.UnavailableItems[0].ID}) {
			t.Errorf("cart = %+v, want only item_unavailable for the unavailable line", c)
		}
	})
}

func TestInsufficientStockMessages(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_s", 100, 10, "S")
	s.mustProduct(t, "prod_t", 100, 10, "T")
	older, newer := s.mustCart(t), s.mustCart(t)
	s.mustAdd(t, older, "S", 3)
	item := s.mustAdd(t, newer, "S", 4)
	s.setStock(t, "S", 5)

	t.Run("a line left short by an inventory decrease reports it on every read", func(t *testing.T) {
		for range 2 {
			c := s.getCart(t, newer)
			ms := c.messagesWith("insufficient_stock")
			if len(ms) != 1 {
				t.Fatalf("messages = %+v", c.Messages)
			}
			m := ms[0]
			if m.Type != "warning" || m.ItemID != item || *m.Requested != 4 || *m.Applied != 2 || *m.Available != 2 {
				t.Errorf("message = %+v, want requested 4, applied 2, available 2", m)
			}
		}
		if c := s.getCart(t, older); len(c.Messages) != 0 {
			t.Errorf("the cart that kept its stock reports %v", messageCodesOf(c.Messages))
		}
	})

	t.Run("a write on the cart reports it too", func(t *testing.T) {
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+newer+"/items", map[string]any{"sku": "T"})
		if codes := messageCodesOf(c.Messages); len(codes) != 2 || codes[1] != "insufficient_stock "+item {
			t.Errorf("messages = %v", codes)
		}
	})

	t.Run("lowering the line to what it holds ends it", func(t *testing.T) {
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+newer+"/items/"+item, map[string]any{"quantity": 2})
		if len(c.messagesWith("insufficient_stock")) != 0 {
			t.Errorf("messages = %v", messageCodesOf(c.Messages))
		}
		if c := s.getCart(t, newer); len(c.Messages) != 0 {
			t.Errorf("messages = %v", messageCodesOf(c.Messages))
		}
	})

	t.Run("a backorder the shopper accepted is not reported", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "T", "quantity": 12, "validate_inventory": false})
		c := s.getCart(t, id)
		if it := c.item("T"); it.InventoryStatus != "backordered" || len(c.Messages) != 0 {
			t.Errorf("T = %+v, messages %v", it, messageCodesOf(c.Messages))
		}
	})
}
