package postgres

import (
	"context"
	"time"

	"github.com/cartd/cartd/cart"
)

// Stock buckets (docs/stock.md, "Hot SKUs: stock buckets").
//
// A SKU's stock is one or more rows of the stock table, numbered by bucket from 0, and its
// figures are their sums (on_hand, reserved, backordered, version) and their latest updated_at.
// With Options.StockBuckets N above 1, every SKU written whole is spread over up to N rows
// (bucketsFor: as many as give each at least minBucketShare available units), so that the
// carts reserving one popular SKU lock different rows instead of queueing on one. The
// engine does not know: it reads a SKU's Stock and writes it back with PutStock, and the store
// turns that into one of two things.
//
//   - A draw. In a write transaction Stock reads the sums without locking anything. A
//     PutStock that only moves units between available and reserved (on_hand, backordered
//     unchanged, the version one above what was read) is then one conditional statement on
//     one row, the cart's bucket (the cart's number modulo the rows read): it adds the move
//     to the row's reserved only if the row covers it (a draw needs the row's own available
//     units, a return the row's own reserved units), bumps the row's version, and locks that
//     one row until commit. Units are fungible: a line does not remember its bucket, and a return may
//     go to any row that holds as many reserved; only the sums are invariants.
//   - A whole write. Anything else (a move that takes every unit the caller saw free, a row
//     that cannot cover the move, a change of on_hand or backordered, a read that went against
//     the lock order) locks every row of the SKU, in bucket order, without waiting, and checks
//     that the sums are still what the caller read: then the caller decided on the SKU's
//     exact state, and its figures are written spread over the rows again (rebalanced). If
//     they moved meanwhile the attempt is stale; it is re-run with the SKU locked whole from
//     its first read, as every SKU is when buckets are off, so the re-run decides exactly. A
//     request the sum covers but one row does not is thereby never refused.
//
// So no row is drawn below zero available, no write is decided on figures that moved, and the
// sums keep ARCHITECTURE.md §Invariants 1 exactly. The version is the sum of the rows'
// versions: a draw bumps its row's, and a whole write (under the lock of every row, so one
// above the sum it locked) gives bucket 0 what the others do not hold, so the sum grows with
// every write of the SKU and an If-Match on it is checked under the whole lock (PutInventory's
// PutStock always writes whole). Whatever else needs the SKU's exact figures under lock (the
// anonymous hold of AddressHeld) locks it whole the same way.

// maxStockBucketsSQL is MaxStockBuckets in SQL. A SKU never has more rows; saying so bounds
// the planner's estimate of a SKU's rows where a line's stock is summed (qLines), which stale
// statistics of a fast-growing stock table could otherwise inflate into a costly plan.
const maxStockBucketsSQL = "64"

// stockRow is one row of a SKU's stock.
type stockRow struct {
	bucket                                 int32
	onHand, reserved, backordered, version int64
	updated                                *time.Time
}

// skuStock is what a write transaction knows of one SKU's stock.
type skuStock struct {
	// seen is the SKU's figures as the engine last had them from this transaction: its last
	// read, or its last write. read is whether there was a read.
	seen cart.Stock
	read bool
	// whole: every row of the SKU is locked, and rows is them as locked and since written,
	// in bucket order (none: the SKU has no stock row).
	whole bool
	rows  []stockRow
	// drawn is 1 + the bucket this transaction drew from without locking the rest (0: none).
	drawn int32
	// buckets is how many rows the SKU had when read without locking.
	buckets int
}

func (t *txn) skuStock(sku string) *skuStock {
	if t.stock == nil {
		t.stock = map[string]*skuStock{}
	}
	st := t.stock[sku]
	if st == nil {
		st = &skuStock{}
		t.stock[sku] = st
	}
	return st
}

const (
	qStockRows                = `SELECT bucket, on_hand, reserved, backordered, version, updated_at FROM stock WHERE sku = $1`
	qStockRowsForUpdate       = qStockRows + ` ORDER BY bucket FOR UPDATE`
	qStockRowsForUpdateNoWait = qStockRows + ` ORDER BY bucket FOR UPDATE NOWAIT`
)

// stockRows runs one of the queries above.
func (t *txn) stockRows(ctx context.Context, q, sku string) ([]stockRow, error) {
	var (
		r    stockRow
		rows []stockRow
	)
	err := t.query(ctx, "get stock", q, []any{sku},
		[]any{&r.bucket, &r.onHand, &r.reserved, &r.backordered, &r.version, &r.updated},
		func() error {
			rows = append(rows, r)
			return nil
		})
	return rows, err
}

