package engine

import (
	"errors"

	"github.com/cartd/cartd/cart"
)

// Some calls name no cart but a way to find one: the customer's cart (customercart.go,
// customerupsert.go) or a storefront session's (session.go). Such a call looks the cart up in a
// read, then locks it in its write (mutate) and checks again that it is still the one; in
// between, another call may have checked it out, merged it, given it to a customer or opened a
// newer one. The call then runs again from its lookup, a few times at most.

// lookupAttempts bounds the runs of a call whose cart changed between its lookup and its
// locking.
const lookupAttempts = 3

// errCartMoved says that the cart a call looked up is no longer the one it means.
var errCartMoved = errors.New("engine: the cart looked up changed")

// retryLookup runs call, which looks a cart up and changes it, again while the cart moved
// under it (errCartMoved, or the cart is no longer active: checked out or merged meanwhile).
// After lookupAttempts runs the call is Unavailable (concurrent_change) with the message
// given, and may be retried by its caller.
func retryLookup[T any](message string, call func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		res, err := call()
		if !errors.Is(err, errCartMoved) && !cart.HasReason(err, cart.Conflict, cart.ReasonCartNotActive) {
			return res, err
		}
		if attempt == lookupAttempts {
			var none T
			return none, cart.Errorf(cart.Unavailable, "concurrent_change", "%s", message)
		}
	}
}

// stillCustomerCart checks, under the cart's lock, that the mutation's cart is still the
// customer's cart it was looked up as (always so with a single writer).
func (m *mutation) stillCustomerCart(customer string) error {
	switch again, err := m.tx.ActiveCartOf(m.ctx, customer); {
	case cart.ErrorCode(err) == cart.NotFound:
		return errCartMoved
	case err != nil:
		return err
	case again.Num != m.cart.Num:
		return errCartMoved
	}
	return nil
}

// stillGuestCart checks, under the cart's lock, that the mutation's cart is still a guest
// cart, as a session's cart must be (it becomes a customer's when the shopper logs in).
func (m *mutation) stillGuestCart() error {
	if m.cart.CustomerID != "" {
		return errCartMoved
	}
	return nil
}
