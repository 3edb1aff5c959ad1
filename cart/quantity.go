package cart

import (
	"fmt"
	"math"
)

// Policy decides what a change asking for more than the available stock does.
type Policy string

// Stock policies.
const (
	// Reject changes nothing and reports the available quantity (409).
	Reject Policy = "reject"
	// Clamp applies the available quantity, with a warning; nothing available removes the line.
	Clamp Policy = "clamp"
	// Ignore accepts the quantity as a backorder and reserves only what exists.
	Ignore Policy = "ignore"
)

// ParsePolicy validates a policy name; "" is Reject, the native default.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "":
		return Reject, nil
	case Reject, Clamp, Ignore:
		return Policy(s), nil
	}
	return "", InvalidField("invalid_stock_policy", "stock_policy", "stock_policy must be one of reject, clamp, ignore")
}

// Change is a quantity change: set the quantity to N, or add the delta N. Form says what N
// counts: units of the variant's scale (FormUnits, the engine's own changes), a decimal as a
// client wrote it (FormDecimal: N * 10^-Digits, so 1.25 is N 125, Digits 2), or whole units
// from a front door whose format carries nothing else (FormWhole). The engine turns it into
// the variant's units once it knows the variant (In).
type Change struct {
	Set    bool
	N      int64
	Digits uint8
	Form   ChangeForm
}

// ChangeForm is what a Change's N counts.
type ChangeForm uint8

// Change forms.
const (
	// FormUnits: N is in units of 10^-scale of the variant (what the engine stores).
	FormUnits ChangeForm = iota
	// FormDecimal: N * 10^-Digits, exactly as a client wrote it (the native API).
	FormDecimal
	// FormWhole: N whole units, from a front door whose seed format has integer quantities
	// only (the dialects): a change to a measured variant (scale above 0) is refused, with
	// the reason ReasonMeasured, except a removal.
	FormWhole
)

// ReasonMeasured (Invalid) refuses a whole-unit front door's change of a measured variant.
const ReasonMeasured = "measured_quantity"

// In is the change in units of 10^-scale, the variant's (FormUnits): Invalid
// quantity_precision when a decimal has more digits than the scale allows (Decimal.Scaled),
// ReasonMeasured for a FormWhole change of a measured variant. A change already in units, or
// whole to a whole variant, is returned as it is, at no cost.
func (c Change) In(scale int, sku, unit string) (Change, error) {
	switch {
	case c.Form == FormUnits:
		return c, nil
	case c.Form == FormWhole && (scale == 0 || c.Set && c.N == 0):
		return Change{Set: c.Set, N: c.N}, nil
	case c.Form == FormWhole:
		return c, InvalidField(ReasonMeasured, field(c), "%s is measured in %s to %d decimal places; this interface takes whole quantities only, so the line can only be removed here (change it through the native API)",
			sku, unitName(unit), scale)
	}
	n, err := Decimal{N: c.N, Digits: c.Digits}.Scaled(scale, field(c))
	if err != nil {
		return c, err
	}
	return Change{Set: c.Set, N: n}, nil
}

func unitName(u string) string {
	if u == "" {
		return "units"
	}
	return u
}

// DecimalChange is a change of a decimal as a client wrote it (FormDecimal).
func DecimalChange(set bool, d Decimal) Change {
	return Change{Set: set, N: d.N, Digits: d.Digits, Form: FormDecimal}
}

// WholeSet and WholeDelta are the changes of a front door of whole units (FormWhole).
func WholeSet(n int64) Change { return Change{Set: true, N: n, Form: FormWhole} }

// WholeDelta: see WholeSet.
func WholeDelta(d int64) Change { return Change{N: d, Form: FormWhole} }

// SetTo returns a change that sets the quantity to n.
func SetTo(n int64) Change { return Change{Set: true, N: n} }

// AddDelta returns a change that adds d to the quantity.
func AddDelta(d int64) Change { return Change{N: d} }

// QuantityRequest is everything the quantity rule needs to know about one line.
type QuantityRequest struct {
	Current         int64 // the line's quantity now, 0 for a new line
	CurrentReserved int64 // what the line holds now
	// CurrentBackorder is the line's Backorder flag, kept when a short line is lowered.
	CurrentBackorder bool
	Change           Change
	Limit            int64 // most units per line
	// GuestLimit, when above 0, is the most units per line of a guest cart (settings'
	// max_guest_quantity_per_item): checked like Limit, with a reason of its own.
	GuestLimit int64
	// Free is what the line could hold: the SKU's available stock plus CurrentReserved.
	Free    int64
	Policy  Policy
	Reserve bool // reservations on: the line holds stock
	// Lapsed says the line's reservation expired: whatever the change, the quantity it leaves
	// is checked against the stock as if it were new, so that touching an expired line
	// re-reserves what is available under the policy.
	Lapsed bool
	// Rule is the line's quantity rule (RuleOf), and Held what the customer's other carts
	// hold of its variant, counted against the rule's MaxPerCustomer.
	Rule QuantityRule
	Held int64
	// Scale is the variant's quantity scale, for the figures of messages (1.250, not 1250).
	Scale int
}

// QuantityResult is the line after the change.
type QuantityResult struct {
	Requested int64
	Quantity  int64 // 0: the line is removed
	Reserved  int64
	Backorder bool
	Clamped   bool
	// ByRule says the quantity was lowered to one the rule allows (under Clamp), before any
	// stock was considered; Allowed is that quantity.
	ByRule  bool
	Allowed int64
	// Scale is the request's, for QuantityMessages.
	Scale int
}

// Removed reports whether the change removes the line.
func (r QuantityResult) Removed() bool { return r.Quantity <= 0 }

