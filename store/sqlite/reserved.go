package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const qReservedUnits = `SELECT COALESCE(SUM(reserved), 0) FROM stock`

// ReservedUnits sums the units reserved over every SKU.
func (t *txn) ReservedUnits(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, qReservedUnits).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: sum reserved units: %w", dbErr(ctx, err))
	}
	return n, nil
}

// qAddressHeld sums what the live reservations of one SKU in the active guest carts of one
// client address's storefront sessions hold; sessions_client_addr finds the carts.
const qAddressHeld = `
	SELECT COALESCE(SUM(i.reserved_quantity), 0)
	FROM sessions s
	JOIN carts c ON c.num = s.cart_num
	JOIN cart_items i ON i.cart_num = c.num
	JOIN variants v ON v.num = i.variant_num
	WHERE s.client_addr = ? AND s.client_addr <> ''
	  AND c.customer_id = '' AND c.status = 'active'
	  AND i.reserved_quantity > 0 AND i.reserved_until > ? AND v.sku = ?`

// qSessionAddr finds the address of a cart's session through sessions_cart (migration 0007).
const qSessionAddr = `SELECT client_addr FROM sessions WHERE cart_num = ? AND client_addr <> '' LIMIT 1`

// SessionAddr returns the client address the session of a cart began from.
func (t *txn) SessionAddr(ctx context.Context, cartNum int64) (string, error) {
	var addr string
	err := t.queryRow(ctx, qSessionAddr, cartNum).Scan(&addr)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: session address: %w", dbErr(ctx, err))
	}
	return addr, nil
}

// AddressHeld sums the units of sku that the anonymous carts begun from addr hold.
func (t *txn) AddressHeld(ctx context.Context, addr, sku string, now time.Time) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, qAddressHeld, addr, micros(now), sku).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: units held by an address: %w", dbErr(ctx, err))
	}
	return n, nil
}
