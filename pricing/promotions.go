package pricing

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/cartd/cartd/cart"
)

// The order and stacking rule of promotions. Price considers the cart's coupons (manual codes)
// and the shop's automatic promotions, and applies them in stages, each stage in ascending
// order of code:
//
//  1. conditions: a promotion takes part only if its conditions hold (cart.Promotion): active,
//     within its validity window at the instant priced, offered in the cart's currency, at
//     least one eligible line, the cart's subtotal before any discount at least its minimum,
//     its eligible lines holding at least its minimum quantity;
//  2. item level: fixedprice sells each eligible unit at its price when that is lower (where
//     several do, the lowest price wins the line); then each lowestcost makes the cheapest
//     eligible unit free, at its price after fixedprice (several take one unit each, the
//     cheapest not yet free; ties go to the SKU first in order);
//  3. percent: every percent promotion applies to the same base, each line's amount after the
//     item level; their rates add, capped at 100% per line (a promotion that would take a line
//     past 100% gets what is left of it);
//  4. cash: each takes its amount off its eligible lines' amounts after percent, never more
//     than those amounts;
//  5. freeship waives the shipping that is charged after the discounts.
//
// Rounding and allocation: fixedprice, lowestcost and cash amounts are whole minor units
// already. The percent discount is computed per line at the line's summed rate and rounded
// once for the whole cart, half up; it is split among the percent promotions (for their
// reported amounts) and among the lines, each by largest remainder. A cash amount is split
// among its lines in proportion to their amounts, by largest remainder. Largest remainder:
// every share is the floor of its exact share, and the units left over go one each to the
// largest remainders (ties to the SKU, or the code, first in order), so the shares add up
// exactly to the amount and none exceeds its exact share rounded up. So the lines' discounts
// add up exactly to the cart's discount, and no line's discount exceeds its amount. Freeship
// is not part of the discount: it lowers shipping.

// candidate is a promotion under evaluation.
type candidate struct {
	view     cart.PromotionView
	eligible []int // indexes of v.Lines, in lineOrder
}

// lineOrder returns the indexes of v.Lines sorted by SKU, then item number: the order that
// decides ties, so that figures do not depend on the order lines come in.
func lineOrder(lines []cart.LineView) []int {
	order := make([]int, len(lines))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(lines[a].Variant.SKU, lines[b].Variant.SKU), cmp.Compare(lines[a].Item.Num, lines[b].Item.Num))
	})
	return order
}

