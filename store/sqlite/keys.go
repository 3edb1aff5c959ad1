package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

const qKeys = table.Keys

// Keys returns every API key, revoked ones included, in num order.
func (t *txn) Keys(ctx context.Context) ([]auth.Key, error) {
	rows, err := t.query(ctx, qKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var keys []auth.Key
	for rows.Next() {
		var (
			k       auth.Key
			hash    []byte
			scopes  []byte
			created int64
			revoked sql.NullInt64
		)
		if err := rows.Scan(&k.Num, &hash, &scopes, &k.Label, &created, &revoked); err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", dbErr(ctx, err))
		}
		if err := table.Key(&k, hash, scopes); err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", dbErr(ctx, err))
	}
	return keys, nil
}

const qRevokeKey = table.RevokeKey

// RevokeKey revokes an API key. Revoking it again succeeds and keeps the first instant, so a
// retried revocation does not rewrite history.
func (t *txn) RevokeKey(ctx context.Context, num int64, at time.Time) error {
	notFound := func() *cart.Error { return cart.Errorf(cart.NotFound, "key_not_found", "API key %d not found", num) }
	return t.execOne(ctx, notFound, "revoke key", qRevokeKey, micros(at), num)
}
