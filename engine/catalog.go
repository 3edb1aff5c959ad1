package engine

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// idPattern is what a shop may choose as a product, variant or sale id.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MaxVariants bounds one product's variants, so one PUT cannot become an unbounded write.
const MaxVariants = 500

// maxSKULen bounds a SKU, wherever one is named (a variant, a stock write, an import row).
const maxSKULen = 64

// validSKU is the one rule for a SKU, wherever one is named (a variant, a stock write or read,
// an import row): 1 to maxSKULen bytes of UTF-8 text without spaces or control characters, so
// that a SKU can be put in a URL path, a CSV field or a log line as it is.
func validSKU(field, sku string) error {
	if sku == "" || len(sku) > maxSKULen || !utf8.ValidString(sku) ||
		strings.ContainsFunc(sku, func(r rune) bool { return r <= ' ' || unicode.IsControl(r) || r == utf8.RuneError }) {
		return cart.InvalidField("invalid_sku", field, "%s must be 1 to %d bytes of UTF-8 text without spaces or control characters", field, maxSKULen)
	}
	return nil
}

// PutProduct creates or replaces a product with its variants (scope catalog:write).
func (e *Engine) PutProduct(ctx context.Context, p auth.Principal, prod cart.Product, opt Options) (cart.Product, error) {
	if err := require(p, auth.CatalogWrite); err != nil {
		return cart.Product{}, err
	}
	if err := validateProduct(&prod); err != nil {
		return cart.Product{}, err
	}
	err := e.write(ctx, opt, func() any { return prod }, func(tx store.Tx) error {
		// The store keeps CreatedAt of a product that exists; both are this write's instant.
		prod.CreatedAt, prod.UpdatedAt = tx.Now(), tx.Now()
		if err := checkScaleChanges(ctx, tx, &prod); err != nil {
			return err
		}
		if err := tx.PutProduct(ctx, &prod); err != nil {
			return err
		}
		// Only a successful read replaces prod: Write may run this function again.
		stored, err := tx.Product(ctx, prod.ID)
		if err != nil {
			return err
		}
		prod = stored
		return nil
	})
	return prod, err
}

// Product returns a product with its live variants (scope catalog:read).
func (e *Engine) Product(ctx context.Context, p auth.Principal, id string) (cart.Product, error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return cart.Product{}, err
	}
	var prod cart.Product
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		prod, err = tx.Product(ctx, id)
		return err
	})
	return prod, err
}

// DeleteProduct withdraws a product and its variants (scope catalog:write). Lines of carts
// that hold them become unavailable; they are not deleted, so a shopper sees what happened.
func (e *Engine) DeleteProduct(ctx context.Context, p auth.Principal, id string, opt Options) error {
	if err := require(p, auth.CatalogWrite); err != nil {
		return err
	}
	return e.write(ctx, opt, func() any { return nil }, func(tx store.Tx) error { return tx.DeleteProduct(ctx, id) })
}

// checkScaleChanges refuses to change the quantity_scale of a variant whose SKU has stock
// (on hand, reserved or backordered): its figures are integers of the old scale, and cartd
// does not guess what they were meant to be in the new one (docs/measured-quantities.md).
// The stock is zeroed first, or the variant given a new SKU.
func checkScaleChanges(ctx context.Context, tx store.Tx, p *cart.Product) error {
	for i := range p.Variants {
		v := &p.Variants[i]
		old, _, err := tx.VariantBySKU(ctx, v.SKU)
		switch {
		case cart.ErrorCode(err) == cart.NotFound:
			continue
		case err != nil:
			return err
		case old.QuantityScale == v.QuantityScale:
			continue
		}
		st, err := tx.Stock(ctx, v.SKU)
		if err != nil {
			return err
		}
		if st.OnHand != 0 || st.Reserved != 0 || st.Backordered != 0 {
			field := fmt.Sprintf("variants[%d].quantity_scale", i)
			msg := fmt.Sprintf("%s has stock counted at scale %d (on_hand %s, reserved %s); set its stock to 0 before changing quantity_scale to %d",
				v.SKU, old.QuantityScale, cart.FormatScaled(st.OnHand, old.Scale()), cart.FormatScaled(st.Reserved, old.Scale()), v.QuantityScale)
			return &cart.Error{Code: cart.Conflict, Reason: "quantity_scale_in_use", Message: msg, Fields: []cart.FieldError{{Field: field, Message: msg}}}
		}
	}
	return nil
}

