package postgres

import (
	"context"
	"time"
)

const qReservedUnits = `SELECT COALESCE(SUM(reserved), 0)::bigint FROM stock`

// ReservedUnits sums the units reserved over every SKU.
func (t *txn) ReservedUnits(ctx context.Context) (int64, error) {
	var n int64
	_, err := t.queryRow(ctx, "sum reserved units", qReservedUnits, nil, &n)
	return n, err
}

// qAddressHeld sums what the live reservations of one SKU in the active guest carts of one
// client address's storefront sessions hold; sessions_client_addr finds the carts. Run after
// the SKU's stock row is locked (the engine's order), in a READ COMMITTED transaction this
// statement sees every reservation committed by the transactions that held that lock before,
// on any node: the sum cannot be stale where it matters.
const qAddressHeld = `
	SELECT COALESCE(SUM(i.reserved_quantity), 0)::bigint
	FROM sessions s
	JOIN carts c ON c.num = s.cart_num
	JOIN cart_items i ON i.cart_num = c.num
	JOIN variants v ON v.num = i.variant_num
	WHERE s.client_addr = $1 AND s.client_addr <> ''
	  AND c.customer_id = '' AND c.status = 'active'
	  AND i.reserved_quantity > 0 AND i.reserved_until > $2 AND v.sku = $3`

// AddressHeld sums the units of sku that the anonymous carts begun from addr hold. In a Tx
// whose Stock read the SKU without locking it (stock buckets), it first locks the SKU whole,
// as the sum needs (see buckets.go).
func (t *txn) AddressHeld(ctx context.Context, addr, sku string, now time.Time) (int64, error) {
	if t.write {
		if st := t.skuStock(sku); st.read {
			if err := t.lockWhole(ctx, "units held by an address", sku, st); err != nil {
				return 0, err
			}
		}
	}
	var n int64
	_, err := t.queryRow(ctx, "units held by an address", qAddressHeld, []any{addr, now, sku}, &n)
	return n, err
}

// SessionAddr returns the client address the session of a cart began from, found through
// sessions_cart (migration 0007).
func (t *txn) SessionAddr(ctx context.Context, cartNum int64) (string, error) {
	var addr string
	_, err := t.queryRow(ctx, "session address", `SELECT client_addr FROM sessions WHERE cart_num = $1 AND client_addr <> '' LIMIT 1`, []any{cartNum}, &addr)
	return addr, err
}
