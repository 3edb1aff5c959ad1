package engine

import (
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
)

// The ranges of amounts (docs/limits-and-ranges.md): no price, promotion amount or shipping
// amount above pricing.MaxPrice (10^12 minor units) comes in, so that a stored cart can
// always be priced; and no change gives a cart a figure above pricing.MaxFigure (2^53-1), so
// that every amount cartd writes is read exactly by every client.

// peak is the largest figure of a view, and its name: what pricing.MaxFigure bounds.
func peak(v cart.View) (int64, string) {
	var top int64
	name := ""
	see := func(n int64, what string) {
		if n > top || -n > top {
			top, name = max(n, -n), what
		}
	}
	see(v.Subtotal, "subtotal")
	see(v.Discount, "discount")
	see(v.Tax, "tax")
	see(v.Shipping, "shipping")
	see(v.Total, "total")
	see(v.RetailTotal, "retail_total")
	see(v.Saved, "saved")
	for _, list := range [][]cart.LineView{v.Lines, v.ExpiredLines, v.Unavailable} {
		for i := range list {
			l := &list[i]
			see(l.UnitPrice, "an item's unit_price")
			see(l.RetailPrice, "an item's retail_price")
			see(l.Subtotal, "an item's subtotal")
			see(l.Discount, "an item's discount")
			see(l.Tax, "an item's tax")
			see(l.Total, "an item's total")
		}
	}
	for _, p := range v.Promotions {
		see(p.Amount, "a coupon's amount")
	}
	return top, name
}

// figuresInRange refuses a change that leaves a figure of the cart above pricing.MaxFigure, unless
// the cart was above it already and the change brings its largest figure down (a catalog
// price raised since may have taken it there; a shopper must still be able to shrink it).
// was prices the cart as it was before the change; it is called only when needed.
func figuresInRange(after cart.View, was func() (cart.View, error)) error {
	top, name := peak(after)
	if top <= pricing.MaxFigure {
		return nil
	}
	if before, err := was(); err == nil {
		if prev, _ := peak(before); top < prev {
			return nil
		}
	}
	return cart.Errorf(cart.Invalid, "amount_out_of_range",
		"the change would take the cart's %s to %d, above %d (2^53-1), the largest amount every client reads exactly; nothing was changed",
		name, top, int64(pricing.MaxFigure))
}
