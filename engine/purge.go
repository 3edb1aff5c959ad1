package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Housekeeping's purges of abandoned guest carts and old customer tokens. Like the purges of
// idempotency records and sessions, each works in batches of one short transaction, so that
// it never holds the (SQLite) writer for long, and each is safe to run on every node at once.

// Defaults of the housekeeping that cmd/cartd runs.
const (
	// DefaultGuestCartTTL is how long a guest cart may sit untouched before it is purged.
	DefaultGuestCartTTL = 30 * 24 * time.Hour
	// DefaultTokenGrace is how long an expired or revoked customer token is kept: long enough
	// for a retried revocation to still find it.
	DefaultTokenGrace = 7 * 24 * time.Hour
)

// cartPurgeBatch bounds the carts one transaction purges (their lines and stock rows with
// them); tokenPurgeBatch the tokens.
const (
	cartPurgeBatch  = 100
	tokenPurgeBatch = 500
)

// PurgeAbandonedCarts deletes the guest carts (no customer) still active whose last activity
// is more than idle ago, and returns how many it deleted; idle 0 or less purges nothing. A
// cart a storefront session still names is kept until the session expires, so a shopper
// browsing with an old cart does not lose it under them.
//
// Purging a cart first gives back the stock its lines hold (reserved units return to
// available, each stock row's version bumped), then deletes the cart with its lines, coupons
// and sessions, and the merged carts that point at it (see store.Tx.DeleteCart): all in the
// transaction of its batch, so a cart is either there whole or gone with its stock released.
// Completed and merged carts are never purged: they are the record of what happened.
func (e *Engine) PurgeAbandonedCarts(ctx context.Context, idle time.Duration) (int, error) {
	if idle <= 0 {
		return 0, nil
	}
	total := 0
	for {
		var found, purged int
		err := e.observedWrite(ctx, func(tx store.Tx) error {
			now := tx.Now()
			nums, err := tx.AbandonedCarts(ctx, now.Add(-idle), now, cartPurgeBatch)
			if err != nil {
				return err
			}
			found = len(nums)
			purged, err = e.purgeCarts(ctx, tx, nums, now.Add(-idle))
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge abandoned carts: %w", err)
		}
		total += purged
		if found < cartPurgeBatch || purged == 0 {
			return total, nil
		}
	}
}

// purgeCarts purges the carts nums (ascending) that are still abandoned once locked, and
// returns how many. It follows the lock order every transaction keeps: the carts in ascending
// num first, then the stock rows in SKU order, so that it never deadlocks with a cart's own
// calls or a merge.
func (e *Engine) purgeCarts(ctx context.Context, tx store.Tx, nums []int64, before time.Time) (int, error) {
	now := tx.Now()
	var doomed []cart.Cart
	var held []cart.Line
	for _, num := range nums {
		c, err := tx.Cart(ctx, num)
		if cart.ErrorCode(err) == cart.NotFound {
			continue
		}
		if err != nil {
			return 0, err
		}
		if c.Status != cart.StatusActive || c.CustomerID != "" || !c.LastActivity.Before(before) {
			continue // changed since it was found
		}
		lines, err := tx.Lines(ctx, num)
		if err != nil {
			return 0, err
		}
		for _, l := range lines {
			if l.Item.ReservedQuantity > 0 {
				held = append(held, l)
			}
		}
		doomed = append(doomed, c)
	}
	slices.SortStableFunc(held, func(a, b cart.Line) int { return cmp.Compare(a.Variant.SKU, b.Variant.SKU) })
	for i := 0; i < len(held); {
		sku := held[i].Variant.SKU
		st, err := tx.Stock(ctx, sku)
		if err != nil {
			return 0, err
		}
		st.SKU = sku
		version := st.Version
		for ; i < len(held) && held[i].Variant.SKU == sku; i++ {
			noteRelease(tx, ReleaseAbandoned, held[i].Item.ReservedQuantity)
			releaseEvent(tx, held[i].Item.CartNum, held[i].Item.Num, sku, held[i].Item.ReservedQuantity, ReleaseAbandoned)
			e.release(ctx, &st, &held[i].Item, now)
		}
		st.Version = version + 1 // one write of the row
		if err := tx.PutStock(ctx, st); err != nil {
			return 0, err
		}
	}
	for _, c := range doomed {
		if err := tx.DeleteCart(ctx, c.Num); err != nil {
			return 0, err
		}
		if log := events(tx); log != nil {
			log.event(EventCartPurged, c.Num, c.Version, cartKey(c.Num), purgedData{Reason: "abandoned", LastActivity: rfc3339(c.LastActivity)})
		}
	}
	return len(doomed), nil
}

// PurgeTokens deletes the customer tokens that expired, or were revoked, more than grace ago,
// and returns how many it deleted. Until then a revoked or expired token is kept: it is
// refused all the same, and a retried revocation still finds it.
func (e *Engine) PurgeTokens(ctx context.Context, grace time.Duration) (int, error) {
	total := 0
	for {
		var n int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PurgeTokens(ctx, tx.Now().Add(-grace), tokenPurgeBatch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge tokens: %w", err)
		}
		total += n
		if n < tokenPurgeBatch {
			return total, nil
		}
	}
}
