package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

// saleColumns are the columns saleRow scans (table.SaleColumns).
const saleColumns = table.SaleColumns

// saleRow is the scan target of saleColumns.
type saleRow struct {
	num                            sql.NullInt64
	id, name                       sql.NullString
	starts, ends, created, updated sql.NullInt64
}

func (r *saleRow) dest() []any {
	return []any{&r.num, &r.id, &r.name, &r.starts, &r.ends, &r.created, &r.updated}
}

func (r *saleRow) sale() cart.Sale {
	if !r.num.Valid {
		return cart.Sale{}
	}
	return cart.Sale{Num: r.num.Int64, ID: r.id.String, Name: r.name.String,
		StartsAt: fromNullMicros(r.starts), EndsAt: fromNullMicros(r.ends),
		CreatedAt: fromNullMicros(r.created), UpdatedAt: fromNullMicros(r.updated)}
}

const qSale = `SELECT ` + saleColumns + ` FROM sales sa WHERE sa.id = ?`

// Sale reads a sale by its id.
func (t *txn) Sale(ctx context.Context, id string) (cart.Sale, error) {
	notFound := func() error { return cart.Errorf(cart.NotFound, "sale_not_found", "sale %q not found", id) }
	if t.c != nil {
		if s, ok := t.c.sales[id]; ok {
			if s.Num == 0 {
				return cart.Sale{}, notFound()
			}
			return s, nil
		}
	}
	var r saleRow
	err := t.queryRow(ctx, qSale, id).Scan(r.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		if t.c != nil {
			put(t.c, t.c.sales, id, cart.Sale{})
		}
		return cart.Sale{}, notFound()
	}
	if err != nil {
		return cart.Sale{}, fmt.Errorf("sqlite: get sale: %w", dbErr(ctx, err))
	}
	if t.c != nil {
		put(t.c, t.c.sales, id, r.sale())
	}
	return r.sale(), nil
}

const qPutSale = table.PutSale

// PutSale upserts a sale by id; one that exists keeps its num and created_at.
func (t *txn) PutSale(ctx context.Context, s *cart.Sale) error {
	if t.c != nil {
		t.c.dropCatalog()
	}
	var created int64
	err := t.queryRow(ctx, qPutSale, s.ID, s.Name, micros(s.StartsAt), micros(s.EndsAt),
		micros(s.CreatedAt), micros(s.UpdatedAt)).Scan(&s.Num, &created)
	if err != nil {
		return fmt.Errorf("sqlite: put sale: %w", dbErr(ctx, err))
	}
	s.CreatedAt = fromMicros(created)
	return nil
}

// qExpiredHolders walks cart_items_holding (variant_num, reserved_until) from each variant of
// the SKU (deleted ones too: their items hold its stock until released).
const qExpiredHolders = `
	SELECT ` + itemColumns + `
	FROM variants v
	JOIN cart_items i ON i.variant_num = v.num
	WHERE v.sku = ? AND i.reserved_quantity > 0 AND i.reserved_until <= ?
	ORDER BY i.num`

// ExpiredHolders returns the items holding a SKU's stock past their reservation's lapse.
func (t *txn) ExpiredHolders(ctx context.Context, sku string, now time.Time) ([]cart.Item, error) {
	return t.items(ctx, "get expired holders", qExpiredHolders, sku, micros(now))
}

// qExpiredReservations walks cart_items_reserved_until from its earliest entry.
const qExpiredReservations = `
	SELECT ` + itemColumns + `
	FROM cart_items i
	WHERE i.reserved_quantity > 0 AND i.reserved_until <= ?
	ORDER BY i.reserved_until, i.num
	LIMIT ?`

// ExpiredReservations returns items holding stock past their reservation's lapse.
func (t *txn) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error) {
	return t.items(ctx, "get expired reservations", qExpiredReservations, micros(now), limit)
}

// qCartCurrencies lists the currencies carts are in by a few probes of carts_currency (a loose
// index scan: each step seeks the next currency), not a scan of the carts.
const qCartCurrencies = `
	WITH RECURSIVE currencies(c) AS (
		SELECT min(currency) FROM carts
		UNION ALL
		SELECT (SELECT min(currency) FROM carts WHERE currency > currencies.c) FROM currencies WHERE c IS NOT NULL)
	SELECT json_group_array(c) FROM currencies WHERE c IS NOT NULL`

// qUnavailableReservations starts from the catalog's variants, keeps those that cannot be
// sold, and only then reaches the items holding their stock through cart_items_holding (the
// CROSS JOIN keeps SQLite's planner to that order), so it reads the catalog and the few items
// concerned rather than every item of every cart. A variant without a price in a cart's
// currency is such a variant only for carts in that currency: the first condition keeps the
// variants missing a price in any currency a cart is in (?2, qCartCurrencies' JSON array),
// which needs no item; the second decides per line.
const qUnavailableReservations = `
	SELECT ` + itemColumns + `
	FROM variants v
	JOIN products p ON p.num = v.product_num
	LEFT JOIN sales sa ON sa.id = v.sale_id
	CROSS JOIN cart_items i
	JOIN carts c ON c.num = i.cart_num
	WHERE (v.active = 0 OR v.deleted = 1 OR p.deleted = 1 OR sa.starts_at > ?1 OR sa.ends_at <= ?1
	       OR EXISTS (SELECT 1 FROM json_each(?2) cur WHERE json_type(v.prices, '$."' || cur.value || '"') IS NULL))
	  AND i.variant_num = v.num AND i.reserved_quantity > 0
	  AND (v.active = 0 OR v.deleted = 1 OR p.deleted = 1 OR sa.starts_at > ?1 OR sa.ends_at <= ?1
	       OR json_type(v.prices, '$."' || c.currency || '"') IS NULL)
	ORDER BY i.num
	LIMIT ?3`

// UnavailableReservations returns items holding stock that can no longer be sold.
func (t *txn) UnavailableReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error) {
	var currencies string
	if err := t.queryRow(ctx, qCartCurrencies).Scan(&currencies); err != nil {
		return nil, fmt.Errorf("sqlite: get unavailable reservations: %w", dbErr(ctx, err))
	}
	return t.items(ctx, "get unavailable reservations", qUnavailableReservations, micros(now), currencies, limit)
}

// items runs a query of itemColumns.
func (t *txn) items(ctx context.Context, op, query string, args ...any) ([]cart.Item, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		ir    itemRow
		dest  = ir.dest()
		items []cart.Item
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
		}
		items = append(items, ir.item())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	return items, nil
}
