package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/table"
)

const qIdempotency = table.IdempotencyByKey

// Idempotency returns the record of a key within its scope.
func (t *txn) Idempotency(ctx context.Context, scope, key string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Scope: scope, Key: key}
	var (
		hash, header     []byte
		created, expires int64
	)
	err := t.queryRow(ctx, qIdempotency, scope, key).Scan(&hash, &r.Status, &header, &r.Body, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return r, table.IdempotencyNotFound(key)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: get idempotency record: %w", dbErr(ctx, err))
	}
	if err := table.Idempotency(&r, hash, header); err != nil {
		return r, fmt.Errorf("sqlite: get idempotency record: %w", err)
	}
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	return r, nil
}

const qPutIdempotency = table.PutIdempotency

// PutIdempotency stores a key's record, replacing an expired one of the same scope and key.
func (t *txn) PutIdempotency(ctx context.Context, r store.IdempotencyRecord) error {
	header, err := table.Header(r.Header)
	if err != nil {
		return fmt.Errorf("sqlite: put idempotency record: %w", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	res, err := t.exec(ctx, qPutIdempotency, r.Scope, r.Key, r.RequestHash[:], r.Status, header, body,
		micros(r.CreatedAt), micros(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: put idempotency record: %w", dbErr(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put idempotency record: %w", dbErr(ctx, err))
	} else if n == 0 {
		return cart.Errorf(cart.Conflict, cart.ReasonIdempotencyKeyTaken, "idempotency key %q is already recorded", r.Key)
	}
	return nil
}

const qPurgeIdempotency = `
	DELETE FROM idempotency WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`

// PurgeIdempotency deletes up to limit records that expired before the instant.
func (t *txn) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.exec(ctx, qPurgeIdempotency, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge idempotency records: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge idempotency records: %w", dbErr(ctx, err))
	}
	return int(n), nil
}
