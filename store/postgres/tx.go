package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/column"
)

// txn is both a store.ReadTx (write false: a read-only snapshot) and a store.Tx (write true:
// READ COMMITTED, locking what the contract says it locks).
type txn struct {
	// conn is the connection the transaction runs on, from BEGIN to COMMIT or ROLLBACK
	// (attempt sends both itself, so that they travel with other statements).
	conn  *pgxpool.Conn
	now   time.Time
	write bool
	// pending are writes whose outcome no caller waits for (UpdateItem, UpdateCart,
	// AppendEvents, the cache's bump): they are sent with the next statement, or with COMMIT,
	// in one round trip (see send).
	pending []deferred
	// ahead is what Cart in a Tx read with the cart, in the same round trip: its lines and
	// coupons, served to Lines and Coupons until the transaction writes anything.
	ahead *readAhead
	// channel is the cache's notification channel (see cache.go).
	channel string
	// cache is the node's cache of settings and automatic promotions; cacheVersion the
	// cache_version this transaction read first; cacheDirty says it changed a cached table,
	// after which it reads them from the database and leaves the cache alone (see cache.go).
	cache        *nodeCache
	cacheVersion int64
	cacheDirty   bool
	// failed is the transaction's first database error (after which PostgreSQL refuses every
	// statement until rollback) or stale read: attempt never commits after one, and retry
	// re-runs a conflict found here even when fn returned something else.
	failed error
	// What this transaction read of rows it may write without having locked them, so that
	// the write can tell whether another transaction got there first (see the package doc).
	settingsRead     bool
	settingsRevision int64 // -1: read as absent
	// buckets is Options.StockBuckets, and stock what the transaction read and wrote of each
	// SKU's stock rows (see buckets.go).
	buckets int
	stock   map[string]*skuStock
	// held is what the transaction holds of the rows the lock order ranks, and want what it
	// locked or asked to lock, kept across attempts for lockAhead (see locks.go).
	held held
	want *rows
}

var _ store.Tx = (*txn)(nil)

// Now is the database's clock, read when the transaction began.
func (t *txn) Now() time.Time { return t.now }

// fail maps a database error (see dbErr) and remembers the first one.
func (t *txn) fail(ctx context.Context, err error) error {
	err = dbErr(ctx, err)
	if t.failed == nil {
		t.failed = err
	}
	return err
}

// deferred is a write sent later (see txn.pending). notFound, when set, is what the write
// means when it changes no row; the statement is then wrapped so that changing none is an
// error (division by zero) that aborts the transaction, COMMIT included.
type deferred struct {
	op       string
	query    string
	args     []any
	notFound *cart.Error
}

// later queues a write to go with the next statement or with COMMIT.
func (t *txn) later(op string, notFound *cart.Error, query string, args ...any) {
	t.ahead = nil
	if notFound != nil {
		query = `WITH w AS (` + query + ` RETURNING 1) SELECT 1 / count(*) FROM w`
	}
	t.pending = append(t.pending, deferred{op: op, query: query, args: args, notFound: notFound})
}

// send sends the pending writes and then queries in one round trip, and returns the results
// positioned at the first of queries once every pending write succeeded. The caller closes
// them (t.close). Without pending writes and with one query, the caller may as well send it
// alone: send is for when a batch saves round trips.
func (t *txn) send(ctx context.Context, queries ...queued) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, d := range t.pending {
		b.Queue(d.query, d.args...)
	}
	for _, q := range queries {
		b.Queue(q.query, q.args...)
	}
	pending := t.pending
	t.pending = nil
	br := t.conn.SendBatch(ctx, b)
	for _, d := range pending {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, t.deferredErr(ctx, d, err)
		}
	}
	return br, nil
}

// queued is one statement of a batch.
type queued struct {
	query string
	args  []any
}

