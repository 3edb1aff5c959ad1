package postgres

import (
	"context"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

// saleColumns are the columns saleRow scans (table.SaleColumns).
const saleColumns = table.SaleColumns

// saleRow is the scan target of saleColumns.
type saleRow struct {
	num                            *int64
	id, name                       *string
	starts, ends, created, updated *time.Time
}

func (r *saleRow) dest() []any {
	return []any{&r.num, &r.id, &r.name, &r.starts, &r.ends, &r.created, &r.updated}
}

func (r *saleRow) sale() cart.Sale {
	if r.num == nil {
		return cart.Sale{}
	}
	return cart.Sale{Num: *r.num, ID: *r.id, Name: *r.name,
		StartsAt: fromNullTime(r.starts), EndsAt: fromNullTime(r.ends),
		CreatedAt: fromNullTime(r.created), UpdatedAt: fromNullTime(r.updated)}
}

const qSale = `SELECT ` + saleColumns + ` FROM sales sa WHERE sa.id = $1`

// Sale reads a sale by its id.
func (t *txn) Sale(ctx context.Context, id string) (cart.Sale, error) {
	var r saleRow
	found, err := t.queryRow(ctx, "get sale", qSale, []any{id}, r.dest()...)
	if err != nil {
		return cart.Sale{}, err
	}
	if !found {
		return cart.Sale{}, cart.Errorf(cart.NotFound, "sale_not_found", "sale %q not found", id)
	}
	return r.sale(), nil
}

var qPutSale = rebind(table.PutSale)

// PutSale upserts a sale by id; one that exists keeps its num and created_at.
func (t *txn) PutSale(ctx context.Context, s *cart.Sale) error {
	_, err := t.queryRow(ctx, "put sale", qPutSale,
		[]any{s.ID, s.Name, s.StartsAt, s.EndsAt, s.CreatedAt, s.UpdatedAt}, &s.Num, &s.CreatedAt)
	if err != nil {
		return err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	return nil
}

// qExpiredHolders walks cart_items_holding (variant_num, reserved_until) from each variant of
// the SKU (deleted ones too: their items hold its stock until released). It locks nothing:
// the caller locks each item's cart and reads its lines again before releasing anything.
const qExpiredHolders = `
	SELECT ` + itemColumns + `
	FROM variants v
	JOIN cart_items i ON i.variant_num = v.num
	WHERE v.sku = $1 AND i.reserved_quantity > 0 AND i.reserved_until <= $2
	ORDER BY i.num`

// ExpiredHolders returns the items holding a SKU's stock past their reservation's lapse.
func (t *txn) ExpiredHolders(ctx context.Context, sku string, now time.Time) ([]cart.Item, error) {
	return t.items(ctx, "get expired holders", qExpiredHolders, sku, now)
}

// qExpiredReservations walks cart_items_reserved_until from its earliest entry.
const qExpiredReservations = `
	SELECT ` + itemColumns + `
	FROM cart_items i
	WHERE i.reserved_quantity > 0 AND i.reserved_until <= $1
	ORDER BY i.reserved_until, i.num
	LIMIT $2`

// ExpiredReservations returns items holding stock past their reservation's lapse.
func (t *txn) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error) {
	return t.items(ctx, "get expired reservations", qExpiredReservations, now, limit)
}

// qUnavailableReservations starts from the catalog's variants that cannot be sold and reaches
// the items holding their stock through cart_items_holding.
const qUnavailableReservations = `
	SELECT ` + itemColumns + `
	FROM variants v
	JOIN products p ON p.num = v.product_num
	LEFT JOIN sales sa ON sa.id = v.sale_id
	JOIN cart_items i ON i.variant_num = v.num
	JOIN carts c ON c.num = i.cart_num
	WHERE i.reserved_quantity > 0
	  AND (NOT v.active OR v.deleted OR p.deleted OR sa.starts_at > $1 OR sa.ends_at <= $1
	       OR (v.prices::jsonb -> c.currency) IS NULL)
	ORDER BY i.num
	LIMIT $2`

// UnavailableReservations returns items holding stock that can no longer be sold.
func (t *txn) UnavailableReservations(ctx context.Context, now time.Time, limit int) ([]cart.Item, error) {
	return t.items(ctx, "get unavailable reservations", qUnavailableReservations, now, limit)
}

// items runs a query of itemColumns.
func (t *txn) items(ctx context.Context, op, query string, args ...any) ([]cart.Item, error) {
	var (
		ir    itemRow
		items []cart.Item
	)
	err := t.query(ctx, op, query, args, ir.dest(), func() error {
		items = append(items, ir.item())
		return nil
	})
	return items, err
}
