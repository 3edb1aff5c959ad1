package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/column"
)

// txn is both a store.ReadTx (on the read pool, query_only) and a store.Tx (on the write
// pool). SQLite locks the whole database for the writer, so the row locks the contract
// promises for Cart and Stock in a Tx hold by construction.
type txn struct {
	tx  *sql.Tx
	p   *pool
	now time.Time
	// wctx, set on the writer's transactions, replaces the caller's context in statements: a
	// statement interrupted by one caller's cancellation would roll back the whole shared
	// transaction (SQLite aborts a transaction whose write statement is interrupted).
	wctx context.Context
	// c, set on the writer's transactions, is the writer's cache (cache.go): reads look there
	// first, and writes keep it as the database is.
	c *writeCache
}

var _ store.Tx = (*txn)(nil)

// Now is the clock reading taken when the transaction began.
func (t *txn) Now() time.Time { return t.now }

// exec, query and queryRow run one of the statements Open prepared (see statements).
func (t *txn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.p.stmt(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *txn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.stmtCtx(ctx)
	if st := t.p.stmt(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.stmtCtx(ctx)
	if st := t.p.stmt(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *txn) stmtCtx(ctx context.Context) context.Context {
	if t.wctx != nil {
		return t.wctx
	}
	return ctx
}

// execOne runs a statement that must change exactly one row; none changed means the row does
// not exist, and the caller's notFound error is returned (built only then: these statements
// run on every cart change).
func (t *txn) execOne(ctx context.Context, notFound func() *cart.Error, op, query string, args ...any) error {
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	if n == 0 {
		return notFound()
	}
	return nil
}

const qSettings = `
	SELECT default_currency, prices_include_tax, max_quantity_per_item, max_lines_per_cart,
	       shipping, updated_at, max_guest_quantity_per_item
	FROM settings WHERE id = 1`

// Settings returns the stored settings, or the defaults when none were ever stored.
func (t *txn) Settings(ctx context.Context) (cart.Settings, error) {
	if t.c != nil && t.c.settings != nil {
		return *t.c.settings, nil
	}
	s, err := t.settings(ctx)
	if err == nil && t.c != nil {
		t.c.putSettings(s)
	}
	return s, err
}

func (t *txn) settings(ctx context.Context) (cart.Settings, error) {
	var (
		s        cart.Settings
		shipping []byte
		updated  int64
	)
	err := t.queryRow(ctx, qSettings).Scan(&s.DefaultCurrency, &s.PricesIncludeTax,
		&s.MaxQuantityPerItem, &s.MaxLinesPerCart, &shipping, &updated, &s.MaxGuestQuantityPerItem)
	if errors.Is(err, sql.ErrNoRows) {
		return cart.DefaultSettings(), nil
	}
	if err != nil {
		return cart.Settings{}, fmt.Errorf("sqlite: get settings: %w", dbErr(ctx, err))
	}
	if err := column.DecodeJSON(shipping, &s.Shipping); err != nil {
		return cart.Settings{}, fmt.Errorf("sqlite: get settings: shipping: %w", err)
	}
	s.UpdatedAt = fromMicros(updated)
	return s, nil
}

const qPutSettings = `
	INSERT INTO settings (id, default_currency, prices_include_tax, max_quantity_per_item,
	                      max_lines_per_cart, shipping, updated_at, max_guest_quantity_per_item)
	VALUES (1, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		max_guest_quantity_per_item = excluded.max_guest_quantity_per_item,
		default_currency = excluded.default_currency,
		prices_include_tax = excluded.prices_include_tax,
		max_quantity_per_item = excluded.max_quantity_per_item,
		max_lines_per_cart = excluded.max_lines_per_cart,
		shipping = excluded.shipping,
		updated_at = excluded.updated_at`

// PutSettings replaces the one settings row.
func (t *txn) PutSettings(ctx context.Context, s cart.Settings) error {
	shipping, err := column.EncodeJSON(s.Shipping, len(s.Shipping) == 0)
	if err != nil {
		return fmt.Errorf("sqlite: put settings: shipping: %w", err)
	}
	_, err = t.exec(ctx, qPutSettings, s.DefaultCurrency, s.PricesIncludeTax, s.MaxQuantityPerItem,
		s.MaxLinesPerCart, shipping, micros(s.UpdatedAt), s.MaxGuestQuantityPerItem)
	if err != nil {
		return fmt.Errorf("sqlite: put settings: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		// Read back rather than mirrored: the shipping rules go through JSON.
		t.c.settings = nil
		t.c.forgetMemos()
		if _, err := t.Settings(ctx); err != nil {
			return err
		}
	}
	return nil
}

// cartColumns are the columns scanCart reads.
const cartColumns = `num, customer_id, currency, status, version, metadata, merged_into,
	created_at, updated_at, last_activity`

const qCart = `SELECT ` + cartColumns + ` FROM carts WHERE num = ?`

// Cart reads one cart. The write lock a Tx holds already serializes changes to it.
func (t *txn) Cart(ctx context.Context, num int64) (cart.Cart, error) {
	if t.c != nil {
		if c, ok := t.c.carts[num]; ok {
			return c, nil
		}
	}
	c, err := scanCart(t.queryRow(ctx, qCart, num))
	if errors.Is(err, sql.ErrNoRows) {
		return cart.Cart{}, errCartNotFound()
	}
	if err != nil {
		return cart.Cart{}, fmt.Errorf("sqlite: get cart: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.putCart(c)
	}
	return c, nil
}

// scanCart reads a row of cartColumns.
func scanCart(row *sql.Row) (cart.Cart, error) {
	var (
		c                          cart.Cart
		meta                       []byte
		mergedInto                 sql.NullInt64
		created, updated, activity int64
	)
	err := row.Scan(&c.Num, &c.CustomerID, &c.Currency, &c.Status, &c.Version, &meta, &mergedInto,
		&created, &updated, &activity)
	if err != nil {
		return cart.Cart{}, err
	}
	c.Metadata = column.RawJSON(meta)
	c.MergedInto = mergedInto.Int64
	c.CreatedAt, c.UpdatedAt, c.LastActivity = fromMicros(created), fromMicros(updated), fromMicros(activity)
	return c, nil
}

// qActiveCartOf walks the partial index carts_customer_active backwards from the customer's
// most recent entry.
const qActiveCartOf = `
	SELECT ` + cartColumns + ` FROM carts
	WHERE customer_id = ? AND status = 'active'
	ORDER BY last_activity DESC, num DESC
	LIMIT 1`

// ActiveCartOf reads a customer's most recently active cart of status active. Guest carts
// (customer "") are nobody's.
func (t *txn) ActiveCartOf(ctx context.Context, customerID string) (cart.Cart, error) {
	notFound := cart.Errorf(cart.NotFound, "cart_not_found", "the customer has no active cart")
	if customerID == "" {
		return cart.Cart{}, notFound
	}
	c, err := scanCart(t.queryRow(ctx, qActiveCartOf, customerID))
	if errors.Is(err, sql.ErrNoRows) {
		return cart.Cart{}, notFound
	}
	if err != nil {
		return cart.Cart{}, fmt.Errorf("sqlite: get active cart: %w", dbErr(ctx, err))
	}
	return c, nil
}

const qCustomerUnits = `
	SELECT COALESCE(SUM(i.quantity), 0)
	FROM carts c JOIN cart_items i ON i.cart_num = c.num
	WHERE c.customer_id = ? AND c.num <> ? AND i.variant_num = ?
	  AND (c.status = 'active' OR (c.status = 'completed' AND c.updated_at >= ?))`

// CustomerUnits counts a variant's units in a customer's other carts. SQLite has one writer,
// so the count holds until the commit without a lock.
func (t *txn) CustomerUnits(ctx context.Context, customerID string, variantNum, exceptCart int64, completedSince time.Time) (int64, error) {
	if customerID == "" {
		return 0, nil
	}
	var n int64
	if err := t.queryRow(ctx, qCustomerUnits, customerID, exceptCart, variantNum, micros(completedSince)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: customer units: %w", dbErr(ctx, err))
	}
	return n, nil
}

func errCartNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "cart_not_found", "cart not found")
}

const qInsertCart = `
	INSERT INTO carts (customer_id, currency, status, version, metadata, merged_into,
	                   created_at, updated_at, last_activity)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING num`

// InsertCart stores a new cart and sets its Num.
func (t *txn) InsertCart(ctx context.Context, c *cart.Cart) error {
	err := t.queryRow(ctx, qInsertCart, c.CustomerID, c.Currency, string(c.Status), c.Version,
		column.JSONText(c.Metadata), column.NullNum(c.MergedInto), micros(c.CreatedAt), micros(c.UpdatedAt), micros(c.LastActivity)).
		Scan(&c.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert cart: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.putCart(*c)
		put(t.c, t.c.cartItems, c.Num, []int64{})
	}
	return nil
}

const qUpdateCart = `
	UPDATE carts SET customer_id = ?, currency = ?, status = ?, version = ?, metadata = ?,
	                 merged_into = ?, updated_at = ?, last_activity = ?
	WHERE num = ?`

// UpdateCart stores every field of the cart but Num and CreatedAt; NotFound if there is no
// such cart.
func (t *txn) UpdateCart(ctx context.Context, c cart.Cart) error {
	err := t.execOne(ctx, errCartNotFound, "update cart", qUpdateCart,
		c.CustomerID, c.Currency, string(c.Status), c.Version, column.JSONText(c.Metadata),
		column.NullNum(c.MergedInto), micros(c.UpdatedAt), micros(c.LastActivity), c.Num)
	if err == nil && t.c != nil {
		t.c.updateCart(c)
	}
	return err
}

// itemColumns are the columns itemRow scans, for a query naming cart_items "i".
const itemColumns = `i.num, i.cart_num, i.variant_num, i.quantity, i.reserved_quantity, i.backorder,
	i.added_unit_price, i.unit_price, i.notes, i.metadata, i.reserved_until, i.created_at, i.updated_at`

// itemRow is the scan target of itemColumns; one is reused across the rows of a query.
type itemRow struct {
	it               cart.Item
	meta             []byte
	reservedUntil    sql.NullInt64
	created, updated int64
}

func (r *itemRow) dest() []any {
	return []any{&r.it.Num, &r.it.CartNum, &r.it.VariantNum, &r.it.Quantity, &r.it.ReservedQuantity,
		&r.it.Backorder, &r.it.AddedUnitPrice, &r.it.UnitPrice, &r.it.Notes, &r.meta,
		&r.reservedUntil, &r.created, &r.updated}
}

func (r *itemRow) item() cart.Item {
	it := r.it
	it.Metadata = column.RawJSON(r.meta)
	it.ReservedUntil = fromNullMicros(r.reservedUntil)
	it.CreatedAt, it.UpdatedAt = fromMicros(r.created), fromMicros(r.updated)
	return it
}

func errItemNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "item_not_found", "item not found")
}

const qInsertItem = `
	INSERT INTO cart_items (cart_num, variant_num, quantity, reserved_quantity, backorder,
	                        added_unit_price, unit_price, notes, metadata, reserved_until,
	                        created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	RETURNING num`

// InsertItem stores a new item and sets its Num.
func (t *txn) InsertItem(ctx context.Context, it *cart.Item) error {
	err := t.queryRow(ctx, qInsertItem, it.CartNum, it.VariantNum, it.Quantity, it.ReservedQuantity,
		it.Backorder, it.AddedUnitPrice, it.UnitPrice, it.Notes, column.JSONText(it.Metadata),
		nullMicros(it.ReservedUntil), micros(it.CreatedAt), micros(it.UpdatedAt)).
		Scan(&it.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert item: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.insertItem(*it)
	}
	return nil
}

const qUpdateItem = `
	UPDATE cart_items SET quantity = ?, reserved_quantity = ?, backorder = ?,
	                      added_unit_price = ?, unit_price = ?, notes = ?, metadata = ?,
	                      reserved_until = ?, updated_at = ?
	WHERE num = ?`

// UpdateItem stores what a change may alter; the cart, variant and CreatedAt are fixed at
// insert. NotFound if there is no such item.
func (t *txn) UpdateItem(ctx context.Context, it cart.Item) error {
	err := t.execOne(ctx, errItemNotFound, "update item", qUpdateItem,
		it.Quantity, it.ReservedQuantity, it.Backorder, it.AddedUnitPrice, it.UnitPrice,
		it.Notes, column.JSONText(it.Metadata), nullMicros(it.ReservedUntil), micros(it.UpdatedAt), it.Num)
	if err == nil && t.c != nil {
		t.c.updateItem(it)
	}
	return err
}

const qDeleteItem = `DELETE FROM cart_items WHERE num = ?`

// DeleteItem removes one item; NotFound if there is no such item.
func (t *txn) DeleteItem(ctx context.Context, itemNum int64) error {
	err := t.execOne(ctx, errItemNotFound, "delete item", qDeleteItem, itemNum)
	if err == nil && t.c != nil {
		t.c.deleteItem(itemNum)
	}
	return err
}

const qDeleteItems = `DELETE FROM cart_items WHERE cart_num = ?`

// DeleteItems removes every item of a cart; a cart without items is not an error.
func (t *txn) DeleteItems(ctx context.Context, cartNum int64) error {
	if _, err := t.exec(ctx, qDeleteItems, cartNum); err != nil {
		return fmt.Errorf("sqlite: delete items: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.deleteItems(cartNum)
	}
	return nil
}

const qLines = `
	SELECT ` + itemColumns + `, ` + variantColumns + `, ` + productColumns + `,
	       COALESCE(s.on_hand, 0), COALESCE(s.reserved, 0), COALESCE(s.backordered, 0),
	       COALESCE(s.version, 0), s.updated_at, ` + saleColumns + `
	FROM cart_items i
	JOIN variants v ON v.num = i.variant_num
	JOIN products p ON p.num = v.product_num
	LEFT JOIN stock s ON s.sku = v.sku
	LEFT JOIN sales sa ON sa.id = v.sale_id
	WHERE i.cart_num = ?
	ORDER BY i.num`

// Lines reads a cart's items with their variants, products, stock and sales in one query: it
// runs on every cart read and write, for carts of up to a thousand lines, so the scan targets
// are allocated once and reused across rows.
func (t *txn) Lines(ctx context.Context, cartNum int64) ([]cart.Line, error) {
	if t.c != nil {
		if lines, ok := t.c.lines(cartNum); ok {
			return lines, nil
		}
	}
	rows, err := t.query(ctx, qLines, cartNum)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get lines: %w", dbErr(ctx, err))
	}
	defer rows.Close()

	var (
		ir           itemRow
		vr           variantRow
		pr           productRow
		sr           saleRow
		st           cart.Stock
		stockUpdated sql.NullInt64
		lines        []cart.Line
	)
	dest := append(append(append(ir.dest(), vr.dest()...), pr.dest()...),
		&st.OnHand, &st.Reserved, &st.Backordered, &st.Version, &stockUpdated)
	dest = append(dest, sr.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: get lines: %w", dbErr(ctx, err))
		}
		v, err := vr.variant()
		if err != nil {
			return nil, fmt.Errorf("sqlite: get lines: variant %s: %w", vr.v.ID, err)
		}
		s := st
		s.SKU = v.SKU
		s.UpdatedAt = fromNullMicros(stockUpdated)
		prod, err := pr.product()
		if err != nil {
			return nil, fmt.Errorf("sqlite: get lines: %w", err)
		}
		lines = append(lines, cart.Line{Item: ir.item(), Variant: &v, Product: &prod, Stock: s, Sale: sr.sale()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get lines: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.putLines(cartNum, lines)
	}
	return lines, nil
}

const qStock = `SELECT on_hand, reserved, backordered, version, updated_at FROM stock WHERE sku = ?`

// Stock reads a SKU's stock; a SKU never stocked has zero stock.
func (t *txn) Stock(ctx context.Context, sku string) (cart.Stock, error) {
	if t.c != nil {
		if s, ok := t.c.stock[sku]; ok {
			return s, nil
		}
	}
	s, err := t.readStock(ctx, sku)
	if err == nil && t.c != nil {
		put(t.c, t.c.stock, sku, s)
	}
	return s, err
}

func (t *txn) readStock(ctx context.Context, sku string) (cart.Stock, error) {
	s := cart.Stock{SKU: sku}
	var updated int64
	err := t.queryRow(ctx, qStock, sku).Scan(&s.OnHand, &s.Reserved, &s.Backordered, &s.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return cart.Stock{}, fmt.Errorf("sqlite: get stock: %w", dbErr(ctx, err))
	}
	s.UpdatedAt = fromMicros(updated)
	return s, nil
}

const qPutStock = `
	INSERT INTO stock (sku, on_hand, reserved, backordered, version, updated_at)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (sku) DO UPDATE SET
		on_hand = excluded.on_hand,
		reserved = excluded.reserved,
		backordered = excluded.backordered,
		version = excluded.version,
		updated_at = excluded.updated_at`

// PutStock creates or replaces a SKU's stock row, its version as given.
func (t *txn) PutStock(ctx context.Context, s cart.Stock) error {
	_, err := t.exec(ctx, qPutStock, s.SKU, s.OnHand, s.Reserved, s.Backordered, s.Version, micros(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put stock: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		t.c.putStock(s)
	}
	return nil
}

// qStockHolders goes from the SKU to its variants (deleted ones too: their items hold stock
// until released) and from each to its items through the partial index of holding items.
const qStockHolders = `
	SELECT ` + itemColumns + `
	FROM variants v
	JOIN cart_items i ON i.variant_num = v.num
	WHERE v.sku = ? AND i.reserved_quantity > 0
	ORDER BY i.updated_at DESC, i.num DESC`

// StockHolders returns the items holding a SKU's stock, most recently changed first (then
// newest item first), the order in which an inventory decrease releases reservations.
func (t *txn) StockHolders(ctx context.Context, sku string) ([]cart.Item, error) {
	rows, err := t.query(ctx, qStockHolders, sku)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get stock holders: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		ir    itemRow
		dest  = ir.dest()
		items []cart.Item
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: get stock holders: %w", dbErr(ctx, err))
		}
		items = append(items, ir.item())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get stock holders: %w", dbErr(ctx, err))
	}
	return items, nil
}
