package pricing

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/cartd/cartd/cart"
)

// TierIndex names the tier whose price UnitPrice takes, for any tiers and quantity.
func TestTierIndexAgreesWithUnitPrice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := cart.Variant{Prices: map[string]int64{"USD": rapid.Int64Range(0, 1000).Draw(t, "base")}}
		if rapid.Bool().Draw(t, "no_price") {
			v.Prices = nil
		}
		for i := range rapid.IntRange(0, 5).Draw(t, "tiers") {
			tier := cart.Tier{MinQuantity: rapid.Int64Range(0, 20).Draw(t, "min"), Prices: map[string]int64{}}
			if rapid.IntRange(0, 3).Draw(t, "currency") > 0 {
				// Distinct prices, so that the price names the tier.
				tier.Prices["USD"] = 2000 + int64(i)
			}
			v.Tiers = append(v.Tiers, tier)
		}
		q := rapid.Int64Range(0, 25).Draw(t, "quantity")
		price, ok := UnitPrice(v, "USD", q)
		i := TierIndex(v, "USD", q)
		switch {
		case !ok && i != -1:
			t.Fatalf("no price, but tier %d", i)
		case ok && i == -1 && price != v.Prices["USD"]:
			t.Fatalf("base price %d in effect, UnitPrice says %d", v.Prices["USD"], price)
		case ok && i >= 0 && price != v.Tiers[i].Prices["USD"]:
			t.Fatalf("tier %d (price %d) in effect, UnitPrice says %d", i, v.Tiers[i].Prices["USD"], price)
		}
	})
}
