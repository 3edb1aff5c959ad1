package cart

import (
	"fmt"
	"math"
	"strings"
)

// QuantityRule says which quantities of a variant a shop sells: from Min to Max in steps of
// Increment (sold in pairs: Increment 2; cases of 12: Increment 12; at least 3: Min 3), and at
// most MaxPerCustomer units per customer across their carts. A zero field is unset: Increment
// defaults to 1, Min to Increment, and Max and MaxPerCustomer to no bound. Min and Max are
// multiples of Increment (ValidateRule), so the quantities allowed are exactly the multiples
// of Increment from Min to Max.
//
// A variant's own rule replaces its product's whole (RuleOf); it does not merge with it.
type QuantityRule struct {
	Min            int64 `json:"min,omitempty"`
	Max            int64 `json:"max,omitempty"`
	Increment      int64 `json:"increment,omitempty"`
	MaxPerCustomer int64 `json:"max_per_customer,omitempty"`
}

// maxRuleValue bounds every value of a rule, as max_quantity_per_item is bounded.
const maxRuleValue = 1_000_000

// RuleOf is the rule in effect for a variant: its own, else its product's, else none (a zero
// rule allows every positive quantity).
func RuleOf(v *Variant, p *Product) QuantityRule {
	switch {
	case v != nil && v.QuantityRule != nil:
		return *v.QuantityRule
	case p != nil && p.QuantityRule != nil:
		return *p.QuantityRule
	}
	return QuantityRule{}
}

// IsZero reports a rule that restricts nothing.
func (r QuantityRule) IsZero() bool { return r == QuantityRule{} }

// Step is the increment in effect: Increment, or 1.
func (r QuantityRule) Step() int64 { return max(r.Increment, 1) }

// Lowest is the smallest quantity allowed: Min, or Step.
func (r QuantityRule) Lowest() int64 {
	if r.Min > 0 {
		return r.Min
	}
	return r.Step()
}

// Highest is the largest quantity the rule's own Max and MaxPerCustomer allow a single cart,
// MaxInt64 when neither is set.
func (r QuantityRule) Highest() int64 { return r.Span(0).Hi }

// Span is the quantities a line may hold when the customer's other carts hold held units of
// the variant: the multiples of Step from Lo to Hi. Hi < Lo means none.
func (r QuantityRule) Span(held int64) Span {
	s := Span{Lo: r.Lowest(), Step: r.Step(), Hi: math.MaxInt64}
	if r.Max > 0 {
		s.Hi = r.Max
	}
	if r.MaxPerCustomer > 0 {
		room := max(r.MaxPerCustomer-max(held, 0), 0)
		s.Hi = min(s.Hi, room-room%s.Step)
	}
	s.Held = held
	return s
}

// Span is the set of quantities a rule allows one line: Lo, Lo+Step, ... up to Hi. Held is
// what the customer's other carts hold of the variant (counted against MaxPerCustomer).
type Span struct {
	Lo, Step, Hi int64
	Held         int64
}

// Empty reports that the span allows no positive quantity.
func (s Span) Empty() bool { return s.Hi < s.Lo }

// Allows reports whether q is allowed; 0 (no line) always is.
func (s Span) Allows(q int64) bool {
	return q == 0 || q >= s.Lo && q <= s.Hi && q%s.Step == 0
}

// Floor is the largest allowed quantity not above q; false when there is none.
func (s Span) Floor(q int64) (int64, bool) {
	q = min(q, s.Hi)
	if q < s.Lo {
		return 0, false
	}
	return q - q%s.Step, true // Lo is a multiple of Step, so this is at least Lo
}

// Ceil is the smallest allowed quantity not below q; false when there is none.
func (s Span) Ceil(q int64) (int64, bool) {
	q = max(q, s.Lo)
	if r := q % s.Step; r != 0 {
		if q > math.MaxInt64-(s.Step-r) {
			return 0, false
		}
		q += s.Step - r
	}
	if q > s.Hi {
		return 0, false
	}
	return q, true
}

// RuleDetail is what a quantity_not_allowed error tells the client: the rule, and the allowed
// quantities nearest to the one asked for (nil when there is none on that side).
type RuleDetail struct {
	Rule         QuantityRule
	Requested    int64
	NearestBelow *int64
	NearestAbove *int64
	// Held is what the customer's other carts hold of the variant (0 without MaxPerCustomer).
	Held int64
}

// NotAllowed builds the error for a quantity q the span does not allow, naming field.
func NotAllowed(r QuantityRule, s Span, q int64, field string) *Error {
	return NotAllowedAt(r, s, q, field, 0)
}

