package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/table"
)

var qIdempotency = rebind(table.IdempotencyByKey)

// Idempotency returns the record of a key within its scope.
func (t *txn) Idempotency(ctx context.Context, scope, key string) (store.IdempotencyRecord, error) {
	r := store.IdempotencyRecord{Scope: scope, Key: key}
	var hash, header []byte
	found, err := t.queryRow(ctx, "get idempotency record", qIdempotency, []any{scope, key},
		&hash, &r.Status, &header, &r.Body, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return r, err
	}
	if !found {
		return r, table.IdempotencyNotFound(key)
	}
	if err := table.Idempotency(&r, hash, header); err != nil {
		return r, fmt.Errorf("postgres: get idempotency record: %w", err)
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return r, nil
}

// qPutIdempotency inserts a record or replaces an expired one. Against a record inserted by a
// transaction still running, PostgreSQL waits for that one to end and then checks the
// condition against what it committed.
var qPutIdempotency = rebind(table.PutIdempotency)

// PutIdempotency stores a key's record, replacing one of the same scope and key only if it
// expired by r.CreatedAt. A live record is Conflict idempotency_key_taken: another call, on
// this node or another, recorded the key first, and this one must roll back and replay it.
func (t *txn) PutIdempotency(ctx context.Context, r store.IdempotencyRecord) error {
	header, err := table.Header(r.Header)
	if err != nil {
		return fmt.Errorf("postgres: put idempotency record: %w", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	// The record goes with the next statement or the COMMIT (see txn.later): a live record
	// then fails that statement, and the transaction rolls back with the Conflict.
	t.later("put idempotency record",
		cart.Errorf(cart.Conflict, cart.ReasonIdempotencyKeyTaken, "idempotency key %q is already recorded", r.Key),
		qPutIdempotency, r.Scope, r.Key, r.RequestHash[:], r.Status, header, body, r.CreatedAt, r.ExpiresAt)
	return nil
}

// qPurgeIdempotency deletes a batch of expired records. The outer condition is checked again
// on each row as it is deleted: a record renewed since the batch was chosen stays.
const qPurgeIdempotency = `
	DELETE FROM idempotency
	WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
	  AND expires_at < $1`

// PurgeIdempotency deletes up to limit records that expired before the instant.
func (t *txn) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, "purge idempotency records", qPurgeIdempotency, before, limit)
	return int(n), err
}
