package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/internal/listq"
	"github.com/cartd/cartd/store/internal/table"
)

// The list queries (docs/lists.md). Their conditions depend on the filters given, so they are
// built per call. Text keys are compared and ordered bytewise (COLLATE "C"), as SQLite does,
// through the indexes of migrations/0012_lists.sql. The lists lock nothing, even in a Tx.

// unknownCursor is the error of a cursor naming an id that was never stored.
func unknownCursor(what, id string) error {
	return cart.InvalidField("unknown_cursor", "starting_after", "starting_after names no %s %q", what, id)
}

// cursorNum returns the num of the row whose key column equals key, for a cursor given by id.
func (t *txn) cursorNum(ctx context.Context, table, column, key, what string) (int64, error) {
	var num int64
	found, err := t.queryRow(ctx, "list "+what+"s: cursor", `SELECT num FROM `+table+` WHERE `+column+` = $1`, []any{key}, &num)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, unknownCursor(what, key)
	}
	return num, nil
}

// ListCarts lists carts newest first, with their line and unit counts.
func (t *txn) ListCarts(ctx context.Context, f store.CartFilter) ([]store.CartSummary, error) {
	w := listq.New(true)
	if f.CustomerID != nil {
		w.Add("customer_id = ?", *f.CustomerID)
	}
	if f.Status != nil {
		w.Add("status = ?", string(*f.Status))
	}
	if !f.UpdatedAfter.IsZero() {
		w.Add("updated_at > ?", f.UpdatedAfter)
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
	q := `SELECT ` + cartColumns + `,
		(SELECT COUNT(*) FROM cart_items i WHERE i.cart_num = carts.num),
		(SELECT COALESCE(SUM(i.quantity), 0)::bigint FROM cart_items i WHERE i.cart_num = carts.num)
		FROM carts` + w.SQL() + ` ORDER BY num DESC` + w.Limit(f.Limit)
	var (
		r            cartRow
		lines, units int64
		out          []store.CartSummary
	)
	dest := append(r.dest(), &lines, &units)
	err := t.query(ctx, "list carts", q, w.Args(), dest, func() error {
		out = append(out, store.CartSummary{Cart: r.cart(), Lines: lines, Units: units})
		return nil
	})
	return out, err
}

// ListProducts lists live products newest first. A prefix is looked up in three indexes (the
// products' ids, their lowered names, the variants' SKUs) and only the products found are
// ordered.
func (t *txn) ListProducts(ctx context.Context, f store.ProductFilter) ([]cart.Product, error) {
	w := listq.New(true)
	w.Add("NOT p.deleted")
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
			SELECT num FROM products WHERE (id COLLATE "C") >= ? AND (id COLLATE "C") < ?
			UNION SELECT num FROM products WHERE lower(name COLLATE "C") >= ? AND lower(name COLLATE "C") < ?
			UNION SELECT product_num FROM variants WHERE (sku COLLATE "C") >= ? AND (sku COLLATE "C") < ? AND NOT deleted)`,
			f.Prefix, end, low, listq.PrefixEnd(low), f.Prefix, end)
	}
	q := `SELECT ` + productColumns + ` FROM products p` + w.SQL() + ` ORDER BY p.num DESC` + w.Limit(f.Limit)
	var (
		pr    productRow
		prods []cart.Product
	)
	err := t.query(ctx, "list products", q, w.Args(), pr.dest(), func() error {
		p, err := pr.product()
		if err != nil {
			return err
		}
		prods = append(prods, p)
		return nil
	})
	if err != nil || len(prods) == 0 {
		return prods, err
	}
	at := make(map[int64]int, len(prods))
	nums := make([]int64, len(prods))
	for i, p := range prods {
		at[p.Num], nums[i] = i, p.Num
	}
	var vr variantRow
	err = t.query(ctx, "list products: variants", `SELECT `+variantColumns+`
		FROM variants v JOIN products p ON p.num = v.product_num
		WHERE NOT v.deleted AND v.product_num = ANY($1)
		ORDER BY v.product_num, v.position`, []any{nums}, vr.dest(), func() error {
		v, err := vr.variant()
		if err != nil {
			return fmt.Errorf("variant %s: %w", vr.v.ID, err)
		}
		p := &prods[at[v.ProductNum]]
		p.Variants = append(p.Variants, v)
		return nil
	})
	return prods, err
}

// ListStock lists SKUs' stock in SKU order (bytewise): the sums of each SKU's rows (see
// buckets.go). The SKU conditions select rows through stock_sku_c; low_stock keeps, through
// stock_available, the SKUs with a row at or below the threshold (when the threshold is not
// negative, a SKU whose sum is at or below it has such a row: its least row holds at most
// the sum over the number of rows, or less than nothing), then compares the sums.
func (t *txn) ListStock(ctx context.Context, f store.StockFilter) ([]cart.Stock, error) {
	w := listq.New(true)
	if f.SKUPrefix != "" {
		w.Add(`(sku COLLATE "C") >= ? AND (sku COLLATE "C") < ?`, f.SKUPrefix, listq.PrefixEnd(f.SKUPrefix))
	}
	if f.After != "" {
		w.Add(`(sku COLLATE "C") > ?`, f.After)
	}
	if f.MaxAvailable != nil {
		if *f.MaxAvailable >= 0 {
			w.Add("sku IN (SELECT sku FROM stock WHERE (on_hand - reserved) <= ?)", *f.MaxAvailable)
		}
		w.Add("(SELECT SUM(a.on_hand - a.reserved) FROM stock a WHERE a.sku = stock.sku) <= ?", *f.MaxAvailable)
	}
	q := `SELECT sku, SUM(on_hand)::BIGINT, SUM(reserved)::BIGINT, SUM(backordered)::BIGINT,
	             SUM(version)::BIGINT, MAX(updated_at)
	      FROM stock` + w.SQL() + ` GROUP BY sku ORDER BY (sku COLLATE "C")` + w.Limit(f.Limit)
	var (
		s       cart.Stock
		updated *time.Time
		out     []cart.Stock
	)
	err := t.query(ctx, "list stock", q, w.Args(), []any{&s.SKU, &s.OnHand, &s.Reserved, &s.Backordered, &s.Version, &updated}, func() error {
		row := s
		row.UpdatedAt = time.Time{}
		if updated != nil {
			row.UpdatedAt = updated.UTC()
		}
		out = append(out, row)
		return nil
	})
	return out, err
}

// ListHolds lists the items holding a SKU's stock, newest first, with their carts' customers.
func (t *txn) ListHolds(ctx context.Context, f store.HoldFilter) ([]store.Hold, error) {
	w := listq.New(true)
	w.Add("v.sku = ? AND i.reserved_quantity > 0", f.SKU)
	if f.Before > 0 {
		w.Add("i.num < ?", f.Before)
	}
	q := `SELECT ` + itemColumns + `, c.customer_id
		FROM variants v
		JOIN cart_items i ON i.variant_num = v.num
		JOIN carts c ON c.num = i.cart_num` + w.SQL() + ` ORDER BY i.num DESC` + w.Limit(f.Limit)
	var (
		ir       itemRow
		customer string
		out      []store.Hold
	)
	err := t.query(ctx, "list holds", q, w.Args(), append(ir.dest(), &customer), func() error {
		out = append(out, store.Hold{Item: ir.item(), CustomerID: customer})
		return nil
	})
	return out, err
}

// ListPromotions lists live promotions newest first.
func (t *txn) ListPromotions(ctx context.Context, f store.PromotionFilter) ([]cart.Promotion, error) {
	w := listq.New(true)
	w.Add("NOT pr.deleted")
	if f.After != "" {
		num, err := t.cursorNum(ctx, "promotions", "code", f.After, "promotion")
		if err != nil {
			return nil, err
		}
		w.Add("pr.num < ?", num)
	}
	q := `SELECT ` + table.PromotionColumns + ` FROM promotions pr` + w.SQL() + ` ORDER BY pr.num DESC` + w.Limit(f.Limit)
	var (
		r   promotionRow
		out []cart.Promotion
	)
	err := t.query(ctx, "list promotions", q, w.Args(), r.Dest(), func() error {
		p, err := r.promotion()
		if err != nil {
			return fmt.Errorf("%s: %w", r.Code(), err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// ListSales lists sales newest first.
func (t *txn) ListSales(ctx context.Context, f store.SaleFilter) ([]cart.Sale, error) {
	w := listq.New(true)
	if f.After != "" {
		num, err := t.cursorNum(ctx, "sales", "id", f.After, "sale")
		if err != nil {
			return nil, err
		}
		w.Add("sa.num < ?", num)
	}
	q := `SELECT ` + saleColumns + ` FROM sales sa` + w.SQL() + ` ORDER BY sa.num DESC` + w.Limit(f.Limit)
	var (
		r   saleRow
		out []cart.Sale
	)
	err := t.query(ctx, "list sales", q, w.Args(), r.dest(), func() error {
		out = append(out, r.sale())
		return nil
	})
	return out, err
}