// sumRows is a SKU's stock: the sums of its rows.
func sumRows(sku string, rows []stockRow) cart.Stock {
	s := cart.Stock{SKU: sku}
	for _, r := range rows {
		s.OnHand += r.onHand
		s.Reserved += r.reserved
		s.Backordered += r.backordered
		s.Version += r.version
		if u := fromNullTime(r.updated); u.After(s.UpdatedAt) {
			s.UpdatedAt = u
		}
	}
	return s
}

// sameFigures reports whether two readings of a SKU's stock agree on everything a decision
// may depend on.
func sameFigures(a, b cart.Stock) bool {
	return a.OnHand == b.OnHand && a.Reserved == b.Reserved && a.Backordered == b.Backordered && a.Version == b.Version
}

// Stock reads a SKU's stock; a SKU never stocked has zero stock. In a Tx it locks every row
// of the SKU (without waiting if that goes against the lock order), unless buckets are on and
// no earlier attempt wanted the SKU whole: then it reads the sums without locking, and
// PutStock draws or locks (see above).
func (t *txn) Stock(ctx context.Context, sku string) (cart.Stock, error) {
	if !t.write {
		rows, err := t.stockRows(ctx, qStockRows, sku)
		if err != nil {
			return cart.Stock{}, err
		}
		return sumRows(sku, rows), nil
	}
	st := t.skuStock(sku)
	switch {
	case st.whole:
	case t.buckets > 1 && !t.want.skus[sku]:
		rows, err := t.stockRows(ctx, qStockRows, sku)
		if err != nil {
			return cart.Stock{}, err
		}
		st.seen, st.read, st.buckets = sumRows(sku, rows), true, len(rows)
		return st.seen, nil
	default:
		if err := t.lockStock(ctx, sku, st, !t.held.skuInOrder(sku)); err != nil {
			return cart.Stock{}, err
		}
	}
	st.seen, st.read = sumRows(sku, st.rows), true
	return st.seen, nil
}

// lockStock locks every row of a SKU, in bucket order.
func (t *txn) lockStock(ctx context.Context, sku string, st *skuStock, nowait bool) error {
	q := qStockRowsForUpdate
	if nowait {
		q = qStockRowsForUpdateNoWait
	}
	t.want.addSKU(sku)
	rows, err := t.stockRows(ctx, q, sku)
	if err != nil {
		return err
	}
	st.rows, st.whole = rows, true
	if len(rows) > 0 {
		t.held.lockedSKU(sku)
	}
	return nil
}

// lockWhole brings a SKU this transaction read without locking under the whole lock, checking
// that its figures are still the ones the engine had; if they moved, the attempt is stale and
// is re-run with the SKU locked whole from the start. It never waits: the transaction may
// already hold rows that come after the SKU's in the lock order (its bucket, items).
func (t *txn) lockWhole(ctx context.Context, op, sku string, st *skuStock) error {
	if st.whole {
		return nil
	}
	if err := t.lockStock(ctx, sku, st, true); err != nil {
		return err
	}
	if st.read && !sameFigures(sumRows(sku, st.rows), st.seen) {
		return t.stale(op)
	}
	return nil
}

// PutStock writes a SKU's stock: a draw on one bucket when it can, otherwise the whole SKU,
// spread over its rows (see above). A SKU with no row is inserted without replacing: if
// another transaction created it in between, the unique violation re-runs this one, which
// then reads and locks it.
func (t *txn) PutStock(ctx context.Context, s cart.Stock) error {
	st := t.skuStock(s.SKU)
	if !st.whole {
		if drawn, err := t.draw(ctx, s, st); err != nil || drawn {
			return err
		}
		if err := t.lockWhole(ctx, "put stock", s.SKU, st); err != nil {
			return err
		}
	}
	return t.writeWhole(ctx, s, st)
}

// qDraw moves units of one bucket between available and reserved if the row covers it.
const qDraw = `
	UPDATE stock SET reserved = reserved + $3, version = version + 1, updated_at = $4
	WHERE sku = $1 AND bucket = $2 AND reserved + $3 >= 0 AND ($3 < 0 OR reserved + $3 <= on_hand)`

