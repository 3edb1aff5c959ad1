package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
)

const qCheckoutRecord = `SELECT record FROM checkout_records WHERE cart_num = ?`

// CheckoutRecord returns the record a cart's checkout stored.
func (t *txn) CheckoutRecord(ctx context.Context, cartNum int64) ([]byte, error) {
	var rec []byte
	err := t.queryRow(ctx, qCheckoutRecord, cartNum).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cart.Errorf(cart.NotFound, "checkout_record_not_found", "cart %d has no checkout record", cartNum)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get checkout record: %w", dbErr(ctx, err))
	}
	return rec, nil
}

const qPutCheckoutRecord = `
	INSERT INTO checkout_records (cart_num, record, created_at) VALUES (?, ?, ?)
	ON CONFLICT (cart_num) DO NOTHING`

// PutCheckoutRecord stores a cart's checkout record, once.
func (t *txn) PutCheckoutRecord(ctx context.Context, cartNum int64, record []byte, at time.Time) error {
	res, err := t.exec(ctx, qPutCheckoutRecord, cartNum, record, micros(at))
	if err != nil {
		return fmt.Errorf("sqlite: put checkout record: %w", dbErr(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put checkout record: %w", dbErr(ctx, err))
	} else if n == 0 {
		return cart.Errorf(cart.Conflict, "checkout_record_exists", "cart %d already has a checkout record", cartNum)
	}
	return nil
}
