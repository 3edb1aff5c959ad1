package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// Limits of a promotion and of the coupons of one cart.
const (
	MaxCoupons        = 20   // codes applied to one cart
	MaxPromotionList  = 1000 // entries of one eligibility list
	MaxPromotionName  = 200
	MaxPromotionText  = 2000
	maxPromotionEntry = 200 // characters of one entry of an eligibility list
)

// offers are what pricing needs beyond a cart's lines: the codes applied to it, with their
// promotions, and the automatic promotions in effect.
type offers struct {
	coupons []cart.Coupon
	auto    []cart.Promotion
}

// loadOffers reads a cart's offers at an instant, in the caller's transaction: what a cart's
// figures depend on is read in the same snapshot as the cart (ARCHITECTURE.md §Invariants 3).
func loadOffers(ctx context.Context, tx store.ReadTx, cartNum int64, now time.Time) (offers, error) {
	coupons, err := tx.Coupons(ctx, cartNum)
	if err != nil {
		return offers{}, err
	}
	auto, err := tx.AutoPromotions(ctx, now)
	if err != nil {
		return offers{}, err
	}
	return offers{coupons: coupons, auto: auto}, nil
}

// priceWith prices a cart with its offers.
func (e *Engine) priceWith(c cart.Cart, lines []cart.Line, s cart.Settings, now time.Time, o offers) (cart.View, error) {
	return pricing.Price(pricing.Input{Cart: c, Lines: lines, Settings: s, Now: now, Reserve: e.Reserving(),
		Promotions: o.auto, Coupons: o.coupons})
}

// price reads a cart's offers in tx and prices it with them.
// A completed cart is not priced: its checkout record is served (record.go).
func (e *Engine) price(ctx context.Context, tx store.ReadTx, c cart.Cart, lines []cart.Line, s cart.Settings, now time.Time) (cart.View, error) {
	if v, ok, err := recorded(ctx, tx, c); err != nil || ok {
		return v, err
	}
	o, err := loadOffers(ctx, tx, c.Num, now)
	if err != nil {
		return cart.View{}, err
	}
	return e.priceWith(c, lines, s, now, o)
}

// offers returns the mutation's cart's offers, read on first use; ApplyCoupon and
// RemoveCoupon keep them up to date as they change the cart's coupons.
func (m *mutation) offers() (offers, error) {
	if !m.offersRead {
		o, err := loadOffers(m.ctx, m.tx, m.cart.Num, m.now)
		if err != nil {
			return offers{}, err
		}
		m.off, m.offersRead = o, true
	}
	return m.off, nil
}

// snapshot prices the cart as it is before the call's changes, for price to report what the
// call did to its promotions. A cart with no offers needs none: its lines' figures depend on
// the lines alone.
func (m *mutation) snapshot() error {
	o, err := m.offers()
	if err != nil || len(o.coupons)+len(o.auto) == 0 {
		return err
	}
	v, err := m.e.priceWith(m.cart, m.lines, m.settings, m.now, o)
	if err != nil {
		return nil // the call may bring the cart back within range; price reports it if not
	}
	m.prev = &v
	return nil
}

// price prices the mutation's cart as it now is, with its offers. Against the snapshot it
// notes a message for every promotion the cart gained or lost (save the codes the call itself
// applied or removed, which have their own messages), and adds to the lines the call changed
// those whose discount or tax a promotion moved, so that a minimal response carries them.
func (m *mutation) price() (cart.View, error) {
	o, err := m.offers()
	if err != nil {
		return cart.View{}, err
	}
	v, err := m.e.priceWith(m.cart, m.lines, m.settings, m.now, o)
	if err != nil || m.prev == nil {
		return v, err
	}
	was := map[string]cart.PromotionView{}
	for _, p := range m.prev.Promotions {
		was[p.Promotion.Code] = p
	}
	is := map[string]bool{}
	for _, p := range v.Promotions {
		code := p.Promotion.Code
		is[code] = p.Applied
		if m.couponCalls[code] {
			continue
		}
		switch before := was[code]; {
		case p.Applied && !before.Applied:
			m.note([]cart.Message{{Type: cart.Info, Code: "promotion_applied", Text: fmt.Sprintf("%s now applies", code)}})
		case !p.Applied && before.Applied:
			m.note([]cart.Message{{Type: cart.Warning, Code: "promotion_lost", Text: fmt.Sprintf("%s no longer applies: %s", code, p.Text)}})
		}
	}
	for _, p := range m.prev.Promotions {
		if code := p.Promotion.Code; p.Applied && !m.couponCalls[code] {
			if _, listed := is[code]; !listed {
				// An automatic promotion is listed only while it applies.
				m.note([]cart.Message{{Type: cart.Warning, Code: "promotion_lost", Text: fmt.Sprintf("%s no longer applies", code)}})
			}
		}
	}
	prev := make(map[int64]*cart.LineView, len(m.prev.Lines))
	for i := range m.prev.Lines {
		prev[m.prev.Lines[i].Item.Num] = &m.prev.Lines[i]
	}
	for i := range v.Lines {
		lv := &v.Lines[i]
		if p, ok := prev[lv.Item.Num]; ok && (p.Discount != lv.Discount || p.Tax != lv.Tax) && !slices.Contains(m.touched, lv.Item.Num) {
			m.touched = append(m.touched, lv.Item.Num)
		}
	}
	return v, nil
}

