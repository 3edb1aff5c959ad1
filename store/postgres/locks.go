package postgres

import (
	"context"
	"maps"
	"slices"
)

// The lock order. A write transaction takes row locks in one global order: carts in ascending
// Num, then stock rows in ascending SKU (then, after its stock row, the items holding it).
// Transactions that all wait only for locks later in that order than every lock they hold
// cannot deadlock. The engine follows the order where it can (one cart, then its stock; two
// carts ascending; checkout and merges take stock in SKU order), but some calls must go
// against it: a cart short of stock takes back lapsed reservations of other carts after
// locking the SKU, an inventory decrease locks the carts of the items it releases after the
// SKU, and a batch of changes locks stock rows in the order of its changes.
//
// So the store never waits for a lock taken against the order: Cart and Stock then lock with
// NOWAIT, and a row that is busy makes the transaction fail at once with lock_not_available,
// a conflict that retry re-runs. The re-run begins by locking, in the order, every row the
// attempts before it locked or wanted (lockAhead), so that it then finds them held and runs
// through. Deadlocks are thereby avoided rather than detected, which PostgreSQL would do only
// after deadlock_timeout (1 s by default) with every transaction queued behind the two
// stalled; the detector remains the backstop for waits the order does not rank (an update
// waiting for an item's row, an insert for a unique key), and 40P01 is retried like the rest.

// rows are the carts and SKUs a transaction's attempts locked or asked to lock.
type rows struct {
	carts map[int64]bool
	skus  map[string]bool
}

func (r *rows) addCart(num int64) {
	if r.carts == nil {
		r.carts = map[int64]bool{}
	}
	r.carts[num] = true
}

func (r *rows) addSKU(sku string) {
	if r.skus == nil {
		r.skus = map[string]bool{}
	}
	r.skus[sku] = true
}

// held is what a transaction holds of the rows the order ranks.
type held struct {
	rows
	maxCart int64
	maxSKU  string
	stock   bool // a stock row is held: carts come before it
}

// cartInOrder reports whether locking cart num may wait: the transaction holds it already, or
// it comes after everything held.
func (h *held) cartInOrder(num int64) bool {
	return h.carts[num] || !h.stock && num > h.maxCart
}

// skuInOrder is cartInOrder for a stock row.
func (h *held) skuInOrder(sku string) bool {
	return h.skus[sku] || !h.stock || sku > h.maxSKU
}

func (h *held) lockedCart(num int64) {
	h.addCart(num)
	h.maxCart = max(h.maxCart, num)
}

func (h *held) lockedSKU(sku string) {
	h.addSKU(sku)
	h.stock = true
	h.maxSKU = max(h.maxSKU, sku)
}

const (
	qLockCarts = `SELECT num FROM carts WHERE num = ANY($1) ORDER BY num FOR UPDATE`
	qLockStock = `SELECT sku FROM stock WHERE sku = ANY($1) ORDER BY sku, bucket FOR UPDATE`
)

// lockAhead locks, in the order, the rows earlier attempts locked or wanted, before the
// transaction's function runs. Rows are locked as the sorted scan returns them.
func (t *txn) lockAhead(ctx context.Context, want *rows) error {
	if len(want.carts) > 0 {
		nums := slices.Sorted(maps.Keys(want.carts))
		err := t.query(ctx, "lock carts", qLockCarts, []any{nums}, []any{new(int64)}, func() error { return nil })
		if err != nil {
			return err
		}
		for _, n := range nums {
			t.held.lockedCart(n)
		}
	}
	if len(want.skus) > 0 {
		skus := slices.Sorted(maps.Keys(want.skus))
		err := t.query(ctx, "lock stock", qLockStock, []any{skus}, []any{new(string)}, func() error { return nil })
		if err != nil {
			return err
		}
		for _, s := range skus {
			t.held.lockedSKU(s)
		}
	}
	return nil
}
