package pricing

import (
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartd/cartd/cart"
)

// ARCHITECTURE.md §Invariants 3 and the rules of docs/pricing.md, checked on random carts with
// pgregory.net/rapid (which shrinks a failing cart to a small one): line figures add up to the
// cart's; total = subtotal - discount + tax + shipping (tax left out when prices include it);
// the order of lines, coupons and promotions does not matter; no amount is negative and no
// discount exceeds what it applies to; removing a promotion never lowers subtotal - discount;
// and nothing overflows for prices up to MaxPrice and quantities up to the per-item limit
// (with the cart's units up to MaxUnits).

var propNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// genAmount draws a price: mostly small, sometimes anywhere up to MaxPrice, sometimes MaxPrice.
func genAmount(t *rapid.T, label string) int64 {
	switch rapid.IntRange(0, 9).Draw(t, label+"_kind") {
	case 0:
		return MaxPrice
	case 1, 2:
		return rapid.Int64Range(0, MaxPrice).Draw(t, label)
	}
	return rapid.Int64Range(0, 20_000).Draw(t, label)
}

// genInput draws a cart of up to 8 lines with up to 7 promotions and some coupons.
func genInput(t *rapid.T) Input {
	cur := rapid.SampledFrom([]string{"USD", "JPY", "KWD"}).Draw(t, "currency")
	s := cart.DefaultSettings()
	s.MaxQuantityPerItem = rapid.SampledFrom([]int64{1, 5, 999, 1_000_000}).Draw(t, "max_quantity_per_item")
	s.PricesIncludeTax = rapid.Bool().Draw(t, "prices_include_tax")
	if rapid.Bool().Draw(t, "has_shipping") {
		s.Shipping = map[string]cart.ShippingRate{cur: {Flat: genAmount(t, "flat"), FreeOver: genAmount(t, "free_over")}}
	}
	in := Input{Cart: cart.Cart{Num: 1, Currency: cur, Status: cart.StatusActive}, Settings: s, Now: propNow, Reserve: true}

	brands := []string{"Acme", "Supra", ""}
	sales := []string{"sale_a", "sale_b", ""}
	n := rapid.IntRange(0, 8).Draw(t, "lines")
	maxQty := s.MaxQuantityPerItem
	if n > 0 {
		maxQty = min(maxQty, MaxUnits/int64(n))
	}
	var skus []string
	for i := range n {
		sku := fmt.Sprintf("S%d", i)
		skus = append(skus, sku)
		v := cart.Variant{Num: int64(i + 1), ID: "var_" + sku, SKU: sku, Active: true,
			Prices:  map[string]int64{cur: genAmount(t, "price")},
			TaxRate: rapid.SampledFrom([]int64{0, 500, 800, 1000, 2000, 10000}).Draw(t, "tax_rate"),
			SaleID:  rapid.SampledFrom(sales).Draw(t, "sale")}
		if rapid.Bool().Draw(t, "has_retail") {
			v.RetailPrices = map[string]int64{cur: genAmount(t, "retail")}
		}
		// A measured variant (docs/measured-quantities.md) one time in three: its quantities
		// are integers of 10^-scale, up to the same number of whole units.
		if rapid.IntRange(0, 2).Draw(t, "measured") == 0 {
			v.QuantityScale = uint8(rapid.IntRange(1, cart.MaxScale).Draw(t, "scale"))
		}
		p10 := cart.Pow10(v.Scale())
		if rapid.Bool().Draw(t, "has_tier") {
			v.Tiers = []cart.Tier{{MinQuantity: rapid.Int64Range(2, 20*p10).Draw(t, "tier_min"), Prices: map[string]int64{cur: genAmount(t, "tier_price")}}}
		}
		qty := rapid.Int64Range(1, maxQty*p10).Draw(t, "quantity")
		if rapid.IntRange(0, 9).Draw(t, "max_quantity") == 0 {
			qty = maxQty * p10
		}
		unit, _ := UnitPrice(v, cur, qty)
		in.Lines = append(in.Lines, cart.Line{Variant: &v,
			Product: &cart.Product{Num: int64(i + 1), ID: "prod_" + sku, Brand: rapid.SampledFrom(brands).Draw(t, "brand")},
			Item:    cart.Item{Num: int64(100 - i), CartNum: 1, VariantNum: v.Num, Quantity: qty, ReservedQuantity: qty, UnitPrice: unit},
			Stock:   cart.Stock{SKU: sku, OnHand: qty, Reserved: qty}})
	}

	subset := func(label string, from []string) []string {
		if len(from) == 0 || rapid.IntRange(0, 2).Draw(t, label+"_any") > 0 {
			return nil
		}
		return rapid.SliceOfNDistinct(rapid.SampledFrom(from), 1, len(from), rapid.ID[string]).Draw(t, label)
	}
	types := []cart.PromotionType{cart.Cash, cart.Percent, cart.FreeShip, cart.FixedPrice, cart.LowestCost}
	for i := range rapid.IntRange(0, 7).Draw(t, "promotions") {
		p := cart.Promotion{Num: int64(i + 1), Code: fmt.Sprintf("P%d", i), Type: rapid.SampledFrom(types).Draw(t, "type"),
			Method: rapid.SampledFrom([]cart.Method{cart.Manual, cart.Auto}).Draw(t, "method"),
			Active: rapid.IntRange(0, 9).Draw(t, "inactive") > 0}
		switch p.Type {
		case cart.Percent:
			p.Rate = rapid.Int64Range(1, 10000).Draw(t, "rate")
		case cart.Cash, cart.FixedPrice:
			p.Amounts = map[string]int64{rapid.SampledFrom([]string{cur, cur, "EUR"}).Draw(t, "amount_currency"): genAmount(t, "amount")}
		}
		if rapid.IntRange(0, 3).Draw(t, "has_min_subtotal") == 0 {
			p.MinSubtotal = map[string]int64{cur: genAmount(t, "min_subtotal")}
		}
		p.MinQuantity = rapid.SampledFrom([]int64{0, 0, 2, 3}).Draw(t, "min_quantity")
		p.SKUs, p.Brands, p.SaleIDs = subset("skus", skus), subset("brands", brands), subset("sales", sales)
		if rapid.IntRange(0, 4).Draw(t, "windowed") == 0 {
			p.StartsAt = propNow.Add(time.Duration(rapid.IntRange(-3, 1).Draw(t, "starts")) * time.Hour)
			p.EndsAt = p.StartsAt.Add(time.Duration(rapid.IntRange(1, 5).Draw(t, "lasts")) * time.Hour)
		}
		if p.Method == cart.Auto {
			in.Promotions = append(in.Promotions, p)
		} else if rapid.IntRange(0, 3).Draw(t, "applied") > 0 {
			in.Coupons = append(in.Coupons, cart.Coupon{CartNum: 1, Code: p.Code, Promotion: p,
				AddedAt: propNow.Add(-time.Duration(rapid.IntRange(1, 1000).Draw(t, "added")) * time.Minute)})
		}
	}
	if rapid.IntRange(0, 5).Draw(t, "withdrawn_code") == 0 {
		in.Coupons = append(in.Coupons, cart.Coupon{CartNum: 1, Code: "GONE", AddedAt: propNow.Add(-time.Hour)})
	}
	return in
}

