// Package cart holds cartd's domain: carts, items, the catalog they point at, stock, and the
// quantity rules that decide what a quantity change does. It does no I/O; time comes in as an
// argument.
package cart

import (
	"encoding/json"
	"time"
)

// Status is a cart's lifecycle state.
type Status string

// Cart statuses. Only an active cart accepts changes.
const (
	StatusActive    Status = "active"
	StatusCompleted Status = "completed"
	// StatusMerged is a cart whose lines were moved into another cart (Cart.MergedInto): it
	// holds no lines and refuses changes, but stays readable so a client holding its id can
	// follow it to the cart it went into.
	StatusMerged Status = "merged"
)

// Cart is a shopper's cart. Num is cartd's stable number (rendered "cart_<num>" natively).
// Version increases by one with every stored change; it is the ETag.
type Cart struct {
	Num          int64
	CustomerID   string // opaque, chosen by the shop; "" for a guest cart
	Currency     string // ISO 4217
	Status       Status
	Version      int64
	Metadata     json.RawMessage // a JSON object, or nil
	MergedInto   int64           // the cart this one was merged into (status merged), else 0
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastActivity time.Time
}

// Item is one line of a cart: a variant and how many of it.
type Item struct {
	Num        int64
	CartNum    int64
	VariantNum int64
	Quantity   int64
	// ReservedQuantity is what the line holds of its SKU's stock: equal to Quantity unless the
	// line is backordered (Backorder) or lost stock to an inventory decrease, or reservations
	// are off (then 0).
	ReservedQuantity int64
	// Backorder records that the shortfall Quantity-ReservedQuantity was accepted under the
	// ignore policy, as opposed to stock having been taken away from the line.
	Backorder bool
	// AddedUnitPrice is the unit price when the line was added; UnitPrice the last one stored.
	AddedUnitPrice int64
	UnitPrice      int64
	Notes          string
	Metadata       json.RawMessage
	// ReservedUntil is when the line's reservation lapses; zero when it holds none.
	ReservedUntil time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Expired reports whether the item's reservation lapsed by now: it had one (ReservedUntil is
// set) and its time is up. An expired item stays in its cart, out of the totals, whether or
// not its stock was released yet.
func (it Item) Expired(now time.Time) bool {
	return !it.ReservedUntil.IsZero() && !now.Before(it.ReservedUntil)
}

// Line is an item together with what it points at, as one read of the store returns it.
//
// Variant and Product point at the catalog's rows as the store read them, shared by every line
// and view made from them (a cart of a thousand lines is re-priced on every change; copying
// its catalog data each time was most of the cost): they are read-only, never changed through
// a line.
type Line struct {
	Item    Item
	Variant *Variant
	Product *Product // without Variants
	Stock   Stock
	// Sale is the sale the variant's SaleID names; zero (Num 0) when it names none, or a sale
	// not stored (yet), which restricts nothing.
	Sale Sale
}

// Sale is a flash sale (JackThreads): its variants (those whose SaleID names it) can be added
// to carts from StartsAt on, and until EndsAt, when their lines become unavailable. ID is
// chosen by the shop; Num is cartd's number for it.
type Sale struct {
	Num       int64
	ID        string
	Name      string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Sale states at an instant.
const (
	SaleScheduled = "scheduled"
	SaleRunning   = "running"
	SaleEnded     = "ended"
)

// State says where the instant now falls in the sale's window, which is closed at its start
// and open at its end: StartsAt <= now < EndsAt is running.
func (s Sale) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SaleScheduled
	case now.Before(s.EndsAt):
		return SaleRunning
	}
	return SaleEnded
}

// Product is a catalog product. ID is chosen by the shop; Num is cartd's number for it.
type Product struct {
	Num         int64
	ID          string
	Name        string
	Brand       string
	Category    string
	Description string
	ImageURL    string
	TaxCode     string // HSN or other tax classification
	// QuantityRule applies to the variants without a rule of their own; nil: none.
	QuantityRule *QuantityRule
	Deleted      bool
	Variants     []Variant
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Option is one option value of a variant, such as color=Blue. Order is the shop's.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Tier is a quantity price break: from MinQuantity units on, the unit price is Prices[currency].
type Tier struct {
	MinQuantity int64            `json:"min_quantity"`
	Prices      map[string]int64 `json:"price"`
}

// Variant is a purchasable SKU of a product. Prices are per currency in minor units.
type Variant struct {
	Num          int64
	ID           string
	ProductNum   int64
	ProductID    string
	SKU          string
	Name         string // shown as variant_name; defaults to the option values joined
	Options      []Option
	Prices       map[string]int64
	RetailPrices map[string]int64 // MRP / list price, optional
	Tiers        []Tier           // ascending MinQuantity
	TaxRate      int64            // basis points: 500 = 5%
	WeightGrams  int64
	Active       bool
	Returnable   bool
	SaleID       string
	// QuantityRule is the variant's own rule; nil: its product's applies (RuleOf).
	QuantityRule *QuantityRule
	// QuantityScale is how many decimal digits its quantities have (0 to MaxScale): every
	// quantity of the variant (lines, stock, tiers, its rule) is an integer of 10^-scale of
	// Unit (docs/measured-quantities.md). 0, the default, is whole units.
	QuantityScale uint8
	// Unit labels what a quantity counts (kg, m, l); "" for pieces.
	Unit    string
	Deleted bool
}

// Stock is the inventory of one SKU. Available = OnHand - Reserved, never negative.
//
// Version grows by one with every write of the row, reservation changes included (0 for a
// SKU never stocked). It is the stock's ETag: an absolute write of OnHand made with the
// version it was computed from fails if anything (a reservation, a checkout, another write)
// changed the row since, so stock writes never silently undo a concurrent change.
type Stock struct {
	SKU         string
	OnHand      int64
	Reserved    int64
	Backordered int64
	Version     int64
	UpdatedAt   time.Time
	// Scale is the quantity scale of the SKU's variant, which the figures count units of
	// (docs/measured-quantities.md). It is not stored: the engine sets it on the stock it
	// answers with, for front doors to render.
	Scale uint8
}

// Available is what a new reservation can take.
func (s Stock) Available() int64 {
	if a := s.OnHand - s.Reserved; a > 0 {
		return a
	}
	return 0
}

// ShippingRate is the shipping charge of one currency: Flat, or nothing once the cart's
// subtotal after discounts reaches FreeOver (when FreeOver > 0).
type ShippingRate struct {
	Flat     int64 `json:"flat"`
	FreeOver int64 `json:"free_over,omitempty"`
}

// Settings are the shop-wide settings.
type Settings struct {
	DefaultCurrency    string
	PricesIncludeTax   bool
	MaxQuantityPerItem int64
	MaxLinesPerCart    int64
	Shipping           map[string]ShippingRate
	UpdatedAt          time.Time
	// MaxGuestQuantityPerItem caps the units of one item in a guest cart (one without a
	// customer), below MaxQuantityPerItem, so that anonymous sessions cannot lock up scarce
	// stock; 0 means no cap of its own.
	MaxGuestQuantityPerItem int64
}

// DefaultSettings are the settings of a new store.
func DefaultSettings() Settings {
	return Settings{DefaultCurrency: "USD", MaxQuantityPerItem: 999, MaxLinesPerCart: 1000}
}
