package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// demoCatalog is a small shop: prices in two currencies, a tiered SKU (CABLE-USBC-1M), a
// SKU with little stock (SNKR-LTD-42) to try the stock policies on, and two quantity rules
// (docs/quantity-rules.md): socks sold in pairs, 2 to 20 a cart, with a cheaper price from
// 10 (SOCKS-PAIR), and a launch-edition console limited to 2 per customer (CONSOLE-LE); and
// coffee beans sold by the kilogram to the gram (COFFEE-KG, docs/measured-quantities.md).
func demoCatalog() ([]cart.Product, map[string]int64) {
	prices := func(usd, eur int64) map[string]int64 { return map[string]int64{"USD": usd, "EUR": eur} }
	products := []cart.Product{
		{ID: "prod_headphones", Name: "Wireless Headphones", Brand: "Northwind Audio", Category: "Electronics",
			Description: "Over-ear, noise cancelling.", ImageURL: "https://example.com/img/headphones.jpg", TaxCode: "8518",
			Variants: []cart.Variant{
				{ID: "var_headphones_blue", SKU: "HP-BLUE", Options: []cart.Option{{Name: "color", Value: "Blue"}},
					Prices: prices(9999, 9499), RetailPrices: prices(12999, 11999), TaxRate: 800, WeightGrams: 320, Active: true, Returnable: true},
				{ID: "var_headphones_black", SKU: "HP-BLACK", Options: []cart.Option{{Name: "color", Value: "Black"}},
					Prices: prices(9999, 9499), RetailPrices: prices(12999, 11999), TaxRate: 800, WeightGrams: 320, Active: true, Returnable: true},
			}},
		{ID: "prod_tshirt", Name: "Classic T-Shirt", Brand: "Fieldline", Category: "Apparel",
			ImageURL: "https://example.com/img/tshirt.jpg", TaxCode: "6109",
			Variants: []cart.Variant{
				{ID: "var_tshirt_red_m", SKU: "TEE-RED-M", Options: []cart.Option{{Name: "color", Value: "Red"}, {Name: "size", Value: "M"}},
					Prices: prices(2499, 2299), TaxRate: 500, WeightGrams: 180, Active: true, Returnable: true},
				{ID: "var_tshirt_red_l", SKU: "TEE-RED-L", Options: []cart.Option{{Name: "color", Value: "Red"}, {Name: "size", Value: "L"}},
					Prices: prices(2499, 2299), TaxRate: 500, WeightGrams: 190, Active: true, Returnable: true},
			}},
		{ID: "prod_cable", Name: "USB-C Cable 1 m", Brand: "Northwind", Category: "Accessories",
			ImageURL: "https://example.com/img/cable.jpg",
			Variants: []cart.Variant{
				{ID: "var_cable_1m", SKU: "CABLE-USBC-1M", Prices: prices(1999, 1899), TaxRate: 800, WeightGrams: 40, Active: true, Returnable: true,
					Tiers: []cart.Tier{{MinQuantity: 10, Prices: prices(1599, 1499)}, {MinQuantity: 50, Prices: prices(1299, 1199)}}},
			}},
		{ID: "prod_sneaker", Name: "Limited Runner", Brand: "Fieldline", Category: "Footwear",
			ImageURL: "https://example.com/img/runner.jpg",
			Variants: []cart.Variant{
				{ID: "var_sneaker_42", SKU: "SNKR-LTD-42", Options: []cart.Option{{Name: "size", Value: "42"}},
					Prices: prices(18000, 17000), RetailPrices: prices(22000, 21000), TaxRate: 800, WeightGrams: 900, Active: true},
			}},
		{ID: "prod_socks", Name: "Merino Socks", Brand: "Fieldline", Category: "Apparel",
			ImageURL: "https://example.com/img/socks.jpg", TaxCode: "6115",
			QuantityRule: &cart.QuantityRule{Increment: 2, Max: 20},
			Variants: []cart.Variant{
				{ID: "var_socks_pair", SKU: "SOCKS-PAIR", Prices: prices(899, 849), TaxRate: 500, WeightGrams: 60, Active: true, Returnable: true,
					Tiers: []cart.Tier{{MinQuantity: 10, Prices: prices(799, 749)}}},
			}},
		{ID: "prod_console", Name: "Game Console (launch edition)", Brand: "Northwind", Category: "Electronics",
			ImageURL: "https://example.com/img/console.jpg",
			Variants: []cart.Variant{
				{ID: "var_console_le", SKU: "CONSOLE-LE", Prices: prices(49900, 47900), TaxRate: 800, WeightGrams: 3200, Active: true, Returnable: true,
					QuantityRule: &cart.QuantityRule{MaxPerCustomer: 2}},
			}},
		// Sold by weight (docs/measured-quantities.md): quantities in grams of a kilogram
		// (scale 3), the price per kilogram, from 0.25 kg in steps of 0.05 kg, cheaper from 5 kg.
		{ID: "prod_coffee", Name: "Coffee Beans", Brand: "Fieldline", Category: "Grocery",
			ImageURL: "https://example.com/img/coffee.jpg", TaxCode: "0901",
			Variants: []cart.Variant{
				{ID: "var_coffee_kg", SKU: "COFFEE-KG", Prices: prices(1299, 1199), TaxRate: 500, WeightGrams: 1000, Active: true, Returnable: false,
					QuantityScale: 3, Unit: "kg", QuantityRule: &cart.QuantityRule{Min: 250, Increment: 50},
					Tiers: []cart.Tier{{MinQuantity: 5000, Prices: prices(1199, 1099)}}},
			}},
	}
	stock := map[string]int64{"HP-BLUE": 50, "HP-BLACK": 40, "TEE-RED-M": 200, "TEE-RED-L": 150, "CABLE-USBC-1M": 1000, "SNKR-LTD-42": 5,
		"SOCKS-PAIR": 300, "CONSOLE-LE": 40, "COFFEE-KG": 50} // whole units: 50 kg of coffee
	return products, stock
}

