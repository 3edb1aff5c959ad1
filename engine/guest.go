package engine

import "github.com/cartd/cartd/cart"

// Guest carts. A cart without a customer (a storefront session's, or a native cart opened
// without customer_id) may be capped below max_quantity_per_item by the settings'
// max_guest_quantity_per_item: with reservations, every unit in a cart holds stock, and an
// anonymous shopper costs nothing to multiply, so without a cap a script opening sessions
// could hold a flash sale's whole stock. The cap is checked as max_quantity_per_item is
// (422 guest_quantity_limit whatever the stock policy: validation comes before stock), and
// lifts when the cart is given to a customer. A merge into a guest cart moves at most the
// cap, as it moves at most max_quantity_per_item.

// guestLimit is the cap on units per line of the mutation's cart if it is a guest cart, 0
// (none of its own) otherwise.
func (m *mutation) guestLimit() int64 {
	if m.cart.CustomerID != "" {
		return 0
	}
	return m.settings.MaxGuestQuantityPerItem
}

// quantityLimit is the most units one line of the mutation's cart may hold.
func (m *mutation) quantityLimit() int64 {
	if g := m.guestLimit(); g > 0 {
		return min(g, m.settings.MaxQuantityPerItem)
	}
	return m.settings.MaxQuantityPerItem
}

// setGuestLimit applies a change of max_guest_quantity_per_item to s: 0 (no cap of its own)
// to 1,000,000, the bound of max_quantity_per_item.
func setGuestLimit(s *cart.Settings, n *int64) error {
	if n == nil {
		return nil
	}
	if *n < 0 || *n > 1_000_000 {
		return cart.InvalidField("invalid_limit", "max_guest_quantity_per_item", "max_guest_quantity_per_item must be 0 (no cap) to 1000000")
	}
	s.MaxGuestQuantityPerItem = *n
	return nil
}
