package ebay

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
)

// cartJSON is eBay's RemoteShopcartResponse.
type cartJSON struct {
	CartItems            []itemJSON  `json:"cartItems"`
	CartSubtotal         amountJSON  `json:"cartSubtotal"`
	CartWebURL           string      `json:"cartWebUrl"`
	UnavailableCartItems []itemJSON  `json:"unavailableCartItems,omitempty"`
	Warnings             []errorJSON `json:"warnings"`
}

// itemJSON is eBay's CartItem.
type itemJSON struct {
	CartItemID       string      `json:"cartItemId"`
	CartItemSubtotal *amountJSON `json:"cartItemSubtotal,omitempty"`
	Image            imageJSON   `json:"image"`
	ItemID           string      `json:"itemId"`
	ItemWebURL       string      `json:"itemWebUrl"`
	Price            amountJSON  `json:"price"`
	Quantity         int64       `json:"quantity"`
	Title            string      `json:"title"`
}

type amountJSON struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

type imageJSON struct {
	ImageURL string `json:"imageUrl"`
}

func itemID(num int64) string { return itemPrefix + strconv.FormatInt(num, 10) }

// restfulID is eBay's RESTful item id of a line: v1|<item>|<variation>, here the product's and
// the variant's numbers.
func restfulID(l cart.LineView) string {
	return "v1|" + strconv.FormatInt(l.Product.Num, 10) + "|" + strconv.FormatInt(l.Variant.Num, 10)
}

// renderCart renders a cart as a RemoteShopcartResponse (see the package doc for each field).
func (h *Handler) renderCart(v cart.View) (cartJSON, error) {
	cur := v.Cart.Currency
	var err error
	amount := func(minor int64) amountJSON {
		s, e := money.Format(minor, cur)
		if e != nil && err == nil {
			err = fmt.Errorf("ebay: render %s amount: %w", cur, e)
		}
		return amountJSON{Currency: cur, Value: s}
	}
	out := cartJSON{
		CartItems:    make([]itemJSON, 0, len(v.Lines)),
		CartSubtotal: amount(v.Subtotal),
		CartWebURL:   h.publicURL + "/cart/cart_" + strconv.FormatInt(v.Cart.Num, 10),
		Warnings:     []errorJSON{},
	}
	item := func(l cart.LineView) itemJSON {
		return itemJSON{
			CartItemID: itemID(l.Item.Num), Image: imageJSON{ImageURL: l.Product.ImageURL}, ItemID: restfulID(l),
			ItemWebURL: h.publicURL + "/item/" + l.Product.ID + "?variant=" + l.Variant.ID,
			Price:      amount(l.UnitPrice), Quantity: l.Variant.ShownWhole(l.Item.Quantity), Title: l.Variant.MeasuredName(l.Product.Name, l.Item.Quantity),
		}
	}
	for _, l := range v.Lines {
		it := item(l)
		sub := amount(l.Subtotal)
		it.CartItemSubtotal = &sub
		out.CartItems = append(out.CartItems, it)
	}
	// The lines out of the subtotal, in the cart's order (oldest line first).
	unavailable := slices.Concat(v.Unavailable, v.ExpiredLines)
	slices.SortFunc(unavailable, func(a, b cart.LineView) int { return cmp.Compare(a.Item.Num, b.Item.Num) })
	for _, l := range unavailable {
		out.UnavailableCartItems = append(out.UnavailableCartItems, item(l))
	}
	out.Warnings = warnings(v, unavailable)
	if err != nil {
		return cartJSON{}, err
	}
	return out, nil
}

// warnings turns the call's messages into eBay's warnings: 10006 for a quantity lowered to
// the stock available, 10005 for a price changed in the catalog, and 10004 for each
// unavailable item (an item kept because nothing is available is one).
func warnings(v cart.View, unavailable []cart.LineView) []errorJSON {
	lines := map[int64]cart.LineView{}
	for _, ls := range [][]cart.LineView{v.Lines, v.ExpiredLines, v.Unavailable} {
		for _, l := range ls {
			lines[l.Item.Num] = l
		}
	}
	params := func(l cart.LineView) []parameterJSON {
		return []parameterJSON{{Name: "itemId", Value: restfulID(l)}, {Name: "cartItemId", Value: itemID(l.Item.Num)}}
	}
	out := []errorJSON{}
	warned := map[int64]bool{}
	unavailableWarning := func(l cart.LineView) {
		if warned[l.Item.Num] {
			return
		}
		warned[l.Item.Num] = true
		out = append(out, errorJSON{ErrorID: 10004, Domain: domain, Category: business,
			Message:      "The item " + restfulID(l) + " is not available for purchase. This can be for several reason such as, the listing has ended or the item is out of stock.",
			OutputRefIDs: []string{itemID(l.Item.Num)}, Parameters: params(l)})
	}
	for _, m := range v.Messages {
		l, ok := lines[m.ItemNum]
		if !ok || m.ItemNum == 0 {
			continue
		}
		switch m.Code {
		case "quantity_clamped":
			out = append(out, errorJSON{ErrorID: 10006, Domain: domain, Category: business,
				Message:      "The item " + restfulID(l) + " in your cart is not available in the quantity specified. The quantity of this item has been changed to the quantity that is currently available. Please review this change before proceeding to checkout.",
				LongMessage:  m.Text,
				OutputRefIDs: []string{itemID(l.Item.Num)},
				Parameters: append(params(l),
					parameterJSON{Name: "requestedQuantity", Value: strconv.FormatInt(deref(m.Requested), 10)},
					parameterJSON{Name: "availableQuantity", Value: strconv.FormatInt(deref(m.Applied), 10)}),
			})
		case "price_changed":
			out = append(out, errorJSON{ErrorID: 10005, Domain: domain, Category: business,
				Message: "The item " + restfulID(l) + " is revised.", LongMessage: m.Text,
				OutputRefIDs: []string{itemID(l.Item.Num)}, Parameters: params(l)})
		case "out_of_stock":
			unavailableWarning(l)
		}
	}
	for _, l := range unavailable {
		unavailableWarning(l)
	}
	return out
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