// deferredErr maps the failure of a deferred write: its notFound when it changed no row.
func (t *txn) deferredErr(ctx context.Context, d deferred, err error) error {
	var pe *pgconn.PgError
	if d.notFound != nil && errors.As(err, &pe) && pe.Code == pgerrcode.DivisionByZero {
		if t.failed == nil {
			t.failed = d.notFound
		}
		return d.notFound
	}
	return fmt.Errorf("postgres: %s: %w", d.op, t.fail(ctx, err))
}

// closeBatch closes a batch's results, reporting what closing found (an error of a statement
// whose result was not read).
func (t *txn) closeBatch(ctx context.Context, op string, br pgx.BatchResults) error {
	if err := br.Close(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
	}
	return nil
}

// exec runs a statement and returns how many rows it changed.
func (t *txn) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	t.ahead = nil
	if len(t.pending) == 0 {
		tag, err := t.conn.Exec(ctx, query, args...)
		if err != nil {
			return 0, fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
		}
		return tag.RowsAffected(), nil
	}
	br, err := t.send(ctx, queued{query, args})
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return 0, fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
	}
	return tag.RowsAffected(), t.closeBatch(ctx, op, br)
}

// execOne runs a statement that must change exactly one row; none changed means the row does
// not exist, and the caller's notFound is returned.
func (t *txn) execOne(ctx context.Context, notFound *cart.Error, op, query string, args ...any) error {
	n, err := t.exec(ctx, op, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// queryRow runs a query of at most one row and scans it; found is false when there is none.
func (t *txn) queryRow(ctx context.Context, op, query string, args []any, dest ...any) (found bool, err error) {
	if len(t.pending) == 0 {
		err = t.conn.QueryRow(ctx, query, args...).Scan(dest...)
	} else {
		br, serr := t.send(ctx, queued{query, args})
		if serr != nil {
			return false, serr
		}
		err = br.QueryRow().Scan(dest...)
		if cerr := br.Close(); err == nil || errors.Is(err, pgx.ErrNoRows) {
			if cerr != nil {
				err = cerr
			}
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
	}
	return true, nil
}

// query runs a query, scanning each row into dest and then calling each.
func (t *txn) query(ctx context.Context, op, query string, args []any, dest []any, each func() error) error {
	if len(t.pending) == 0 {
		rows, err := t.conn.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
		}
		return t.scan(ctx, op, rows, dest, each)
	}
	br, err := t.send(ctx, queued{query, args})
	if err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
	}
	if err := t.scan(ctx, op, rows, dest, each); err != nil {
		br.Close()
		return err
	}
	return t.closeBatch(ctx, op, br)
}

// scan reads rows into dest, calling each after every row, and closes them.
func (t *txn) scan(ctx context.Context, op string, rows pgx.Rows, dest []any, each func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
		}
		if err := each(); err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, t.fail(ctx, err))
	}
	return nil
}

