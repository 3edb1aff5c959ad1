// Package cartjson renders carts as the native API shows them. It lives apart from package api
// so that anything that hands a cart on (the checkout record, events) renders it exactly as a
// client reading the cart through the API sees it, without importing the HTTP layer.
package cartjson

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/cartd/cartd/cart"
)

// Id prefixes of the native API: numbers are cartd's, the prefixes say what a number names.
const (
	CartPrefix = "cart_"
	ItemPrefix = "ci_"
)

// CartID is a cart's id in the native API.
func CartID(num int64) string { return CartPrefix + strconv.FormatInt(num, 10) }

// ItemID is an item's id in the native API.
func ItemID(num int64) string { return ItemPrefix + strconv.FormatInt(num, 10) }

// Time renders instants as RFC 3339 in UTC with the precision stored.
func Time(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// OptTime is Time, or nil for the zero instant.
func OptTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := Time(t)
	return &s
}

// Message is one of a cart's messages.
type Message struct {
	Type    cart.MessageType `json:"type"`
	Code    string           `json:"code"`
	Message string           `json:"message"`
	ItemID  string           `json:"item_id,omitempty"`
	// Requested, Applied and Available are quantities of the line's variant: decimals for a
	// measured one (Quantity).
	// Each is left out when unset (""), so that a message costs no allocation for them.
	Requested json.Number `json:"requested,omitempty"`
	Applied   json.Number `json:"applied,omitempty"`
	Available json.Number `json:"available,omitempty"`
	OldPrice  *int64      `json:"old_price,omitempty"`
	NewPrice  *int64      `json:"new_price,omitempty"`
}

