package pricing

import (
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
)

func TestPriceChange(t *testing.T) {
	tiered := variant("T", 1000, 0, 0, cart.Tier{MinQuantity: 5, Prices: map[string]int64{"USD": 800}})
	stored := func(qty, unit int64, v cart.Variant) cart.Line {
		l := line(1, qty, v)
		l.Item.UnitPrice = unit
		return l
	}
	inactive := variant("OFF", 1200, 0, 0)
	inactive.Active = false
	tests := []struct {
		name         string
		l            cart.Line
		old, current int64
		changed      bool
	}{
		{"the stored base price is no change", stored(2, 1000, tiered), 1000, 1000, false},
		{"the stored tier price is no change", stored(6, 800, tiered), 800, 800, false},
		{"a new base price is a change", stored(2, 900, tiered), 900, 1000, true},
		{"a new tier price is a change", stored(5, 850, tiered), 850, 800, true},
		{"an unavailable line has no price to compare", stored(1, 1000, inactive), 1000, 1000, false},
		{"a line without a price in the currency has none either", stored(1, 1000, variant("EUR", 0, 0, 0)), 1000, 1000, false},
	}
	tests[5].l.Variant.Prices = map[string]int64{"EUR": 900}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, current, changed := PriceChange(&tt.l, "USD")
			if old != tt.old || current != tt.current || changed != tt.changed {
				t.Errorf("PriceChange = %d, %d, %v; want %d, %d, %v", old, current, changed, tt.old, tt.current, tt.changed)
			}
		})
	}
}

func TestNotices(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	repriced := line(1, 2, variant("UP", 1100, 0, 0))
	repriced.Item.UnitPrice = 1000
	steady := line(2, 1, variant("SAME", 500, 0, 0))
	steady.Item.UnitPrice = 500
	short := line(3, 4, variant("SHORT", 300, 0, 0))
	short.Item.UnitPrice, short.Item.ReservedQuantity, short.Stock = 300, 2, cart.Stock{OnHand: 2, Reserved: 2}
	backorder := line(4, 5, variant("BACK", 300, 0, 0))
	backorder.Item.UnitPrice, backorder.Item.ReservedQuantity, backorder.Item.Backorder = 300, 1, true
	backorder.Stock = cart.Stock{OnHand: 1, Reserved: 1}

	v, err := Price(Input{Cart: cart.Cart{Num: 1, Currency: "USD"}, Lines: []cart.Line{repriced, steady, short, backorder}, Settings: cart.DefaultSettings(), Now: now, Reserve: true})
	if err != nil {
		t.Fatal(err)
	}
	got := Notices(v, true)
	if len(got) != 2 {
		t.Fatalf("notices = %+v, want price_changed for UP and insufficient_stock for SHORT", got)
	}
	if m := got[0]; m.Code != "price_changed" || m.Type != cart.Warning || m.ItemNum != 1 || *m.OldPrice != 1000 || *m.NewPrice != 1100 ||
		m.Text != "The unit price of UP changed from 10.00 to 11.00 USD" {
		t.Errorf("price notice = %+v", m)
	}
	if m := got[1]; m.Code != "insufficient_stock" || m.ItemNum != 3 || *m.Requested != 4 || *m.Applied != 2 || *m.Available != 2 {
		t.Errorf("stock notice = %+v", m)
	}
	if v.Lines[0].Subtotal != 2200 {
		t.Errorf("the repriced line's subtotal = %d, want it at the catalog price, 2200", v.Lines[0].Subtotal)
	}

	t.Run("without reservations, applied is what is available", func(t *testing.T) {
		s := line(5, 4, variant("NORES", 300, 0, 0))
		s.Item.UnitPrice, s.Item.ReservedQuantity, s.Stock = 300, 0, cart.Stock{OnHand: 3}
		v, err := Price(Input{Cart: cart.Cart{Num: 1, Currency: "USD"}, Lines: []cart.Line{s}, Settings: cart.DefaultSettings(), Now: now, Reserve: false})
		if err != nil {
			t.Fatal(err)
		}
		got := Notices(v, false)
		if len(got) != 1 || *got[0].Applied != 3 || *got[0].Requested != 4 || *got[0].Available != 3 {
			t.Errorf("notices = %+v", got)
		}
	})
}
