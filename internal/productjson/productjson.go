// Package productjson is the JSON shape of a product as a shop sends it: the body of the native
// PUT /v1/products/{id}, and, with a little more, a product line of a catalog import. One
// shape, so that a product imported and a product PUT from the same JSON are the same product.
package productjson

import (
	"fmt"

	"github.com/cartd/cartd/cart"
)

// Product is a product with its variants. ID may be absent: the PUT's path names the product.
type Product struct {
	ID          *string   `json:"id"`
	Name        string    `json:"name"`
	Brand       string    `json:"brand"`
	Category    string    `json:"category"`
	Description string    `json:"description"`
	ImageURL    string    `json:"image_url"`
	TaxCode     string    `json:"tax_code"`
	Variants    []Variant `json:"variants"`
	// QuantityRule applies to the variants without a rule of their own, in their scale.
	QuantityRule *Rule `json:"quantity_rule"`
}

// Variant is one variant of a Product. Active and returnable default to true.
type Variant struct {
	ID          string           `json:"id"`
	SKU         string           `json:"sku"`
	Name        string           `json:"name"`
	Options     []cart.Option    `json:"options"`
	Price       map[string]int64 `json:"price"`
	RetailPrice map[string]int64 `json:"retail_price"`
	Tiers       []Tier           `json:"tiers"`
	TaxRate     int64            `json:"tax_rate"`
	WeightGrams int64            `json:"weight_grams"`
	Active      *bool            `json:"active"`
	Returnable  *bool            `json:"returnable"`
	SaleID      *string          `json:"sale_id"`
	// QuantityRule is the variant's own rule, replacing its product's.
	QuantityRule *Rule `json:"quantity_rule"`
	// QuantityScale and Unit measure the variant's quantities (docs/measured-quantities.md):
	// its tiers' min_quantity and its rule's values are decimals of that scale.
	QuantityScale int64  `json:"quantity_scale"`
	Unit          string `json:"unit"`
}

// Tier is a quantity price break as sent: min_quantity is a decimal of the variant's scale.
type Tier struct {
	MinQuantity cart.Decimal     `json:"min_quantity"`
	Prices      map[string]int64 `json:"price"`
}

// Rule is a quantity rule as sent: its values are decimals of the scale of the variants it
// applies to.
type Rule struct {
	Min            cart.Decimal `json:"min"`
	Max            cart.Decimal `json:"max"`
	Increment      cart.Decimal `json:"increment"`
	MaxPerCustomer cart.Decimal `json:"max_per_customer"`
}

// Cart is the rule in units of 10^-scale, errors naming fields under prefix.
func (r *Rule) Cart(scale int, prefix string) (*cart.QuantityRule, error) {
	if r == nil {
		return nil, nil
	}
	var out cart.QuantityRule
	for _, f := range []struct {
		name string
		in   cart.Decimal
		out  *int64
	}{{"min", r.Min, &out.Min}, {"max", r.Max, &out.Max}, {"increment", r.Increment, &out.Increment}, {"max_per_customer", r.MaxPerCustomer, &out.MaxPerCustomer}} {
		n, err := f.in.Scaled(scale, prefix+"."+f.name)
		if err != nil {
			return nil, err
		}
		*f.out = n
	}
	return &out, nil
}

// Cart is the product with the id given (the caller has checked it against p.ID), with the
// variants given (each made with Variant.Cart). The product's rule counts units of the scale
// of the variants without a rule of their own (engine checks that they share one).
func (p Product) Cart(id string, variants []cart.Variant) (cart.Product, error) {
	out := cart.Product{ID: id, Name: p.Name, Brand: p.Brand, Category: p.Category,
		Description: p.Description, ImageURL: p.ImageURL, TaxCode: p.TaxCode, Variants: variants}
	scale := 0
	for i := range variants {
		if variants[i].QuantityRule == nil {
			scale = variants[i].Scale()
			break
		}
	}
	var err error
	out.QuantityRule, err = p.QuantityRule.Cart(scale, "quantity_rule")
	return out, err
}

// Cart is variant i as the catalog keeps it, its quantities in units of 10^-quantity_scale.
func (v Variant) Cart(i int) (cart.Variant, error) {
	f := fmt.Sprintf("variants[%d].", i)
	if v.QuantityScale < 0 || v.QuantityScale > cart.MaxScale {
		return cart.Variant{}, cart.InvalidField("invalid_product", f+"quantity_scale", "quantity_scale must be 0 to %d", cart.MaxScale)
	}
	scale := int(v.QuantityScale)
	cv := cart.Variant{ID: v.ID, SKU: v.SKU, Name: v.Name, Options: v.Options, Prices: v.Price,
		RetailPrices: v.RetailPrice, TaxRate: v.TaxRate, WeightGrams: v.WeightGrams,
		Active: v.Active == nil || *v.Active, Returnable: v.Returnable == nil || *v.Returnable,
		QuantityScale: uint8(scale), Unit: v.Unit}
	if v.SaleID != nil {
		cv.SaleID = *v.SaleID
	}
	for j, t := range v.Tiers {
		q, err := t.MinQuantity.Scaled(scale, fmt.Sprintf("%stiers[%d].min_quantity", f, j))
		if err != nil {
			return cart.Variant{}, err
		}
		cv.Tiers = append(cv.Tiers, cart.Tier{MinQuantity: q, Prices: t.Prices})
	}
	var err error
	cv.QuantityRule, err = v.QuantityRule.Cart(scale, f+"quantity_rule")
	return cv, err
}
