package engine

import (
	"context"
	"errors"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// CustomerUpsert is a quantity change to the line of one variant in a customer's cart, which
// creates the line (and the cart) if need be: JackThreads' set_qty, which "sets the quantity
// for a given item in the user's cart" and names the item by SKU or by option id.
type CustomerUpsert struct {
	// CustomerID names the customer. With a customer token it may be "" (the token's own
	// customer); naming another customer is Forbidden.
	CustomerID string
	// The variant: by SKU, or by cartd's number for it (VariantNum); exactly one.
	SKU        string
	VariantNum int64
	Change     cart.Change
	Policy     cart.Policy
}

// UpsertCustomerItem applies a change to the line of a variant in the customer's cart (scope
// carts:write): the customer's most recently active cart (ARCHITECTURE.md §Decisions), or, when they have
// none, a new cart in the shop's default currency, opened in the same transaction as the
// change. A change that stores nothing (quantity 0 of a variant the customer has no line of,
// or nothing available under clamp) opens no cart, and answers the empty cart it would have
// opened (Cart.Num 0). A variant already in the cart is found by its number first, so that a
// line of a variant withdrawn since can still be set to 0. Errors: Forbidden (another
// customer's id with a customer token), Invalid (values and limits as Update; unknown_variant
// for a SKU or number no live variant has), StockShort (reject), Conflict (the line or its
// sale unavailable), Unavailable (concurrent_change) if the customer's cart kept changing
// under the call.
func (e *Engine) UpsertCustomerItem(ctx context.Context, p auth.Principal, u CustomerUpsert, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	customer := u.CustomerID
	if p.IsCustomer() {
		if customer == "" {
			customer = p.CustomerID
		}
		if customer != p.CustomerID {
			return cart.View{}, cart.Errorf(cart.Forbidden, "customer_mismatch", "a customer token can only change its own customer's cart")
		}
	}
	if err := validCustomerID(customer); err != nil {
		return cart.View{}, err
	}
	if (u.SKU == "") == (u.VariantNum == 0) {
		return cart.View{}, cart.InvalidField("missing_item", "sku", "name the item by exactly one of sku and variant number")
	}
	if u.VariantNum < 0 {
		return cart.View{}, cart.InvalidField("unknown_variant", "variant_num", "no product variant has number %d", u.VariantNum)
	}
	if u.Policy == "" {
		u.Policy = cart.Reject
	}
	return retryLookup(customerCartsChanged, func() (cart.View, error) {
		num, err := e.activeCartNum(ctx, customer)
		switch {
		case cart.ErrorCode(err) == cart.NotFound:
			return e.openCustomerCart(ctx, customer, u, opt)
		case err != nil:
			return cart.View{}, err
		}
		return e.mutate(ctx, p, num, opt, func(m *mutation) error {
			if err := m.stillCustomerCart(customer); err != nil {
				return err
			}
			return m.upsert(u)
		})
	})
}

// errNothingStored rolls back a new cart that a change left empty.
var errNothingStored = errors.New("engine: the change stored nothing")

// openCustomerCart opens the customer's cart and applies the change to it, in one
// transaction; if another call opened one meanwhile, it returns errCartMoved for the caller
// to change that one instead.
func (e *Engine) openCustomerCart(ctx context.Context, customer string, u CustomerUpsert, opt Options) (cart.View, error) {
	var view cart.View
	err := e.write(ctx, opt, func() any { return view }, func(tx store.Tx) error {
		switch _, err := tx.ActiveCartOf(ctx, customer); {
		case err == nil:
			return errCartMoved
		case cart.ErrorCode(err) != cart.NotFound:
			return err
		}
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		now := tx.Now()
		c := cart.Cart{CustomerID: customer, Currency: s.DefaultCurrency, Status: cart.StatusActive, Version: 1,
			CreatedAt: now, UpdatedAt: now, LastActivity: now}
		if err := tx.InsertCart(ctx, &c); err != nil {
			return err
		}
		m := &mutation{ctx: ctx, tx: tx, e: e, now: now, settings: s, cart: c}
		if err := m.snapshot(); err != nil {
			return err
		}
		if err := m.upsert(u); err != nil {
			return err
		}
		if err := m.checkUnits(0); err != nil {
			return err
		}
		if view, err = m.finish(); err != nil {
			return err
		}
		if !m.changed {
			view.Cart.Num = 0
			return errNothingStored
		}
		return nil
	})
	if errors.Is(err, errNothingStored) {
		return view, nil
	}
	return view, err
}

// upsert applies a CustomerUpsert to the mutation's cart.
func (m *mutation) upsert(u CustomerUpsert) error {
	ref := ItemRef{SKU: u.SKU}
	if u.VariantNum != 0 {
		i := -1
		for j, l := range m.lines {
			if l.Variant.Num == u.VariantNum {
				i = j
			}
		}
		if i >= 0 {
			ref = ItemRef{ItemNum: m.lines[i].Item.Num}
		} else {
			v, _, err := m.tx.VariantByNum(m.ctx, u.VariantNum)
			if cart.ErrorCode(err) == cart.NotFound {
				return cart.InvalidField("unknown_variant", "variant_num", "no product variant has number %d", u.VariantNum)
			}
			if err != nil {
				return err
			}
			ref = ItemRef{SKU: v.SKU}
		}
	}
	ch := u.Change
	return m.apply(Update{Item: ref, Change: &ch, Policy: u.Policy})
}
