package pricing

import "github.com/cartd/cartd/cart"

// TierIndex says which price UnitPrice takes for quantity units in currency: the index in
// v.Tiers of the tier in effect, or -1 when the base price is (no tier reached, none priced
// in the currency, or no price at all). Front doors that show the tier in effect (SourceHub's
// "pricing set") take it from here rather than choose it again.
func TierIndex(v cart.Variant, currency string, quantity int64) int {
	if _, ok := v.Prices[currency]; !ok {
		return -1
	}
	best, index := int64(0), -1
	for i, t := range v.Tiers {
		if _, has := t.Prices[currency]; has && quantity >= t.MinQuantity && t.MinQuantity > best {
			best, index = t.MinQuantity, i
		}
	}
	return index
}
