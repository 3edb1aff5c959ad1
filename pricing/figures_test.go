package pricing

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartd/cartd/cart"
)

// Figures must give what Price gives, or a minimal change answers with totals a full read
// would not: these properties hold Line, FiguresOf and Totals to Price on random carts
// without promotions, with lines in every state a line's figures depend on.

// genFiguresInput draws an active cart of up to 8 lines in ascending item number, without
// promotions or coupons, reservations mostly on: lines whose reservation lapsed, holds until
// later or holds none; backordered and short lines; lines of a sale not started, running or
// ended, or of a sale not stored; deleted and inactive variants and variants without a price
// in the cart's currency; retail prices above and below the unit price, tiers, stored unit
// prices the catalog moved away from, tax rates, and shipping with a free-over threshold.
// Instants fall on, just around and within hours of propNow. With big, quantities go far
// beyond MaxUnits, up to where a line's or the cart's amounts overflow, so that some carts
// cannot be priced.
func genFiguresInput(t *rapid.T, big bool) Input {
	cur := rapid.SampledFrom([]string{"USD", "JPY", "KWD"}).Draw(t, "currency")
	s := cart.DefaultSettings()
	s.MaxQuantityPerItem = 1_000_000
	s.PricesIncludeTax = rapid.Bool().Draw(t, "prices_include_tax")
	if rapid.Bool().Draw(t, "has_shipping") {
		s.Shipping = map[string]cart.ShippingRate{cur: {Flat: genAmount(t, "flat"), FreeOver: genAmount(t, "free_over")}}
	}
	in := Input{Cart: cart.Cart{Num: 1, Currency: cur, Status: cart.StatusActive}, Settings: s, Now: propNow,
		Reserve: rapid.IntRange(0, 3).Draw(t, "reservations_off") > 0}

	around := func(label string) time.Time {
		switch rapid.IntRange(0, 5).Draw(t, label+"_kind") {
		case 0:
			return propNow
		case 1:
			return propNow.Add(-time.Nanosecond)
		case 2:
			return propNow.Add(time.Nanosecond)
		}
		return propNow.Add(time.Duration(rapid.IntRange(-3*3600, 3*3600).Draw(t, label)) * time.Second)
	}

	n := rapid.IntRange(0, 8).Draw(t, "lines")
	maxQty := s.MaxQuantityPerItem
	if n > 0 {
		maxQty = min(maxQty, MaxUnits/int64(n))
	}
	var num int64
	for i := range n {
		num += rapid.Int64Range(1, 3).Draw(t, "num_gap")
		sku := fmt.Sprintf("S%d", i)
		v := cart.Variant{Num: int64(i + 1), ID: "var_" + sku, SKU: sku, Active: true,
			TaxRate: rapid.SampledFrom([]int64{0, 500, 800, 1000, 2000, 10000}).Draw(t, "tax_rate")}
		priced := cur
		if rapid.IntRange(0, 9).Draw(t, "unpriced") == 0 {
			priced = "EUR"
		}
		v.Prices = map[string]int64{priced: genAmount(t, "price")}
		if rapid.Bool().Draw(t, "has_retail") {
			v.RetailPrices = map[string]int64{cur: genAmount(t, "retail")}
		}
		for range rapid.IntRange(0, 2).Draw(t, "tiers") {
			v.Tiers = append(v.Tiers, cart.Tier{MinQuantity: rapid.Int64Range(2, 20).Draw(t, "tier_min"),
				Prices: map[string]int64{rapid.SampledFrom([]string{cur, cur, "EUR"}).Draw(t, "tier_currency"): genAmount(t, "tier_price")}})
		}
		p := &cart.Product{Num: int64(i + 1), ID: "prod_" + sku}
		switch rapid.IntRange(0, 19).Draw(t, "withdrawn") {
		case 0:
			v.Deleted = true
		case 1:
			p.Deleted = true
		case 2:
			v.Active = false
		}
		var sale cart.Sale
		if rapid.IntRange(0, 2).Draw(t, "on_sale") == 0 {
			start := around("sale_start")
			length := rapid.SampledFrom([]time.Duration{time.Nanosecond, time.Second, time.Hour, 3 * time.Hour}).Draw(t, "sale_length")
			// Num 0 is a sale the variant names but the store does not hold: it restricts nothing.
			sale = cart.Sale{Num: rapid.SampledFrom([]int64{int64(i + 1), int64(i + 1), 0}).Draw(t, "sale_num"),
				ID: "sale_" + sku, StartsAt: start, EndsAt: start.Add(length)}
			v.SaleID = sale.ID
		}

		qty := rapid.Int64Range(1, maxQty).Draw(t, "quantity")
		if big {
			switch rapid.IntRange(0, 3).Draw(t, "big_quantity") {
			case 0:
				qty = rapid.Int64Range(1, 20).Draw(t, "quantity_small")
			case 1:
				qty = rapid.Int64Range(1, 100_000_000).Draw(t, "quantity_large")
			default:
				// About the largest quantity whose amount, or a share of the cart's, fits in
				// an int64 at the line's base price.
				share := rapid.Int64Range(1, 4).Draw(t, "share")
				qty = max(1, math.MaxInt64/max(v.Prices[priced], 1)/share-rapid.Int64Range(0, 2).Draw(t, "below"))
			}
		}
		unit, _ := UnitPrice(v, cur, qty)
		if rapid.IntRange(0, 4).Draw(t, "repriced") == 0 {
			unit = genAmount(t, "stored_price") // the catalog's price moved since the line was written
		}
		it := cart.Item{Num: num, CartNum: 1, VariantNum: v.Num, Quantity: qty, ReservedQuantity: qty,
			AddedUnitPrice: unit, UnitPrice: unit}
		switch rapid.IntRange(0, 2).Draw(t, "held") {
		case 1: // a shortfall the shopper accepted
			it.ReservedQuantity, it.Backorder = rapid.Int64Range(0, qty-1).Draw(t, "reserved"), true
		case 2: // stock taken away from the line
			it.ReservedQuantity = rapid.Int64Range(0, qty-1).Draw(t, "reserved")
		}
		if rapid.IntRange(0, 3).Draw(t, "holds_until") > 0 {
			it.ReservedUntil = around("reserved_until")
		}
		st := cart.Stock{SKU: sku, Reserved: rapid.Int64Range(0, 3).Draw(t, "stock_reserved")}
		switch rapid.IntRange(0, 2).Draw(t, "stock") {
		case 0:
			st.OnHand = st.Reserved + min(qty, MaxUnits)
		case 1:
			st.OnHand = st.Reserved + rapid.Int64Range(0, 3).Draw(t, "stock_available")
		case 2:
			st.OnHand = rapid.Int64Range(0, st.Reserved).Draw(t, "stock_on_hand")
		}
		in.Lines = append(in.Lines, cart.Line{Item: it, Variant: &v, Product: p, Stock: st, Sale: sale})
	}
	return in
}