// checkUnits refuses a change that takes a cart above pricing.MaxUnits units, the bound
// within which its figures cannot overflow. A cart already above it (limits raised and
// lowered since) may still shrink.
func (m *mutation) checkUnits(before int64) error {
	return unitsLimit(before, units(m.lines))
}

// unitsLimit is checkUnits on counts of units before and after a call.
func unitsLimit(before, after int64) error {
	if after > pricing.MaxUnits && after > before {
		return cart.InvalidField("too_many_units", "quantity", "a cart holds at most %d units in all, not %d", int64(pricing.MaxUnits), after)
	}
	return nil
}

// units counts the units of lines.
func units(lines []cart.Line) (n int64) {
	for i := range lines {
		n += cart.WholeUnits(lines[i].Item.Quantity, lines[i].Variant.Scale())
	}
	return n
}

// promotionCode reads a code as the shop or a shopper typed it: codes are case-insensitive
// and kept in upper case. ok is false for what cannot be a code.
func promotionCode(code string) (string, bool) {
	return strings.ToUpper(code), idPattern.MatchString(code)
}

// ApplyCoupon applies a code to a cart (scope carts:write), through mutate: If-Match and
// idempotency keys work as for any cart change. A code already on the cart changes nothing
// (message coupon_already_applied). Errors, all Invalid naming the field code:
// unknown_coupon (no such promotion, or withdrawn), coupon_is_automatic (an automatic
// promotion applies by itself), coupon_inactive, coupon_not_started, coupon_expired,
// coupon_not_applicable (the cart does not meet its conditions: the message says which),
// too_many_coupons (MaxCoupons).
func (e *Engine) ApplyCoupon(ctx context.Context, p auth.Principal, cartNum int64, code string, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	code, ok := promotionCode(code)
	if !ok {
		return cart.View{}, cart.InvalidField("unknown_coupon", "code", "%q is not a coupon code", code)
	}
	return e.mutate(ctx, p, cartNum, opt, func(m *mutation) error { return m.applyCoupon(code) })
}

func (m *mutation) applyCoupon(code string) error {
	promo, err := m.tx.Promotion(m.ctx, code)
	if cart.ErrorCode(err) == cart.NotFound {
		return cart.InvalidField("unknown_coupon", "code", "there is no coupon %s", code)
	}
	if err != nil {
		return err
	}
	if promo.Method == cart.Auto {
		return cart.InvalidField("coupon_is_automatic", "code", "%s applies by itself to every cart that qualifies; it is not a coupon code", code)
	}
	o, err := m.offers()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(o.coupons, func(c cart.Coupon) bool { return c.Code == code }) {
		return m.note([]cart.Message{{Type: cart.Info, Code: "coupon_already_applied", Text: fmt.Sprintf("%s is applied already", code)}})
	}
	if len(o.coupons) >= MaxCoupons {
		return cart.InvalidField("too_many_coupons", "code", "a cart holds at most %d coupons", MaxCoupons)
	}
	coupon := cart.Coupon{CartNum: m.cart.Num, Code: code, AddedAt: m.now, Promotion: promo}
	trial := o
	trial.coupons = append(slices.Clone(o.coupons), coupon)
	v, err := m.e.priceWith(m.cart, m.lines, m.settings, m.now, trial)
	if err != nil {
		return err
	}
	for _, pv := range v.Promotions {
		if pv.Promotion.Code != code || pv.Applied {
			continue
		}
		reason := map[string]string{cart.NotActive: "coupon_inactive", cart.NotStarted: "coupon_not_started", cart.Ended: "coupon_expired"}[pv.Reason]
		if reason == "" {
			reason = "coupon_not_applicable"
		}
		return cart.InvalidField(reason, "code", "%s", pv.Text)
	}
	if err := m.tx.AddCoupon(m.ctx, coupon); err != nil {
		return err
	}
	m.off.coupons, m.changed = trial.coupons, true
	m.callOn(code)
	return m.note([]cart.Message{{Type: cart.Info, Code: "coupon_applied", Text: fmt.Sprintf("%s applied", code)}})
}

