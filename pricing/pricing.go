// Package pricing computes a cart's figures from its lines, the settings and an instant. It is
// pure and deterministic: no I/O, no clock, and the same inputs give the same figures whatever
// the order of the lines. Every amount is an integer count of minor units; arithmetic that
// would overflow is an error, never a wrong total.
//
// Rounding: tax is computed per line, on the line's amount after discounts, rounded half away
// from zero (money.MulDivHalfUp). Per-line rounding keeps each line's tax a figure that can be
// refunded on its own, and the cart's tax is exactly the sum of its lines'.
package pricing

import (
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
)

// Bounds within which no figure of a cart can overflow. A cart's subtotal and retail total
// are at most MaxPrice * MaxUnits = 4*10^18; its tax at most its subtotal (rates are at most
// 100%); so subtotal + tax + shipping stays under 2^63 (about 9.2*10^18) with a shipping rate
// up to MaxPrice, for any mix of lines and quantities. The engine refuses a change that would
// take a cart above MaxUnits units (the settings allow up to 10^6 per item and 10^4 lines,
// which alone would not bound it). Above MaxPrice Price still never returns a wrong figure:
// an overflow is an error (Invalid, amount_out_of_range).
const (
	// MaxPrice is the largest unit price, list price or shipping rate the bound holds for:
	// 10^12 minor units (ten billion dollars).
	MaxPrice = 1_000_000_000_000
	// MaxUnits is the most units a cart may hold.
	MaxUnits = 4_000_000
	// MaxFigure is the largest figure the engine lets a change give a cart, a line's or a
	// total: 2^53-1, the largest integer every JSON client (JavaScript's included) reads
	// exactly. The engine also takes no price above MaxPrice, so that a stored cart can
	// always be priced.
	MaxFigure = 1<<53 - 1
)

// UnitPrice is a variant's unit price in a currency for a quantity: the price of the highest
// tier whose MinQuantity the quantity reaches and that has a price in the currency, else the
// base price. ok is false when the variant has no price in the currency.
func UnitPrice(v cart.Variant, currency string, quantity int64) (price int64, ok bool) {
	price, ok = v.Prices[currency]
	if !ok {
		return 0, false
	}
	best := int64(0)
	for _, t := range v.Tiers {
		if p, has := t.Prices[currency]; has && quantity >= t.MinQuantity && t.MinQuantity > best {
			price, best = p, t.MinQuantity
		}
	}
	return price, true
}

// Unavailable reports why a line cannot be bought in the cart's currency, whatever the
// instant, or "" when it can: one of cart.UnavailableDeleted, UnavailableInactive and
// UnavailableNoPrice. UnavailableAt also considers the line's sale.
func Unavailable(l *cart.Line, currency string) string {
	switch {
	case l.Variant.Deleted || l.Product.Deleted:
		return cart.UnavailableDeleted
	case !l.Variant.Active:
		return cart.UnavailableInactive
	}
	if _, ok := l.Variant.Prices[currency]; !ok {
		return cart.UnavailableNoPrice
	}
	return ""
}

// UnavailableAt reports why a line cannot be bought at the instant now, or "" when it can:
// Unavailable's reasons, and a sale that has not started (cart.UnavailableSaleNotStarted) or
// has ended (cart.UnavailableSaleEnded).
func UnavailableAt(l *cart.Line, currency string, now time.Time) string {
	if r := Unavailable(l, currency); r != "" {
		return r
	}
	if l.Sale.Num != 0 {
		switch l.Sale.State(now) {
		case cart.SaleScheduled:
			return cart.UnavailableSaleNotStarted
		case cart.SaleEnded:
			return cart.UnavailableSaleEnded
		}
	}
	return ""
}

