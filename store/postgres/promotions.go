package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store/internal/table"
)

// promotionRow is the scan target of table.PromotionColumns, with TIMESTAMPTZ times.
type promotionRow struct {
	table.PromotionRow[time.Time, *time.Time]
}

func (r *promotionRow) promotion() (cart.Promotion, error) { return r.Promotion(utc, fromNullTime) }

func errPromotionNotFound(code string) *cart.Error { return table.PromotionNotFound(code) }

const qPromotion = `SELECT ` + table.PromotionColumns + ` FROM promotions pr WHERE pr.code = $1 AND NOT pr.deleted`

// Promotion reads a live promotion by its code.
func (t *txn) Promotion(ctx context.Context, code string) (cart.Promotion, error) {
	var r promotionRow
	found, err := t.queryRow(ctx, "get promotion", qPromotion, []any{code}, r.Dest()...)
	if err != nil {
		return cart.Promotion{}, err
	}
	if !found {
		return cart.Promotion{}, errPromotionNotFound(code)
	}
	p, err := r.promotion()
	if err != nil {
		return cart.Promotion{}, fmt.Errorf("postgres: get promotion %s: %w", code, err)
	}
	return p, nil
}

// qAutoPromotions walks the partial index promotions_auto, in code order.
const qAutoPromotions = `
	SELECT ` + table.PromotionColumns + ` FROM promotions pr
	WHERE pr.method = 'auto' AND pr.active AND NOT pr.deleted
	  AND (pr.starts_at IS NULL OR pr.starts_at <= $1)
	  AND (pr.ends_at IS NULL OR pr.ends_at > $1)
	ORDER BY pr.code`

// AutoPromotions returns the automatic promotions in effect at an instant.
func (t *txn) AutoPromotions(ctx context.Context, at time.Time) ([]cart.Promotion, error) {
	if promo, ok, err := t.cachedAutoPromotions(ctx, at); ok || err != nil {
		return promo, err
	}
	var (
		r     promotionRow
		promo []cart.Promotion
	)
	err := t.query(ctx, "get automatic promotions", qAutoPromotions, []any{at}, r.Dest(), func() error {
		p, err := r.promotion()
		if err != nil {
			return fmt.Errorf("promotion %s: %w", r.Code(), err)
		}
		promo = append(promo, p)
		return nil
	})
	return promo, err
}

const qCoupons = `
	SELECT cc.cart_num, cc.code, cc.added_at, ` + table.PromotionColumns + `
	FROM cart_coupons cc JOIN promotions pr ON pr.code = cc.code
	WHERE cc.cart_num = $1
	ORDER BY cc.added_at, cc.code`

// Coupons returns the codes applied to a cart, in the order they were applied, each with its
// promotion as stored, withdrawn or not.
func (t *txn) Coupons(ctx context.Context, cartNum int64) ([]cart.Coupon, error) {
	if a := t.ahead; a != nil && a.cartNum == cartNum && len(t.pending) == 0 {
		return slices.Clone(a.coupons), nil
	}
	var coupons []cart.Coupon
	br, err := t.send(ctx, queued{qCoupons, []any{cartNum}})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err == nil {
		coupons, err = scanCoupons(rows)
	}
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("postgres: get coupons: %w", t.fail(ctx, err))
	}
	return coupons, t.closeBatch(ctx, "get coupons", br)
}

// scanCoupons reads the rows of qCoupons, and closes them.
func scanCoupons(rows pgx.Rows) ([]cart.Coupon, error) {
	defer rows.Close()
	var (
		c       cart.Coupon
		r       promotionRow
		coupons []cart.Coupon
	)
	dest := append([]any{&c.CartNum, &c.Code, &c.AddedAt}, r.Dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		p, err := r.promotion()
		if err != nil {
			return nil, fmt.Errorf("promotion %s: %w", r.Code(), err)
		}
		coupon := c
		coupon.AddedAt = coupon.AddedAt.UTC()
		coupon.Promotion = p
		coupons = append(coupons, coupon)
	}
	return coupons, rows.Err()
}

var qPutPromotion = rebind(table.PutPromotion)

// PutPromotion upserts a promotion by code; one that exists keeps its num and created_at and
// is revived if it was withdrawn.
func (t *txn) PutPromotion(ctx context.Context, p *cart.Promotion) error {
	js, err := table.PromotionJSON(p)
	if err != nil {
		return fmt.Errorf("postgres: put promotion %s: %w", p.Code, err)
	}
	t.bumpCache()
	_, err = t.queryRow(ctx, "put promotion", qPutPromotion,
		[]any{p.Code, p.Name, p.Description, string(p.Type), string(p.Method), p.Rate, js[0], js[1],
			p.MinQuantity, js[2], js[3], js[4], js[5], nullTime(p.StartsAt), nullTime(p.EndsAt),
			p.Active, p.CreatedAt, p.UpdatedAt},
		&p.Num, &p.CreatedAt)
	if err != nil {
		return err
	}
	p.CreatedAt, p.Deleted = p.CreatedAt.UTC(), false
	return nil
}

const qDeletePromotion = `
	UPDATE promotions SET deleted = true, updated_at = $1
	WHERE code = $2 AND NOT deleted`

// DeletePromotion withdraws a live promotion at the transaction's instant.
func (t *txn) DeletePromotion(ctx context.Context, code string) error {
	t.bumpCache()
	return t.execOne(ctx, errPromotionNotFound(code), "delete promotion", qDeletePromotion, t.now, code)
}

// qAddCoupon inserts a coupon unless the cart has the code already. (A unique violation would
// be taken for a race and re-run; a code applied twice is the caller's Conflict.)
const qAddCoupon = `
	INSERT INTO cart_coupons (cart_num, code, added_at) VALUES ($1, $2, $3)
	ON CONFLICT (cart_num, code) DO NOTHING`

// AddCoupon applies a code to a cart.
func (t *txn) AddCoupon(ctx context.Context, c cart.Coupon) error {
	n, err := t.exec(ctx, "add coupon", qAddCoupon, c.CartNum, c.Code, c.AddedAt)
	if err != nil {
		return err
	}
	if n == 0 {
		return cart.Errorf(cart.Conflict, "coupon_already_applied", "the cart already has the code %q", c.Code)
	}
	return nil
}

const qRemoveCoupon = `DELETE FROM cart_coupons WHERE cart_num = $1 AND code = $2`

// RemoveCoupon takes a code off a cart.
func (t *txn) RemoveCoupon(ctx context.Context, cartNum int64, code string) error {
	return t.execOne(ctx, cart.Errorf(cart.NotFound, "coupon_not_found", "the cart has no code %q", code),
		"remove coupon", qRemoveCoupon, cartNum, code)
}