// stale is the conflict a write reports when the row it would write changed since this
// transaction read it: retry re-runs the transaction, which reads it again.
func (t *txn) stale(op string) error {
	err := &conflictError{err: fmt.Errorf("%s: %w", op, errStale)}
	if t.failed == nil {
		t.failed = err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

const qSettings = `
	SELECT default_currency, prices_include_tax, max_quantity_per_item, max_lines_per_cart,
	       shipping, revision, updated_at, max_guest_quantity_per_item
	FROM settings WHERE id = 1`

// Settings returns the stored settings, or the defaults when none were ever stored. It does
// not lock the row, which every cart call reads; a Tx remembers the revision it read, for
// PutSettings.
func (t *txn) Settings(ctx context.Context) (cart.Settings, error) {
	if s, found, revision, ok := t.cachedSettings(); ok {
		t.noteSettings(found, revision)
		return s, nil
	}
	s, found, revision, err := t.readSettings(ctx)
	if err != nil {
		return cart.Settings{}, err
	}
	t.keepSettings(s, found, revision)
	t.noteSettings(found, revision)
	return s, nil
}

// noteSettings remembers the revision of the first settings read, for PutSettings.
func (t *txn) noteSettings(found bool, revision int64) {
	if !t.settingsRead {
		t.settingsRead, t.settingsRevision = true, -1
		if found {
			t.settingsRevision = revision
		}
	}
}

// readSettings reads the settings row: the defaults and found false when there is none.
func (t *txn) readSettings(ctx context.Context) (cart.Settings, bool, int64, error) {
	var (
		s        cart.Settings
		shipping []byte
		revision int64
	)
	found, err := t.queryRow(ctx, "get settings", qSettings, nil, &s.DefaultCurrency, &s.PricesIncludeTax,
		&s.MaxQuantityPerItem, &s.MaxLinesPerCart, &shipping, &revision, &s.UpdatedAt, &s.MaxGuestQuantityPerItem)
	if err != nil {
		return cart.Settings{}, false, 0, err
	}
	if !found {
		return cart.DefaultSettings(), false, 0, nil
	}
	if err := column.DecodeJSON(shipping, &s.Shipping); err != nil {
		return cart.Settings{}, false, 0, fmt.Errorf("postgres: get settings: shipping: %w", err)
	}
	s.UpdatedAt = s.UpdatedAt.UTC()
	return s, true, revision, nil
}

const (
	qInsertSettings = `
		INSERT INTO settings (id, default_currency, prices_include_tax, max_quantity_per_item,
		                      max_lines_per_cart, shipping, revision, updated_at, max_guest_quantity_per_item)
		VALUES (1, $1, $2, $3, $4, $5, 1, $6, $7)`

	qUpsertSettings = qInsertSettings + `
		ON CONFLICT (id) DO UPDATE SET
			default_currency = excluded.default_currency,
			prices_include_tax = excluded.prices_include_tax,
			max_quantity_per_item = excluded.max_quantity_per_item,
			max_lines_per_cart = excluded.max_lines_per_cart,
			shipping = excluded.shipping,
			max_guest_quantity_per_item = excluded.max_guest_quantity_per_item,
			revision = settings.revision + 1,
			updated_at = excluded.updated_at`

	qUpdateSettings = `
		UPDATE settings SET default_currency = $1, prices_include_tax = $2,
		                    max_quantity_per_item = $3, max_lines_per_cart = $4, shipping = $5,
		                    revision = revision + 1, updated_at = $6, max_guest_quantity_per_item = $7
		WHERE id = 1 AND revision = $8`
)

// PutSettings replaces the one settings row. After this transaction read the settings, it
// writes them only if they are still as read (the revision it saw, or still absent);
// otherwise another transaction changed them in between, and this one is re-run.
func (t *txn) PutSettings(ctx context.Context, s cart.Settings) error {
	shipping, err := column.EncodeJSON(s.Shipping, len(s.Shipping) == 0)
	if err != nil {
		return fmt.Errorf("postgres: put settings: shipping: %w", err)
	}
	args := []any{s.DefaultCurrency, s.PricesIncludeTax, s.MaxQuantityPerItem, s.MaxLinesPerCart,
		shipping, s.UpdatedAt, s.MaxGuestQuantityPerItem}
	t.bumpCache()
	switch {
	case !t.settingsRead:
		_, err = t.exec(ctx, "put settings", qUpsertSettings, args...)
		return err
	case t.settingsRevision < 0:
		_, err = t.exec(ctx, "put settings", qInsertSettings, args...)
		return err
	}
	n, err := t.exec(ctx, "put settings", qUpdateSettings, append(args, t.settingsRevision)...)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.stale("put settings")
	}
	t.settingsRevision++
	return nil
}

// cartColumns are the columns cartRow scans.
const cartColumns = `num, customer_id, currency, status, version, metadata, merged_into,
	created_at, updated_at, last_activity`

// cartRow is the scan target of cartColumns.
type cartRow struct {
	c          cart.Cart
	status     string
	meta       []byte
	mergedInto *int64
}

func (r *cartRow) dest() []any {
	return []any{&r.c.Num, &r.c.CustomerID, &r.c.Currency, &r.status, &r.c.Version, &r.meta,
		&r.mergedInto, &r.c.CreatedAt, &r.c.UpdatedAt, &r.c.LastActivity}
}

func (r *cartRow) cart() cart.Cart {
	c := r.c
	c.Status = cart.Status(r.status)
	c.Metadata = column.RawJSON(r.meta)
	if r.mergedInto != nil {
		c.MergedInto = *r.mergedInto
	}
	c.CreatedAt, c.UpdatedAt, c.LastActivity = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.LastActivity.UTC()
	return c
}

const (
	qCart                = `SELECT ` + cartColumns + ` FROM carts WHERE num = $1`
	qCartForUpdate       = qCart + ` FOR UPDATE`
	qCartForUpdateNoWait = qCart + ` FOR UPDATE NOWAIT`
)

// Cart reads one cart; in a Tx it locks the cart's row until commit, without waiting if that
// goes against the lock order (see locks.go).
func (t *txn) Cart(ctx context.Context, num int64) (cart.Cart, error) {
	q := qCart
	if t.write {
		q = qCartForUpdate
		if !t.held.cartInOrder(num) {
			q = qCartForUpdateNoWait
		}
		t.want.addCart(num)
	}
	var r cartRow
	var (
		found bool
		err   error
	)
	if t.write {
		found, err = t.cartAhead(ctx, q, num, &r)
	} else {
		found, err = t.queryRow(ctx, "get cart", q, []any{num}, r.dest()...)
	}
	if err != nil {
		return cart.Cart{}, err
	}
	if !found {
		return cart.Cart{}, errCartNotFound()
	}
	if t.write {
		t.held.lockedCart(num)
	}
	return r.cart(), nil
}

// readAhead is a cart's lines and coupons, read in the round trip that locked the cart.
type readAhead struct {
	cartNum int64
	lines   []cart.Line
	coupons []cart.Coupon
}

// cartAhead locks and reads a cart, and in the same round trip (with any pending writes) its
// lines and coupons, which every change of a cart reads next: the statements run one after
// the other on the server, the lock first, so what they read is what Lines and Coupons would
// read after it. They are kept for Lines and Coupons until the transaction writes anything.
func (t *txn) cartAhead(ctx context.Context, q string, num int64, r *cartRow) (bool, error) {
	t.ahead = nil
	br, err := t.send(ctx, queued{q, []any{num}}, queued{qLines, []any{num}}, queued{qCoupons, []any{num}})
	if err != nil {
		return false, err
	}
	err = br.QueryRow().Scan(r.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, t.closeBatch(ctx, "get cart", br)
	}
	if err != nil {
		br.Close()
		return false, fmt.Errorf("postgres: get cart: %w", t.fail(ctx, err))
	}
	if err := t.keepAhead(ctx, "get cart", num, br); err != nil {
		return false, err
	}
	return true, nil
}

func errCartNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "cart_not_found", "cart not found")
}

