package pricing

import (
	"fmt"
	"strconv"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
)

// PriceChange compares the unit price stored on a line with the catalog's unit price for the
// line's current quantity, and reports changed when they differ: the catalog's price moved
// since the line was last written (DESIGN §9). A quantity change that moves a line to another
// tier is never a price change, because every write stores the price at the tier of the
// quantity it stores. Unavailable lines have no price to compare and report nothing.
func PriceChange(l cart.Line, currency string) (old, current int64, changed bool) {
	if Unavailable(l, currency) != "" {
		return l.Item.UnitPrice, l.Item.UnitPrice, false
	}
	p, ok := UnitPrice(l.Variant, currency, l.Item.Quantity)
	if !ok {
		return l.Item.UnitPrice, l.Item.UnitPrice, false
	}
	return l.Item.UnitPrice, p, p != l.Item.UnitPrice
}

// PriceChangedMessage reports that a line's unit price changed in the catalog from old to
// current.
func PriceChangedMessage(l cart.Line, currency string, old, current int64) cart.Message {
	return cart.Message{Type: cart.Warning, Code: "price_changed", ItemNum: l.Item.Num,
		Text: fmt.Sprintf("The unit price of %s changed from %s to %s %s", l.Variant.SKU,
			formatAmount(old, currency), formatAmount(current, currency), currency),
		OldPrice: &old, NewPrice: &current}
}

// Notices are the messages every read and every write of a cart reports about the state of
// its lines, whatever the call itself did, so that a shopper learns what a catalog or stock
// change did to the cart:
//   - price_changed for each line whose catalog price differs from the one stored on it (a
//     write stores the new price, so after it only the write's own response reports it);
//   - insufficient_stock for each line holding less than its quantity because stock was taken
//     away from it (a backorder the shopper accepted is not reported), with requested the
//     line's quantity, applied what it holds and available what it could hold.
//
// reserve says whether lines hold stock; without reservations a line is short when its
// quantity is above the available stock, and applied is what is available.
func Notices(v cart.View, reserve bool) []cart.Message {
	var out []cart.Message
	for _, lv := range v.Lines {
		if old, current, changed := PriceChange(lv.Line, v.Cart.Currency); changed {
			out = append(out, PriceChangedMessage(lv.Line, v.Cart.Currency, old, current))
		}
	}
	for _, lv := range v.Lines {
		if lv.InventoryStatus != cart.Insufficient {
			continue
		}
		req, av := lv.Item.Quantity, max(lv.Available, 0)
		app := min(lv.Item.ReservedQuantity, req)
		if !reserve {
			app = min(av, req)
		}
		out = append(out, cart.Message{Type: cart.Warning, Code: "insufficient_stock", ItemNum: lv.Item.Num,
			Text:      fmt.Sprintf("Only %d of the %d units of %s are held: the stock was reduced", app, req, lv.Variant.SKU),
			Requested: &req, Applied: &app, Available: &av})
	}
	return out
}

// formatAmount renders minor units as a decimal in the currency's digits.
func formatAmount(amount int64, currency string) string {
	s, err := money.Format(amount, currency)
	if err != nil {
		return strconv.FormatInt(amount, 10)
	}
	return s
}
