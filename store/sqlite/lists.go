package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/column"
	"github.com/cartd/cartd/store/internal/listq"
	"github.com/cartd/cartd/store/internal/table"
)

// The list queries (docs/lists.md). Their conditions depend on the filters given, so they are
// built per call rather than prepared (queryList), and they are rare beside cart calls; the
// indexes each filter relies on are listed in migrations/0012_lists.sql.

// queryList runs a list query, which is built per call and so not among the statements Open
// prepares.
func (t *txn) queryList(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.stmtCtx(ctx), query, args...)
}

// unknownCursor is the error of a cursor naming an id that was never stored.
func unknownCursor(what, id string) error {
	return cart.InvalidField("unknown_cursor", "starting_after", "starting_after names no %s %q", what, id)
}

// cursorNum returns the num of the row whose key column equals key, for a cursor given by id.
func (t *txn) cursorNum(ctx context.Context, table, column, key, what string) (int64, error) {
	var num int64
	err := t.tx.QueryRowContext(t.stmtCtx(ctx), `SELECT num FROM `+table+` WHERE `+column+` = ?`, key).Scan(&num)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, unknownCursor(what, key)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: list %ss: cursor: %w", what, dbErr(ctx, err))
	}
	return num, nil
}

// ListCarts lists carts newest first, with their line and unit counts.
func (t *txn) ListCarts(ctx context.Context, f store.CartFilter) ([]store.CartSummary, error) {
	w := listq.New(false)
	if f.CustomerID != nil {
		w.Add("customer_id = ?", *f.CustomerID)
	}
	if f.Status != nil {
		w.Add("status = ?", string(*f.Status))
	}
	if !f.UpdatedAfter.IsZero() {
		w.Add("updated_at > ?", micros(f.UpdatedAfter))
	}
	if f.Before > 0 {
		w.Add("num < ?", f.Before)
	}
	if f.HasItems != nil {
		exists := "EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_num = carts.num)"
		if !*f.HasItems {
			exists = "NOT " + exists
		}
		w.Add(exists)
	}
	// Without statistics SQLite prefers walking carts newest first to sorting what an index
	// finds, which for updated_after alone could read every cart: name the index.
	from := "carts"
	if !f.UpdatedAfter.IsZero() && f.CustomerID == nil && f.Status == nil {
		from = "carts INDEXED BY carts_updated"
	}
	q := `SELECT ` + cartColumns + `,
		(SELECT COUNT(*) FROM cart_items i WHERE i.cart_num = carts.num),
		(SELECT COALESCE(SUM(i.quantity), 0) FROM cart_items i WHERE i.cart_num = carts.num)
		FROM ` + from + w.SQL() + ` ORDER BY num DESC` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list carts: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var out []store.CartSummary
	for rows.Next() {
		var (
			s                          store.CartSummary
			meta                       []byte
			mergedInto                 sql.NullInt64
			created, updated, activity int64
		)
		c := &s.Cart
		if err := rows.Scan(&c.Num, &c.CustomerID, &c.Currency, &c.Status, &c.Version, &meta, &mergedInto,
			&created, &updated, &activity, &s.Lines, &s.Units); err != nil {
			return nil, fmt.Errorf("sqlite: list carts: %w", dbErr(ctx, err))
		}
		c.Metadata = column.RawJSON(meta)
		c.MergedInto = mergedInto.Int64
		c.CreatedAt, c.UpdatedAt, c.LastActivity = fromMicros(created), fromMicros(updated), fromMicros(activity)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list carts: %w", dbErr(ctx, err))
	}
	return out, nil
}

// ListProducts lists live products newest first. A prefix is looked up in three indexes (the
// products' ids, their lowered names, the variants' SKUs) and only the products found are
// ordered.
func (t *txn) ListProducts(ctx context.Context, f store.ProductFilter) ([]cart.Product, error) {
	w := listq.New(false)
	w.Add("p.deleted = 0")
	if f.After != "" {
		num, err := t.cursorNum(ctx, "products", "id", f.After, "product")
		if err != nil {
			return nil, err
		}
		w.Add("p.num < ?", num)
	}
	if f.Prefix != "" {
		end, low := listq.PrefixEnd(f.Prefix), listq.LowerASCII(f.Prefix)
		w.Add(`p.num IN (
			SELECT num FROM products WHERE id >= ? AND id < ?
			UNION SELECT num FROM products WHERE lower(name) >= ? AND lower(name) < ?
			UNION SELECT product_num FROM variants WHERE sku >= ? AND sku < ? AND deleted = 0)`,
			f.Prefix, end, low, listq.PrefixEnd(low), f.Prefix, end)
	}
	q := `SELECT ` + productColumns + ` FROM products p` + w.SQL() + ` ORDER BY p.num DESC` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list products: %w", dbErr(ctx, err))
	}
	var (
		pr    productRow
		dest  = pr.dest()
		prods []cart.Product
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list products: %w", dbErr(ctx, err))
		}
		p, err := pr.product()
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list products: %w", err)
		}
		prods = append(prods, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list products: %w", dbErr(ctx, err))
	}
	if err := t.pageVariants(ctx, prods); err != nil {
		return nil, err
	}
	return prods, nil
}

