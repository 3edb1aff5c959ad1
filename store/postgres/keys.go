package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

const qKeys = `SELECT num, hash, scopes, label, created_at, revoked_at FROM api_keys ORDER BY num`

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
		if copy(got.Hash[:], hash) != len(got.Hash) {
			return fmt.Errorf("key %d: hash of %d bytes", got.Num, len(hash))
		}
		if err := json.Unmarshal(scopes, &got.Scopes); err != nil {
			return fmt.Errorf("key %d: scopes: %w", got.Num, err)
		}
		keys = append(keys, got)
		return nil
	})
	return keys, err
}

const qRevokeKey = `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE num = $2`

// RevokeKey revokes an API key. Revoking it again succeeds and keeps the first instant, so a
// retried revocation does not rewrite history.
func (t *txn) RevokeKey(ctx context.Context, num int64, at time.Time) error {
	return t.execOne(ctx, cart.Errorf(cart.NotFound, "key_not_found", "API key %d not found", num),
		"revoke key", qRevokeKey, at, num)
}
