package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Some seeds name no cart: SourceHub changes "a product quantity already in cart for a
// customer", eBay "the eBay member's cart". Their dialects change the customer's cart, which
// ARCHITECTURE.md §Decisions pins as the most recently active of the customer's active carts
// (store.ReadTx.ActiveCartOf). A line of another of the customer's carts is not in "the
// customer's cart", and is not found: a customer holding several active carts reaches the
// older ones through the native API.

// CustomerItemChange is a quantity change to one line of a customer's cart.
type CustomerItemChange struct {
	// CustomerID names the customer. With a customer token it may be "" (the token's own
	// customer); naming another customer finds no cart.
	CustomerID string
	ItemNum    int64
	Change     cart.Change
	Policy     cart.Policy
	// KeepOutOfStock, under the clamp policy, keeps a line for which no stock at all is
	// available as it is, with an out_of_stock warning, where clamp would remove it: a cart
	// that "never expires" (eBay) holds such a line, unavailable, until the shopper removes
	// it. Some stock available still clamps to it.
	KeepOutOfStock bool
}

// UpdateCustomerItem changes the quantity of one line of a customer's cart (scope
// carts:write), as Update does, and returns the re-priced cart. Errors: NotFound
// (cart_not_found when the customer has no active cart, or the customer token is another
// customer's; item_not_found when the line is not in the customer's cart), Invalid (values,
// limits, the customer id), StockShort (reject; carries the unchanged cart), Conflict
// (item_unavailable), and Unavailable (concurrent_change) if the customer's cart kept
// changing under the call, which can then be retried.
func (e *Engine) UpdateCustomerItem(ctx context.Context, p auth.Principal, ch CustomerItemChange, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	customer := ch.CustomerID
	if p.IsCustomer() {
		if customer == "" {
			customer = p.CustomerID
		}
		if customer != p.CustomerID {
			// Not Forbidden: a customer must not learn which customers have carts.
			return cart.View{}, noCustomerCart(customer)
		}
	}
	if err := validCustomerID(customer); err != nil {
		return cart.View{}, err
	}
	u := Update{Item: ItemRef{ItemNum: ch.ItemNum}, Change: &ch.Change, Policy: ch.Policy}
	if ch.ItemNum <= 0 {
		return cart.View{}, cart.InvalidField("invalid_item", "item_id", "an item number is positive")
	}
	if err := validateUpdate(&u); err != nil {
		return cart.View{}, err
	}
	return retryLookup(customerCartsChanged, func() (cart.View, error) {
		num, err := e.activeCartNum(ctx, customer)
		if err != nil {
			return cart.View{}, err
		}
		return e.mutate(ctx, p, num, opt, func(m *mutation) error {
			if err := m.stillCustomerCart(customer); err != nil {
				return err
			}
			if ch.KeepOutOfStock && u.Policy == cart.Clamp {
				return m.applyKeepingOutOfStock(u)
			}
			return m.apply(u)
		})
	})
}

// customerCartsChanged is the message of a customer's cart call that ran out of attempts.
const customerCartsChanged = "the customer's carts changed during the call; retry it"

func noCustomerCart(customer string) error {
	return cart.Errorf(cart.NotFound, "cart_not_found", "customer %q has no active cart", customer)
}

// activeCartNum is the number of the customer's cart.
func (e *Engine) activeCartNum(ctx context.Context, customer string) (int64, error) {
	var num int64
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		c, err := tx.ActiveCartOf(ctx, customer)
		if cart.ErrorCode(err) == cart.NotFound {
			return noCustomerCart(customer)
		}
		num = c.Num
		return err
	})
	return num, err
}

// applyKeepingOutOfStock applies a clamp-policy change, except that a line for which nothing
// is available is kept as it is. It tries the change under reject first, which changes
// nothing when stock is short and says how much is available: none keeps the line, some is
// the clamp's to apply.
func (m *mutation) applyKeepingOutOfStock(u Update) error {
	clamp := u
	u.Policy = cart.Reject
	err := m.apply(u)
	var ce *cart.Error
	if errors.As(err, &ce) && ce.Rule != nil {
		return m.apply(clamp) // a quantity the rule does not allow: the clamp lowers it
	}
	if !errors.As(err, &ce) || ce.Code != cart.StockShort || ce.Available == nil {
		return err
	}
	if *ce.Available > 0 {
		return m.apply(clamp)
	}
	i, err := m.find(u.Item)
	if err != nil {
		return err
	}
	kept, none := m.lines[i].Item.Quantity, int64(0)
	requested := u.Change.N
	if !u.Change.Set {
		requested += kept
	}
	noteChange(m.tx, QuantityClamped, 1)
	return m.note([]cart.Message{{Type: cart.Warning, Code: "out_of_stock", ItemNum: u.Item.ItemNum,
		Text:      fmt.Sprintf("Requested quantity %d is not available; the item is kept, unavailable, at quantity %d", requested, kept),
		Requested: &requested, Applied: &kept, Available: &none}})
}

// CustomerCart returns the customer's cart, the most recently active of the customer's active
// carts (scope carts:read). NotFound (cart_not_found) when the customer has none.
func (e *Engine) CustomerCart(ctx context.Context, p auth.Principal, customer string) (cart.View, error) {
	if err := require(p, auth.CartsRead); err != nil {
		return cart.View{}, err
	}
	if err := validCustomerID(customer); err != nil {
		return cart.View{}, err
	}
	num, err := e.activeCartNum(ctx, customer)
	if err != nil {
		return cart.View{}, err
	}
	return e.Cart(ctx, p, num)
}