// NotAllowedAt is NotAllowed for a variant of quantity scale scale: its message writes the
// quantities as decimals of that scale.
func NotAllowedAt(r QuantityRule, s Span, q int64, field string, scale int) *Error {
	d := &RuleDetail{Rule: r, Requested: q, Held: s.Held}
	if b, ok := s.Floor(q); ok && b != q {
		d.NearestBelow = &b
	}
	if a, ok := s.Ceil(q); ok && a != q {
		d.NearestAbove = &a
	}
	n := func(q int64) string { return FormatScaled(q, scale) }
	msg := fmt.Sprintf("quantity %s is not allowed: %s", n(q), r.DescribeAt(s.Held, scale))
	switch {
	case d.NearestBelow != nil && d.NearestAbove != nil:
		msg += fmt.Sprintf("; the nearest allowed are %s and %s", n(*d.NearestBelow), n(*d.NearestAbove))
	case d.NearestBelow != nil:
		msg += fmt.Sprintf("; the nearest allowed is %s", n(*d.NearestBelow))
	case d.NearestAbove != nil:
		msg += fmt.Sprintf("; the nearest allowed is %s", n(*d.NearestAbove))
	default:
		msg += "; no quantity is allowed"
	}
	return &Error{Code: Invalid, Reason: "quantity_not_allowed", Message: msg,
		Fields: []FieldError{{Field: field, Message: msg}}, Rule: d}
}

// Describe says the rule in words, for messages: "sold in multiples of 2, from 2 to 10".
func (r QuantityRule) Describe(held int64) string { return r.DescribeAt(held, 0) }

// DescribeAt is Describe with the values written as decimals of scale.
func (r QuantityRule) DescribeAt(held int64, scale int) string {
	n := func(q int64) string { return FormatScaled(q, scale) }
	var parts []string
	if r.Step() > 1 {
		parts = append(parts, "sold in multiples of "+n(r.Step()))
	}
	if r.Lowest() > r.Step() {
		parts = append(parts, "at least "+n(r.Lowest()))
	}
	if r.Max > 0 {
		parts = append(parts, "at most "+n(r.Max)+" per cart")
	}
	if r.MaxPerCustomer > 0 {
		p := "at most " + n(r.MaxPerCustomer) + " per customer"
		if held > 0 {
			p += " (" + n(held) + " in the customer's other carts)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "any quantity"
	}
	return strings.Join(parts, ", ")
}

// ValidateRule checks a rule as a shop sends it and returns its field errors, named under
// prefix ("quantity_rule", "variants[0].quantity_rule"): every value 1 to 1,000,000 when
// set; Min and Max multiples of Increment; Min not above Max; MaxPerCustomer at least the
// lowest quantity allowed.
func ValidateRule(r QuantityRule, prefix string) []FieldError { return ValidateRuleAt(r, prefix, 0) }

// ValidateRuleAt is ValidateRule for a variant of quantity scale scale: the values count
// units of 10^-scale, and the bound is 1,000,000 whole units.
func ValidateRuleAt(r QuantityRule, prefix string, scale int) []FieldError {
	var errs []FieldError
	bound := ScaleLimit(maxRuleValue, scale)
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: prefix + "." + field, Message: fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"min", r.Min}, {"max", r.Max}, {"increment", r.Increment}, {"max_per_customer", r.MaxPerCustomer}} {
		if f.v < 0 || f.v > bound {
			bad(f.name, "%s must be 1 to %d when given", f.name, maxRuleValue)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	step := r.Step()
	if r.Min > 0 && r.Min%step != 0 {
		bad("min", "min %d is not a multiple of increment %d", r.Min, step)
	}
	if r.Max > 0 && r.Max%step != 0 {
		bad("max", "max %d is not a multiple of increment %d", r.Max, step)
	}
	if r.Max > 0 && r.Max < r.Lowest() {
		bad("max", "max %d is below the lowest quantity allowed, %d", r.Max, r.Lowest())
	}
	if r.MaxPerCustomer > 0 && r.MaxPerCustomer < r.Lowest() {
		bad("max_per_customer", "max_per_customer %d is below the lowest quantity allowed, %d", r.MaxPerCustomer, r.Lowest())
	}
	return errs
}

// UnreachableTiers returns the indexes of tiers (ascending MinQuantity) whose price no allowed
// quantity ever gets: those whose MinQuantity is above the largest quantity allowed, and
// those the next tier overtakes before any allowed quantity reaches them (increment 2, tiers
// at 3 and 4: the first allowed quantity from 3 on is 4, which is the second tier's).
func (r QuantityRule) UnreachableTiers(tiers []Tier) []int {
	s := r.Span(0)
	var out []int
	for i, t := range tiers {
		q, ok := s.Ceil(t.MinQuantity)
		if !ok || i+1 < len(tiers) && q >= tiers[i+1].MinQuantity {
			out = append(out, i)
		}
	}
	return out
}