func validateProduct(p *cart.Product) error {
	var errs []cart.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, cart.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(p.ID) {
		bad("id", "id must be 1 to 64 letters, digits, '_' or '-'")
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 500 {
		bad("name", "name is required (at most 500 characters)")
	}
	for _, t := range []struct{ field, text string }{{"name", p.Name}, {"brand", p.Brand}, {"category", p.Category},
		{"description", p.Description}, {"image_url", p.ImageURL}, {"tax_code", p.TaxCode}} {
		if why := textProblem(t.text); why != "" {
			bad(t.field, "%s must be UTF-8 text without NUL characters: %s", t.field, why)
		}
	}
	if len(p.Variants) == 0 || len(p.Variants) > MaxVariants {
		bad("variants", "a product needs 1 to %d variants", MaxVariants)
	}
	if p.QuantityRule != nil {
		// Its values count units of the scale of the variants it applies to, which share one.
		scale := -1
		for i := range p.Variants {
			v := &p.Variants[i]
			switch {
			case v.QuantityRule != nil:
			case scale < 0:
				scale = v.Scale()
			case scale != v.Scale():
				bad(fmt.Sprintf("variants[%d].quantity_scale", i), "the product's quantity_rule applies to variants of scale %d and %d: give the variants of another scale a quantity_rule of their own", scale, v.Scale())
			}
		}
		errs = append(errs, cart.ValidateRuleAt(*p.QuantityRule, "quantity_rule", max(scale, 0))...)
	}
	ids, skus := map[string]bool{}, map[string]bool{}
	for i := range p.Variants {
		v := &p.Variants[i]
		f := fmt.Sprintf("variants[%d].", i)
		if !idPattern.MatchString(v.ID) {
			bad(f+"id", "id must be 1 to 64 letters, digits, '_' or '-'")
		} else if ids[v.ID] {
			bad(f+"id", "id %q appears twice", v.ID)
		}
		ids[v.ID] = true
		if err := validSKU("sku", v.SKU); err != nil {
			bad(f+"sku", "sku must be 1 to %d bytes of UTF-8 text without spaces or control characters", maxSKULen)
		} else if skus[v.SKU] {
			bad(f+"sku", "sku %q appears twice", v.SKU)
		}
		skus[v.SKU] = true
		if len(v.Prices) == 0 {
			bad(f+"price", "at least one price is required")
		}
		checkPrices := func(field string, prices map[string]int64) {
			for cur, amt := range prices {
				if !money.Valid(cur) {
					bad(field, "%q is not an ISO 4217 currency code", cur)
				} else if amt < 0 {
					bad(field, "%s price must not be negative", cur)
				} else if amt > pricing.MaxPrice {
					bad(field, "%s price must be at most %d (10^12 minor units)", cur, int64(pricing.MaxPrice))
				}
			}
		}
		checkPrices(f+"price", v.Prices)
		checkPrices(f+"retail_price", v.RetailPrices)
		slices.SortFunc(v.Tiers, func(a, b cart.Tier) int { return cmp.Compare(a.MinQuantity, b.MinQuantity) })
		for j, t := range v.Tiers {
			tf := fmt.Sprintf("%stiers[%d]", f, j)
			if t.MinQuantity < 2 {
				bad(tf+".min_quantity", "min_quantity must be at least 2")
			}
			if j > 0 && t.MinQuantity == v.Tiers[j-1].MinQuantity {
				bad(tf+".min_quantity", "two tiers start at %d", t.MinQuantity)
			}
			if len(t.Prices) == 0 {
				bad(tf+".price", "a tier needs at least one price")
			}
			checkPrices(tf+".price", t.Prices)
		}
		if v.QuantityScale > cart.MaxScale {
			bad(f+"quantity_scale", "quantity_scale must be 0 to %d", cart.MaxScale)
			v.QuantityScale = 0 // what follows checks figures against a scale that exists
		}
		if why := cart.ValidUnit(v.Unit); why != "" {
			bad(f+"unit", "%s", why)
		}
		if v.QuantityRule != nil {
			errs = append(errs, cart.ValidateRuleAt(*v.QuantityRule, f+"quantity_rule", v.Scale())...)
		}
		// A tier no allowed quantity reaches is a price the shop would never charge: refused,
		// so that the catalog says what it does. Checked against the rule in effect, only
		// when that rule is valid itself.
		rule, rulePrefix := cart.RuleOf(v, p), f+"quantity_rule"
		if v.QuantityRule == nil {
			rulePrefix = "quantity_rule"
		}
		if len(cart.ValidateRuleAt(rule, rulePrefix, v.Scale())) == 0 {
			for _, j := range rule.UnreachableTiers(v.Tiers) {
				bad(fmt.Sprintf("%stiers[%d].min_quantity", f, j), "no quantity allowed by the quantity rule (%s) gets the tier from %s",
					rule.DescribeAt(0, v.Scale()), cart.FormatScaled(v.Tiers[j].MinQuantity, v.Scale()))
			}
		}
		if v.TaxRate < 0 || v.TaxRate > 10000 {
			bad(f+"tax_rate", "tax_rate is in basis points, 0 to 10000")
		}
		if v.WeightGrams < 0 {
			bad(f+"weight_grams", "weight_grams must not be negative")
		}
		if v.SaleID != "" && !idPattern.MatchString(v.SaleID) {
			bad(f+"sale_id", "sale_id must be 1 to 64 letters, digits, '_' or '-'")
		}
		if why := textProblem(v.Name); why != "" {
			bad(f+"name", "name must be UTF-8 text without NUL characters: %s", why)
		}
		for j, o := range v.Options {
			if o.Name == "" || len(o.Name) > 100 || len(o.Value) > 200 {
				bad(fmt.Sprintf("%soptions[%d]", f, j), "an option needs a name (at most 100 characters) and a value (at most 200)")
			}
			if why := textProblem(o.Name + o.Value); why != "" {
				bad(fmt.Sprintf("%soptions[%d]", f, j), "an option's name and value must be UTF-8 text without NUL characters")
			}
		}
		if v.Name == "" {
			vals := make([]string, 0, len(v.Options))
			for _, o := range v.Options {
				vals = append(vals, o.Value)
			}
			v.Name = strings.Join(vals, " - ")
		}
	}
	if len(errs) > 0 {
		return &cart.Error{Code: cart.Invalid, Reason: "invalid_product", Message: errs[0].Field + ": " + errs[0].Message, Fields: errs}
	}
	return nil
}

// StockChange is a write to a SKU's stock: an absolute OnHand, or a relative OnHandDelta.
// Both are decimals of the scale of the SKU's variant (docs/measured-quantities.md).
type StockChange struct {
	OnHand      *cart.Decimal
	OnHandDelta *cart.Decimal
}

// PutInventory sets a SKU's on-hand stock (scope catalog:write). Lowering it below what carts
// hold is accepted (the shelf count is a fact, not a request): the newest reservations are
// released first until reserved <= on_hand, and those lines show inventory_status
// "insufficient". Each cart touched gets a new version.
//
// Stock writes never race checkouts or reservations. A relative change (OnHandDelta) is
// applied to the row as it is inside the transaction that locks it, so it needs no
// precondition: concurrent deltas all count. An absolute change (OnHand) is a value the caller
// computed from a stock it read; with opt.IfMatch set to the Version it read, the write is
// refused (Precondition, carrying the current stock) if anything wrote the row since: a
// reservation, a release, a checkout or another stock write, since each bumps Version. The
// caller then reads again and recomputes, instead of silently undoing that change.
func (e *Engine) PutInventory(ctx context.Context, p auth.Principal, sku string, ch StockChange, opt Options) (cart.Stock, error) {
	if err := require(p, auth.CatalogWrite); err != nil {
		return cart.Stock{}, err
	}
	if err := validSKU("sku", sku); err != nil {
		return cart.Stock{}, err
	}
	if (ch.OnHand == nil) == (ch.OnHandDelta == nil) {
		return cart.Stock{}, cart.InvalidField("invalid_stock_change", "on_hand", "give exactly one of on_hand or on_hand_delta")
	}
	var st cart.Stock
	err := e.write(ctx, opt, func() any { return st }, func(tx store.Tx) error {
		var err error
		if st, err = tx.Stock(ctx, sku); err != nil {
			return err
		}
		st.SKU = sku
		if st.Scale, err = skuScale(ctx, tx, sku); err != nil {
			return err
		}
		if opt.IfMatch != nil && *opt.IfMatch != st.Version {
			current := st
			return &cart.Error{Code: cart.Precondition, Reason: "version_mismatch", Stock: &current,
				Message: fmt.Sprintf("the stock of %s is at version %d, not %d", sku, st.Version, *opt.IfMatch)}
		}
		onHand := st.OnHand
		if ch.OnHand != nil {
			if onHand, err = ch.OnHand.Scaled(int(st.Scale), "on_hand"); err != nil {
				return err
			}
		} else if delta, err := ch.OnHandDelta.Scaled(int(st.Scale), "on_hand_delta"); err != nil {
			return err
		} else if onHand, err = money.Add(onHand, delta); err != nil {
			return cart.InvalidField("quantity_out_of_range", "on_hand_delta", "on_hand_delta is out of range")
		}
		if onHand < 0 || onHand > maxStock {
			return cart.InvalidField("invalid_on_hand", "on_hand", "on_hand must end between 0 and %d", int64(maxStock))
		}
		st, err = e.setOnHand(ctx, tx, st, onHand)
		return err
	})
	return st, err
}

// setOnHand writes a new on-hand count, within bounds, to the stock st read (and locked) in
// tx, bumping its version; reservations above the new count are released, newest first. The
// inventory PUT and the catalog import both set stock through it, so they treat what carts
// hold alike.
func (e *Engine) setOnHand(ctx context.Context, tx store.Tx, st cart.Stock, onHand int64) (cart.Stock, error) {
	st.OnHand, st.UpdatedAt = onHand, tx.Now()
	st.Version++
	if st.Reserved > st.OnHand {
		var err error
		if st.Reserved, err = e.releaseNewest(ctx, tx, st.SKU, st.Reserved-st.OnHand); err != nil {
			return st, err
		}
	}
	put := st
	put.Scale = 0 // not stored
	return st, tx.PutStock(ctx, put)
}

// maxStock bounds on_hand so sums of stock can never overflow.
const maxStock = 1 << 40

// releaseNewest takes excess units back from the reservations of a SKU and returns the SKU's
// reserved count afterwards: lapsed reservations the sweeper has not released yet go first,
// whole (their lines stay expired), then units of the newest.
func (e *Engine) releaseNewest(ctx context.Context, tx store.Tx, sku string, excess int64) (int64, error) {
	holders, err := tx.StockHolders(ctx, sku)
	if err != nil {
		return 0, err
	}
	now := tx.Now()
	slices.SortStableFunc(holders, func(a, b cart.Item) int {
		switch ea, eb := a.Expired(now), b.Expired(now); {
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		}
		return 0
	})
	var reserved int64
	for _, it := range holders {
		take := min(max(excess, 0), it.ReservedQuantity)
		if it.Expired(now) {
			take = it.ReservedQuantity // due anyway: released whole, as the sweeper would
		}
		if take > 0 {
			reason := ReleaseStockLowered
			if it.Expired(now) {
				reason = ReleaseExpired
			}
			noteRelease(tx, reason, take)
			releaseEvent(tx, it.CartNum, it.Num, sku, take, reason)
			excess -= take
			it.ReservedQuantity -= take
			if it.ReservedQuantity == 0 && !it.Expired(now) {
				it.ReservedUntil = time.Time{} // it holds nothing, so nothing lapses: it is short
			}
			it.UpdatedAt = now
			if err := tx.UpdateItem(ctx, it); err != nil {
				return 0, err
			}
			c, err := tx.Cart(ctx, it.CartNum)
			if err != nil {
				return 0, err
			}
			c.Version++
			c.UpdatedAt = now
			if err := tx.UpdateCart(ctx, c); err != nil {
				return 0, err
			}
		}
		reserved += it.ReservedQuantity
	}
	return reserved, nil
}

// Inventory returns a SKU's stock (scope catalog:read).
func (e *Engine) Inventory(ctx context.Context, p auth.Principal, sku string) (cart.Stock, error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return cart.Stock{}, err
	}
	if err := validSKU("sku", sku); err != nil {
		return cart.Stock{}, err
	}
	var st cart.Stock
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		if st, err = tx.Stock(ctx, sku); err != nil {
			return err
		}
		st.SKU = sku
		st.Scale, err = skuScale(ctx, tx, sku)
		return err
	})
	return st, err
}