// halfUp is price * quantity / 10^scale rounded half up, in big integers: what a line of a
// measured variant costs, computed independently of money.MulDivHalfUp.
func halfUp(price, quantity int64, scale int) int64 {
	p := new(big.Int).Mul(big.NewInt(price), big.NewInt(quantity))
	den := big.NewInt(cart.Pow10(scale))
	p.Mul(p, big.NewInt(2)).Add(p, den)
	return p.Quo(p, den.Mul(den, big.NewInt(2))).Int64()
}

// mustPrice prices a cart that is within the bounds: an error there is a failure.
func mustPrice(t *rapid.T, in Input) cart.View {
	v, err := Price(in)
	if err != nil {
		t.Fatalf("Price within the bounds (prices <= %d, units <= %d): %v", int64(MaxPrice), MaxUnits, err)
	}
	return v
}

func TestPropertyFiguresAddUp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		v := mustPrice(t, in)
		var sub, disc, tax, total, units, retail int64
		for _, lv := range v.Lines {
			if want := halfUp(lv.UnitPrice, lv.Item.Quantity, lv.Variant.Scale()); lv.Subtotal != want {
				t.Fatalf("%s: subtotal %d != %d x %d / 10^%d rounded half up = %d", lv.Variant.SKU, lv.Subtotal, lv.UnitPrice, lv.Item.Quantity, lv.Variant.Scale(), want)
			}
			if lv.Discount < 0 || lv.Discount > lv.Subtotal || lv.Tax < 0 {
				t.Fatalf("%s: discount %d of %d, tax %d", lv.Variant.SKU, lv.Discount, lv.Subtotal, lv.Tax)
			}
			want := lv.Subtotal - lv.Discount + lv.Tax
			if in.Settings.PricesIncludeTax {
				want = lv.Subtotal - lv.Discount
				if lv.Tax > want {
					t.Fatalf("%s: tax %d extracted from %d", lv.Variant.SKU, lv.Tax, want)
				}
			}
			if lv.Total != want {
				t.Fatalf("%s: total %d, want %d", lv.Variant.SKU, lv.Total, want)
			}
			sub += lv.Subtotal
			disc += lv.Discount
			tax += lv.Tax
			total += lv.Total
			units += (lv.Item.Quantity + cart.Pow10(lv.Variant.Scale()) - 1) / cart.Pow10(lv.Variant.Scale())
			retail += halfUp(max(lv.RetailPrice, lv.UnitPrice), lv.Item.Quantity, lv.Variant.Scale())
		}
		got := []int64{v.Subtotal, v.Discount, v.Tax, v.Total - v.Shipping, v.ItemCount, v.RetailTotal}
		if want := []int64{sub, disc, tax, total, units, retail}; !slices.Equal(got, want) {
			t.Fatalf("cart subtotal, discount, tax, total - shipping, units, retail = %v; the lines add up to %v", got, want)
		}
		wantTotal := v.Subtotal - v.Discount + v.Tax + v.Shipping
		if in.Settings.PricesIncludeTax {
			wantTotal = v.Subtotal - v.Discount + v.Shipping
		}
		if v.Total != wantTotal {
			t.Fatalf("total %d, want subtotal %d - discount %d (+ tax %d) + shipping %d", v.Total, v.Subtotal, v.Discount, v.Tax, v.Shipping)
		}
		if v.Saved != v.RetailTotal-(v.Subtotal-v.Discount) || v.Saved < 0 {
			t.Fatalf("saved %d, retail %d, subtotal %d, discount %d", v.Saved, v.RetailTotal, v.Subtotal, v.Discount)
		}
		for _, x := range []int64{v.Subtotal, v.Discount, v.Tax, v.Shipping, v.Total, v.RetailTotal} {
			if x < 0 {
				t.Fatalf("a negative figure: %+v", v)
			}
		}
		var promoted int64
		for _, p := range v.Promotions {
			switch {
			case p.Amount < 0, !p.Applied && (p.Amount != 0 || p.Reason == "" || p.Text == ""), p.Applied && p.Reason != "":
				t.Fatalf("promotion %+v", p)
			case p.Applied && p.Promotion.Type != cart.FreeShip:
				promoted += p.Amount
			}
		}
		if promoted != v.Discount {
			t.Fatalf("the promotions' amounts add up to %d, the discount is %d", promoted, v.Discount)
		}
	})
}