// Input is everything a cart's figures depend on.
type Input struct {
	Cart     cart.Cart
	Lines    []cart.Line
	Settings cart.Settings
	// Now is the instant the cart is priced at.
	Now time.Time
	// Reserve says whether lines hold stock (reservations on); it decides how a line's
	// available quantity is figured.
	Reserve bool
	// Promotions are the shop's automatic promotions (others are ignored), Coupons the codes
	// applied to the cart with their promotions; Price checks every condition itself (see
	// promote for the order and stacking rule).
	Promotions []cart.Promotion
	Coupons    []cart.Coupon
}

// Price builds the view of a cart: each line priced at its tier, unavailable lines
// (UnavailableAt) and lines whose reservation lapsed (cart.Item.Expired) set apart, and the
// totals computed from the lines that count.
//
// A checked-out cart (status completed) is a record: its lines are shown at the unit prices
// stored on them, none is unavailable or expired, and each is in stock or backordered as it
// was checked out, whatever the catalog and the clock say since.
func Price(in Input) (cart.View, error) {
	c, lines, s, now, reserve := in.Cart, in.Lines, in.Settings, in.Now, in.Reserve
	v := cart.View{Cart: c, At: now, PricesIncludeTax: s.PricesIncludeTax, Lines: make([]cart.LineView, 0, len(lines))}
	var err error
	acc := func(dst *int64, x int64) {
		if err == nil {
			*dst, err = money.Add(*dst, x)
		}
	}
	frozen := c.Status == cart.StatusCompleted
	for i := range lines {
		l := &lines[i] // not a copy: a line is large, and carts hold up to a thousand
		lv, list, retail, e := lineView(l, c.Currency, now, reserve, frozen)
		if e != nil {
			return cart.View{}, e
		}
		switch list {
		case ListUnavailable:
			v.Unavailable = append(v.Unavailable, lv)
		case ListExpired:
			acc(&v.Expired, cart.WholeUnits(l.Item.Quantity, l.Variant.Scale()))
			v.ExpiredLines = append(v.ExpiredLines, lv)
		default:
			acc(&v.RetailTotal, retail)
			acc(&v.Subtotal, lv.Subtotal)
			acc(&v.ItemCount, cart.WholeUnits(l.Item.Quantity, l.Variant.Scale()))
			v.UniqueItemCount++
			v.Lines = append(v.Lines, lv)
		}
	}
	if err != nil {
		return cart.View{}, overflow()
	}
	waiver := promote(&v, in)
	for i := range v.Lines {
		lv := &v.Lines[i]
		base := lv.Subtotal - lv.Discount
		tax, e := lineTax(base, lv.Variant.TaxRate, s.PricesIncludeTax)
		if e != nil {
			return cart.View{}, overflow()
		}
		lv.Tax = tax
		lv.Total = base
		if !s.PricesIncludeTax {
			acc(&lv.Total, tax)
		}
		acc(&v.Tax, tax)
	}
	v.Shipping = shipping(s, c.Currency, v.Subtotal-v.Discount, len(v.Lines) > 0)
	if waiver >= 0 {
		v.Promotions[waiver].Amount, v.Shipping = v.Shipping, 0
	}
	v.Total = v.Subtotal - v.Discount
	if !s.PricesIncludeTax {
		acc(&v.Total, v.Tax)
	}
	acc(&v.Total, v.Shipping)
	v.Saved = v.RetailTotal - (v.Subtotal - v.Discount) // RetailTotal >= Subtotal >= Discount
	if err != nil {
		return cart.View{}, overflow()
	}
	return v, nil
}

// List names the list of a cart.View a line goes in.
type List uint8

// The lists of a cart.View.
const (
	ListLines       List = iota // View.Lines: in the totals
	ListExpired                 // View.ExpiredLines: its reservation lapsed
	ListUnavailable             // View.Unavailable: it cannot be bought
)