// promote applies the cart's promotions to v's lines (their Discount) and sets v.Discount and
// v.Promotions. It returns the index in v.Promotions of the freeship promotion that waives
// shipping, or -1. Lines' subtotals and v.Subtotal must be set; every amount stays within the
// subtotal, so nothing here can overflow.
func promote(v *cart.View, in Input) int {
	cur := v.Cart.Currency
	order := lineOrder(v.Lines)

	// The candidates: the cart's coupons in the order applied, then the automatic promotions
	// in code order; a code counts once.
	coupons := slices.Clone(in.Coupons)
	slices.SortFunc(coupons, func(a, b cart.Coupon) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), strings.Compare(a.Code, b.Code))
	})
	autos := slices.Clone(in.Promotions)
	slices.SortFunc(autos, func(a, b cart.Promotion) int { return strings.Compare(a.Code, b.Code) })
	var cands []*candidate
	seen := map[string]bool{}
	for _, c := range coupons {
		if seen[c.Code] {
			continue
		}
		seen[c.Code] = true
		p := c.Promotion
		if p.Code == "" { // a code whose promotion is gone
			p = cart.Promotion{Code: c.Code, Deleted: true}
		}
		cands = append(cands, &candidate{view: cart.PromotionView{Promotion: p, Coupon: true}})
	}
	for _, p := range autos {
		if seen[p.Code] || p.Method != cart.Auto {
			continue
		}
		seen[p.Code] = true
		cands = append(cands, &candidate{view: cart.PromotionView{Promotion: p}})
	}
	for _, c := range cands {
		c.eligible, c.view.Reason, c.view.Text = check(c.view.Promotion, v, in.Now, order)
		c.view.Applied = c.view.Reason == ""
	}
	byCode := slices.Clone(cands)
	slices.SortFunc(byCode, func(a, b *candidate) int { return strings.Compare(a.view.Promotion.Code, b.view.Promotion.Code) })
	stage := func(t cart.PromotionType) []*candidate {
		var out []*candidate
		for _, c := range byCode {
			if c.view.Applied && c.view.Promotion.Type == t {
				out = append(out, c)
			}
		}
		return out
	}

	n := len(v.Lines)
	disc := make([]int64, n)

	// 2. Item level: fixedprice, then lowestcost.
	unit := make([]int64, n) // each line's unit price after fixedprice
	for i, lv := range v.Lines {
		unit[i] = lv.UnitPrice
	}
	winner := make([]*candidate, n)
	for _, c := range stage(cart.FixedPrice) {
		fixed := c.view.Promotion.Amounts[cur]
		for _, i := range c.eligible {
			if fixed < unit[i] {
				unit[i], winner[i] = fixed, c
			}
		}
	}
	for i, c := range winner {
		if c != nil {
			// At the line's own rounding, so that the line's amount after it is what the
			// fixed price gives (pricing.Amount; for whole units (p-f)*q).
			l := &v.Lines[i]
			full, _ := Amount(l.UnitPrice, l.Item.Quantity, l.Variant.Scale()) // l.Subtotal
			fixed, _ := Amount(unit[i], l.Item.Quantity, l.Variant.Scale())
			d := full - fixed
			disc[i] += d
			c.view.Amount += d
		}
	}
	free := make([]int64, n) // units made free by lowestcost
	for _, c := range stage(cart.LowestCost) {
		pick := -1
		for _, i := range c.eligible {
			// A measured line gives away whole units only: 1 of its 1.25 kg.
			whole := v.Lines[i].Item.Quantity / cart.Pow10(v.Lines[i].Variant.Scale())
			if free[i] < whole && (pick < 0 || unit[i] < unit[pick]) {
				pick = i
			}
		}
		if pick >= 0 {
			free[pick]++
			disc[pick] += unit[pick]
			c.view.Amount += unit[pick]
		}
	}

	// 3. Percent, all on the amounts after the item level. Each line's rate is the sum of
	// its promotions' (capped at 100%), and the percent discount is rounded once for the
	// cart: rounding each promotion on its own could take more off for a higher base than
	// for a lower one, and removing a promotion must never lower subtotal - discount.
	if pct := stage(cart.Percent); len(pct) > 0 {
		used := make([]int64, n) // each line's rate so far, basis points
		floors := make([]int64, len(pct))
		rems := make([]int64, len(pct)) // ten-thousandths above floors
		for k, c := range pct {
			for _, i := range c.eligible {
				rate := min(c.view.Promotion.Rate, 10000-used[i])
				used[i] += rate
				q, r := mulDiv10000(v.Lines[i].Subtotal-disc[i], rate)
				floors[k] += q
				rems[k] += r
			}
			floors[k] += rems[k] / 10000
			rems[k] %= 10000
		}
		lineFloors := make([]int64, n)
		lineRems := make([]int64, n)
		var total, sumRem int64
		for _, i := range order {
			lineFloors[i], lineRems[i] = mulDiv10000(v.Lines[i].Subtotal-disc[i], used[i])
			total += lineFloors[i]
			sumRem += lineRems[i]
		}
		total += (sumRem + 5000) / 10000 // half up
		// The total goes to the lines and, separately, to the promotions, each by largest
		// remainder; a line's share never exceeds its amount (its exact share is at most it).
		extra := total
		for i := range disc {
			extra -= lineFloors[i]
		}
		byRem := make([]int64, n)
		for j, i := range order {
			byRem[j] = lineRems[i]
		}
		for _, j := range byRemainder(byRem) {
			if extra == 0 {
				break
			}
			lineFloors[order[j]]++
			extra--
		}
		for i := range disc {
			disc[i] += lineFloors[i]
		}
		extra = total
		for _, f := range floors {
			extra -= f
		}
		for _, k := range byRemainder(rems) {
			if extra == 0 {
				break
			}
			floors[k]++
			extra--
		}
		for k, c := range pct {
			c.view.Amount = floors[k]
		}
	}

	// 4. Cash, each on what is left of its lines.
	for _, c := range stage(cart.Cash) {
		weights := make([]int64, len(c.eligible))
		var left int64
		for j, i := range c.eligible {
			weights[j] = v.Lines[i].Subtotal - disc[i]
			left += weights[j]
		}
		amount := min(c.view.Promotion.Amounts[cur], left)
		for j, share := range Allocate(amount, weights) {
			disc[c.eligible[j]] += share
		}
		c.view.Amount = amount
	}

	v.Discount = 0
	for i := range v.Lines {
		v.Lines[i].Discount = disc[i]
		v.Discount += disc[i]
	}

	// 5. Freeship: the first in code order carries the waiver (Price sets its amount).
	var shipFree *candidate
	if fs := stage(cart.FreeShip); len(fs) > 0 {
		shipFree = fs[0]
	}
	v.Promotions = v.Promotions[:0]
	waiver := -1
	for _, c := range cands {
		if !c.view.Coupon && !c.view.Applied {
			continue // an automatic promotion is shown only where it applies
		}
		if c == shipFree {
			waiver = len(v.Promotions)
		}
		v.Promotions = append(v.Promotions, c.view)
	}
	return waiver
}