// ResolveQuantity applies the quantity rules of a change to one line: a result of zero or less
// removes it; above the per-line limit is invalid whatever the policy (validation comes before
// stock); above the free stock, the policy decides. It returns a StockShort *Error under
// Reject, with Available set.
func ResolveQuantity(q QuantityRequest) (QuantityResult, error) {
	requested := q.Change.N
	if !q.Change.Set {
		if (q.Change.N > 0 && q.Current > math.MaxInt64-q.Change.N) || (q.Change.N < 0 && q.Current < math.MinInt64-q.Change.N) {
			return QuantityResult{}, InvalidField("quantity_out_of_range", "quantity_delta", "quantity_delta is out of range")
		}
		requested = q.Current + q.Change.N
	}
	if requested <= 0 {
		return QuantityResult{Requested: requested}, nil
	}
	if requested > q.Limit {
		return QuantityResult{}, InvalidField("quantity_limit", field(q.Change), "quantity %s is above the limit of %s per item", FormatScaled(requested, q.Scale), FormatScaled(q.Limit, q.Scale))
	}
	if q.GuestLimit > 0 && requested > q.GuestLimit {
		return QuantityResult{}, InvalidField("guest_quantity_limit", field(q.Change),
			"quantity %s is above the limit of %s per item for a guest cart; a signed-in customer's cart may hold up to %s",
			FormatScaled(requested, q.Scale), FormatScaled(q.GuestLimit, q.Scale), FormatScaled(q.Limit, q.Scale))
	}
	// The quantity rule is a shop rule like the limit: checked before stock. Under Clamp the
	// request is lowered to the largest quantity the rule allows, if there is one at all.
	span := q.Rule.Span(q.Held)
	target := requested
	if !span.Allows(requested) {
		f, ok := span.Floor(requested)
		if q.Policy != Clamp || !ok {
			return QuantityResult{}, NotAllowedAt(q.Rule, span, requested, field(q.Change), q.Scale)
		}
		target = f
	}
	free := max(q.Free, 0)
	res := QuantityResult{Requested: requested, Quantity: target, Scale: q.Scale}
	if target != requested {
		res.ByRule, res.Allowed, res.Clamped = true, target, true
	}
	// Stock is checked only for increases: lowering the quantity of a line that is already
	// short (backordered, or stock taken away from it) always succeeds. A lapsed line holds
	// nothing it can keep, so any quantity it is given is a new request for stock.
	increase := target > q.Current || q.Lapsed
	if target > free && increase {
		switch q.Policy {
		case Clamp:
			// The most the stock covers that the rule allows; none removes the line.
			res.Quantity, _ = span.Floor(free)
			res.Clamped = true
		case Ignore:
		default:
			e := Errorf(StockShort, "insufficient_stock", "only %s available, %s requested", FormatScaled(free, q.Scale), FormatScaled(target, q.Scale))
			e.Fields = []FieldError{{Field: field(q.Change), Message: e.Message}}
			e.Available = &free
			return QuantityResult{}, e
		}
	}
	if res.Quantity > free {
		res.Backorder = increase || q.CurrentBackorder
	}
	if q.Reserve {
		res.Reserved = min(res.Quantity, free)
	}
	return res, nil
}

// field names the request field a change came from, for error reports.
func field(c Change) string {
	if c.Set {
		return "quantity"
	}
	return "quantity_delta"
}

// QuantityMessages reports a resolved change to the shopper.
func QuantityMessages(itemNum int64, r QuantityResult, free int64, created bool) []Message {
	req, app, av := r.Requested, max(r.Quantity, 0), max(free, 0)
	n := func(q int64) string { return FormatScaled(q, r.Scale) }
	switch {
	case r.Clamped && r.Removed() && created:
		return []Message{{Type: Warning, Code: "out_of_stock",
			Text:      fmt.Sprintf("Requested quantity %s is not available; nothing was added", n(req)),
			Requested: &req, Applied: &app, Available: &av}}
	case r.Clamped && r.Removed():
		return []Message{{Type: Warning, Code: "item_removed", ItemNum: itemNum,
			Text:      fmt.Sprintf("Requested quantity %s is not available; the item was removed", n(req)),
			Requested: &req, Applied: &app, Available: &av}}
	case r.Removed():
		return []Message{{Type: Info, Code: "item_removed", ItemNum: itemNum, Text: "Item removed from cart",
			Requested: &req, Applied: &app}}
	case r.Clamped && r.ByRule && r.Quantity == r.Allowed:
		return []Message{{Type: Warning, Code: "quantity_clamped", ItemNum: itemNum,
			Text:      fmt.Sprintf("Quantity %s is not allowed for this item; quantity set to %s instead of %s", n(req), n(app), n(req)),
			Requested: &req, Applied: &app, Available: &av}}
	case r.Clamped:
		return []Message{{Type: Warning, Code: "quantity_clamped", ItemNum: itemNum,
			Text:      fmt.Sprintf("Only %s available; quantity set to %s instead of %s", n(av), n(app), n(req)),
			Requested: &req, Applied: &app, Available: &av}}
	case r.Backorder:
		return []Message{{Type: Warning, Code: "backordered", ItemNum: itemNum,
			Text:      fmt.Sprintf("Only %s available; %s backordered", n(av), n(app-min(av, app))),
			Requested: &req, Applied: &app, Available: &av}}
	case created:
		return []Message{{Type: Info, Code: "item_added", ItemNum: itemNum, Text: "Item added to cart", Requested: &req, Applied: &app}}
	}
	return []Message{{Type: Info, Code: "quantity_updated", ItemNum: itemNum, Text: "Item quantity updated", Requested: &req, Applied: &app}}
}
