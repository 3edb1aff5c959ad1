package engine

import (
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
)

// CustomerLimitWindow is how far back a quantity rule's max_per_customer counts completed
// carts: units a customer checked out in the last 30 days count against the limit together
// with those in their active carts, so that a limited item cannot be bought again and again
// by checking out one cart at a time. Older orders no longer count. (A guest cart has no
// customer: its one line is limited to max_per_customer; its units count once it is
// assigned to a customer.)
const CustomerLimitWindow = 30 * 24 * time.Hour

// heldElsewhere is what the customer's other carts hold of line l's variant when its rule
// limits units per customer, else 0. It locks the (customer, variant) pair until the call
// commits (store.Tx.CustomerUnits), so it runs after the cart's lock and before any stock
// row's.
func (m *mutation) heldElsewhere(l *cart.Line, rule cart.QuantityRule) (int64, error) {
	if rule.MaxPerCustomer == 0 || m.cart.CustomerID == "" {
		return 0, nil
	}
	return m.tx.CustomerUnits(m.ctx, m.cart.CustomerID, l.Item.VariantNum, m.cart.Num, m.now.Add(-CustomerLimitWindow))
}

// fitCustomerLimits lowers, under the clamp policy, every line above what its rule's
// max_per_customer leaves once the customer's other carts are counted: what a guest cart
// assigned to a customer goes through, since its units start counting then. A line lowered
// gets a quantity_clamped warning; one the limit leaves no allowed quantity for is removed.
func (m *mutation) fitCustomerLimits() error {
	for i := 0; i < len(m.lines); i++ {
		l := m.lines[i]
		rule := cart.RuleOf(l.Variant, l.Product)
		if rule.MaxPerCustomer == 0 {
			continue
		}
		held, err := m.heldElsewhere(&l, rule)
		if err != nil {
			return err
		}
		span := rule.Span(held)
		if l.Item.Quantity <= span.Hi {
			continue
		}
		target, _ := span.Floor(l.Item.Quantity)
		requested, applied := l.Item.Quantity, target
		m.note([]cart.Message{{Type: cart.Warning, Code: "quantity_clamped", ItemNum: l.Item.Num,
			Text: fmt.Sprintf("%s: %s; quantity set to %s instead of %s", l.Variant.SKU, rule.DescribeAt(held, l.Variant.Scale()),
				cart.FormatScaled(applied, l.Variant.Scale()), cart.FormatScaled(requested, l.Variant.Scale())),
			Requested: &requested, Applied: &applied, Scale: l.Variant.QuantityScale}})
		ch := cart.SetTo(target)
		if err := m.apply(Update{Item: ItemRef{ItemNum: l.Item.Num}, Change: &ch, Policy: cart.Clamp}); err != nil {
			return err
		}
		if target == 0 {
			i-- // the line is gone
		}
	}
	return nil
}