// RemoveCoupon takes a code off a cart (scope carts:write), through mutate. A code the cart
// does not have is NotFound (coupon_not_found).
func (e *Engine) RemoveCoupon(ctx context.Context, p auth.Principal, cartNum int64, code string, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	code, _ = promotionCode(code)
	return e.mutate(ctx, p, cartNum, opt, func(m *mutation) error {
		if _, err := m.offers(); err != nil {
			return err
		}
		if err := m.tx.RemoveCoupon(m.ctx, m.cart.Num, code); err != nil {
			return err
		}
		m.off.coupons = slices.DeleteFunc(slices.Clone(m.off.coupons), func(c cart.Coupon) bool { return c.Code == code })
		m.changed = true
		m.callOn(code)
		return m.note([]cart.Message{{Type: cart.Info, Code: "coupon_removed", Text: fmt.Sprintf("%s removed", code)}})
	})
}

// mergeCoupons brings the codes of a merged cart into the mutation's cart: a shopper who
// applied a code as a guest keeps it on signing in. Codes the cart has already, and codes
// beyond MaxCoupons (coupon_not_merged), stay behind; a code moved applies or not by its
// conditions on the merged cart, like any other.
func (m *mutation) mergeCoupons(from []cart.Coupon) error {
	o, err := m.offers()
	if err != nil {
		return err
	}
	for _, c := range from {
		if slices.ContainsFunc(o.coupons, func(have cart.Coupon) bool { return have.Code == c.Code }) {
			continue
		}
		if len(o.coupons) >= MaxCoupons {
			m.note([]cart.Message{{Type: cart.Warning, Code: "coupon_not_merged",
				Text: fmt.Sprintf("A cart holds at most %d coupons; %s was not moved from the merged cart", MaxCoupons, c.Code)}})
			continue
		}
		c.CartNum, c.AddedAt = m.cart.Num, m.now
		if err := m.tx.AddCoupon(m.ctx, c); err != nil {
			return err
		}
		o.coupons = append(o.coupons, c)
		m.changed = true
		m.callOn(c.Code)
		m.note([]cart.Message{{Type: cart.Info, Code: "coupon_merged", Text: fmt.Sprintf("%s was moved from the merged cart", c.Code)}})
	}
	m.off = o
	return nil
}

// callOn records that the call itself applied or removed a code.
func (m *mutation) callOn(code string) {
	if m.couponCalls == nil {
		m.couponCalls = map[string]bool{}
	}
	m.couponCalls[code] = true
}

// PutPromotion creates or replaces a promotion by code (scope catalog:write). The code is
// case-insensitive and stored in upper case. Carts see the change at their next read.
func (e *Engine) PutPromotion(ctx context.Context, p auth.Principal, promo cart.Promotion, opt Options) (cart.Promotion, error) {
	if err := require(p, auth.CatalogWrite); err != nil {
		return cart.Promotion{}, err
	}
	if err := validatePromotion(&promo); err != nil {
		return cart.Promotion{}, err
	}
	err := e.write(ctx, opt, func() any { return promo }, func(tx store.Tx) error {
		promo.CreatedAt, promo.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.PutPromotion(ctx, &promo); err != nil {
			return err
		}
		// Only a successful read replaces promo: Write may run this function again.
		stored, err := tx.Promotion(ctx, promo.Code)
		if err != nil {
			return err
		}
		promo = stored
		return nil
	})
	return promo, err
}

// Promotion returns a promotion by code (scope catalog:read); withdrawn ones are NotFound.
func (e *Engine) Promotion(ctx context.Context, p auth.Principal, code string) (cart.Promotion, error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return cart.Promotion{}, err
	}
	code, _ = promotionCode(code)
	var promo cart.Promotion
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		promo, err = tx.Promotion(ctx, code)
		return err
	})
	return promo, err
}

// DeletePromotion withdraws a promotion (scope catalog:write). Carts holding its code keep
// the coupon, shown as no longer applying, until the shopper removes it; a PUT of the code
// brings the promotion back.
func (e *Engine) DeletePromotion(ctx context.Context, p auth.Principal, code string, opt Options) error {
	if err := require(p, auth.CatalogWrite); err != nil {
		return err
	}
	code, _ = promotionCode(code)
	return e.write(ctx, opt, func() any { return nil }, func(tx store.Tx) error {
		if opt.IfMatch != nil {
			promo, err := tx.Promotion(ctx, code)
			if err != nil {
				return err
			}
			if v := PromotionVersion(promo); v != *opt.IfMatch {
				return cart.Errorf(cart.Precondition, "version_mismatch", "the promotion %s is at version %d, not %d", code, v, *opt.IfMatch)
			}
		}
		return tx.DeletePromotion(ctx, code)
	})
}