// qActiveCartOf walks the partial index carts_customer_active backwards from the customer's
// most recent entry.
const qActiveCartOf = `
	SELECT ` + cartColumns + ` FROM carts
	WHERE customer_id = $1 AND status = 'active'
	ORDER BY last_activity DESC, num DESC
	LIMIT 1`

// ActiveCartOf reads a customer's most recently active cart of status active, without locking
// it. Guest carts (customer "") are nobody's.
func (t *txn) ActiveCartOf(ctx context.Context, customerID string) (cart.Cart, error) {
	notFound := cart.Errorf(cart.NotFound, "cart_not_found", "the customer has no active cart")
	if customerID == "" {
		return cart.Cart{}, notFound
	}
	var r cartRow
	found, err := t.queryRow(ctx, "get active cart", qActiveCartOf, []any{customerID}, r.dest()...)
	if err != nil {
		return cart.Cart{}, err
	}
	if !found {
		return cart.Cart{}, notFound
	}
	return r.cart(), nil
}

const (
	// qLockCustomerVariant takes the row lock standing for a (customer, variant) pair, making
	// the row on first use: an INSERT that meets a concurrent one waits for it and then
	// updates (locks) the row it made.
	qLockCustomerVariant = `
		INSERT INTO customer_variant_locks (customer_id, variant_num) VALUES ($1, $2)
		ON CONFLICT (customer_id, variant_num) DO UPDATE SET variant_num = excluded.variant_num`

	qCustomerUnits = `
		SELECT COALESCE(SUM(i.quantity), 0)::BIGINT
		FROM carts c JOIN cart_items i ON i.cart_num = c.num
		WHERE c.customer_id = $1 AND c.num <> $2 AND i.variant_num = $3
		  AND (c.status = 'active' OR (c.status = 'completed' AND c.updated_at >= $4))`
)

