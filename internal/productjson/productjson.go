// Package productjson is the JSON shape of a product as a shop sends it: the body of the native
// PUT /v1/products/{id}, and, with a little more, a product line of a catalog import. One
// shape, so that a product imported and a product PUT from the same JSON are the same product.
package productjson

import "github.com/cartd/cartd/cart"

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
	// QuantityRule applies to the variants without a rule of their own.
	QuantityRule *cart.QuantityRule `json:"quantity_rule"`
}

// Variant is one variant of a Product. Active and returnable default to true.
type Variant struct {
	ID          string           `json:"id"`
	SKU         string           `json:"sku"`
	Name        string           `json:"name"`
	Options     []cart.Option    `json:"options"`
	Price       map[string]int64 `json:"price"`
	RetailPrice map[string]int64 `json:"retail_price"`
	Tiers       []cart.Tier      `json:"tiers"`
	TaxRate     int64            `json:"tax_rate"`
	WeightGrams int64            `json:"weight_grams"`
	Active      *bool            `json:"active"`
	Returnable  *bool            `json:"returnable"`
	SaleID      *string          `json:"sale_id"`
	// QuantityRule is the variant's own rule, replacing its product's.
	QuantityRule *cart.QuantityRule `json:"quantity_rule"`
}

// Cart is the product with the id given (the caller has checked it against p.ID), without
// variants: each is added with Variant.Cart.
func (p Product) Cart(id string) cart.Product {
	return cart.Product{ID: id, Name: p.Name, Brand: p.Brand, Category: p.Category,
		Description: p.Description, ImageURL: p.ImageURL, TaxCode: p.TaxCode, QuantityRule: p.QuantityRule}
}

// Cart is the variant as the catalog keeps it.
func (v Variant) Cart() cart.Variant {
	cv := cart.Variant{ID: v.ID, SKU: v.SKU, Name: v.Name, Options: v.Options, Prices: v.Price,
		RetailPrices: v.RetailPrice, Tiers: v.Tiers, TaxRate: v.TaxRate, WeightGrams: v.WeightGrams,
		Active: v.Active == nil || *v.Active, Returnable: v.Returnable == nil || *v.Returnable,
		QuantityRule: v.QuantityRule}
	if v.SaleID != nil {
		cv.SaleID = *v.SaleID
	}
	return cv
}
