package postgres

import (
	"context"
	"time"

	"github.com/cartd/cartd/cart"
)

const qCheckoutRecord = `SELECT record FROM checkout_records WHERE cart_num = $1`

// CheckoutRecord returns the record a cart's checkout stored.
func (t *txn) CheckoutRecord(ctx context.Context, cartNum int64) ([]byte, error) {
	var rec []byte
	found, err := t.queryRow(ctx, "get checkout record", qCheckoutRecord, []any{cartNum}, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, cart.Errorf(cart.NotFound, "checkout_record_not_found", "cart %d has no checkout record", cartNum)
	}
	return rec, nil
}

const qPutCheckoutRecord = `
	INSERT INTO checkout_records (cart_num, record, created_at) VALUES ($1, $2, $3)
	ON CONFLICT (cart_num) DO NOTHING`

// PutCheckoutRecord stores a cart's checkout record, once.
func (t *txn) PutCheckoutRecord(ctx context.Context, cartNum int64, record []byte, at time.Time) error {
	n, err := t.exec(ctx, "put checkout record", qPutCheckoutRecord, cartNum, record, at)
	if err != nil {
		return err
	}
	if n == 0 {
		return cart.Errorf(cart.Conflict, "checkout_record_exists", "cart %d already has a checkout record", cartNum)
	}
	return nil
}