// key is what must not depend on the order of the inputs: the totals, each line's figures by
// item number, and the promotions as listed.
func key(v cart.View) string {
	lines := map[int64][4]int64{}
	for _, lv := range v.Lines {
		lines[lv.Item.Num] = [4]int64{lv.Subtotal, lv.Discount, lv.Tax, lv.Total}
	}
	var promos []string
	for _, p := range v.Promotions {
		promos = append(promos, fmt.Sprintf("%s %v %d %s", p.Promotion.Code, p.Applied, p.Amount, p.Reason))
	}
	return fmt.Sprint(v.Subtotal, v.Discount, v.Tax, v.Shipping, v.Total, v.RetailTotal, v.Saved, lines, promos)
}

func TestPropertyOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		v := mustPrice(t, in)
		shuffled := in
		shuffled.Lines = rapid.Permutation(in.Lines).Draw(t, "lines order")
		shuffled.Promotions = rapid.Permutation(in.Promotions).Draw(t, "promotions order")
		shuffled.Coupons = rapid.Permutation(in.Coupons).Draw(t, "coupons order")
		if a, b := key(v), key(mustPrice(t, shuffled)); a != b {
			t.Fatalf("reordering the inputs changed the figures:\n%s\n%s", a, b)
		}
	})
}

func TestPropertyRemovingAPromotionNeverLowersWhatIsPaidForItems(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		if len(in.Promotions)+len(in.Coupons) == 0 {
			return
		}
		v := mustPrice(t, in)
		fewer := in
		i := rapid.IntRange(0, len(in.Promotions)+len(in.Coupons)-1).Draw(t, "removed")
		if i < len(in.Promotions) {
			fewer.Promotions = slices.Delete(slices.Clone(in.Promotions), i, i+1)
		} else {
			i -= len(in.Promotions)
			fewer.Coupons = slices.Delete(slices.Clone(in.Coupons), i, i+1)
		}
		w := mustPrice(t, fewer)
		if w.Subtotal-w.Discount < v.Subtotal-v.Discount {
			t.Fatalf("removing a promotion lowered subtotal - discount from %d to %d\nwith:    %s\nwithout: %s",
				v.Subtotal-v.Discount, w.Subtotal-w.Discount, key(v), key(w))
		}
	})
}

