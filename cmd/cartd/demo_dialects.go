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
// session kept in cookies.txt). Each start opens a new cart, which becomes the customer's cart
// (the most recently active).
func demoSeedDialects(ctx context.Context, eng *engine.Engine, admin auth.Principal, adminKey, base string, out io.Writer) error {
	v, err := eng.CreateCart(ctx, admin, engine.NewCart{CustomerID: demoCustomer, Currency: "USD"}, engine.Options{})
	if err != nil {
		return err
	}
	two := cart.AddDelta(2)
	v, err = eng.Update(ctx, admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "TEE-RED-M"}, Change: &two, Add: true}}, engine.Options{})
	if err != nil {
		return err
	}
	item := v.Lines[0].Item.Num
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
		token, base, base, v.Lines[0].Product.Num)
	return nil
}
