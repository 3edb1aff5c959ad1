package engine

import (
	"context"
	"time"

	"github.com/cartd/cartd/cart"
)

// Anonymous holdings. With reservations on, every unit in a cart holds stock for the
// reservation TTL, and a storefront session costs nothing to make up: a script opening
// sessions from one address could otherwise hold a flash sale's whole stock without buying
// anything. So the units of one SKU that the anonymous carts of one client address hold
// together (the active guest carts of the storefront sessions begun from that address, with
// live reservations) are capped at AnonymousHold.Limit of the SKU's on_hand. An anonymous
// cart sees what its address may still hold as the stock available to it: the stock policy
// applies as it would to short stock (a storefront add above it is refused, a change clamps).
//
// The sum is read from the database after the SKU's stock row is locked, in the transaction
// that reserves, so the cap holds across any number of nodes sharing a PostgreSQL (a node
// alone cannot see the others' carts) and, on SQLite, in the writer's transaction.
//
// Carts of signed-in customers (customer tokens, or a cart given a customer_id) and carts
// opened through the native API with an API key (the shop's backend, which speaks for many
// shoppers from one address) are not counted: their limits are max_quantity_per_item, the
// per-customer rate limit, and the shop's own checks.

// AnonymousHold caps the units of one SKU that the anonymous carts of one client address may
// hold: Percent of the SKU's on_hand (rounded up), and never less than Min units. Both 0
// turn the cap off.
type AnonymousHold struct {
	Percent float64
	Min     int64
}

// DefaultAnonymousHold is the cap with default settings: 10% of a SKU, at least 2 units.
// Of a 150-unit flash sale one address's sessions hold at most 15; shoppers behind one
// corporate NAT share that, and a shopper who needs more signs in.
var DefaultAnonymousHold = AnonymousHold{Percent: 10, Min: 2}

func (h AnonymousHold) off() bool { return h.Percent <= 0 && h.Min <= 0 }

// Limit is the most units of a SKU with onHand units that one address's anonymous carts may
// hold.
func (h AnonymousHold) Limit(onHand int64) int64 {
	share := int64(0)
	if h.Percent > 0 && onHand > 0 {
		// Whole units, rounded up; basis points keep the arithmetic in integers.
		bp := int64(h.Percent*100 + 0.5)
		share = (onHand/10000)*bp + ((onHand%10000)*bp+9999)/10000
	}
	return max(share, h.Min)
}

// addressRoom returns what line l, reading stock st, may hold under the cap on its cart's
// client address, and whether the cap applies at all. The line may always keep what it holds
// (a cap that shrank with on_hand never takes units back; lowering is never refused).
//
// The cap holds whoever changes the cart: a session call knows its address; any other change
// of a guest cart (the native API with a key, a merge into it) looks up whether the cart is a
// session's, once per call, so that no path grows an address's anonymous holdings past it.
func (m *mutation) addressRoom(l cart.Line, st cart.Stock) (int64, bool, error) {
	if !m.e.Reserving() || m.e.hold.off() || m.cart.CustomerID != "" {
		return 0, false, nil
	}
	if m.holdAddr == "" && !m.holdLooked && m.cart.Num != 0 {
		m.holdLooked = true
		addr, err := m.tx.SessionAddr(m.ctx, m.cart.Num)
		if err != nil {
			return 0, false, err
		}
		m.holdAddr = addr
	}
	if m.holdAddr == "" {
		return 0, false, nil
	}
	held, err := m.tx.AddressHeld(m.ctx, m.holdAddr, l.Variant.SKU, m.now)
	if err != nil {
		return 0, false, err
	}
	own := int64(0)
	if l.Item.Num != 0 && l.Item.ReservedQuantity > 0 && !l.Item.Expired(m.now) {
		own = l.Item.ReservedQuantity // counted in held
	}
	room := m.e.hold.Limit(st.OnHand) - (held - own)
	return max(room, own, 0), true, nil
}

// noteCapped records, for the metrics and the log once the call is over, that the cap on an
// address held a change below what it asked.
func (m *mutation) noteCapped(sku string) {
	if ct := callOf(m.tx); ct != nil {
		ct.capped = &capped{addr: m.holdAddr, sku: sku}
	}
}

// capped is a change the cap on anonymous holdings limited.
type capped struct{ addr, sku string }

// observeCapped reports a change the cap limited, once its call is over: to the metrics, and
// to the log at most once a second (with how many it stands for), naming the address and the
// SKU so that an operator sees who is hoarding what.
func (e *Engine) observeCapped(ctx context.Context, c capped) {
	if e.obs != nil {
		e.obs.AnonymousHoldCapped()
	}
	if ok, dropped := e.capLog.Allow(time.Now()); ok {
		e.log.WarnContext(ctx, "anonymous holding capped", "client_addr", c.addr, "sku", c.sku, "also_capped", dropped)
	}
}
