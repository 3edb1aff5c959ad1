package cart

import (
	"fmt"
	"math"
)

// MergeRequest is everything the merge rule needs to know about one line of a cart being
// merged into another: the target's line of the same variant (zeros when it has none) and
// the quantity coming from the source.
type MergeRequest struct {
	Current          int64 // the target line's quantity, 0 for a new line
	CurrentReserved  int64 // what the target line holds
	CurrentBackorder bool
	Add              int64 // the source line's quantity
	Limit            int64 // most units per line
	// Free is what the target line could hold: the SKU's available stock, with the source
	// cart's reservations already released, plus CurrentReserved.
	Free    int64
	Reserve bool // reservations on: the line holds stock
	// Rule is the line's quantity rule and Held what the customer's other carts hold of the
	// variant: the target line ends at a quantity the rule allows, or as it was.
	Rule QuantityRule
	Held int64
	// Scale is the variant's quantity scale, for the figures of messages.
	Scale int
}

// MergeQuantity applies the merge rule to one line: quantities of the same variant are added,
// under the clamp policy. Only the units coming from the source are clamped, to the per-line
// limit, to the free stock and to the largest quantity the line's rule allows; the target line
// never ends below what it had, so a merge cannot take away a backorder the shopper accepted
// or a quantity over a limit lowered since.
// Unlike ResolveQuantity it never fails: a merge is not a request for a quantity, and being
// above the limit or the stock only moves fewer units.
func MergeQuantity(q MergeRequest) QuantityResult {
	requested := q.Current + q.Add
	if q.Add > 0 && q.Current > math.MaxInt64-q.Add {
		requested = math.MaxInt64
	}
	free := max(q.Free, 0)
	quantity := q.Current
	if f, ok := q.Rule.Span(q.Held).Floor(min(requested, q.Limit, free)); ok {
		quantity = max(quantity, f)
	}
	res := QuantityResult{Requested: requested, Quantity: quantity, Clamped: quantity < requested, Scale: q.Scale}
	if quantity > free {
		// Only the target's own quantity can be above the free stock: it keeps its flag.
		res.Backorder = q.CurrentBackorder
	}
	if q.Reserve {
		res.Reserved = min(quantity, free)
	}
	return res
}

// MergeMessages reports what merging one source line did to the target's line itemNum (0 when
// nothing could be moved into a new line). available is what the line could hold.
func MergeMessages(itemNum int64, r QuantityResult, current, available int64, created bool) []Message {
	req, app, av := r.Requested, r.Quantity, max(available, 0)
	n := func(q int64) string { return FormatScaled(q, r.Scale) }
	switch {
	case created && r.Quantity == 0:
		return []Message{{Type: Warning, Code: "out_of_stock",
			Text:      fmt.Sprintf("Requested quantity %s of the merged cart is not available; nothing was moved", n(req)),
			Requested: &req, Applied: &app, Available: &av}}
	case r.Clamped:
		return []Message{{Type: Warning, Code: "quantity_clamped", ItemNum: itemNum,
			Text:      fmt.Sprintf("Only %s of the %s units of the merged carts could be held; quantity set to %s", n(app), n(req), n(app)),
			Requested: &req, Applied: &app, Available: &av}}
	case created:
		return []Message{{Type: Info, Code: "item_merged", ItemNum: itemNum, Text: "Item moved from the merged cart",
			Requested: &req, Applied: &app}}
	}
	return []Message{{Type: Info, Code: "item_merged", ItemNum: itemNum,
		Text:      fmt.Sprintf("Quantity %s from the merged cart added to the %s in this cart", n(req-current), n(current)),
		Requested: &req, Applied: &app}}
}