// lineView prices one line on its own, as Price does before promotions and tax: its unit
// price at its tier, subtotal, availability and status, and the list it goes in. retail is
// the line's amount at its retail price (never below its unit price), for View.RetailTotal.
func lineView(l *cart.Line, currency string, now time.Time, reserve, frozen bool) (lv cart.LineView, list List, retail int64, err error) {
	lv = cart.LineView{Line: *l}
	lv.Available = l.Stock.Available()
	if reserve {
		lv.Available += l.Item.ReservedQuantity
	}
	lv.InventoryStatus = inventoryStatus(l, lv.Available, reserve)
	if frozen {
		lv.InventoryStatus = cart.InStock
		if l.Item.Backorder {
			lv.InventoryStatus = cart.Backordered
		}
	} else if lv.UnavailableReason = UnavailableAt(l, currency, now); lv.UnavailableReason != "" {
		lv.UnitPrice = l.Item.UnitPrice
		return lv, ListUnavailable, 0, nil
	}
	unit, _ := UnitPrice(*l.Variant, currency, l.Item.Quantity)
	if frozen {
		unit = l.Item.UnitPrice
	}
	lv.UnitPrice = unit
	lv.RetailPrice = l.Variant.RetailPrices[currency]
	if !frozen && l.Item.Expired(now) {
		// Out of the totals: what the shopper would get by touching the line again is
		// what the shelf has now, as without reservations.
		lv.Expired = true
		lv.InventoryStatus = inventoryStatus(l, lv.Available, false)
		return lv, ListExpired, 0, nil
	}
	scale := l.Variant.Scale()
	if lv.Subtotal, err = Amount(unit, l.Item.Quantity, scale); err != nil {
		return lv, 0, 0, overflow()
	}
	if retail, err = Amount(max(lv.RetailPrice, unit), l.Item.Quantity, scale); err != nil {
		return lv, 0, 0, overflow()
	}
	return lv, ListLines, retail, nil
}

// Amount is what quantity units of 10^-scale cost at unit minor units per whole unit: unit *
// quantity at scale 0, else unit * quantity / 10^scale rounded half up to the minor unit
// (1.250 kg at 1299 a kg is 1623.75, so 1624), computed without overflow in between
// (money.MulDivHalfUp). A result past int64 is money.ErrOverflow.
func Amount(unit, quantity int64, scale int) (int64, error) {
	if scale == 0 {
		return money.Mul(unit, quantity)
	}
	if unit < 0 || quantity < 0 {
		return 0, money.ErrOverflow // prices and quantities that count are never negative
	}
	return money.MulDivHalfUp(unit, quantity, cart.Pow10(scale))
}

func overflow() error {
	return cart.Errorf(cart.Invalid, "amount_out_of_range", "the cart's amounts are out of range")
}

// lineTax is the tax of a line amount at rate basis points: added on top when prices exclude
// tax, extracted from the amount when they include it.
func lineTax(amount, rate int64, inclusive bool) (int64, error) {
	if amount <= 0 || rate <= 0 {
		return 0, nil
	}
	if !inclusive {
		return money.MulDivHalfUp(amount, rate, 10000)
	}
	net, err := money.MulDivHalfUp(amount, 10000, 10000+rate)
	if err != nil {
		return 0, err
	}
	return amount - net, nil
}

// shipping is the flat rate of the currency, waived at its free-over threshold.
func shipping(s cart.Settings, currency string, base int64, hasLines bool) int64 {
	r, ok := s.Shipping[currency]
	if !ok || !hasLines || (r.FreeOver > 0 && base >= r.FreeOver) {
		return 0
	}
	return r.Flat
}

func inventoryStatus(l *cart.Line, available int64, reserve bool) string {
	held := l.Item.Quantity <= available
	if reserve {
		held = l.Item.ReservedQuantity >= l.Item.Quantity
	}
	switch {
	case held:
		return cart.InStock
	case l.Item.Backorder:
		return cart.Backordered
	case !reserve && available == 0:
		return cart.OutOfStock
	}
	// With reservations, a line holding less than its quantity lost stock to an inventory
	// decrease: it is short, whatever is left on the shelf.
	return cart.Insufficient
}
