package pricing

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
)

// PriceChange compares the unit price stored on a line with the catalog's unit price for the
// line's current quantity, and reports changed when they differ: the catalog's price moved
// since the line was last written (ARCHITECTURE.md §Decisions). A quantity change that moves a line to another
// tier is never a price change, because every write stores the price at the tier of the
// quantity it stores. Unavailable lines have no price to compare and report nothing.
func PriceChange(l *cart.Line, currency string) (old, current int64, changed bool) {
	if Unavailable(l, currency) != "" {
		return l.Item.UnitPrice, l.Item.UnitPrice, false
	}
	p, ok := UnitPrice(*l.Variant, currency, l.Item.Quantity)
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
//     line's quantity, applied what it holds and available what it could hold;
//   - reservation_expired for each line whose reservation lapsed (out of the totals until a
//     quantity change reserves it again), with requested its quantity and available what a
//     change could reserve now;
//   - item_unavailable for each line that cannot be bought (withdrawn, not priced in the
//     cart's currency, its sale not started or ended), saying why.
//
// reserve says whether lines hold stock; without reservations a line is short when its
// quantity is above the available stock, and applied is what is available.
func Notices(v cart.View, reserve bool) []cart.Message {
	var out []cart.Message
	// By index: a line is large, and carts hold up to a thousand.
	for i := range v.Lines {
		lv := &v.Lines[i]
		if old, current, changed := PriceChange(&lv.Line, v.Cart.Currency); changed {
			out = append(out, PriceChangedMessage(lv.Line, v.Cart.Currency, old, current))
		}
	}
	for i := range v.Lines {
		lv := &v.Lines[i]
		if lv.InventoryStatus != cart.Insufficient {
			continue
		}
		req, av := lv.Item.Quantity, max(lv.Available, 0)
		app := min(lv.Item.ReservedQuantity, req)
		if !reserve {
			app = min(av, req)
		}
		out = append(out, cart.Message{Type: cart.Warning, Code: "insufficient_stock", ItemNum: lv.Item.Num,
			Text: fmt.Sprintf("Only %s of the %s units of %s are held: the stock was reduced",
				cart.FormatScaled(app, lv.Variant.Scale()), cart.FormatScaled(req, lv.Variant.Scale()), lv.Variant.SKU),
			Requested: &req, Applied: &app, Available: &av, Scale: lv.Variant.QuantityScale})
	}
	for _, lv := range v.ExpiredLines {
		req, av := lv.Item.Quantity, max(lv.Available, 0)
		out = append(out, cart.Message{Type: cart.Warning, Code: "reservation_expired", ItemNum: lv.Item.Num,
			Text: fmt.Sprintf("The reservation of %s lapsed at %s; change its quantity to reserve it again",
				lv.Variant.SKU, lv.Item.ReservedUntil.UTC().Format(time.RFC3339)),
			Requested: &req, Available: &av, Scale: lv.Variant.QuantityScale})
	}
	for _, lv := range v.Unavailable {
		out = append(out, UnavailableMessage(lv, v.Cart.Currency))
	}
	return out
}

// UnavailableMessage reports why an unavailable line cannot be bought.
func UnavailableMessage(lv cart.LineView, currency string) cart.Message {
	sku := lv.Variant.SKU
	var text string
	switch lv.UnavailableReason {
	case cart.UnavailableNoPrice:
		text = fmt.Sprintf("%s is not sold in %s; it can only be removed", sku, currency)
	case cart.UnavailableSaleNotStarted:
		text = fmt.Sprintf("%s is not on sale yet: its sale starts at %s", sku, lv.Sale.StartsAt.UTC().Format(time.RFC3339))
	case cart.UnavailableSaleEnded:
		text = fmt.Sprintf("%s is no longer available: its sale ended at %s", sku, lv.Sale.EndsAt.UTC().Format(time.RFC3339))
	default:
		text = fmt.Sprintf("%s is no longer available; it can only be removed", sku)
	}
	return cart.Message{Type: cart.Warning, Code: "item_unavailable", ItemNum: lv.Item.Num, Text: text}
}

// formatAmount renders minor units as a decimal in the currency's digits.
func formatAmount(amount int64, currency string) string {
	s, err := money.Format(amount, currency)
	if err != nil {
		return strconv.FormatInt(amount, 10)
	}
	return s
}
