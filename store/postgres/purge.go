package postgres

import (
	"context"
	"time"
)

// qAbandonedCarts walks the partial index carts_customer_active over the guest carts (empty
// customer_id), oldest activity first, and keeps the nums of those no live session names.
const qAbandonedCarts = `
	SELECT num FROM (
		SELECT num FROM carts
		WHERE customer_id = '' AND status = 'active' AND last_activity < $1
		  AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.cart_num = carts.num AND sessions.expires_at > $2)
		ORDER BY last_activity, num
		LIMIT $3) AS candidates
	ORDER BY num`

// AbandonedCarts returns up to limit active guest carts idle since before the instant and
// named by no session live at now.
func (t *txn) AbandonedCarts(ctx context.Context, before, now time.Time, limit int) ([]int64, error) {
	var (
		nums []int64
		n    int64
	)
	err := t.query(ctx, "abandoned carts", qAbandonedCarts, []any{before, now, limit}, []any{&n}, func() error {
		nums = append(nums, n)
		return nil
	})
	return nums, err
}

// qDeleteCart deletes a cart and, transitively, the carts merged into it; the foreign keys'
// ON DELETE CASCADE take their items, coupons and sessions along.
const qDeleteCart = `
	WITH RECURSIVE doomed (num) AS (
		SELECT num FROM carts WHERE num = $1
		UNION
		SELECT carts.num FROM carts JOIN doomed ON carts.merged_into = doomed.num
	)
	DELETE FROM carts WHERE num IN (SELECT num FROM doomed)`

// DeleteCart deletes a cart with everything that hangs on it (see store.Tx).
func (t *txn) DeleteCart(ctx context.Context, num int64) error {
	return t.execOne(ctx, errCartNotFound(), "delete cart", qDeleteCart, num)
}

// qPurgeTokens picks a batch through customer_tokens_expires and customer_tokens_revoked; the
// outer condition is checked again on each row as it is deleted.
const qPurgeTokens = `
	DELETE FROM customer_tokens
	WHERE num IN (
		SELECT num FROM customer_tokens WHERE expires_at < $1
		UNION
		SELECT num FROM customer_tokens WHERE revoked_at < $1
		LIMIT $2)
	  AND (expires_at < $1 OR revoked_at < $1)`

// PurgeTokens deletes up to limit tokens expired or revoked before the instant.
func (t *txn) PurgeTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, "purge tokens", qPurgeTokens, before, limit)
	return int(n), err
}
