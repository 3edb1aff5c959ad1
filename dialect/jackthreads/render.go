package jackthreads

import (
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/money"
)

// timeLayout is how the seed's example writes instants ("2012-01-17 19:10:15"); cartd writes
// them in UTC.
const timeLayout = "2006-01-02 15:04:05"

type response struct {
	Success bool     `json:"success"`
	Cart    cartJSON `json:"cart"`
}

type cartJSON struct {
	Qty      int64        `json:"qty"`
	Expired  int64        `json:"expired"`
	Subtotal string       `json:"subtotal"`
	Tax      string       `json:"tax"`
	Shipping string       `json:"shipping"`
	Discount string       `json:"discount"`
	Coupons  []couponJSON `json:"coupons"`
	Total    string       `json:"total"`
	Retail   string       `json:"retail"`
	Saved    string       `json:"saved"`
	Items    []itemJSON   `json:"items"`
}

type couponJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Method string `json:"method"`
	Amount string `json:"amount"`
	Desc   string `json:"desc"`
}

type itemJSON struct {
	ID           int64        `json:"id"`
	SKU          string       `json:"sku"`
	CartID       int64        `json:"cart_id"`
	ProductID    int64        `json:"product_id"`
	Name         string       `json:"name"`
	Expires      *string      `json:"expires"`
	Price        string       `json:"price"`
	Image        string       `json:"image"`
	Brand        namedJSON    `json:"brand"`
	Color        namedJSON    `json:"color"`
	Size         namedJSON    `json:"size"`
	Sale         *saleJSON    `json:"sale"`
	Qty          int64        `json:"qty"`
	IsExpired    bool         `json:"is_expired"`
	IsReturnable bool         `json:"is_returnable"`
	EstDelivery  *string      `json:"est_delivery"`
	Options      []optionJSON `json:"options"`
}

type namedJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type sizeJSON struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

type saleJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	StartDate string `json:"start_date"`
	EndDate   string `json:"end_date"`
}

type optionJSON struct {
	ID      int64     `json:"id"`
	SKU     string    `json:"sku"`
	SoldOut bool      `json:"sold_out"`
	Color   namedJSON `json:"color"`
	Size    sizeJSON  `json:"size"`
}

// renderCart renders a cart with, for each item, the other variants of its product.
func renderCart(v cart.View, siblings map[int64][]engine.VariantStock) cartJSON {
	cur := v.Cart.Currency
	out := cartJSON{
		Qty: v.ItemCount, Expired: v.Expired,
		Subtotal: amount(v.Subtotal, cur), Tax: amount(v.Tax, cur), Shipping: amount(v.Shipping, cur),
		Discount: amount(v.Discount, cur), Total: amount(v.Total, cur), Retail: amount(v.RetailTotal, cur),
		Saved: amount(v.Saved, cur), Coupons: []couponJSON{}, Items: []itemJSON{},
	}
	for _, p := range v.Promotions {
		name := p.Promotion.Name
		if name == "" {
			name = p.Promotion.Code
		}
		out.Coupons = append(out.Coupons, couponJSON{ID: p.Promotion.Num, Name: name, Type: string(p.Promotion.Type),
			Method: string(p.Promotion.Method), Amount: amount(p.Amount, cur), Desc: p.Promotion.Description})
	}
	for _, l := range items(v) {
		expired := l.Expired || l.UnavailableReason != ""
		if l.UnavailableReason != "" {
			out.Expired += cart.WholeUnits(l.Item.Quantity, l.Variant.Scale()) // ExpiredLines are in v.Expired already
		}
		it := itemJSON{
			ID: l.Variant.Num, SKU: l.Variant.SKU, CartID: v.Cart.Num, ProductID: l.Product.Num, Name: l.Variant.MeasuredName(l.Product.Name, l.Item.Quantity),
			Expires: instant(l.Item.ReservedUntil), Price: amount(l.UnitPrice, cur), Image: l.Product.ImageURL,
			Brand: named(l.Product.Brand), Color: named(option(*l.Variant, "color", "colour")), Size: named(option(*l.Variant, "size")),
			Qty: l.Variant.ShownWhole(l.Item.Quantity), IsExpired: expired, IsReturnable: l.Variant.Returnable, Options: []optionJSON{},
		}
		if l.Sale.Num != 0 {
			it.Sale = &saleJSON{ID: l.Sale.Num, Name: l.Sale.Name, StartDate: l.Sale.StartsAt.UTC().Format(timeLayout), EndDate: l.Sale.EndsAt.UTC().Format(timeLayout)}
		}
		for _, s := range siblings[l.Product.Num] {
			if s.Variant.Num == l.Variant.Num {
				continue
			}
			size := option(s.Variant, "size")
			it.Options = append(it.Options, optionJSON{ID: s.Variant.Num, SKU: s.Variant.SKU,
				SoldOut: !s.Variant.Active || s.Stock.Available() == 0, Color: named(option(s.Variant, "color", "colour")),
				Size: sizeJSON{ID: nameID(size), Code: size, Name: size}})
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// items are every line of a cart, in the cart's order: those that count in the totals, the
// expired ones and the unavailable ones.
func items(v cart.View) []cart.LineView {
	out := make([]cart.LineView, 0, len(v.Lines)+len(v.ExpiredLines)+len(v.Unavailable))
	out = append(append(append(out, v.Lines...), v.ExpiredLines...), v.Unavailable...)
	slices.SortStableFunc(out, func(a, b cart.LineView) int {
		switch {
		case a.Item.Num < b.Item.Num:
			return -1
		case a.Item.Num > b.Item.Num:
			return 1
		}
		return 0
	})
	return out
}

// option is the value of the variant's first option named one of names (any case), "" for
// none.
func option(v cart.Variant, names ...string) string {
	for _, o := range v.Options {
		for _, n := range names {
			if strings.EqualFold(o.Name, n) {
				return o.Value
			}
		}
	}
	return ""
}

func named(name string) namedJSON { return namedJSON{ID: nameID(name), Name: name} }

// nameID is the number shown for a brand, color or size, which cartd keeps as names: the
// first 31 bits of the name's FNV-1a hash, never 0 for a name, 0 for none.
func nameID(name string) int64 {
	if name == "" {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	if id := int64(h.Sum32() & 0x7fffffff); id != 0 {
		return id
	}
	return 1
}

func instant(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(timeLayout)
	return &s
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
		status, b = http.StatusInternalServerError, []byte(`{"success":false,"code":"internal","message":"the server could not complete the request"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
