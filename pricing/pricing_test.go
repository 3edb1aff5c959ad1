package pricing

import (
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
)

func line(num, qty int64, v cart.Variant) cart.Line {
	return cart.Line{Item: cart.Item{Num: num, Quantity: qty, ReservedQuantity: qty}, Variant: &v, Product: &cart.Product{},
		Stock: cart.Stock{OnHand: 100, Reserved: qty}}
}

func variant(sku string, usd, retail, taxRate int64, tiers ...cart.Tier) cart.Variant {
	v := cart.Variant{SKU: sku, Active: true, Prices: map[string]int64{"USD": usd}, TaxRate: taxRate, Tiers: tiers}
	if retail > 0 {
		v.RetailPrices = map[string]int64{"USD": retail}
	}
	return v
}

func TestUnitPriceFollowsTiers(t *testing.T) {
	v := variant("CABLE", 1999, 0, 0,
		cart.Tier{MinQuantity: 10, Prices: map[string]int64{"USD": 1599}},
		cart.Tier{MinQuantity: 50, Prices: map[string]int64{"USD": 1299, "EUR": 1199}})
	tests := []struct {
		qty      int64
		currency string
		want     int64
		ok       bool
	}{
		{1, "USD", 1999, true}, {9, "USD", 1999, true}, {10, "USD", 1599, true}, {49, "USD", 1599, true},
		{50, "USD", 1299, true}, {500, "USD", 1299, true}, {50, "EUR", 0, false},
	}
	for _, tt := range tests {
		got, ok := UnitPrice(v, tt.currency, tt.qty)
		if got != tt.want || ok != tt.ok {
			t.Errorf("UnitPrice(qty %d, %s) = %d, %v; want %d, %v", tt.qty, tt.currency, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPriceTotals(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := cart.Cart{Num: 1, Currency: "USD"}
	lines := []cart.Line{
		line(1, 3, variant("HP", 9999, 12999, 800)), // 29997, tax 2399.76 -> 2400
		line(2, 1, variant("CABLE", 1999, 0, 500)),  // 1999, tax 99.95 -> 100
		line(3, 2, variant("TEE", 2499, 0, 0)),      // 4998, no tax
	}
	gone := line(4, 1, variant("OLD", 500, 0, 0))
	gone.Variant.Active = false
	lines = append(lines, gone)

	s := cart.DefaultSettings()
	s.Shipping = map[string]cart.ShippingRate{"USD": {Flat: 599, FreeOver: 100000}}
	v, err := Price(Input{Cart: c, Lines: lines, Settings: s, Now: now, Reserve: true})
	if err != nil {
		t.Fatal(err)
	}
	want := struct{ sub, tax, ship, total, retail, saved, items, unique int64 }{
		sub: 36994, tax: 2500, ship: 599, total: 36994 + 2500 + 599,
		retail: 12999*3 + 1999 + 4998, saved: (12999 - 9999) * 3, items: 6, unique: 3,
	}
	got := struct{ sub, tax, ship, total, retail, saved, items, unique int64 }{
		v.Subtotal, v.Tax, v.Shipping, v.Total, v.RetailTotal, v.Saved, v.ItemCount, v.UniqueItemCount,
	}
	if got != want {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
	if len(v.Unavailable) != 1 || v.Unavailable[0].Item.Num != 4 {
		t.Errorf("unavailable = %+v, want the inactive line", v.Unavailable)
	}

	t.Run("the same lines in another order give the same figures", func(t *testing.T) {
		rev := []cart.Line{lines[3], lines[2], lines[1], lines[0]}
		v2, err := Price(Input{Cart: c, Lines: rev, Settings: s, Now: now, Reserve: true})
		if err != nil {
			t.Fatal(err)
		}
		if v2.Total != v.Total || v2.Tax != v.Tax || v2.Subtotal != v.Subtotal {
			t.Errorf("order changed totals: %d/%d/%d vs %d/%d/%d", v2.Total, v2.Tax, v2.Subtotal, v.Total, v.Tax, v.Subtotal)
		}
	})
	t.Run("tax inclusive prices extract tax and keep the total", func(t *testing.T) {
		s := s
		s.PricesIncludeTax = true
		vi, err := Price(Input{Cart: c, Lines: lines, Settings: s, Now: now, Reserve: true})
		if err != nil {
			t.Fatal(err)
		}
		// 29997 incl. 8%: net 27775 (27775.0), tax 2222; 1999 incl. 5%: net 1904 (1903.8), tax 95.
		if vi.Tax != 2222+95 || vi.Total != 36994+599 {
			t.Errorf("inclusive tax = %d total = %d", vi.Tax, vi.Total)
		}
	})
	t.Run("shipping is free over the threshold", func(t *testing.T) {
		s := s
		s.Shipping = map[string]cart.ShippingRate{"USD": {Flat: 599, FreeOver: 30000}}
		vf, _ := Price(Input{Cart: c, Lines: lines, Settings: s, Now: now, Reserve: true})
		if vf.Shipping != 0 {
			t.Errorf("shipping = %d, want 0 over the threshold", vf.Shipping)
		}
	})
	t.Run("an empty cart costs nothing, shipping included", func(t *testing.T) {
		ve, _ := Price(Input{Cart: c, Lines: nil, Settings: s, Now: now, Reserve: true})
		if ve.Total != 0 || ve.Shipping != 0 {
			t.Errorf("empty cart total %d shipping %d", ve.Total, ve.Shipping)
		}
	})
}

func TestPriceReportsOverflow(t *testing.T) {
	c := cart.Cart{Num: 1, Currency: "USD"}
	lines := []cart.Line{line(1, 999, variant("BIG", 1<<62, 0, 0))}
	if _, err := Price(Input{Cart: c, Lines: lines, Settings: cart.DefaultSettings(), Now: time.Now(), Reserve: true}); !isOverflow(err) {
		t.Errorf("err = %v, want overflow", err)
	}
}

func TestInventoryStatus(t *testing.T) {
	v := variant("X", 100, 0, 0)
	tests := []struct {
		name    string
		item    cart.Item
		stock   cart.Stock
		reserve bool
		want    string
	}{
		{"fully reserved is in stock", cart.Item{Quantity: 2, ReservedQuantity: 2}, cart.Stock{OnHand: 2, Reserved: 2}, true, cart.InStock},
		{"a backorder says so", cart.Item{Quantity: 5, ReservedQuantity: 2, Backorder: true}, cart.Stock{OnHand: 2, Reserved: 2}, true, cart.Backordered},
		{"stock taken away is insufficient", cart.Item{Quantity: 5, ReservedQuantity: 2}, cart.Stock{OnHand: 2, Reserved: 2}, true, cart.Insufficient},
		{"a line that lost all its stock is insufficient", cart.Item{Quantity: 5}, cart.Stock{OnHand: 0}, true, cart.Insufficient},
		{"without reservations nothing left is out of stock", cart.Item{Quantity: 5}, cart.Stock{OnHand: 0}, false, cart.OutOfStock},
		{"without reservations stock on hand counts", cart.Item{Quantity: 3}, cart.Stock{OnHand: 3}, false, cart.InStock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Price(Input{Cart: cart.Cart{Currency: "USD"}, Lines: []cart.Line{{Item: tt.item, Variant: &v, Product: &cart.Product{}, Stock: tt.stock}}, Settings: cart.DefaultSettings(), Now: time.Now(), Reserve: tt.reserve})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Lines[0].InventoryStatus; got != tt.want {
				t.Errorf("status = %s, want %s", got, tt.want)
			}
		})
	}
}