// CustomerUnits counts a variant's units in a customer's other carts, after locking the pair
// (customer, variant): READ COMMITTED gives the count, a statement run after the lock was
// granted, everything a transaction that held the lock before committed. Only transactions
// that check a max_per_customer take the lock, and only after their cart's, before any stock
// row (the lock order of the package doc).
func (t *txn) CustomerUnits(ctx context.Context, customerID string, variantNum, exceptCart int64, completedSince time.Time) (int64, error) {
	if customerID == "" {
		return 0, nil
	}
	if _, err := t.exec(ctx, "lock customer variant", qLockCustomerVariant, customerID, variantNum); err != nil {
		return 0, err
	}
	var n int64
	if _, err := t.queryRow(ctx, "customer units", qCustomerUnits, []any{customerID, exceptCart, variantNum, completedSince}, &n); err != nil {
		return 0, err
	}
	return n, nil
}

const qInsertCart = `
	INSERT INTO carts (customer_id, currency, status, version, metadata, merged_into,
	                   created_at, updated_at, last_activity)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	RETURNING num`

// InsertCart stores a new cart and sets its Num.
func (t *txn) InsertCart(ctx context.Context, c *cart.Cart) error {
	_, err := t.queryRow(ctx, "insert cart", qInsertCart,
		[]any{c.CustomerID, c.Currency, string(c.Status), c.Version, column.JSONText(c.Metadata),
			column.NullNum(c.MergedInto), c.CreatedAt, c.UpdatedAt, c.LastActivity},
		&c.Num)
	return err
}

const qUpdateCart = `
	UPDATE carts SET customer_id = $1, currency = $2, status = $3, version = $4, metadata = $5,
	                 merged_into = $6, updated_at = $7, last_activity = $8
	WHERE num = $9`

// UpdateCart stores every field of the cart but Num and CreatedAt; NotFound if there is no
// such cart.
//
// The write goes with the transaction's next statement or its COMMIT (see txn.later): a cart
// that does not exist then fails that statement, and the transaction rolls back.
func (t *txn) UpdateCart(ctx context.Context, c cart.Cart) error {
	t.later("update cart", errCartNotFound(), qUpdateCart,
		c.CustomerID, c.Currency, string(c.Status), c.Version, column.JSONText(c.Metadata),
		column.NullNum(c.MergedInto), c.UpdatedAt, c.LastActivity, c.Num)
	return nil
}

// itemColumns are the columns itemRow scans, for a query naming cart_items "i".
const itemColumns = `i.num, i.cart_num, i.variant_num, i.quantity, i.reserved_quantity, i.backorder,
	i.added_unit_price, i.unit_price, i.notes, i.metadata, i.reserved_until, i.created_at, i.updated_at`

// itemRow is the scan target of itemColumns; one is reused across the rows of a query.
type itemRow struct {
	it            cart.Item
	meta          []byte
	reservedUntil *time.Time
}

func (r *itemRow) dest() []any {
	return []any{&r.it.Num, &r.it.CartNum, &r.it.VariantNum, &r.it.Quantity, &r.it.ReservedQuantity,
		&r.it.Backorder, &r.it.AddedUnitPrice, &r.it.UnitPrice, &r.it.Notes, &r.meta,
		&r.reservedUntil, &r.it.CreatedAt, &r.it.UpdatedAt}
}

