package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

// Id prefixes of the native API. Numbers are cartd's; the prefixes say what a number names.
const (
	cartPrefix  = "cart_"
	itemPrefix  = "ci_"
	tokenPrefix = "tok_"
)

func cartID(num int64) string { return cartPrefix + strconv.FormatInt(num, 10) }
func itemID(num int64) string { return itemPrefix + strconv.FormatInt(num, 10) }

// parseID reads "<prefix><positive number>"; ok is false for anything else.
func parseID(s, prefix string) (int64, bool) {
	rest, found := strings.CutPrefix(s, prefix)
	if !found || rest == "" || rest[0] == '0' || rest[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// timeJSON renders instants as RFC 3339 in UTC with the precision stored.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timeJSON(t)
	return &s
}

type messageJSON struct {
	Type      cart.MessageType `json:"type"`
	Code      string           `json:"code"`
	Message   string           `json:"message"`
	ItemID    string           `json:"item_id,omitempty"`
	Requested *int64           `json:"requested,omitempty"`
	Applied   *int64           `json:"applied,omitempty"`
	Available *int64           `json:"available,omitempty"`
	OldPrice  *int64           `json:"old_price,omitempty"`
	NewPrice  *int64           `json:"new_price,omitempty"`
}

type itemJSON struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	ProductID        string          `json:"product_id"`
	VariantID        string          `json:"variant_id"`
	SKU              string          `json:"sku"`
	ProductName      string          `json:"product_name"`
	VariantName      string          `json:"variant_name,omitempty"`
	ImageURL         string          `json:"image_url,omitempty"`
	Quantity         int64           `json:"quantity"`
	ReservedQuantity int64           `json:"reserved_quantity"`
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
	AvailableQty     int64           `json:"available_quantity"`
	ReservedUntil    *string         `json:"reserved_until"`
	Expired          bool            `json:"expired"`
	// UnavailableReason says why an item of unavailable_items cannot be bought; null for the
	// others.
	UnavailableReason *string `json:"unavailable_reason"`
	CreatedAt         string  `json:"created_at"`
	UpdatedAt         string  `json:"updated_at"`
}

type cartJSON struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	CustomerID       *string         `json:"customer_id"`
	Status           cart.Status     `json:"status"`
	Currency         string          `json:"currency"`
	Version          int64           `json:"version"`
	Items            []itemJSON      `json:"items"`
	UnavailableItems []itemJSON      `json:"unavailable_items"`
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
	Coupons          []couponJSON    `json:"coupons"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	MergedInto       *string         `json:"merged_into"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
	LastActivity     string          `json:"last_activity"`
	Messages         []messageJSON   `json:"messages"`
}

func (s *Server) renderCart(v cart.View) cartJSON { return renderCartJSON(v) }

// renderCartJSON is a cart as the native API shows it.
func renderCartJSON(v cart.View) cartJSON {
	c := v.Cart
	out := cartJSON{
		ID: cartID(c.Num), Object: "cart", Status: c.Status, Currency: c.Currency, Version: c.Version,
		Items: make([]itemJSON, 0, len(v.Lines)), UnavailableItems: make([]itemJSON, 0, len(v.Unavailable)),
		ItemCount: v.ItemCount, UniqueItemCount: v.UniqueItemCount, Expired: v.Expired,
		Subtotal: v.Subtotal, Discount: v.Discount, Tax: v.Tax, Shipping: v.Shipping, Total: v.Total,
		RetailTotal: v.RetailTotal, Saved: v.Saved, PricesIncludeTax: v.PricesIncludeTax, Coupons: renderCoupons(v), Metadata: c.Metadata,
		CreatedAt: timeJSON(c.CreatedAt), UpdatedAt: timeJSON(c.UpdatedAt), LastActivity: timeJSON(c.LastActivity),
		Messages: renderMessages(v.Messages),
	}
	if c.CustomerID != "" {
		out.CustomerID = &c.CustomerID
	}
	if c.MergedInto != 0 {
		into := cartID(c.MergedInto)
		out.MergedInto = &into
	}
	for _, l := range items(v) {
		out.Items = append(out.Items, renderItem(l))
	}
	for _, l := range v.Unavailable {
		out.UnavailableItems = append(out.UnavailableItems, renderItem(l))
	}
	return out
}