// TestNoOverflowAtTheBounds prices the largest cart the bounds allow: MaxUnits units at
// MaxPrice, taxed at 100% on top, with MaxPrice shipping.
func TestNoOverflowAtTheBounds(t *testing.T) {
	for _, lines := range []int64{1, 4, 1000} {
		t.Run(fmt.Sprintf("%d lines", lines), func(t *testing.T) {
			s := cart.DefaultSettings()
			s.Shipping = map[string]cart.ShippingRate{"USD": {Flat: MaxPrice}}
			in := Input{Cart: cart.Cart{Num: 1, Currency: "USD"}, Settings: s, Now: propNow}
			for i := range lines {
				v := cart.Variant{Num: i + 1, SKU: fmt.Sprint("S", i), Active: true, TaxRate: 10000,
					Prices: map[string]int64{"USD": MaxPrice}, RetailPrices: map[string]int64{"USD": MaxPrice}}
				q := int64(MaxUnits) / lines
				in.Lines = append(in.Lines, cart.Line{Variant: &v, Product: &cart.Product{}, Item: cart.Item{Num: i + 1, Quantity: q, ReservedQuantity: q}})
			}
			in.Promotions = []cart.Promotion{{Code: "P", Type: cart.Percent, Method: cart.Auto, Active: true, Rate: 1}}
			v, err := Price(in)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(MaxPrice) * MaxUnits; v.Subtotal != want || v.Total != 2*(want-v.Discount)+MaxPrice {
				t.Errorf("subtotal %d total %d", v.Subtotal, v.Total)
			}
		})
	}
}
