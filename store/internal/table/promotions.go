package table

import (
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/column"
)

// PromotionColumns are the columns PromotionRow scans, for a query naming promotions "pr".
const PromotionColumns = `pr.num, pr.code, pr.name, pr.description, pr.type, pr.method, pr.rate,
	pr.amounts, pr.min_subtotal, pr.min_quantity, pr.skus, pr.product_ids, pr.brands, pr.sale_ids,
	pr.starts_at, pr.ends_at, pr.active, pr.deleted, pr.created_at, pr.updated_at`

// PromotionRow is the scan target of PromotionColumns; the JSON columns are decoded by
// Promotion. T is what the store scans a time into, N a time that may be NULL.
type PromotionRow[T, N any] struct {
	p                                 cart.Promotion
	typ, method                       string
	amounts, minSubtotal              []byte
	skus, productIDs, brands, saleIDs []byte
	starts, ends                      N
	created, updated                  T
}

// Dest are the scan destinations of PromotionColumns.
func (r *PromotionRow[T, N]) Dest() []any {
	return []any{&r.p.Num, &r.p.Code, &r.p.Name, &r.p.Description, &r.typ, &r.method, &r.p.Rate,
		&r.amounts, &r.minSubtotal, &r.p.MinQuantity, &r.skus, &r.productIDs, &r.brands, &r.saleIDs,
		&r.starts, &r.ends, &r.p.Active, &r.p.Deleted, &r.created, &r.updated}
}

// Promotion decodes the row, reading its times with the store's conversions.
func (r *PromotionRow[T, N]) Promotion(at func(T) time.Time, atOrZero func(N) time.Time) (cart.Promotion, error) {
	p := r.p
	p.Type, p.Method = cart.PromotionType(r.typ), cart.Method(r.method)
	for _, f := range []struct {
		name string
		raw  []byte
		dst  any
	}{
		{"amounts", r.amounts, &p.Amounts},
		{"min_subtotal", r.minSubtotal, &p.MinSubtotal},
		{"skus", r.skus, &p.SKUs},
		{"product_ids", r.productIDs, &p.ProductIDs},
		{"brands", r.brands, &p.Brands},
		{"sale_ids", r.saleIDs, &p.SaleIDs},
	} {
		if err := column.DecodeJSON(f.raw, f.dst); err != nil {
			return cart.Promotion{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	p.StartsAt, p.EndsAt = atOrZero(r.starts), atOrZero(r.ends)
	p.CreatedAt, p.UpdatedAt = at(r.created), at(r.updated)
	return p, nil
}

// PromotionNotFound is the answer when no live promotion has the code.
func PromotionNotFound(code string) *cart.Error {
	return cart.Errorf(cart.NotFound, "promotion_not_found", "promotion %q not found", code)
}

// Code is the code of the promotion scanned, for error messages.
func (r *PromotionRow[T, N]) Code() string { return r.p.Code }

// PromotionJSON are a promotion's JSON columns as PutPromotion stores them: amounts,
// min_subtotal, skus, product_ids, brands and sale_ids, NULL when empty.
func PromotionJSON(p *cart.Promotion) ([6]any, error) {
	var js [6]any
	for i, v := range []struct {
		v     any
		empty bool
	}{
		{p.Amounts, len(p.Amounts) == 0},
		{p.MinSubtotal, len(p.MinSubtotal) == 0},
		{p.SKUs, len(p.SKUs) == 0},
		{p.ProductIDs, len(p.ProductIDs) == 0},
		{p.Brands, len(p.Brands) == 0},
		{p.SaleIDs, len(p.SaleIDs) == 0},
	} {
		var err error
		if js[i], err = column.EncodeJSON(v.v, v.empty); err != nil {
			return js, err
		}
	}
	return js, nil
}