// PromotionVersion is a promotion's version for ETag and If-Match: the instant of its last
// write in microseconds, which every PUT moves on (writes of one promotion serialize, and
// the store keeps times to the microsecond), so a withdrawal with If-Match refuses to
// withdraw a promotion changed since the caller read it.
func PromotionVersion(p cart.Promotion) int64 { return p.UpdatedAt.UnixMicro() }

// validatePromotion checks a promotion the shop sends and fills its defaults (method manual,
// name the code); the code becomes upper case.
func validatePromotion(p *cart.Promotion) error {
	var errs []cart.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, cart.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	code, ok := promotionCode(p.Code)
	if !ok {
		bad("code", "a code is 1 to 64 letters, digits, '_' or '-'")
	}
	p.Code = code
	if p.Name = strings.TrimSpace(p.Name); p.Name == "" {
		p.Name = p.Code
	}
	if len(p.Name) > MaxPromotionName {
		bad("name", "name must be at most %d bytes", MaxPromotionName)
	}
	if len(p.Description) > MaxPromotionText {
		bad("description", "description must be at most %d bytes", MaxPromotionText)
	}
	for _, t := range []struct{ field, text string }{{"name", p.Name}, {"description", p.Description}} {
		if why := textProblem(t.text); why != "" {
			bad(t.field, "%s must be UTF-8 text without NUL characters: %s", t.field, why)
		}
	}
	if !slices.Contains(cart.PromotionTypes, p.Type) {
		bad("type", "type must be one of cash, percent, freeship, fixedprice, lowestcost")
	}
	switch p.Method {
	case "":
		p.Method = cart.Manual
	case cart.Manual, cart.Auto:
	default:
		bad("method", "method must be manual or auto")
	}
	if p.Type == cart.Percent {
		if p.Rate < 1 || p.Rate > 10000 {
			bad("rate", "a percent promotion needs a rate of 1 to 10000 basis points")
		}
	} else if p.Rate != 0 {
		bad("rate", "only a percent promotion has a rate")
	}
	amounts := func(field string, m map[string]int64, least int64) {
		for cur, amt := range m {
			if !money.Valid(cur) {
				bad(field, "%q is not an ISO 4217 currency code", cur)
			} else if amt < least {
				bad(field+"."+cur, "must be at least %d", least)
			} else if amt > pricing.MaxPrice {
				bad(field+"."+cur, "must be at most %d (10^12 minor units)", int64(pricing.MaxPrice))
			}
		}
	}
	switch p.Type {
	case cart.Cash, cart.FixedPrice:
		if len(p.Amounts) == 0 {
			bad("amount", "a %s promotion needs an amount in at least one currency", p.Type)
		}
		least := int64(0)
		if p.Type == cart.Cash {
			least = 1
		}
		amounts("amount", p.Amounts, least)
	default:
		if len(p.Amounts) > 0 {
			bad("amount", "only cash and fixedprice promotions have an amount")
		}
	}
	amounts("conditions.min_subtotal", p.MinSubtotal, 0)
	if p.MinQuantity < 0 || p.MinQuantity > 1_000_000 {
		bad("conditions.min_quantity", "min_quantity must be 0 to 1000000")
	}
	for _, l := range []struct {
		field string
		list  []string
	}{{"skus", p.SKUs}, {"product_ids", p.ProductIDs}, {"brands", p.Brands}, {"sale_ids", p.SaleIDs}} {
		if len(l.list) > MaxPromotionList {
			bad("conditions."+l.field, "a list holds at most %d entries", MaxPromotionList)
		}
		for i, s := range l.list {
			if s == "" || len(s) > maxPromotionEntry {
				bad(fmt.Sprintf("conditions.%s[%d]", l.field, i), "an entry is 1 to %d bytes", maxPromotionEntry)
			} else if why := textProblem(s); why != "" {
				bad(fmt.Sprintf("conditions.%s[%d]", l.field, i), "an entry must be UTF-8 text without NUL characters: %s", why)
			}
		}
	}
	if !p.StartsAt.IsZero() && !p.EndsAt.IsZero() && !p.StartsAt.Before(p.EndsAt) {
		bad("ends_at", "ends_at must be after starts_at")
	}
	if len(errs) > 0 {
		return &cart.Error{Code: cart.Invalid, Reason: "invalid_promotion", Message: errs[0].Field + ": " + errs[0].Message, Fields: errs}
	}
	return nil
}