// Settings returns the shop's settings (scope catalog:read).
func (e *Engine) Settings(ctx context.Context, p auth.Principal) (cart.Settings, error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return cart.Settings{}, err
	}
	var s cart.Settings
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		s, err = tx.Settings(ctx)
		return err
	})
	return s, err
}

// SettingsUpdate changes some settings; nil fields stay as they are.
type SettingsUpdate struct {
	DefaultCurrency    *string
	PricesIncludeTax   *bool
	MaxQuantityPerItem *int64
	MaxLinesPerCart    *int64
	Shipping           map[string]cart.ShippingRate
	// MaxGuestQuantityPerItem: 0 lifts the guest cap (see cart.Settings).
	MaxGuestQuantityPerItem *int64
}

// PutSettings changes the shop's settings (scope admin).
func (e *Engine) PutSettings(ctx context.Context, p auth.Principal, u SettingsUpdate, opt Options) (cart.Settings, error) {
	if err := require(p, auth.Admin); err != nil {
		return cart.Settings{}, err
	}
	var s cart.Settings
	err := e.write(ctx, opt, func() any { return s }, func(tx store.Tx) error {
		var err error
		if s, err = tx.Settings(ctx); err != nil {
			return err
		}
		if u.DefaultCurrency != nil {
			if !money.Valid(*u.DefaultCurrency) {
				return cart.InvalidField("unknown_currency", "default_currency", "%q is not an ISO 4217 currency code", *u.DefaultCurrency)
			}
			s.DefaultCurrency = *u.DefaultCurrency
		}
		if u.PricesIncludeTax != nil {
			s.PricesIncludeTax = *u.PricesIncludeTax
		}
		if u.MaxQuantityPerItem != nil {
			if *u.MaxQuantityPerItem < 1 || *u.MaxQuantityPerItem > 1_000_000 {
				return cart.InvalidField("invalid_limit", "max_quantity_per_item", "max_quantity_per_item must be 1 to 1000000")
			}
			s.MaxQuantityPerItem = *u.MaxQuantityPerItem
		}
		if u.MaxLinesPerCart != nil {
			if *u.MaxLinesPerCart < 1 || *u.MaxLinesPerCart > 10_000 {
				return cart.InvalidField("invalid_limit", "max_lines_per_cart", "max_lines_per_cart must be 1 to 10000")
			}
			s.MaxLinesPerCart = *u.MaxLinesPerCart
		}
		if err := setGuestLimit(&s, u.MaxGuestQuantityPerItem); err != nil {
			return err
		}
		if u.Shipping != nil {
			for cur, r := range u.Shipping {
				if !money.Valid(cur) || r.Flat < 0 || r.FreeOver < 0 {
					return cart.InvalidField("invalid_shipping", "shipping."+cur, "shipping needs an ISO 4217 currency and non-negative amounts")
				}
				if r.Flat > pricing.MaxPrice || r.FreeOver > pricing.MaxPrice {
					return cart.InvalidField("amount_out_of_range", "shipping."+cur, "shipping amounts are at most %d", int64(pricing.MaxPrice))
				}
			}
			s.Shipping = u.Shipping
		}
		s.UpdatedAt = tx.Now()
		return tx.PutSettings(ctx, s)
	})
	return s, err
}