func (r *itemRow) item() cart.Item {
	it := r.it
	it.Metadata = column.RawJSON(r.meta)
	it.ReservedUntil = fromNullTime(r.reservedUntil)
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	return it
}

func errItemNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "item_not_found", "item not found")
}

const qInsertItem = `
	INSERT INTO cart_items (cart_num, variant_num, quantity, reserved_quantity, backorder,
	                        added_unit_price, unit_price, notes, metadata, reserved_until,
	                        created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	RETURNING num`

// InsertItem stores a new item and sets its Num.
func (t *txn) InsertItem(ctx context.Context, it *cart.Item) error {
	_, err := t.queryRow(ctx, "insert item", qInsertItem,
		[]any{it.CartNum, it.VariantNum, it.Quantity, it.ReservedQuantity, it.Backorder,
			it.AddedUnitPrice, it.UnitPrice, it.Notes, column.JSONText(it.Metadata),
			nullTime(it.ReservedUntil), it.CreatedAt, it.UpdatedAt},
		&it.Num)
	return err
}

const qUpdateItem = `
	UPDATE cart_items SET quantity = $1, reserved_quantity = $2, backorder = $3,
	                      added_unit_price = $4, unit_price = $5, notes = $6, metadata = $7,
	                      reserved_until = $8, updated_at = $9
	WHERE num = $10`

// UpdateItem stores what a change may alter; the cart, variant and CreatedAt are fixed at
// insert. NotFound if there is no such item.
//
// Like UpdateCart, the write goes with the next statement or the COMMIT.
func (t *txn) UpdateItem(ctx context.Context, it cart.Item) error {
	t.later("update item", errItemNotFound(), qUpdateItem,
		it.Quantity, it.ReservedQuantity, it.Backorder, it.AddedUnitPrice, it.UnitPrice,
		it.Notes, column.JSONText(it.Metadata), nullTime(it.ReservedUntil), it.UpdatedAt, it.Num)
	return nil
}

const qDeleteItem = `DELETE FROM cart_items WHERE num = $1`

// DeleteItem removes one item; NotFound if there is no such item.
func (t *txn) DeleteItem(ctx context.Context, itemNum int64) error {
	return t.execOne(ctx, errItemNotFound(), "delete item", qDeleteItem, itemNum)
}

const qDeleteItems = `DELETE FROM cart_items WHERE cart_num = $1`

// DeleteItems removes every item of a cart; a cart without items is not an error.
func (t *txn) DeleteItems(ctx context.Context, cartNum int64) error {
	_, err := t.exec(ctx, "delete items", qDeleteItems, cartNum)
	return err
}

const qLines = `
	SELECT ` + itemColumns + `, ` + variantColumns + `, ` + productColumns + `,
	       COALESCE(s.on_hand, 0), COALESCE(s.reserved, 0), COALESCE(s.backordered, 0),
	       COALESCE(s.version, 0), s.updated_at, ` + saleColumns + `
	FROM cart_items i
	JOIN variants v ON v.num = i.variant_num
	JOIN products p ON p.num = v.product_num
	LEFT JOIN LATERAL (
		SELECT SUM(on_hand)::BIGINT AS on_hand, SUM(reserved)::BIGINT AS reserved,
		       SUM(backordered)::BIGINT AS backordered, SUM(version)::BIGINT AS version,
		       MAX(updated_at) AS updated_at
		FROM (SELECT * FROM stock WHERE sku = v.sku LIMIT ` + maxStockBucketsSQL + `) b) s ON true
	LEFT JOIN sales sa ON sa.id = v.sale_id
	WHERE i.cart_num = $1
	ORDER BY i.num`

