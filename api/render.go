package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/cartjson"
)

// Id prefixes of the native API. Numbers are cartd's; the prefixes say what a number names.
const (
	cartPrefix  = "cart_"
	itemPrefix  = "ci_"
	tokenPrefix = "tok_"
)

func cartID(num int64) string { return cartjson.CartID(num) }
func itemID(num int64) string { return cartjson.ItemID(num) }

// parseID reads "<prefix><positive number>"; ok is false for anything else.
func parseID(s, prefix string) (int64, bool) {
	rest, found := strings.CutPrefix(s, prefix)
	if !found || rest == "" || rest[0] == '0' || rest[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// The cart as the native API renders it lives in internal/cartjson, shared with whatever
// hands a cart on (the checkout record).
type (
	messageJSON = cartjson.Message
	itemJSON    = cartjson.Item
	cartJSON    = cartjson.Cart
	ruleJSON    = cartjson.Rule
)

func timeJSON(t time.Time) string                      { return cartjson.Time(t) }
func optTime(t time.Time) *string                      { return cartjson.OptTime(t) }
func (s *Server) renderCart(v cart.View) cartJSON      { return cartjson.Render(v) }
func items(v cart.View) []cart.LineView                { return cartjson.Items(v) }
func renderMessages(msgs []cart.Message) []messageJSON { return cartjson.Messages(msgs) }
func renderItem(l cart.LineView) itemJSON              { return cartjson.RenderItem(l) }
func renderRule(r *cart.QuantityRule, scale uint8) ruleJSON {
	return cartjson.RenderRule(r, scale)
}
func optQuantity(q *int64, scale uint8) *json.Number { return cartjson.OptQuantity(q, scale) }

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
	// QuantityRule is the product's rule for its variants without one of their own.
	QuantityRule *productRuleJSON `json:"quantity_rule"`
	CreatedAt    string           `json:"created_at"`
	UpdatedAt    string           `json:"updated_at"`
}

// productRuleJSON is a rule as the shop wrote it (absent values left out), its values
// decimals of the variant's scale.
type productRuleJSON struct {
	Min            *json.Number `json:"min,omitempty"`
	Max            *json.Number `json:"max,omitempty"`
	Increment      *json.Number `json:"increment,omitempty"`
	MaxPerCustomer *json.Number `json:"max_per_customer,omitempty"`
}

func renderProductRule(r *cart.QuantityRule, scale uint8) *productRuleJSON {
	if r == nil {
		return nil
	}
	opt := func(n int64) *json.Number {
		if n == 0 {
			return nil
		}
		return optQuantity(&n, scale)
	}
	return &productRuleJSON{Min: opt(r.Min), Max: opt(r.Max), Increment: opt(r.Increment), MaxPerCustomer: opt(r.MaxPerCustomer)}
}

// tierJSON is a tier; min_quantity is a decimal of the variant's scale.
type tierJSON struct {
	MinQuantity json.Number      `json:"min_quantity"`
	Prices      map[string]int64 `json:"price"`
}

type variantJSON struct {
	ID          string           `json:"id"`
	Number      int64            `json:"number"`
	SKU         string           `json:"sku"`
	Name        string           `json:"name"`
	Options     []cart.Option    `json:"options"`
	Price       map[string]int64 `json:"price"`
	RetailPrice map[string]int64 `json:"retail_price"`
	Tiers       []tierJSON       `json:"tiers"`
	TaxRate     int64            `json:"tax_rate"`
	WeightGrams int64            `json:"weight_grams"`
	Active      bool             `json:"active"`
	Returnable  bool             `json:"returnable"`
	SaleID      *string          `json:"sale_id"`
	// QuantityRule is the variant's own rule; null: the product's applies.
	QuantityRule *productRuleJSON `json:"quantity_rule"`
	// QuantityScale and Unit measure the variant's quantities (docs/measured-quantities.md).
	QuantityScale uint8  `json:"quantity_scale"`
	Unit          string `json:"unit"`
}

func renderProduct(p cart.Product) productJSON {
	out := productJSON{ID: p.ID, Object: "product", Number: p.Num, Name: p.Name, Brand: p.Brand, Category: p.Category,
		Description: p.Description, ImageURL: p.ImageURL, TaxCode: p.TaxCode, Variants: make([]variantJSON, 0, len(p.Variants)),
		CreatedAt: timeJSON(p.CreatedAt), UpdatedAt: timeJSON(p.UpdatedAt)}
	ruleScale := uint8(0) // the scale of the variants the product's rule applies to
	for _, v := range p.Variants {
		if v.QuantityRule == nil {
			ruleScale = v.QuantityScale
			break
		}
	}
	out.QuantityRule = renderProductRule(p.QuantityRule, ruleScale)
	for _, v := range p.Variants {
		vj := variantJSON{ID: v.ID, Number: v.Num, SKU: v.SKU, Name: v.Name, Options: v.Options, Price: v.Prices,
			RetailPrice: v.RetailPrices, TaxRate: v.TaxRate, WeightGrams: v.WeightGrams,
			Active: v.Active, Returnable: v.Returnable, QuantityRule: renderProductRule(v.QuantityRule, v.QuantityScale),
			QuantityScale: v.QuantityScale, Unit: v.Unit, Tiers: make([]tierJSON, 0, len(v.Tiers))}
		for _, t := range v.Tiers {
			vj.Tiers = append(vj.Tiers, tierJSON{MinQuantity: cartjson.Quantity(t.MinQuantity, v.QuantityScale), Prices: t.Prices})
		}
		if vj.Options == nil {
			vj.Options = []cart.Option{}
		}
		if vj.RetailPrice == nil {
			vj.RetailPrice = map[string]int64{}
		}
		if v.SaleID != "" {
			vj.SaleID = &v.SaleID
		}
		out.Variants = append(out.Variants, vj)
	}
	return out
}

type stockJSON struct {
	Object string `json:"object"`
	SKU    string `json:"sku"`
	// The figures are decimals of the scale of the SKU's variant (docs/measured-quantities.md).
	OnHand      json.Number `json:"on_hand"`
	Reserved    json.Number `json:"reserved"`
	Available   json.Number `json:"available"`
	Backordered json.Number `json:"backordered"`
	Version     int64       `json:"version"`
	UpdatedAt   *string     `json:"updated_at"`
}

func renderStock(st cart.Stock) stockJSON {
	q := func(n int64) json.Number { return cartjson.Quantity(n, st.Scale) }
	return stockJSON{Object: "inventory", SKU: st.SKU, OnHand: q(st.OnHand), Reserved: q(st.Reserved), Available: q(st.Available()),
		Backordered: q(st.Backordered), Version: st.Version, UpdatedAt: optTime(st.UpdatedAt)}
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
