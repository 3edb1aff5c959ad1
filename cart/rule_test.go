package cart

import (
	"errors"
	"testing"

	"pgregory.net/rapid"
)

func TestSpan(t *testing.T) {
	pairs := QuantityRule{Increment: 2, Max: 10}
	tests := []struct {
		name            string
		rule            QuantityRule
		held, q         int64
		allows          bool
		floor, ceil     int64 // 0: none
		floorOK, ceilOK bool
	}{
		{"no rule allows any quantity", QuantityRule{}, 0, 7, true, 7, 7, true, true},
		{"pairs refuse an odd quantity", pairs, 0, 3, false, 2, 4, true, true},
		{"pairs allow an even one", pairs, 0, 4, true, 4, 4, true, true},
		{"nothing is below the lowest", pairs, 0, 1, false, 0, 2, false, true},
		{"nothing is above max", pairs, 0, 11, false, 10, 0, true, false},
		{"a minimum of 3", QuantityRule{Min: 3}, 0, 2, false, 0, 3, false, true},
		{"min 12 in cases of 6", QuantityRule{Min: 12, Increment: 6}, 0, 13, false, 12, 18, true, true},
		{"the customer's other carts lower max", QuantityRule{MaxPerCustomer: 5}, 3, 3, false, 2, 0, true, false},
		{"a customer at their limit gets nothing", QuantityRule{MaxPerCustomer: 2}, 2, 1, false, 0, 0, false, false},
		{"the room per customer is rounded down to the increment", QuantityRule{Increment: 2, MaxPerCustomer: 7}, 0, 7, false, 6, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.rule.Span(tt.held)
			if got := s.Allows(tt.q); got != tt.allows {
				t.Errorf("Allows(%d) = %v, want %v", tt.q, got, tt.allows)
			}
			if f, ok := s.Floor(tt.q); ok != tt.floorOK || ok && f != tt.floor {
				t.Errorf("Floor(%d) = %d, %v; want %d, %v", tt.q, f, ok, tt.floor, tt.floorOK)
			}
			if c, ok := s.Ceil(tt.q); ok != tt.ceilOK || ok && c != tt.ceil {
				t.Errorf("Ceil(%d) = %d, %v; want %d, %v", tt.q, c, ok, tt.ceil, tt.ceilOK)
			}
		})
	}
}

func TestValidateRule(t *testing.T) {
	tests := []struct {
		name   string
		rule   QuantityRule
		fields []string
	}{
		{"an empty rule is valid", QuantityRule{}, nil},
		{"pairs up to 10 are valid", QuantityRule{Increment: 2, Max: 10}, nil},
		{"min not a multiple of increment", QuantityRule{Increment: 2, Min: 3}, []string{"r.min"}},
		{"max not a multiple of increment", QuantityRule{Increment: 12, Max: 30}, []string{"r.max"}},
		{"max below min", QuantityRule{Min: 4, Max: 2}, []string{"r.max"}},
		{"max_per_customer below min", QuantityRule{Min: 4, MaxPerCustomer: 3}, []string{"r.max_per_customer"}},
		{"negative values", QuantityRule{Min: -1, Increment: -2}, []string{"r.min", "r.increment"}},
		{"values past a million", QuantityRule{Max: 1_000_001}, []string{"r.max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateRule(tt.rule, "r") {
				got = append(got, e.Field)
			}
			if len(got) != len(tt.fields) {
				t.Fatalf("fields %v, want %v", got, tt.fields)
			}
			for i := range got {
				if got[i] != tt.fields[i] {
					t.Fatalf("fields %v, want %v", got, tt.fields)
				}
			}
		})
	}
}