// Lines reads a cart's items with their variants, products, stock and sales in one query, without
// locking them: a Tx that changes a cart's items has locked the cart first.
func (t *txn) Lines(ctx context.Context, cartNum int64) ([]cart.Line, error) {
	if a := t.ahead; a != nil && a.cartNum == cartNum && len(t.pending) == 0 {
		return slices.Clone(a.lines), nil
	}
	// The coupons come with the lines, for the Coupons call that follows a read of lines.
	br, err := t.send(ctx, queued{qLines, []any{cartNum}}, queued{qCoupons, []any{cartNum}})
	if err != nil {
		return nil, err
	}
	if err := t.keepAhead(ctx, "get lines", cartNum, br); err != nil {
		return nil, err
	}
	return slices.Clone(t.ahead.lines), nil
}

// keepAhead reads the cart's lines and coupons, the next two results of br (qLines and
// qCoupons), closes br, and keeps them as what the transaction read ahead.
func (t *txn) keepAhead(ctx context.Context, op string, cartNum int64, br pgx.BatchResults) error {
	a := &readAhead{cartNum: cartNum}
	rows, err := br.Query()
	if err == nil {
		a.lines, err = scanLines(rows)
	}
	if err != nil {
		br.Close()
		return fmt.Errorf("postgres: get lines: %w", t.fail(ctx, err))
	}
	rows, err = br.Query()
	if err == nil {
		a.coupons, err = scanCoupons(rows)
	}
	if err != nil {
		br.Close()
		return fmt.Errorf("postgres: get coupons: %w", t.fail(ctx, err))
	}
	if err := t.closeBatch(ctx, op, br); err != nil {
		return err
	}
	t.ahead = a
	return nil
}

// scanLines reads the rows of qLines, and closes them.
func scanLines(rows pgx.Rows) ([]cart.Line, error) {
	defer rows.Close()
	var (
		ir           itemRow
		vr           variantRow
		pr           productRow
		sr           saleRow
		st           cart.Stock
		stockUpdated *time.Time
		lines        []cart.Line
	)
	dest := append(append(append(ir.dest(), vr.dest()...), pr.dest()...),
		&st.OnHand, &st.Reserved, &st.Backordered, &st.Version, &stockUpdated)
	dest = append(dest, sr.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		v, err := vr.variant()
		if err != nil {
			return nil, fmt.Errorf("variant %s: %w", vr.v.ID, err)
		}
		s := st
		s.SKU = v.SKU
		s.UpdatedAt = fromNullTime(stockUpdated)
		prod, err := pr.product()
		if err != nil {
			return nil, err
		}
		lines = append(lines, cart.Line{Item: ir.item(), Variant: &v, Product: &prod, Stock: s, Sale: sr.sale()})
	}
	return lines, rows.Err()
}

// qStockHolders goes from the SKU to its variants (deleted ones too: their items hold stock
// until released) and from each to its items through the partial index of holding items.
// In a Tx it locks the items (not the variants).
const (
	qStockHolders = `
		SELECT ` + itemColumns + `
		FROM variants v
		JOIN cart_items i ON i.variant_num = v.num
		WHERE v.sku = $1 AND i.reserved_quantity > 0
		ORDER BY i.updated_at DESC, i.num DESC`
	qStockHoldersForUpdate = qStockHolders + ` FOR UPDATE OF i`
)

// StockHolders returns the items holding a SKU's stock, most recently changed first (then
// newest item first), the order in which an inventory decrease releases reservations. In a
// Tx it locks them: the caller changes items of carts it has not locked, and a concurrent
// change to one of them must either finish first (and be read here) or wait.
func (t *txn) StockHolders(ctx context.Context, sku string) ([]cart.Item, error) {
	q := qStockHolders
	if t.write {
		q = qStockHoldersForUpdate
	}
	var (
		ir    itemRow
		items []cart.Item
	)
	err := t.query(ctx, "get stock holders", q, []any{sku}, ir.dest(), func() error {
		items = append(items, ir.item())
		return nil
	})
	if err != nil {
		return nil, err
	}
	if t.write {
		// Rows locked after waiting are returned as they are now, but in the order of what
		// was read before: sort again.
		sortHolders(items)
	}
	return items, nil
}
