package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/column"
)

// promotionColumns are the columns promotionRow scans, for a query naming promotions "pr".
const promotionColumns = `pr.num, pr.code, pr.name, pr.description, pr.type, pr.method, pr.rate,
	pr.amounts, pr.min_subtotal, pr.min_quantity, pr.skus, pr.product_ids, pr.brands, pr.sale_ids,
	pr.starts_at, pr.ends_at, pr.active, pr.deleted, pr.created_at, pr.updated_at`

// promotionRow is the scan target of promotionColumns; JSON columns are decoded by promotion.
type promotionRow struct {
	p                                 cart.Promotion
	typ, method                       string
	amounts, minSubtotal              []byte
	skus, productIDs, brands, saleIDs []byte
	startsAt, endsAt                  sql.NullInt64
	created, updated                  int64
}

func (r *promotionRow) dest() []any {
	return []any{&r.p.Num, &r.p.Code, &r.p.Name, &r.p.Description, &r.typ, &r.method, &r.p.Rate,
		&r.amounts, &r.minSubtotal, &r.p.MinQuantity, &r.skus, &r.productIDs, &r.brands, &r.saleIDs,
		&r.startsAt, &r.endsAt, &r.p.Active, &r.p.Deleted, &r.created, &r.updated}
}

func (r *promotionRow) promotion() (cart.Promotion, error) {
	p := r.p
	p.Type, p.Method = cart.PromotionType(r.typ), cart.Method(r.method)
	p.Amounts, p.MinSubtotal = nil, nil
	p.SKUs, p.ProductIDs, p.Brands, p.SaleIDs = nil, nil, nil, nil
	for _, c := range []struct {
		name string
		src  []byte
		dst  any
	}{
		{"amounts", r.amounts, &p.Amounts}, {"min_subtotal", r.minSubtotal, &p.MinSubtotal},
		{"skus", r.skus, &p.SKUs}, {"product_ids", r.productIDs, &p.ProductIDs},
		{"brands", r.brands, &p.Brands}, {"sale_ids", r.saleIDs, &p.SaleIDs},
	} {
		if err := column.DecodeJSON(c.src, c.dst); err != nil {
			return cart.Promotion{}, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	p.StartsAt, p.EndsAt = fromNullMicros(r.startsAt), fromNullMicros(r.endsAt)
	p.CreatedAt, p.UpdatedAt = fromMicros(r.created), fromMicros(r.updated)
	return p, nil
}

func errPromotionNotFound(code string) *cart.Error {
	return cart.Errorf(cart.NotFound, "promotion_not_found", "no promotion %q", code)
}

const qPromotion = `SELECT ` + promotionColumns + ` FROM promotions pr WHERE pr.code = ? AND pr.deleted = 0`

// Promotion reads a live promotion by code.
func (t *txn) Promotion(ctx context.Context, code string) (cart.Promotion, error) {
	var r promotionRow
	err := t.queryRow(ctx, qPromotion, code).Scan(r.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return cart.Promotion{}, errPromotionNotFound(code)
	}
	if err != nil {
		return cart.Promotion{}, fmt.Errorf("sqlite: get promotion: %w", dbErr(ctx, err))
	}
	p, err := r.promotion()
	if err != nil {
		return cart.Promotion{}, fmt.Errorf("sqlite: get promotion %s: %w", code, err)
	}
	return p, nil
}

// qAutoPromotions walks the partial index promotions_auto in code order.
const qAutoPromotions = `
	SELECT ` + promotionColumns + ` FROM promotions pr
	WHERE pr.method = 'auto' AND pr.active = 1 AND pr.deleted = 0
	  AND (pr.starts_at IS NULL OR pr.starts_at <= ?) AND (pr.ends_at IS NULL OR pr.ends_at > ?)
	ORDER BY pr.code`

// AutoPromotions reads the automatic promotions in effect at an instant.
func (t *txn) AutoPromotions(ctx context.Context, at time.Time) ([]cart.Promotion, error) {
	if t.c == nil {
		return t.autoPromotions(ctx, qAutoPromotions, micros(at), micros(at))
	}
	if !t.c.autoLoaded {
		all, err := t.autoPromotions(ctx, qAllAutoPromotions)
		if err != nil {
			return nil, err
		}
		t.c.auto, t.c.autoLoaded = all, true
		t.c.undo = append(t.c.undo, func() { t.c.auto, t.c.autoLoaded = nil, false })
	}
	return t.c.autoAt(at), nil
}

// qAllAutoPromotions is qAutoPromotions at every instant: what the writer's cache holds.
const qAllAutoPromotions = `
	SELECT ` + promotionColumns + ` FROM promotions pr
	WHERE pr.method = 'auto' AND pr.active = 1 AND pr.deleted = 0
	ORDER BY pr.code`

func (t *txn) autoPromotions(ctx context.Context, query string, args ...any) ([]cart.Promotion, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get automatic promotions: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		r   promotionRow
		out []cart.Promotion
	)
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: get automatic promotions: %w", dbErr(ctx, err))
		}
		p, err := r.promotion()
		if err != nil {
			return nil, fmt.Errorf("sqlite: get automatic promotions: %s: %w", r.p.Code, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get automatic promotions: %w", dbErr(ctx, err))
	}
	return out, nil
}

const qCoupons = `
	SELECT c.code, c.added_at, ` + promotionColumns + `
	FROM cart_coupons c JOIN promotions pr ON pr.code = c.code
	WHERE c.cart_num = ?
	ORDER BY c.added_at, c.code`

// Coupons reads the codes applied to a cart with their promotions.
func (t *txn) Coupons(ctx context.Context, cartNum int64) ([]cart.Coupon, error) {
	if t.c != nil {
		if cs, ok := t.c.coupons[cartNum]; ok {
			return cs, nil
		}
	}
	cs, err := t.coupons(ctx, cartNum)
	if err == nil && t.c != nil {
		put(t.c, t.c.coupons, cartNum, cs)
	}
	return cs, err
}

func (t *txn) coupons(ctx context.Context, cartNum int64) ([]cart.Coupon, error) {
	rows, err := t.query(ctx, qCoupons, cartNum)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get coupons: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var (
		r     promotionRow
		code  string
		added int64
		out   []cart.Coupon
	)
	dest := append([]any{&code, &added}, r.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: get coupons: %w", dbErr(ctx, err))
		}
		p, err := r.promotion()
		if err != nil {
			return nil, fmt.Errorf("sqlite: get coupons: %s: %w", code, err)
		}
		out = append(out, cart.Coupon{CartNum: cartNum, Code: code, AddedAt: fromMicros(added), Promotion: p})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get coupons: %w", dbErr(ctx, err))
	}
	return out, nil
}