// demoKeyLabel labels the admin key the demo creates.
const demoKeyLabel = "demo"

// demoCartOwner owns the demo's native cart, so that a restarted demo finds it again.
const demoCartOwner = "demo"

// loadDemo writes the demo catalog (idempotently: products are PUT, stock set only once), sets a demo shipping
// rate, creates an admin key unless CARTD_ADMIN_KEY gave one, opens a cart, and prints what a
// new user needs to try it.
//
// Run again on the same database it leaves one demo admin key (it revokes the one it printed
// before: its secret was never stored, so it cannot be printed again) and reuses its carts
// while they are active, so the ids it prints, and the README's, stay the same.
func loadDemo(ctx context.Context, eng *engine.Engine, c config, addr string, out io.Writer) error {
	secret := c.adminKey
	if secret == "" {
		var err error
		if secret, err = demoAdminKey(ctx, eng); err != nil {
			return err
		}
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		return err
	}
	products, stock := demoCatalog()
	for _, p := range products {
		if _, err := eng.PutProduct(ctx, admin, p, engine.Options{}); err != nil {
			return fmt.Errorf("product %s: %w", p.ID, err)
		}
	}
	for sku, n := range stock {
		// Stock is set once: a restarted demo keeps what its carts hold.
		if st, err := eng.Inventory(ctx, admin, sku); err != nil || !st.UpdatedAt.IsZero() {
			if err != nil {
				return err
			}
			continue
		}
		if _, err := eng.PutInventory(ctx, admin, sku, engine.StockChange{OnHand: &cart.Decimal{N: n}}, engine.Options{}); err != nil {
			return fmt.Errorf("stock %s: %w", sku, err)
		}
	}
	if _, err := eng.PutSettings(ctx, admin, engine.SettingsUpdate{
		Shipping: map[string]cart.ShippingRate{"USD": {Flat: 599, FreeOver: 7500}, "EUR": {Flat: 549, FreeOver: 7000}},
	}, engine.Options{}); err != nil {
		return err
	}
	v, err := demoCart(ctx, eng, admin, demoCartOwner)
	if err != nil {
		return err
	}
	base := "http://" + addr
	fmt.Fprintf(out, `cartd demo on %s
  admin API key: %s
  demo catalog: SKUs HP-BLUE HP-BLACK TEE-RED-M TEE-RED-L CABLE-USBC-1M (tiered) SNKR-LTD-42 (5 in stock)
  quantity rules: SOCKS-PAIR (sold in pairs, 2 to 20) CONSOLE-LE (2 per customer); see docs/quantity-rules.md
try it:
  curl -s -X POST %s/v1/carts/cart_%d/items -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{"sku":"CABLE-USBC-1M","quantity":10}'
`, base, secret, base, v.Cart.Num, secret)
	if c.console {
		fmt.Fprintf(out, "console: %s (sign in with the admin API key)\n", consoleURL(base))
	}
	return demoSeedDialects(ctx, eng, admin, secret, base, out)
}

// demoAdminKey revokes the admin keys earlier demo runs created and creates a new one.
func demoAdminKey(ctx context.Context, eng *engine.Engine) (string, error) {
	keys, err := eng.Keys(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k.Label == demoKeyLabel && k.RevokedAt.IsZero() && slices.Equal(k.Scopes, []auth.Scope{auth.Admin}) {
			if _, err := eng.RevokeKey(ctx, k.Num); err != nil {
				return "", err
			}
		}
	}
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, demoKeyLabel)
	return secret, err
}

// demoCart is the customer's active cart, opened if there is none (a checkout completes it).
func demoCart(ctx context.Context, eng *engine.Engine, admin auth.Principal, customer string) (cart.View, error) {
	v, err := eng.CustomerCart(ctx, admin, customer)
	if cart.ErrorCode(err) == cart.NotFound {
		return eng.CreateCart(ctx, admin, engine.NewCart{CustomerID: customer, Currency: "USD"}, engine.Options{})
	}
	return v, err
}
