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

// promotionRow is the scan target of table.PromotionColumns, with times in microseconds.
type promotionRow struct {
	table.PromotionRow[int64, sql.NullInt64]
}

func (r *promotionRow) promotion() (cart.Promotion, error) {
	return r.Promotion(fromMicros, fromNullMicros)
}

func errPromotionNotFound(code string) *cart.Error { return table.PromotionNotFound(code) }

const qPromotion = `SELECT ` + table.PromotionColumns + ` FROM promotions pr WHERE pr.code = ? AND pr.deleted = 0`

// Promotion reads a live promotion by code.
func (t *txn) Promotion(ctx context.Context, code string) (cart.Promotion, error) {
	var r promotionRow
	err := t.queryRow(ctx, qPromotion, code).Scan(r.Dest()...)
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
	SELECT ` + table.PromotionColumns + ` FROM promotions pr
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
	SELECT ` + table.PromotionColumns + ` FROM promotions pr
	WHERE pr.method = 'auto' AND pr.active = 1 AND pr.deleted = 0
	ORDER BY pr.code`

func (t *txn) autoPromotions(ctx context.Context, query string, args ...any) ([]cart.Promotion, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get automatic promotions: %w", dbErr(ctx, err))
	}
	return scanPromotions(ctx, rows, "get automatic promotions")
}

// scanPromotions reads every promotion rows holds (table.PromotionColumns) and closes rows;
// what names the read in its errors.
func scanPromotions(ctx context.Context, rows *sql.Rows, what string) ([]cart.Promotion, error) {
	defer rows.Close()
	var (
		r   promotionRow
		out []cart.Promotion
	)
	dest := r.Dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, dbErr(ctx, err))
		}
		p, err := r.promotion()
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %s: %w", what, r.Code(), err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, dbErr(ctx, err))
	}
	return out, nil
}

const qCoupons = `
	SELECT c.code, c.added_at, ` + table.PromotionColumns + `
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
	dest := append([]any{&code, &added}, r.Dest()...)
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

const qPutPromotion = table.PutPromotion

// PutPromotion creates or replaces a promotion by code.
func (t *txn) PutPromotion(ctx context.Context, p *cart.Promotion) error {
	if t.c != nil {
		t.c.dropPromotions()
	}
	cols, err := table.PromotionJSON(p)
	if err != nil {
		return fmt.Errorf("sqlite: put promotion %s: %w", p.Code, err)
	}
	var created int64
	err = t.queryRow(ctx, qPutPromotion, p.Code, p.Name, p.Description, string(p.Type), string(p.Method), p.Rate,
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
