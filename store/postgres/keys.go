package postgres

import (
	"context"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

var qKeys = rebind(table.Keys)

// Keys returns every API key, revoked ones included, in num order.
func (t *txn) Keys(ctx context.Context) ([]auth.Key, error) {
	var (
		keys    []auth.Key
		k       auth.Key
		hash    []byte
		scopes  []byte
		revoked *time.Time
	)
	err := t.query(ctx, "list keys", qKeys, nil, []any{&k.Num, &hash, &scopes, &k.Label, &k.CreatedAt, &revoked}, func() error {
		got := auth.Key{Num: k.Num, Label: k.Label, CreatedAt: k.CreatedAt.UTC(), RevokedAt: fromNullTime(revoked)}
		if err := table.Key(&got, hash, scopes); err != nil {
			return err
		}
		keys = append(keys, got)
		return nil
	})
	return keys, err
}

var qRevokeKey = rebind(table.RevokeKey)

// RevokeKey revokes an API key. Revoking it again succeeds and keeps the first instant, so a
// retried revocation does not rewrite history.
func (t *txn) RevokeKey(ctx context.Context, num int64, at time.Time) error {
	return t.execOne(ctx, cart.Errorf(cart.NotFound, "key_not_found", "API key %d not found", num),
		"revoke key", qRevokeKey, at, num)
}
