package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// demoCustomer is the demo's shopper: "9", as in SourceHub's sample request.
const demoCustomer = "9"

// demoSeedDialects gives the demo customer a fresh cart holding two T-shirts and a customer
// token, and prints a call of the SourceHub, eBay and JackThreads dialects that changes that
// line, and a call of the storefront dialect that adds a T-shirt to a new guest cart (its
// session kept in cookies.txt). A restart reuses the customer's cart (the most recently
// active) and sets its T-shirt line back to 2, so the ids stay the same.
func demoSeedDialects(ctx context.Context, eng *engine.Engine, admin auth.Principal, adminKey, base string, out io.Writer) error {
	v, err := demoCart(ctx, eng, admin, demoCustomer)
	if err != nil {
		return err
	}
	up := engine.Update{Item: engine.ItemRef{SKU: "TEE-RED-M"}, Change: new(cart.AddDelta(2)), Add: true}
	for _, l := range v.Lines {
		if l.Variant != nil && l.Variant.SKU == "TEE-RED-M" {
			up = engine.Update{Item: engine.ItemRef{ItemNum: l.Item.Num}, Change: new(cart.SetTo(2))}
		}
	}
	v, err = eng.Update(ctx, admin, v.Cart.Num, []engine.Update{up}, engine.Options{})
	if err != nil {
		return err
	}
	var line cart.LineView
	for _, l := range v.Lines {
		if l.Variant != nil && l.Variant.SKU == "TEE-RED-M" {
			line = l
		}
	}
	if line.Product == nil {
		return fmt.Errorf("cart_%d holds no TEE-RED-M line after adding one", v.Cart.Num)
	}
	item := line.Item.Num
	token, _, err := eng.IssueToken(ctx, admin, demoCustomer, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `customer %s: cart cart_%d holds ci_%d (2 x TEE-RED-M); customer token (24 h): %s
  SourceHub: curl -s -X POST '%s/api/cart/update-item?quantity=3&customer_id=%s&cart_id=%d' -H 'Authorization: Bearer %s'
  eBay:      curl -s -X POST %s/buy/browse/v1/shopping_cart/update_quantity -H 'Authorization: Bearer %s' -H 'X-EBAY-C-MARKETPLACE-ID: EBAY_US' -H 'Content-Type: application/json' -d '{"cartItemId":"ci_%d","quantity":4}'
  JackThreads: curl -s -d 'qty=5&sku=TEE-RED-M&oauth_token=%s' %s/services/v1/cart/set_qty
  storefront:  curl -s -c cookies.txt -b cookies.txt -X POST %s/api/v1/cart/ -H 'Content-Type: application/json' -d '{"item_key":"prod%d_TEE-RED-M_dflt","quantity":1}'
`, demoCustomer, v.Cart.Num, item, token, base, demoCustomer, item, adminKey, base, token, item,
		token, base, base, line.Product.Num)
	return nil
}
