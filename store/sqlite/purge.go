package sqlite

import (
	"context"
	"fmt"
	"time"
)

// qAbandonedCarts walks the partial index carts_customer_active over the guest carts (empty
// customer_id), oldest activity first, and keeps the nums of those no live session names.
const qAbandonedCarts = `
	SELECT num FROM (
		SELECT num FROM carts
		WHERE customer_id = '' AND status = 'active' AND last_activity < ?
		  AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.cart_num = carts.num AND sessions.expires_at > ?)
		ORDER BY last_activity, num
		LIMIT ?)
	ORDER BY num`

// AbandonedCarts returns up to limit active guest carts idle since before the instant and
// named by no session live at now.
func (t *txn) AbandonedCarts(ctx context.Context, before, now time.Time, limit int) ([]int64, error) {
	rows, err := t.query(ctx, qAbandonedCarts, micros(before), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: abandoned carts: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var nums []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: abandoned carts: %w", dbErr(ctx, err))
		}
		nums = append(nums, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: abandoned carts: %w", dbErr(ctx, err))
	}
	return nums, nil
}

// qDeleteCart deletes a cart and, transitively, the carts merged into it, and returns their
// nums; the foreign keys' ON DELETE CASCADE take their items, coupons and sessions along.
const qDeleteCart = `
	WITH RECURSIVE doomed (num) AS (
		SELECT num FROM carts WHERE num = ?
		UNION
		SELECT carts.num FROM carts JOIN doomed ON carts.merged_into = doomed.num
	)
	DELETE FROM carts WHERE num IN (SELECT num FROM doomed)
	RETURNING num`

// DeleteCart deletes a cart with everything that hangs on it (see store.Tx), and forgets in
// the writer's cache each cart deleted with its lines and coupons.
func (t *txn) DeleteCart(ctx context.Context, num int64) error {
	rows, err := t.query(ctx, qDeleteCart, num)
	if err != nil {
		return fmt.Errorf("sqlite: delete cart: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var deleted []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("sqlite: delete cart: %w", dbErr(ctx, err))
		}
		deleted = append(deleted, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: delete cart: %w", dbErr(ctx, err))
	}
	if len(deleted) == 0 {
		return errCartNotFound()
	}
	if t.c != nil {
		for _, n := range deleted {
			t.c.forgetCart(n)
		}
	}
	return nil
}

// forgetCart mirrors the deletion of a cart in the writer's cache: its row, its lines (items
// are cached only with their cart's list, so the list names them all) and its coupons.
func (c *writeCache) forgetCart(num int64) {
	for _, n := range c.cartItems[num] {
		drop(c, c.items, n)
	}
	drop(c, c.cartItems, num)
	drop(c, c.carts, num)
	drop(c, c.coupons, num)
	c.forgetMemo(num)
}

// qPurgeTokens picks a batch through customer_tokens_expires and customer_tokens_revoked.
const qPurgeTokens = `
	DELETE FROM customer_tokens WHERE num IN (
		SELECT num FROM customer_tokens WHERE expires_at < ?1
		UNION
		SELECT num FROM customer_tokens WHERE revoked_at < ?1
		LIMIT ?2)`

// PurgeTokens deletes up to limit tokens expired or revoked before the instant.
func (t *txn) PurgeTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.exec(ctx, qPurgeTokens, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge tokens: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge tokens: %w", dbErr(ctx, err))
	}
	return int(n), nil
}
