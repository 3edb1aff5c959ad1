package storefront

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/money"
)

// cartBody is the body of the view, the add and the clear (see the package doc).
type cartBody struct {
	Success      bool          `json:"success"`
	Message      string        `json:"message"`
	Cart         cartJSON      `json:"cart"`
	RemovedItems []removedJSON `json:"removed_items"`
}

type cartJSON struct {
	ID               *int64          `json:"id"`
	Currency         string          `json:"currency"`
	Items            []itemJSON      `json:"items"`
	ItemCount        int64           `json:"item_count"`
	Subtotal         string          `json:"subtotal"`
	Discount         string          `json:"discount"`
	Tax              string          `json:"tax"`
	Shipping         string          `json:"shipping"`
	Total            string          `json:"total"`
	PricesIncludeTax bool            `json:"prices_include_tax"`
	Vouchers         []promotionJSON `json:"vouchers"`
	Offers           []promotionJSON `json:"offers"`
}

type itemJSON struct {
	ItemKey        string `json:"item_key"`
	ProductID      int64  `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Variant        string `json:"variant"`
	Image          string `json:"image"`
	Quantity       int64  `json:"quantity"`
	UnitPrice      string `json:"unit_price"`
	TotalPrice     string `json:"total_price"`
	Discount       string `json:"discount"`
	AvailableStock int64  `json:"available_stock"`
	Expired        bool   `json:"expired"`
}

type promotionJSON struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Discount string `json:"discount"`
	Applied  bool   `json:"applied"`
	Message  string `json:"message"`
}

type removedJSON struct {
	ItemKey   string `json:"item_key"`
	ProductID int64  `json:"product_id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	Message   string `json:"message"`
}

// writeCart answers with a session call's cart.
func (h *Handler) writeCart(w http.ResponseWriter, status int, msg string, res engine.SessionResult) {
	body := cartBody{Success: true, Message: msg, Cart: renderCart(res.View), RemovedItems: make([]removedJSON, 0, len(res.Removed))}
	for _, l := range res.Removed {
		body.RemovedItems = append(body.RemovedItems, removedJSON{
			ItemKey: keyOf(l).String(), ProductID: l.Product.Num, SKU: l.Variant.SKU, Name: l.Product.Name,
			Quantity: l.Variant.ShownWhole(l.Item.Quantity), Message: unavailableMessage(l.UnavailableReason)})
	}
	writeJSON(w, status, body, h.log)
}

func keyOf(l cart.LineView) itemKey { return itemKey{ProductNum: l.Product.Num, SKU: l.Variant.SKU} }

func renderCart(v cart.View) cartJSON {
	cur := v.Cart.Currency
	out := cartJSON{
		Currency: cur, ItemCount: v.ItemCount,
		Subtotal: amount(v.Subtotal, cur), Discount: amount(v.Discount, cur), Tax: amount(v.Tax, cur),
		Shipping: amount(v.Shipping, cur), Total: amount(v.Total, cur), PricesIncludeTax: v.PricesIncludeTax,
		Items: []itemJSON{}, Vouchers: []promotionJSON{}, Offers: []promotionJSON{},
	}
	if v.Cart.Num != 0 {
		out.ID = &v.Cart.Num
	}
	for _, l := range items(v) {
		out.Items = append(out.Items, itemJSON{
			ItemKey: keyOf(l).String(), ProductID: l.Product.Num, SKU: l.Variant.SKU, Name: l.Product.Name,
			Variant: l.Variant.MeasuredName(l.Variant.Name, l.Item.Quantity), Image: l.Product.ImageURL, Quantity: l.Variant.ShownWhole(l.Item.Quantity),
			UnitPrice: amount(l.UnitPrice, cur), TotalPrice: amount(l.Subtotal, cur), Discount: amount(l.Discount, cur),
			AvailableStock: l.Available / cart.Pow10(l.Variant.Scale()), Expired: l.Expired,
		})
	}
	for _, p := range v.Promotions {
		pj := promotionJSON{Code: p.Promotion.Code, Name: p.Promotion.Name, Discount: amount(p.Amount, cur), Applied: p.Applied, Message: p.Text}
		if p.Coupon {
			out.Vouchers = append(out.Vouchers, pj)
		} else {
			out.Offers = append(out.Offers, pj)
		}
	}
	return out
}

// items are the lines a cart shows, in the cart's order: those that count in the totals and
// the expired ones.
func items(v cart.View) []cart.LineView {
	out := make([]cart.LineView, 0, len(v.Lines)+len(v.ExpiredLines))
	i, j := 0, 0
	for i < len(v.Lines) || j < len(v.ExpiredLines) {
		if j == len(v.ExpiredLines) || i < len(v.Lines) && v.Lines[i].Item.Num < v.ExpiredLines[j].Item.Num {
			out = append(out, v.Lines[i])
			i++
		} else {
			out = append(out, v.ExpiredLines[j])
			j++
		}
	}
	return out
}

// amount renders minor units as a decimal string in the currency's digits.
func amount(minor int64, currency string) string {
	s, err := money.Format(minor, currency)
	if err != nil {
		return money.FormatDigits(minor, 2) // a cart's currency is always valid
	}
	return s
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any, log *slog.Logger) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("encode response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"detail":"A server error occurred."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