// mulDiv10000 returns a*rate/10000 as a quotient and a remainder in ten-thousandths; a is an
// amount (< 2^63) and rate at most 10000 basis points, so the 128-bit product's high word is
// below 10000 and the quotient fits.
func mulDiv10000(a, rate int64) (q, r int64) {
	hi, lo := bits.Mul64(uint64(a), uint64(rate))
	uq, ur := bits.Div64(hi, lo, 10000)
	return int64(uq), int64(ur)
}

// byRemainder returns the indexes of rems by descending remainder, ties in index order (which
// is line order).
func byRemainder(rems []int64) []int {
	idx := make([]int, len(rems))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	return idx
}

// Allocate splits total over weights in proportion, by largest remainder: each share is the
// floor of its exact share total*w/sum, and the units left over go one each to the largest
// remainders, ties to the earlier weight. The shares add up exactly to total, and none
// exceeds its weight. total must be between 0 and the sum of the weights, weights
// non-negative, and their sum must fit in an int64.
func Allocate(total int64, weights []int64) []int64 {
	shares := make([]int64, len(weights))
	var sum int64
	for _, w := range weights {
		sum += w
	}
	if total <= 0 || sum <= 0 {
		return shares
	}
	rems := make([]int64, len(weights))
	left := total
	for j, w := range weights {
		// total*w/sum <= w < 2^63, so the 128-bit quotient fits in 64 bits.
		hi, lo := bits.Mul64(uint64(total), uint64(w))
		q, r := bits.Div64(hi, lo, uint64(sum))
		shares[j], rems[j] = int64(q), int64(r)
		left -= int64(q)
	}
	for _, j := range byRemainder(rems) {
		if left == 0 {
			break
		}
		shares[j]++
		left--
	}
	return shares
}

// check decides whether a promotion's conditions hold for the priced lines of v at now. It
// returns the eligible lines (in the order of order) and, when the promotion does not apply, a reason
// (cart.NotActive, ...) and a sentence saying why.
func check(p cart.Promotion, v *cart.View, now time.Time, order []int) (eligible []int, reason, text string) {
	cur := v.Cart.Currency
	switch {
	case p.Deleted:
		return nil, cart.NotActive, fmt.Sprintf("%s is no longer offered", p.Code)
	case !p.Active:
		return nil, cart.NotActive, fmt.Sprintf("%s is not active", p.Code)
	case !p.StartsAt.IsZero() && now.Before(p.StartsAt):
		return nil, cart.NotStarted, fmt.Sprintf("%s starts at %s", p.Code, p.StartsAt.UTC().Format(time.RFC3339))
	case !p.EndsAt.IsZero() && !now.Before(p.EndsAt):
		return nil, cart.Ended, fmt.Sprintf("%s expired at %s", p.Code, p.EndsAt.UTC().Format(time.RFC3339))
	}
	_, hasAmount := p.Amounts[cur]
	_, hasMin := p.MinSubtotal[cur]
	if ((p.Type == cart.Cash || p.Type == cart.FixedPrice) && !hasAmount) || (len(p.MinSubtotal) > 0 && !hasMin) {
		return nil, cart.NotInCurrency, fmt.Sprintf("%s is not offered in %s", p.Code, cur)
	}
	var units int64
	for _, i := range order {
		if Eligible(&p, &v.Lines[i].Line) {
			eligible = append(eligible, i)
			units += cart.WholeUnits(v.Lines[i].Item.Quantity, v.Lines[i].Variant.Scale())
		}
	}
	if len(eligible) == 0 {
		return nil, cart.NoEligibleItems, fmt.Sprintf("no item in the cart qualifies for %s", p.Code)
	}
	if min := p.MinSubtotal[cur]; v.Subtotal < min {
		return nil, cart.BelowSubtotal, fmt.Sprintf("%s needs a subtotal of at least %s %s; the cart's is %s %s",
			p.Code, formatAmount(min, cur), cur, formatAmount(v.Subtotal, cur), cur)
	}
	if units < p.MinQuantity {
		return nil, cart.BelowQuantity, fmt.Sprintf("%s needs at least %d qualifying items; the cart holds %d", p.Code, p.MinQuantity, units)
	}
	return eligible, "", ""
}

// Eligible reports whether a line matches a promotion's eligibility lists: every list that is
// not empty must name the line's SKU, product, brand or sale.
func Eligible(p *cart.Promotion, l *cart.Line) bool {
	in := func(list []string, s string) bool { return len(list) == 0 || slices.Contains(list, s) }
	return in(p.SKUs, l.Variant.SKU) && in(p.ProductIDs, l.Product.ID) && in(p.Brands, l.Product.Brand) &&
		in(p.SaleIDs, l.Variant.SaleID)
}