func TestUnreachableTiers(t *testing.T) {
	tier := func(q int64) Tier { return Tier{MinQuantity: q, Prices: map[string]int64{"USD": 1}} }
	tests := []struct {
		name  string
		rule  QuantityRule
		tiers []Tier
		want  []int
	}{
		{"no rule reaches every tier", QuantityRule{}, []Tier{tier(2), tier(3)}, nil},
		{"a tier above max is unreachable", QuantityRule{Max: 10}, []Tier{tier(5), tier(11)}, []int{1}},
		{"a tier overtaken by the next before an allowed quantity", QuantityRule{Increment: 2}, []Tier{tier(3), tier(4)}, []int{0}},
		{"a tier between allowed quantities is reached at the next", QuantityRule{Increment: 2}, []Tier{tier(3), tier(6)}, nil},
		{"max_per_customer bounds the tiers too", QuantityRule{MaxPerCustomer: 4}, []Tier{tier(5)}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.UnreachableTiers(tt.tiers)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestResolveQuantityUnderRules(t *testing.T) {
	pairs := QuantityRule{Increment: 2, Max: 10}
	tests := []struct {
		name       string
		req        QuantityRequest
		want       QuantityResult
		wantReason string
	}{
		{"an allowed quantity passes",
			QuantityRequest{Change: SetTo(4), Limit: 999, Free: 10, Reserve: true, Rule: pairs},
			QuantityResult{Requested: 4, Quantity: 4, Reserved: 4}, ""},
		{"reject refuses a quantity off the increment",
			QuantityRequest{Change: SetTo(3), Limit: 999, Free: 10, Rule: pairs}, QuantityResult{}, "quantity_not_allowed"},
		{"ignore refuses it too: the policy is about stock",
			QuantityRequest{Change: SetTo(3), Limit: 999, Free: 10, Policy: Ignore, Rule: pairs}, QuantityResult{}, "quantity_not_allowed"},
		{"clamp lowers above max to max",
			QuantityRequest{Change: SetTo(12), Limit: 999, Free: 100, Policy: Clamp, Reserve: true, Rule: pairs},
			QuantityResult{Requested: 12, Quantity: 10, Reserved: 10, Clamped: true, ByRule: true, Allowed: 10}, ""},
		{"clamp refuses when nothing is allowed at or below the request",
			QuantityRequest{Change: SetTo(1), Limit: 999, Free: 100, Policy: Clamp, Rule: pairs}, QuantityResult{}, "quantity_not_allowed"},
		{"clamp takes the largest allowed quantity the stock covers",
			QuantityRequest{Change: SetTo(8), Limit: 999, Free: 5, Policy: Clamp, Reserve: true, Rule: pairs},
			QuantityResult{Requested: 8, Quantity: 4, Reserved: 4, Clamped: true}, ""},
		{"clamp removes the line when the stock cannot cover min",
			QuantityRequest{Current: 4, CurrentReserved: 0, Change: SetTo(4), Limit: 999, Free: 3, Policy: Clamp, Reserve: true, Lapsed: true, Rule: QuantityRule{Min: 4}},
			QuantityResult{Requested: 4, Quantity: 0, Clamped: true}, ""},
		{"a delta off the increment is refused",
			QuantityRequest{Current: 2, CurrentReserved: 2, Change: AddDelta(1), Limit: 999, Free: 10, Rule: pairs}, QuantityResult{}, "quantity_not_allowed"},
		{"the limit per item comes first",
			QuantityRequest{Change: SetTo(1000), Limit: 999, Free: 10, Policy: Clamp, Rule: pairs}, QuantityResult{}, "quantity_limit"},
		{"what the customer's other carts hold counts",
			QuantityRequest{Change: SetTo(2), Limit: 999, Free: 10, Rule: QuantityRule{MaxPerCustomer: 2}, Held: 1}, QuantityResult{}, "quantity_not_allowed"},
		{"removing is always allowed",
			QuantityRequest{Current: 4, CurrentReserved: 4, Change: SetTo(0), Limit: 999, Free: 10, Rule: QuantityRule{Min: 4}},
			QuantityResult{Requested: 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveQuantity(tt.req)
			if tt.wantReason != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != tt.wantReason {
					t.Fatalf("err = %v, want reason %s", err, tt.wantReason)
				}
				if e.Reason == "quantity_not_allowed" && (e.Rule == nil || e.Rule.Rule != tt.req.Rule) {
					t.Fatalf("the error does not carry the rule: %+v", e.Rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// genRule draws a valid rule: every field unset or a small value, min and max multiples of
// the increment.
func genRule(t *rapid.T) QuantityRule {
	r := QuantityRule{Increment: rapid.SampledFrom([]int64{0, 1, 2, 3, 6, 12}).Draw(t, "increment")}
	step := r.Step()
	if rapid.Bool().Draw(t, "has_min") {
		r.Min = step * rapid.Int64Range(1, 4).Draw(t, "min_steps")
	}
	if rapid.Bool().Draw(t, "has_max") {
		r.Max = r.Lowest() + step*rapid.Int64Range(0, 6).Draw(t, "max_steps")
	}
	if rapid.Bool().Draw(t, "has_max_per_customer") {
		r.MaxPerCustomer = r.Lowest() + rapid.Int64Range(0, 30).Draw(t, "max_per_customer_over")
	}
	return r
}

// TestResolveQuantityProperties holds the rule engine to what the rules promise, over random
// rules, lines, stock and changes: a result is 0 or allowed by the rule; clamp never gives
// more than was asked, nor raises a line above the free stock; a refusal under clamp means no
// allowed quantity was at or below the request; nothing reserves more than is free.
func TestResolveQuantityProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rule := genRule(t)
		held := rapid.Int64Range(0, 20).Draw(t, "held")
		span := rule.Span(held)
		current := rapid.Int64Range(0, 60).Draw(t, "current")
		if !span.Allows(current) {
			current, _ = span.Floor(current) // lines hold allowed quantities (0 when none is)
		}
		free := rapid.Int64Range(0, 60).Draw(t, "free")
		reserved := min(current, free)
		free = max(free, reserved)
		ch := SetTo(rapid.Int64Range(-3, 70).Draw(t, "set"))
		if rapid.Bool().Draw(t, "delta") {
			ch = AddDelta(rapid.Int64Range(-20, 20).Draw(t, "delta_n"))
		}
		policy := rapid.SampledFrom([]Policy{Reject, Clamp, Ignore}).Draw(t, "policy")
		req := QuantityRequest{Current: current, CurrentReserved: reserved, Change: ch, Limit: 999, Free: free,
			Policy: policy, Reserve: true, Rule: rule, Held: held}
		res, err := ResolveQuantity(req)
		requested := ch.N
		if !ch.Set {
			requested += current
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			if e.Reason == "quantity_not_allowed" {
				if span.Allows(requested) {
					t.Fatalf("refused %d, which the rule allows", requested)
				}
				if _, ok := span.Floor(requested); ok && policy == Clamp {
					t.Fatalf("clamp refused %d though an allowed quantity is below it", requested)
				}
			}
			return
		}
		q := max(res.Quantity, 0)
		if !span.Allows(q) {
			t.Fatalf("quantity %d is not allowed by %+v (held %d)", q, rule, held)
		}
		if q > max(requested, 0) {
			t.Fatalf("quantity %d above the request %d", q, requested)
		}
		if policy != Ignore && q > current && q > free {
			t.Fatalf("quantity %d raised above the free stock %d", q, free)
		}
		if res.Reserved > free || res.Reserved > q {
			t.Fatalf("reserved %d of quantity %d with %d free", res.Reserved, q, free)
		}
	})
}

// TestMergeQuantityProperties holds a merge to the rule: the target line ends at a quantity
// the rule allows or as it was, never above what was asked, and never takes more stock than
// is free beyond what it had.
func TestMergeQuantityProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rule := genRule(t)
		held := rapid.Int64Range(0, 20).Draw(t, "held")
		span := rule.Span(held)
		current := rapid.Int64Range(0, 40).Draw(t, "current")
		if !span.Allows(current) {
			current, _ = span.Floor(current)
		}
		free := rapid.Int64Range(0, 60).Draw(t, "free")
		add := rapid.Int64Range(1, 40).Draw(t, "add")
		limit := rapid.Int64Range(1, 80).Draw(t, "limit")
		res := MergeQuantity(MergeRequest{Current: current, CurrentReserved: min(current, free), Add: add, Limit: limit,
			Free: max(free, min(current, free)), Reserve: true, Rule: rule, Held: held})
		if res.Quantity != current && !span.Allows(res.Quantity) {
			t.Fatalf("merged quantity %d is not allowed by %+v (held %d)", res.Quantity, rule, held)
		}
		if res.Quantity > current+add || res.Quantity < current {
			t.Fatalf("merged quantity %d outside [%d, %d]", res.Quantity, current, current+add)
		}
		if res.Quantity > current && (res.Quantity > free || res.Quantity > limit) {
			t.Fatalf("merged quantity %d above free %d or limit %d", res.Quantity, free, limit)
		}
	})
}