// listed is a line of a view as Price made it, and the list it put it in.
type listed struct {
	lv   cart.LineView
	list List
}

// byNum returns the lines of v by item number.
func byNum(v *cart.View) map[int64]listed {
	out := map[int64]listed{}
	for list, lvs := range map[List][]cart.LineView{ListLines: v.Lines, ListExpired: v.ExpiredLines, ListUnavailable: v.Unavailable} {
		for _, lv := range lvs {
			out[lv.Item.Num] = listed{lv, list}
		}
	}
	return out
}

// totalsOf are the figures of v that Totals sets.
func totalsOf(v *cart.View) string {
	return fmt.Sprintf("items %d unique %d expired %d subtotal %d discount %d tax %d shipping %d total %d retail %d saved %d include tax %v",
		v.ItemCount, v.UniqueItemCount, v.Expired, v.Subtotal, v.Discount, v.Tax, v.Shipping, v.Total, v.RetailTotal, v.Saved, v.PricesIncludeTax)
}

// sameFigures compares figures, their instants by Equal.
func sameFigures(a, b Figures) bool {
	ua, ub := a.Until, b.Until
	a.Until, b.Until = time.Time{}, time.Time{}
	return a == b && ua.Equal(ub)
}

// checkFigures holds FiguresOf, Totals and Line to v, the view Price made of in.
func checkFigures(t *rapid.T, in Input, v *cart.View) {
	figs := FiguresOf(v, in.Now)
	if len(figs) != len(in.Lines) {
		t.Fatalf("FiguresOf gave %d figures for %d lines", len(figs), len(in.Lines))
	}
	for i := range figs {
		if figs[i].Num != in.Lines[i].Item.Num {
			t.Fatalf("figures %d are of item %d, the line is item %d", i, figs[i].Num, in.Lines[i].Item.Num)
		}
	}
	w := cart.View{Cart: in.Cart}
	if err := totals(&w, figs, in.Settings); err != nil {
		t.Fatalf("Totals of figures Price could add up: %v", err)
	}
	if got, want := totalsOf(&w), totalsOf(v); got != want {
		t.Fatalf("Totals from the figures:\n%s\nPrice:\n%s", got, want)
	}

	priced := byNum(v)
	for i := range in.Lines {
		l := &in.Lines[i]
		lv, f, err := Line(l, in.Cart.Currency, in.Now, in.Reserve, in.Settings.PricesIncludeTax)
		if err != nil {
			t.Fatalf("Line of item %d, which Price priced: %v", l.Item.Num, err)
		}
		p := priced[l.Item.Num]
		if f.List != p.list {
			t.Fatalf("Line puts item %d in list %d, Price in list %d", l.Item.Num, f.List, p.list)
		}
		if !reflect.DeepEqual(lv, p.lv) {
			t.Fatalf("item %d: Line made\n%+v\nPrice made\n%+v", l.Item.Num, lv, p.lv)
		}
		if !sameFigures(f, figs[i]) {
			t.Fatalf("item %d: Line's figures %+v, FiguresOf's %+v", l.Item.Num, f, figs[i])
		}
	}
}