// items are the lines a cart shows as its items, in the cart's order: those that count in
// the totals and the expired ones (which do not).
func items(v cart.View) []cart.LineView {
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

func renderMessages(msgs []cart.Message) []messageJSON {
	out := make([]messageJSON, 0, len(msgs))
	for _, m := range msgs {
		mj := messageJSON{Type: m.Type, Code: m.Code, Message: m.Text, Requested: m.Requested, Applied: m.Applied, Available: m.Available,
			OldPrice: m.OldPrice, NewPrice: m.NewPrice}
		if m.ItemNum != 0 {
			mj.ItemID = itemID(m.ItemNum)
		}
		out = append(out, mj)
	}
	return out
}

func renderItem(l cart.LineView) itemJSON {
	it := l.Item
	out := itemJSON{
		ID: itemID(it.Num), Object: "cart_item", ProductID: l.Product.ID, VariantID: l.Variant.ID, SKU: l.Variant.SKU,
		ProductName: l.Product.Name, VariantName: l.Variant.Name, ImageURL: l.Product.ImageURL,
		Quantity: it.Quantity, ReservedQuantity: it.ReservedQuantity, UnitPrice: l.UnitPrice, PriceWhenAdded: it.AddedUnitPrice,
		Subtotal: l.Subtotal, Discount: l.Discount, Tax: l.Tax, Total: l.Total, Notes: it.Notes, Metadata: it.Metadata,
		InventoryStatus: l.InventoryStatus, AvailableQty: l.Available, ReservedUntil: optTime(it.ReservedUntil),
		Expired: l.Expired, CreatedAt: timeJSON(it.CreatedAt), UpdatedAt: timeJSON(it.UpdatedAt),
	}
	if l.RetailPrice > 0 {
		out.RetailPrice = &l.RetailPrice
	}
	if l.UnavailableReason != "" {
		out.UnavailableReason = &l.UnavailableReason
	}
	return out
}

// saleJSON is the sale resource, as written (PUT) and read; status is the sale's state at the
// instant of the call.
type saleJSON struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Number    int64  `json:"number"`
	Name      string `json:"name"`
	StartsAt  string `json:"starts_at"`
	EndsAt    string `json:"ends_at"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func renderSale(s cart.Sale, now time.Time) saleJSON {
	return saleJSON{ID: s.ID, Object: "sale", Number: s.Num, Name: s.Name, StartsAt: timeJSON(s.StartsAt),
		EndsAt: timeJSON(s.EndsAt), Status: s.State(now), CreatedAt: timeJSON(s.CreatedAt), UpdatedAt: timeJSON(s.UpdatedAt)}
}

// productJSON is the product resource, both as written (PUT) and as read.
type productJSON struct {
	ID          string        `json:"id"`
	Object      string        `json:"object"`
	Number      int64         `json:"number"`
	Name        string        `json:"name"`
	Brand       string        `json:"brand"`
	Category    string        `json:"category"`
	Description string        `json:"description"`
	ImageURL    string        `json:"image_url"`
	TaxCode     string        `json:"tax_code"`
	Variants    []variantJSON `json:"variants"`
	CreatedAt   string        `json:"created_at"`
	UpdatedAt   string        `json:"updated_at"`
}

type variantJSON struct {
	ID          string           `json:"id"`
	Number      int64            `json:"number"`
	SKU         string           `json:"sku"`
	Name        string           `json:"name"`
	Options     []cart.Option    `json:"options"`
	Price       map[string]int64 `json:"price"`
	RetailPrice map[string]int64 `json:"retail_price"`
	Tiers       []cart.Tier      `json:"tiers"`
	TaxRate     int64            `json:"tax_rate"`
	WeightGrams int64            `json:"weight_grams"`
	Active      bool             `json:"active"`
	Returnable  bool             `json:"returnable"`
	SaleID      *string          `json:"sale_id"`
}

func renderProduct(p cart.Product) productJSON {
	out := productJSON{ID: p.ID, Object: "product", Number: p.Num, Name: p.Name, Brand: p.Brand, Category: p.Category,
		Description: p.Description, ImageURL: p.ImageURL, TaxCode: p.TaxCode, Variants: make([]variantJSON, 0, len(p.Variants)),
		CreatedAt: timeJSON(p.CreatedAt), UpdatedAt: timeJSON(p.UpdatedAt)}
	for _, v := range p.Variants {
		vj := variantJSON{ID: v.ID, Number: v.Num, SKU: v.SKU, Name: v.Name, Options: v.Options, Price: v.Prices,
			RetailPrice: v.RetailPrices, Tiers: v.Tiers, TaxRate: v.TaxRate, WeightGrams: v.WeightGrams,
			Active: v.Active, Returnable: v.Returnable}
		if vj.Options == nil {
			vj.Options = []cart.Option{}
		}
		if vj.RetailPrice == nil {
			vj.RetailPrice = map[string]int64{}
		}
		if vj.Tiers == nil {
			vj.Tiers = []cart.Tier{}
		}
		if v.SaleID != "" {
			vj.SaleID = &v.SaleID
		}
		out.Variants = append(out.Variants, vj)
	}
	return out
}

type stockJSON struct {
	Object      string  `json:"object"`
	SKU         string  `json:"sku"`
	OnHand      int64   `json:"on_hand"`
	Reserved    int64   `json:"reserved"`
	Available   int64   `json:"available"`
	Backordered int64   `json:"backordered"`
	Version     int64   `json:"version"`
	UpdatedAt   *string `json:"updated_at"`
}

func renderStock(st cart.Stock) stockJSON {
	return stockJSON{Object: "inventory", SKU: st.SKU, OnHand: st.OnHand, Reserved: st.Reserved, Available: st.Available(),
		Backordered: st.Backordered, Version: st.Version, UpdatedAt: optTime(st.UpdatedAt)}
}

type settingsJSON struct {
	Object             string                       `json:"object"`
	DefaultCurrency    string                       `json:"default_currency"`
	PricesIncludeTax   bool                         `json:"prices_include_tax"`
	MaxQuantityPerItem int64                        `json:"max_quantity_per_item"`
	MaxLinesPerCart    int64                        `json:"max_lines_per_cart"`
	Shipping           map[string]cart.ShippingRate `json:"shipping"`
	UpdatedAt          *string                      `json:"updated_at"`
	// MaxGuestQuantityPerItem is the guest cap; 0 means none of its own.
	MaxGuestQuantityPerItem int64 `json:"max_guest_quantity_per_item"`
}

func renderSettings(s cart.Settings) settingsJSON {
	out := settingsJSON{Object: "settings", DefaultCurrency: s.DefaultCurrency, PricesIncludeTax: s.PricesIncludeTax,
		MaxQuantityPerItem: s.MaxQuantityPerItem, MaxLinesPerCart: s.MaxLinesPerCart, Shipping: s.Shipping, UpdatedAt: optTime(s.UpdatedAt),
		MaxGuestQuantityPerItem: s.MaxGuestQuantityPerItem}
	if out.Shipping == nil {
		out.Shipping = map[string]cart.ShippingRate{}
	}
	return out
}

type tokenJSON struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	CustomerID string `json:"customer_id"`
	Token      string `json:"token"`
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at"`
}

func renderToken(secret string, t auth.Token) tokenJSON {
	return tokenJSON{ID: tokenPrefix + strconv.FormatInt(t.Num, 10), Object: "customer_token", CustomerID: t.CustomerID,
		Token: secret, CreatedAt: timeJSON(t.CreatedAt), ExpiresAt: timeJSON(t.ExpiresAt)}
}