// Item is one line of a cart.
type Item struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	ProductID   string `json:"product_id"`
	VariantID   string `json:"variant_id"`
	SKU         string `json:"sku"`
	ProductName string `json:"product_name"`
	VariantName string `json:"variant_name,omitempty"`
	ImageURL    string `json:"image_url,omitempty"`
	// Quantity, ReservedQuantity and AvailableQty are JSON numbers written by Quantity: whole
	// for a variant of scale 0, decimals of its scale for a measured one (1.250).
	Quantity         json.Number     `json:"quantity"`
	ReservedQuantity json.Number     `json:"reserved_quantity"`
	UnitPrice        int64           `json:"unit_price"`
	PriceWhenAdded   int64           `json:"price_when_added"`
	RetailPrice      *int64          `json:"retail_price"`
	Subtotal         int64           `json:"subtotal"`
	Discount         int64           `json:"discount"`
	Tax              int64           `json:"tax"`
	Total            int64           `json:"total"`
	Notes            string          `json:"notes,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	InventoryStatus  string          `json:"inventory_status"`
	AvailableQty     json.Number     `json:"available_quantity"`
	// QuantityScale and Unit say how the variant is measured (docs/measured-quantities.md).
	QuantityScale uint8   `json:"quantity_scale"`
	Unit          string  `json:"unit"`
	ReservedUntil *string `json:"reserved_until"`
	Expired       bool    `json:"expired"`
	// UnavailableReason says why an item of unavailable_items cannot be bought; null for the
	// others.
	UnavailableReason *string `json:"unavailable_reason"`
	// QuantityRule is the rule in effect for the item's variant (docs/quantity-rules.md).
	QuantityRule Rule   `json:"quantity_rule"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`
}

// Rule is the quantity rule in effect for a line, with its defaults filled in: min and
// increment are always numbers, max and max_per_customer null when there is no bound.
type Rule struct {
	Min            json.Number  `json:"min"`
	Max            *json.Number `json:"max"`
	Increment      json.Number  `json:"increment"`
	MaxPerCustomer *json.Number `json:"max_per_customer"`
}

// Quantity writes q units of 10^-scale as a JSON number: q itself at scale 0 (strconv keeps
// the numbers below 100 without allocating), 1.250 for 1250 at scale 3.
func Quantity(q int64, scale uint8) json.Number {
	if scale == 0 {
		return json.Number(strconv.FormatInt(q, 10))
	}
	return json.Number(cart.FormatScaled(q, int(scale)))
}

// quantityOrNone is Quantity of *q, "" (left out) for nil.
func quantityOrNone(q *int64, scale uint8) json.Number {
	if q == nil {
		return ""
	}
	return Quantity(*q, scale)
}

// OptQuantity is Quantity of *q, nil for nil.
func OptQuantity(q *int64, scale uint8) *json.Number {
	if q == nil {
		return nil
	}
	n := Quantity(*q, scale)
	return &n
}

// RenderRule renders r; the pointers point into r, which the caller keeps (a line's catalog
// rows are shared and read-only), so a line costs no allocation for it.
func RenderRule(r *cart.QuantityRule, scale uint8) Rule {
	if r == nil {
		// No rule: any multiple of the smallest quantity, 1 or 10^-scale.
		one := Quantity(1, scale)
		return Rule{Min: one, Increment: one}
	}
	out := Rule{Min: Quantity(r.Lowest(), scale), Increment: Quantity(r.Step(), scale)}
	if r.Max > 0 {
		out.Max = OptQuantity(&r.Max, scale)
	}
	if r.MaxPerCustomer > 0 {
		out.MaxPerCustomer = OptQuantity(&r.MaxPerCustomer, scale)
	}
	return out
}

// lineRule is the rule in effect for a line, as stored with its variant or product.
func lineRule(l *cart.LineView) *cart.QuantityRule {
	if l.Variant != nil && l.Variant.QuantityRule != nil {
		return l.Variant.QuantityRule
	}
	if l.Product != nil {
		return l.Product.QuantityRule
	}
	return nil
}

// Cart is a whole cart.
type Cart struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	CustomerID       *string         `json:"customer_id"`
	Status           cart.Status     `json:"status"`
	Currency         string          `json:"currency"`
	Version          int64           `json:"version"`
	Items            []Item          `json:"items"`
	UnavailableItems []Item          `json:"unavailable_items"`
	ItemCount        int64           `json:"item_count"`
	UniqueItemCount  int64           `json:"unique_item_count"`
	Expired          int64           `json:"expired"`
	Subtotal         int64           `json:"subtotal"`
	Discount         int64           `json:"discount"`
	Tax              int64           `json:"tax"`
	Shipping         int64           `json:"shipping"`
	Total            int64           `json:"total"`
	RetailTotal      int64           `json:"retail_total"`
	Saved            int64           `json:"saved"`
	PricesIncludeTax bool            `json:"prices_include_tax"`
	Coupons          []Coupon        `json:"coupons"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	MergedInto       *string         `json:"merged_into"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	LastActivity     string          `json:"last_activity"`
	Messages         []Message       `json:"messages"`
}

// Render renders a cart's view as the native API shows it (GET /v1/carts/{id}): for a
// completed cart, the checkout record the engine serves, byte for byte what the API answers
// once marshalled with encoding/json.
func Render(v cart.View) Cart {
	c := v.Cart
	out := Cart{
		ID: CartID(c.Num), Object: "cart", Status: c.Status, Currency: c.Currency, Version: c.Version,
		Items: make([]Item, 0, len(v.Lines)), UnavailableItems: make([]Item, 0, len(v.Unavailable)),
		ItemCount: v.ItemCount, UniqueItemCount: v.UniqueItemCount, Expired: v.Expired,
		Subtotal: v.Subtotal, Discount: v.Discount, Tax: v.Tax, Shipping: v.Shipping, Total: v.Total,
		RetailTotal: v.RetailTotal, Saved: v.Saved, PricesIncludeTax: v.PricesIncludeTax, Coupons: Coupons(v), Metadata: c.Metadata,
		CreatedAt: Time(c.CreatedAt), UpdatedAt: Time(c.UpdatedAt), LastActivity: Time(c.LastActivity),
		Messages: Messages(v.Messages),
	}
	if c.CustomerID != "" {
		out.CustomerID = &c.CustomerID
	}
	if c.MergedInto != 0 {
		into := CartID(c.MergedInto)
		out.MergedInto = &into
	}
	for _, l := range Items(v) {
		out.Items = append(out.Items, RenderItem(l))
	}
	for _, l := range v.Unavailable {
		out.UnavailableItems = append(out.UnavailableItems, RenderItem(l))
	}
	return out
}

// Items are the lines a cart shows as its items, in the cart's order: those that count in
// the totals and the expired ones (which do not).
func Items(v cart.View) []cart.LineView {
	if len(v.ExpiredLines) == 0 {
		return v.Lines
	}
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

// Messages renders a call's messages.
func Messages(msgs []cart.Message) []Message {
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		mj := Message{Type: m.Type, Code: m.Code, Message: m.Text, Requested: quantityOrNone(m.Requested, m.Scale),
			Applied: quantityOrNone(m.Applied, m.Scale), Available: quantityOrNone(m.Available, m.Scale),
			OldPrice: m.OldPrice, NewPrice: m.NewPrice}
		if m.ItemNum != 0 {
			mj.ItemID = ItemID(m.ItemNum)
		}
		out = append(out, mj)
	}
	return out
}

// RenderItem renders one line.
func RenderItem(l cart.LineView) Item {
	it := l.Item
	scale := l.Variant.QuantityScale
	out := Item{
		ID: ItemID(it.Num), Object: "cart_item", ProductID: l.Product.ID, VariantID: l.Variant.ID, SKU: l.Variant.SKU,
		ProductName: l.Product.Name, VariantName: l.Variant.Name, ImageURL: l.Product.ImageURL,
		Quantity: Quantity(it.Quantity, scale), ReservedQuantity: Quantity(it.ReservedQuantity, scale),
		QuantityScale: scale, Unit: l.Variant.Unit, UnitPrice: l.UnitPrice, PriceWhenAdded: it.AddedUnitPrice,
		Subtotal: l.Subtotal, Discount: l.Discount, Tax: l.Tax, Total: l.Total, Notes: it.Notes, Metadata: it.Metadata,
		InventoryStatus: l.InventoryStatus, AvailableQty: Quantity(l.Available, scale), ReservedUntil: OptTime(it.ReservedUntil),
		Expired: l.Expired, CreatedAt: Time(it.CreatedAt), UpdatedAt: Time(it.UpdatedAt),
	}
	if l.RetailPrice > 0 {
		out.RetailPrice = &l.RetailPrice
	}
	if l.UnavailableReason != "" {
		out.UnavailableReason = &l.UnavailableReason
	}
	out.QuantityRule = RenderRule(lineRule(&l), scale)
	return out
}

// Coupon is one entry of a cart's coupons: a code applied to the cart (method manual),
// whether it applies now or not, or an automatic promotion that applies. amount is what it
// takes off (for freeship, the shipping it waives); reason and message say why a code does
// not apply, and are null when it does.
type Coupon struct {
	Code        string  `json:"code"`
	Number      int64   `json:"number"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Method      string  `json:"method"`
	Amount      int64   `json:"amount"`
	Description string  `json:"description"`
	Applied     bool    `json:"applied"`
	Reason      *string `json:"reason"`
	Message     *string `json:"message"`
}

// Coupons renders a cart's coupons and the automatic promotions that apply.
func Coupons(v cart.View) []Coupon {
	out := make([]Coupon, 0, len(v.Promotions))
	for _, pv := range v.Promotions {
		p := pv.Promotion
		cj := Coupon{Code: p.Code, Number: p.Num, Name: p.Name, Type: string(p.Type), Method: string(p.Method),
			Amount: pv.Amount, Description: p.Description, Applied: pv.Applied}
		if !pv.Applied {
			reason, text := pv.Reason, pv.Text
			cj.Reason, cj.Message = &reason, &text
		}
		out = append(out, cj)
	}
	return out
}

// Record renders a completed cart's checkout record as the native API answers every read of
// it (GET /v1/carts/{id}): Render of the view without what only the call that produced it
// reports (its messages). Given the view engine.Checkout returns, it is the record as stored;
// marshalled with encoding/json it is, byte for byte, the body of a later GET without its
// final newline. This is what hands a completed cart on (an order feed, a checkout event).
func Record(v cart.View) Cart {
	v.Messages, v.ChangedItems, v.RemovedItems = nil, nil, nil
	return Render(v)
}
