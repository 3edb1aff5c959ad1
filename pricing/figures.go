package pricing

import (
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
)

// Re-pricing a cart from its figures.
//
// Price re-prices every line, which a 1,000-line cart pays on every change. Without promotions
// a line's figures depend on nothing but the line, the cart's currency, the settings and the
// instant, so a caller that keeps each line's Figures from one change to the next can re-price
// only the lines a change touched (Line) and add the totals up again (Sums, SetTotals), with the same
// result as Price. Figures stay valid until the line changes, the catalog, sales or settings
// change, or the clock reaches the line's Until.

// Figures are what one line of a cart without promotions adds to the cart's totals.
type Figures struct {
	Num      int64
	List     List
	Quantity int64
	// Subtotal, Retail (the amount at the retail price, never below the unit price) and Tax
	// are set for a line of ListLines only.
	Subtotal int64
	Retail   int64
	Tax      int64
	// Notice says Notices reports on the line: its catalog price changed, it is short, its
	// reservation lapsed, or it cannot be bought.
	Notice bool
	// Until is the instant from which the line's figures no longer hold, because its
	// reservation lapses or its sale starts or ends; zero when nothing changes with time.
	Until time.Time
}

// Line prices one line of an active cart without promotions at now, as Price does, with its
// tax and total for a line of ListLines, and returns its figures.
func Line(l *cart.Line, currency string, now time.Time, reserve, includeTax bool) (cart.LineView, Figures, error) {
	lv, list, retail, err := lineView(l, currency, now, reserve, false)
	if err != nil {
		return lv, Figures{}, err
	}
	if list == ListLines {
		tax, err := lineTax(lv.Subtotal, lv.Variant.TaxRate, includeTax)
		if err != nil {
			return lv, Figures{}, overflow()
		}
		lv.Tax, lv.Total = tax, lv.Subtotal
		if !includeTax {
			if lv.Total, err = money.Add(lv.Subtotal, tax); err != nil {
				return lv, Figures{}, overflow()
			}
		}
	}
	return lv, lineFigures(&lv, list, retail, currency, now), nil
}

// FiguresOf returns the figures of the lines of v, a view Price made of an active cart
// without promotions, in the cart's order (ascending item number).
func FiguresOf(v *cart.View, now time.Time) []Figures {
	out := make([]Figures, 0, len(v.Lines)+len(v.ExpiredLines)+len(v.Unavailable))
	lists := [...][]cart.LineView{ListLines: v.Lines, ListExpired: v.ExpiredLines, ListUnavailable: v.Unavailable}
	var next [len(lists)]int
	for {
		pick := -1
		for k, ls := range lists {
			if next[k] < len(ls) && (pick < 0 || ls[next[k]].Item.Num < lists[pick][next[pick]].Item.Num) {
				pick = k
			}
		}
		if pick < 0 {
			return out
		}
		lv := &lists[pick][next[pick]]
		next[pick]++
		var retail int64
		if List(pick) == ListLines {
			retail, _ = Amount(max(lv.RetailPrice, lv.UnitPrice), lv.Item.Quantity, lv.Variant.Scale()) // Price computed it without overflow
		}
		out = append(out, lineFigures(lv, List(pick), retail, v.Cart.Currency, now))
	}
}

func lineFigures(lv *cart.LineView, list List, retail int64, currency string, now time.Time) Figures {
	f := Figures{Num: lv.Item.Num, List: list, Quantity: cart.WholeUnits(lv.Item.Quantity, lv.Variant.Scale())}
	if list == ListLines {
		f.Subtotal, f.Retail, f.Tax = lv.Subtotal, retail, lv.Tax
	}
	_, _, priceChanged := PriceChange(&lv.Line, currency)
	f.Notice = list != ListLines || lv.InventoryStatus == cart.Insufficient || priceChanged
	later := func(t time.Time) {
		if t.After(now) && (f.Until.IsZero() || t.Before(f.Until)) {
			f.Until = t
		}
	}
	later(lv.Item.ReservedUntil)
	if lv.Sale.Num != 0 {
		later(lv.Sale.StartsAt)
		later(lv.Sale.EndsAt)
	}
	return f
}

// Sums add up the figures of a cart's lines: what its totals are made of. A caller keeping
// figures keeps their Sums too, and moves one line's figures in or out (Add, Remove) when the
// line changes, rather than adding a thousand lines up again.
type Sums struct {
	ItemCount, UniqueItemCount, Expired int64
	Subtotal, RetailTotal, Tax          int64
}

// Add adds a line's figures; an amount out of range is an error (Invalid, amount_out_of_range), and leaves s
// unusable.
func (s *Sums) Add(f *Figures) error {
	var err error
	acc := func(dst *int64, x int64) {
		if err == nil {
			*dst, err = money.Add(*dst, x)
		}
	}
	switch f.List {
	case ListExpired:
		acc(&s.Expired, f.Quantity)
	case ListLines:
		acc(&s.RetailTotal, f.Retail)
		acc(&s.Subtotal, f.Subtotal)
		acc(&s.ItemCount, f.Quantity)
		acc(&s.Tax, f.Tax)
		s.UniqueItemCount++
	}
	if err != nil {
		return overflow()
	}
	return nil
}

// Remove takes away a line's figures that Add added: every amount stays in range.
func (s *Sums) Remove(f *Figures) {
	switch f.List {
	case ListExpired:
		s.Expired -= f.Quantity
	case ListLines:
		s.RetailTotal -= f.Retail
		s.Subtotal -= f.Subtotal
		s.ItemCount -= f.Quantity
		s.Tax -= f.Tax
		s.UniqueItemCount--
	}
}

// SetTotals sets the totals of v, a view of an active cart without promotions, from the sums
// of its lines' figures, as Price sets them.
func SetTotals(v *cart.View, sums Sums, s cart.Settings) error {
	v.ItemCount, v.UniqueItemCount, v.Expired = sums.ItemCount, sums.UniqueItemCount, sums.Expired
	v.Subtotal, v.RetailTotal, v.Tax, v.Discount = sums.Subtotal, sums.RetailTotal, sums.Tax, 0
	v.PricesIncludeTax = s.PricesIncludeTax
	v.Shipping = shipping(s, v.Cart.Currency, v.Subtotal, v.UniqueItemCount > 0)
	var err error
	v.Total = v.Subtotal
	if !s.PricesIncludeTax {
		v.Total, err = money.Add(v.Total, v.Tax)
	}
	if err == nil {
		v.Total, err = money.Add(v.Total, v.Shipping)
	}
	v.Saved = v.RetailTotal - v.Subtotal
	if err != nil {
		return overflow()
	}
	return nil
}