// pageVariants reads the live variants of a page of products in one query.
func (t *txn) pageVariants(ctx context.Context, prods []cart.Product) error {
	if len(prods) == 0 {
		return nil
	}
	at := make(map[int64]int, len(prods))
	args := make([]any, len(prods))
	for i, p := range prods {
		at[p.Num] = i
		args[i] = p.Num
	}
	q := `SELECT ` + variantColumns + ` FROM variants v JOIN products p ON p.num = v.product_num
		WHERE v.deleted = 0 AND v.product_num IN (?` + strings.Repeat(", ?", len(prods)-1) + `)
		ORDER BY v.product_num, v.position`
	rows, err := t.queryList(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: list products: variants: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var vr variantRow
	dest := vr.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("sqlite: list products: variants: %w", dbErr(ctx, err))
		}
		v, err := vr.variant()
		if err != nil {
			return fmt.Errorf("sqlite: list products: variant %s: %w", vr.v.ID, err)
		}
		p := &prods[at[v.ProductNum]]
		p.Variants = append(p.Variants, v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: list products: variants: %w", dbErr(ctx, err))
	}
	return nil
}

// ListStock lists stock rows in SKU order.
func (t *txn) ListStock(ctx context.Context, f store.StockFilter) ([]cart.Stock, error) {
	w := listq.New(false)
	if f.SKUPrefix != "" {
		w.Add("sku >= ? AND sku < ?", f.SKUPrefix, listq.PrefixEnd(f.SKUPrefix))
	}
	if f.MaxAvailable != nil {
		w.Add("on_hand - reserved <= ?", *f.MaxAvailable)
	}
	if f.After != "" {
		w.Add("sku > ?", f.After)
	}
	// As in ListCarts: low_stock alone would walk every SKU in order; name its index.
	from := "stock"
	if f.MaxAvailable != nil && f.SKUPrefix == "" {
		from = "stock INDEXED BY stock_available"
	}
	q := `SELECT sku, on_hand, reserved, backordered, version, updated_at FROM ` + from + w.SQL() +
		` ORDER BY sku` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list stock: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var out []cart.Stock
	for rows.Next() {
		var (
			s       cart.Stock
			updated int64
		)
		if err := rows.Scan(&s.SKU, &s.OnHand, &s.Reserved, &s.Backordered, &s.Version, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list stock: %w", dbErr(ctx, err))
		}
		s.UpdatedAt = fromMicros(updated)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list stock: %w", dbErr(ctx, err))
	}
	return out, nil
}

// ListHolds lists the items holding a SKU's stock, newest first, with their carts' customers.
func (t *txn) ListHolds(ctx context.Context, f store.HoldFilter) ([]store.Hold, error) {
	w := listq.New(false)
	w.Add("v.sku = ? AND i.reserved_quantity > 0", f.SKU)
	if f.Before > 0 {
		w.Add("i.num < ?", f.Before)
	}
	q := `SELECT ` + itemColumns + `, c.customer_id
		FROM variants v
		JOIN cart_items i ON i.variant_num = v.num
		JOIN carts c ON c.num = i.cart_num` + w.SQL() + ` ORDER BY i.num DESC` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list holds: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		ir       itemRow
		customer string
		out      []store.Hold
	)
	dest := append(ir.dest(), &customer)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: list holds: %w", dbErr(ctx, err))
		}
		out = append(out, store.Hold{Item: ir.item(), CustomerID: customer})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list holds: %w", dbErr(ctx, err))
	}
	return out, nil
}

// ListPromotions lists live promotions newest first.
func (t *txn) ListPromotions(ctx context.Context, f store.PromotionFilter) ([]cart.Promotion, error) {
	w := listq.New(false)
	w.Add("pr.deleted = 0")
	if f.After != "" {
		num, err := t.cursorNum(ctx, "promotions", "code", f.After, "promotion")
		if err != nil {
			return nil, err
		}
		w.Add("pr.num < ?", num)
	}
	q := `SELECT ` + table.PromotionColumns + ` FROM promotions pr` + w.SQL() + ` ORDER BY pr.num DESC` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list promotions: %w", dbErr(ctx, err))
	}
	return scanPromotions(ctx, rows, "list promotions")
}

// ListSales lists sales newest first.
func (t *txn) ListSales(ctx context.Context, f store.SaleFilter) ([]cart.Sale, error) {
	w := listq.New(false)
	if f.After != "" {
		num, err := t.cursorNum(ctx, "sales", "id", f.After, "sale")
		if err != nil {
			return nil, err
		}
		w.Add("sa.num < ?", num)
	}
	q := `SELECT ` + saleColumns + ` FROM sales sa` + w.SQL() + ` ORDER BY sa.num DESC` + w.Limit(f.Limit)
	rows, err := t.queryList(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sales: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		r   saleRow
		out []cart.Sale
	)
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: list sales: %w", dbErr(ctx, err))
		}
		out = append(out, r.sale())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list sales: %w", dbErr(ctx, err))
	}
	return out, nil
}
