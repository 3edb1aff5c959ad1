package cart

import "time"

// PromotionType is what a promotion takes off.
type PromotionType string

// The five promotion types (JackThreads' coupon types).
const (
	// Cash takes an amount off the eligible lines (Promotion.Amounts, per currency).
	Cash PromotionType = "cash"
	// Percent takes a rate off the eligible lines (Promotion.Rate, basis points).
	Percent PromotionType = "percent"
	// FreeShip waives the cart's shipping.
	FreeShip PromotionType = "freeship"
	// FixedPrice sells every eligible unit at a fixed unit price (Promotion.Amounts).
	FixedPrice PromotionType = "fixedprice"
	// LowestCost makes the cheapest eligible unit free.
	LowestCost PromotionType = "lowestcost"
)

// PromotionTypes lists the types in the order they are applied (see package pricing).
var PromotionTypes = []PromotionType{FixedPrice, LowestCost, Percent, Cash, FreeShip}

// Method says how a promotion reaches a cart.
type Method string

// Promotion methods.
const (
	// Manual promotions apply to a cart once a shopper enters their code.
	Manual Method = "manual"
	// Auto promotions apply to every cart whose contents meet their conditions.
	Auto Method = "auto"
)

// Promotion is a discount the shop offers. Code is the id the shop chose in the PUT path and,
// for a manual promotion, what the shopper types; codes are case-insensitive and kept in upper
// case. Num is cartd's number for it.
//
// Conditions: a promotion applies to a cart only while it is Active, not Deleted, within its
// validity window (StartsAt <= now < EndsAt, a zero time leaving that side open), offered in
// the cart's currency (Amounts and MinSubtotal, when given, name it), the cart's subtotal
// before any discount reaches MinSubtotal, at least one line is eligible, and the eligible
// lines hold at least MinQuantity units. A line is eligible when it matches every list that
// is not empty (its SKU in SKUs, its product in ProductIDs, its brand in Brands, its variant's
// sale in SaleIDs); a promotion without lists takes every line.
type Promotion struct {
	Num         int64
	Code        string
	Name        string
	Description string
	Type        PromotionType
	Method      Method
	// Rate is the rate of a percent promotion in basis points (1000 = 10%).
	Rate int64
	// Amounts are per currency, in minor units: the amount off of a cash promotion, the unit
	// price of a fixedprice one.
	Amounts     map[string]int64
	MinSubtotal map[string]int64
	MinQuantity int64
	SKUs        []string
	ProductIDs  []string
	Brands      []string
	SaleIDs     []string
	StartsAt    time.Time
	EndsAt      time.Time
	Active      bool
	Deleted     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Coupon is a code applied to a cart, with the promotion the code names as it is now.
type Coupon struct {
	CartNum   int64
	Code      string
	AddedAt   time.Time
	Promotion Promotion
}

// Reasons a promotion does not apply to a cart (PromotionView.Reason).
const (
	NotActive       = "inactive"         // switched off, or withdrawn
	NotStarted      = "not_started"      // before StartsAt
	Ended           = "expired"          // at or after EndsAt
	NotInCurrency   = "currency"         // no amount or minimum in the cart's currency
	BelowSubtotal   = "minimum_subtotal" // the subtotal is under MinSubtotal
	BelowQuantity   = "minimum_quantity" // the eligible lines hold fewer than MinQuantity units
	NoEligibleItems = "no_eligible_items"
)

// PromotionView is a promotion as a priced cart shows it: a coupon applied to the cart
// (Coupon true), or an automatic promotion that applies. Applied says whether its conditions
// hold; Amount is what it took off (for freeship, the shipping it waived); when it does not
// apply, Reason is one of the reasons above and Text says why in words.
type PromotionView struct {
	Promotion Promotion
	Coupon    bool
	Applied   bool
	Amount    int64
	Reason    string
	Text      string
}