const qPutPromotion = `
	INSERT INTO promotions (code, name, description, type, method, rate, amounts, min_subtotal,
	                        min_quantity, skus, product_ids, brands, sale_ids, starts_at, ends_at,
	                        active, deleted, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
	ON CONFLICT (code) DO UPDATE SET
		name = excluded.name,
		description = excluded.description,
		type = excluded.type,
		method = excluded.method,
		rate = excluded.rate,
		amounts = excluded.amounts,
		min_subtotal = excluded.min_subtotal,
		min_quantity = excluded.min_quantity,
		skus = excluded.skus,
		product_ids = excluded.product_ids,
		brands = excluded.brands,
		sale_ids = excluded.sale_ids,
		starts_at = excluded.starts_at,
		ends_at = excluded.ends_at,
		active = excluded.active,
		deleted = 0,
		updated_at = excluded.updated_at
	RETURNING num, created_at`

// PutPromotion creates or replaces a promotion by code.
func (t *txn) PutPromotion(ctx context.Context, p *cart.Promotion) error {
	if t.c != nil {
		t.c.dropPromotions()
	}
	var cols [6]any
	for i, c := range []struct {
		v     any
		empty bool
	}{
		{p.Amounts, len(p.Amounts) == 0}, {p.MinSubtotal, len(p.MinSubtotal) == 0},
		{p.SKUs, len(p.SKUs) == 0}, {p.ProductIDs, len(p.ProductIDs) == 0},
		{p.Brands, len(p.Brands) == 0}, {p.SaleIDs, len(p.SaleIDs) == 0},
	} {
		v, err := column.EncodeJSON(c.v, c.empty)
		if err != nil {
			return fmt.Errorf("sqlite: put promotion %s: %w", p.Code, err)
		}
		cols[i] = v
	}
	var created int64
	err := t.queryRow(ctx, qPutPromotion, p.Code, p.Name, p.Description, string(p.Type), string(p.Method), p.Rate,
		cols[0], cols[1], p.MinQuantity, cols[2], cols[3], cols[4], cols[5],
		nullMicros(p.StartsAt), nullMicros(p.EndsAt), p.Active, micros(p.CreatedAt), micros(p.UpdatedAt)).
		Scan(&p.Num, &created)
	if err != nil {
		return fmt.Errorf("sqlite: put promotion: %w", dbErr(ctx, err))
	}
	p.CreatedAt, p.Deleted = fromMicros(created), false
	return nil
}

const qDeletePromotion = `UPDATE promotions SET deleted = 1, updated_at = ? WHERE code = ? AND deleted = 0`

// DeletePromotion withdraws a live promotion at the transaction's instant.
func (t *txn) DeletePromotion(ctx context.Context, code string) error {
	if t.c != nil {
		t.c.dropPromotions()
	}
	return t.execOne(ctx, func() *cart.Error { return errPromotionNotFound(code) }, "delete promotion", qDeletePromotion, micros(t.now), code)
}

const qAddCoupon = `INSERT INTO cart_coupons (cart_num, code, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`

// AddCoupon applies a code to a cart.
func (t *txn) AddCoupon(ctx context.Context, c cart.Coupon) error {
	if t.c != nil {
		drop(t.c, t.c.coupons, c.CartNum)
		t.c.forgetMemo(c.CartNum)
	}
	return t.execOne(ctx, func() *cart.Error {
		return cart.Errorf(cart.Conflict, "coupon_already_applied", "the cart has coupon %s already", c.Code)
	},
		"add coupon", qAddCoupon, c.CartNum, c.Code, micros(c.AddedAt))
}

const qRemoveCoupon = `DELETE FROM cart_coupons WHERE cart_num = ? AND code = ?`

// RemoveCoupon takes a code off a cart.
func (t *txn) RemoveCoupon(ctx context.Context, cartNum int64, code string) error {
	if t.c != nil {
		drop(t.c, t.c.coupons, cartNum)
		t.c.forgetMemo(cartNum)
	}
	return t.execOne(ctx, func() *cart.Error {
		return cart.Errorf(cart.NotFound, "coupon_not_found", "the cart has no coupon %s", code)
	},
		"remove coupon", qRemoveCoupon, cartNum, code)
}