// TestPropertyFiguresAddUpAsPrice: the figures of a cart Price priced add up to its totals,
// one per line in item order, and each line priced on its own is the line Price made, in the
// same list.
func TestPropertyFiguresAddUpAsPrice(t *testing.T) {
	var lists [3]int
	rapid.Check(t, func(t *rapid.T) {
		in := genFiguresInput(t, false)
		v := mustPrice(t, in)
		lists[ListLines] += len(v.Lines)
		lists[ListExpired] += len(v.ExpiredLines)
		lists[ListUnavailable] += len(v.Unavailable)
		checkFigures(t, in, &v)
	})
	for list, n := range lists {
		if n == 0 {
			t.Errorf("no line ever went in list %d: the carts drawn miss a state", list)
		}
	}
}

// TestPropertyFiguresHoldUntilUntil: a line's figures hold from the instant they were made
// until their Until, which is what lets a caller keep them that long.
func TestPropertyFiguresHoldUntilUntil(t *testing.T) {
	var changed int
	rapid.Check(t, func(t *rapid.T) {
		in := genFiguresInput(t, false)
		cur, reserve, include := in.Cart.Currency, in.Reserve, in.Settings.PricesIncludeTax
		for i := range in.Lines {
			l := &in.Lines[i]
			_, f, err := Line(l, cur, in.Now, reserve, include)
			if err != nil {
				t.Fatalf("Line of item %d: %v", l.Item.Num, err)
			}
			// The instant to price the line again at: its last instant of validity or the
			// first, or any in between (rapid favours small offsets, so the last is drawn
			// on its own).
			last := 1000 * 24 * time.Hour // nothing changes with time: any later instant
			if !f.Until.IsZero() {
				if !f.Until.After(in.Now) {
					t.Fatalf("item %d: figures made at %v hold until %v", l.Item.Num, in.Now, f.Until)
				}
				last = f.Until.Sub(in.Now) - time.Nanosecond
			}
			at := in.Now
			switch rapid.IntRange(0, 2).Draw(t, "at_kind") {
			case 0:
				at = in.Now.Add(last)
			case 1:
				at = in.Now.Add(time.Duration(rapid.Int64Range(0, int64(last)).Draw(t, "at")))
			}
			_, g, err := Line(l, cur, at, reserve, include)
			if err != nil {
				t.Fatalf("Line of item %d at %v: %v", l.Item.Num, at, err)
			}
			if !sameFigures(f, g) {
				t.Fatalf("item %d: figures at %v\n%+v\nbefore their Until, at %v\n%+v", l.Item.Num, in.Now, f, at, g)
			}
			if !f.Until.IsZero() {
				// From Until on the figures may change; count that they do, sometimes.
				_, h, err := Line(l, cur, f.Until, reserve, include)
				if err == nil && !sameFigures(withoutUntil(f), withoutUntil(h)) {
					changed++
				}
			}
		}
	})
	if changed == 0 {
		t.Error("no line's figures ever changed at their Until: the carts drawn miss a state")
	}
}