// draw writes s as one conditional statement on the cart's bucket, when s is a move of what
// this transaction read that the figures it saw leave room for, and reports whether it did.
func (t *txn) draw(ctx context.Context, s cart.Stock, st *skuStock) (bool, error) {
	seen := st.seen
	d := s.Reserved - seen.Reserved
	switch {
	case t.buckets <= 1 || !st.read || st.buckets == 0:
	case s.OnHand != seen.OnHand || s.Backordered != seen.Backordered || s.Version != seen.Version+1 || d == 0:
	case d > 0 && s.Available() <= 0:
		// The caller took every unit it saw free (or clamped to them): how many that is must
		// be exact, so it is checked under the whole lock.
	case st.drawn == 0 && t.held.stock && s.SKU <= t.held.maxSKU:
		// Against the lock order: the transaction holds stock rows after this SKU's.
	default:
		b := st.drawn - 1
		if st.drawn == 0 {
			b = int32(t.held.maxCart % int64(st.buckets))
		}
		n, err := t.exec(ctx, "draw stock", qDraw, s.SKU, b, d, nullTime(s.UpdatedAt))
		if err != nil || n == 0 {
			return false, err
		}
		st.drawn, st.seen = b+1, s
		t.held.stock = true
		t.held.maxSKU = max(t.held.maxSKU, s.SKU)
		return true, nil
	}
	return false, nil
}

const (
	qStockRowsValues = `
		SELECT $1, b, o, r, bo, v, $7
		FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS t(b, o, r, bo, v)`
	qInsertStockRows = `
		INSERT INTO stock (sku, bucket, on_hand, reserved, backordered, version, updated_at)` + qStockRowsValues
	qPutStockRows = qInsertStockRows + `
		ON CONFLICT (sku, bucket) DO UPDATE SET
			on_hand = excluded.on_hand,
			reserved = excluded.reserved,
			backordered = excluded.backordered,
			version = excluded.version,
			updated_at = excluded.updated_at`
	qDropStockRows = `DELETE FROM stock WHERE sku = $1 AND bucket >= $2`
)

// writeWhole writes s over the SKU's rows, locked whole, spread by spreadStock.
func (t *txn) writeWhole(ctx context.Context, s cart.Stock, st *skuStock) error {
	n := bucketsFor(s, t.buckets)
	rows := spreadStock(s, st.rows, n)
	var cols [4][]int64
	buckets := make([]int32, len(rows))
	for i, r := range rows {
		buckets[i] = r.bucket
		for c, v := range [4]int64{r.onHand, r.reserved, r.backordered, r.version} {
			cols[c] = append(cols[c], v)
		}
	}
	q := qPutStockRows
	if len(st.rows) == 0 {
		q = qInsertStockRows
	}
	if _, err := t.exec(ctx, "put stock", q, s.SKU, buckets, cols[0], cols[1], cols[2], cols[3],
		nullTime(s.UpdatedAt)); err != nil {
		return err
	}
	if len(st.rows) > n {
		// Rows past n (the setting was lowered) are folded into the others.
		if _, err := t.exec(ctx, "put stock", qDropStockRows, s.SKU, n); err != nil {
			return err
		}
	}
	st.rows, st.seen = rows, s
	return nil
}

// minBucketShare is the fewest available units a bucket is given when a SKU is spread: a
// bucket should cover several draws (a quantity change moves a few units), or draws would
// keep finding their bucket short and fall back to the whole lock.
const minBucketShare = 10

// bucketsFor is how many rows a SKU is spread over by a whole write of s: up to the setting,
// as many as give each at least minBucketShare available units, and at least one. A SKU
// running out of stock thereby comes back to one row, the exact path, as it empties.
func bucketsFor(s cart.Stock, setting int) int {
	return int(max(1, min(int64(setting), (s.OnHand-s.Reserved)/minBucketShare)))
}

// spreadStock spreads a SKU's figures over n rows: reserved and available units as evenly as
// they go (bucket 0 takes the remainders), backordered on bucket 0, and each row of 1 to n-1
// keeping its version while bucket 0 takes the rest of s.Version, so that the sum is s.Version
// and no row's version goes down when s.Version is above what the rows summed. If reserved is
// above on_hand (an inventory decrease writes that for a moment before its releases) bucket 0
// takes it all.
func spreadStock(s cart.Stock, old []stockRow, n int) []stockRow {
	rows := make([]stockRow, n)
	var others int64
	for i := range rows {
		rows[i].bucket = int32(i)
		for _, o := range old {
			if int(o.bucket) == i && i > 0 {
				rows[i].version = o.version
				others += o.version
			}
		}
	}
	avail := s.OnHand - s.Reserved
	if avail < 0 || n == 1 {
		rows[0].onHand, rows[0].reserved = s.OnHand, s.Reserved
	} else {
		nn := int64(n)
		for i := range rows {
			r, a := s.Reserved/nn, avail/nn
			if i == 0 {
				r, a = r+s.Reserved%nn, a+avail%nn
			}
			rows[i].reserved, rows[i].onHand = r, r+a
		}
	}
	rows[0].backordered = s.Backordered
	rows[0].version = s.Version - others
	if !s.UpdatedAt.IsZero() {
		for i := range rows {
			rows[i].updated = &s.UpdatedAt
		}
	}
	return rows
}