func withoutUntil(f Figures) Figures {
	f.Until = time.Time{}
	return f
}

// TestPropertyFiguresNoticeIsNotices: a line's figures say Notice exactly when Notices
// reports on the line, so that a minimal response shows every line a full one would report
// on.
func TestPropertyFiguresNoticeIsNotices(t *testing.T) {
	var noticed, quiet int
	rapid.Check(t, func(t *rapid.T) {
		in := genFiguresInput(t, false)
		v := mustPrice(t, in)
		reported := map[int64][]string{}
		for _, m := range Notices(v, in.Reserve) {
			reported[m.ItemNum] = append(reported[m.ItemNum], m.Code)
		}
		for _, f := range FiguresOf(&v, in.Now) {
			if f.Notice != (len(reported[f.Num]) > 0) {
				t.Fatalf("item %d: Notice %v, Notices reports %v", f.Num, f.Notice, reported[f.Num])
			}
			if f.Notice {
				noticed++
			} else {
				quiet++
			}
		}
	})
	if noticed == 0 || quiet == 0 {
		t.Errorf("%d lines with a notice, %d without: the carts drawn miss a state", noticed, quiet)
	}
}

// TestPropertyFiguresOverflowAsPrice: figures overflow where Price does. When Price cannot
// price a cart, a line cannot be priced on its own or the figures cannot be added up; when it
// can, they give its totals, also far beyond MaxUnits.
func TestPropertyFiguresOverflowAsPrice(t *testing.T) {
	var overflowed, priced int
	rapid.Check(t, func(t *rapid.T) {
		in := genFiguresInput(t, true)
		v, err := Price(in)
		if err != nil {
			if !isOverflow(err) {
				t.Fatalf("Price: %v, not an overflow", err)
			}
			overflowed++
			var figs []Figures
			for i := range in.Lines {
				_, f, err := Line(&in.Lines[i], in.Cart.Currency, in.Now, in.Reserve, in.Settings.PricesIncludeTax)
				if err != nil {
					if !isOverflow(err) {
						t.Fatalf("Line of item %d: %v, not an overflow", in.Lines[i].Item.Num, err)
					}
					return
				}
				figs = append(figs, f)
			}
			w := cart.View{Cart: in.Cart}
			if err := totals(&w, figs, in.Settings); !isOverflow(err) {
				t.Fatalf("Price overflowed, every line priced on its own, and Totals returned %v: %s", err, totalsOf(&w))
			}
			return
		}
		priced++
		checkFigures(t, in, &v)
	})
	if overflowed == 0 || priced == 0 {
		t.Errorf("%d carts overflowed, %d were priced: the carts drawn miss a case", overflowed, priced)
	}
}

// totals sets the totals of v from the figures of all its lines, as the engine does: their
// Sums, then SetTotals.
func totals(v *cart.View, figs []Figures, s cart.Settings) error {
	var sums Sums
	for i := range figs {
		if err := sums.Add(&figs[i]); err != nil {
			return err
		}
	}
	return SetTotals(v, sums, s)
}

// isOverflow reports whether err is the pricing overflow error.
func isOverflow(err error) bool { return cart.HasReason(err, cart.Invalid, "amount_out_of_range") }
