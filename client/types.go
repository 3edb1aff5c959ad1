package client

import (
	"encoding/json"
	"time"
)

// The documents of the native API (api/openapi.json), as Go types. Amounts are integers in the
// currency's minor units; fields cartd adds in later versions are ignored when decoding.

// Cart is a cart with its items, totals and the messages of the call that returned it.
type Cart struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	CustomerID       *string         `json:"customer_id"`
	Status           string          `json:"status"` // active, completed or merged
	MergedInto       *string         `json:"merged_into"`
	Currency         string          `json:"currency"`
	Version          int64           `json:"version"`
	Items            []Item          `json:"items"`
	UnavailableItems []Item          `json:"unavailable_items"`
	ItemCount        int64           `json:"item_count"`
	UniqueItemCount  int64           `json:"unique_item_count"`
	Expired          int64           `json:"expired"`
	Subtotal         int64           `json:"subtotal"`
	Discount         int64           `json:"discount"`
	Tax              int64           `json:"tax"`
	Shipping         int64           `json:"shipping"`
	Total            int64           `json:"total"`
	RetailTotal      int64           `json:"retail_total"`
	Saved            int64           `json:"saved"`
	PricesIncludeTax bool            `json:"prices_include_tax"`
	Coupons          []Coupon        `json:"coupons"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	LastActivity     time.Time       `json:"last_activity"`
	Messages         []Message       `json:"messages"`
	// RemovedItemIDs is set only in a minimal answer (PreferMinimal): the lines the call
	// removed. A minimal answer's Items are only the lines the call created or changed.
	RemovedItemIDs []string `json:"removed_item_ids,omitempty"`
}

// Item is one line of a cart.
type Item struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	ProductID         string          `json:"product_id"`
	VariantID         string          `json:"variant_id"`
	SKU               string          `json:"sku"`
	ProductName       string          `json:"product_name"`
	VariantName       string          `json:"variant_name,omitempty"`
	ImageURL          string          `json:"image_url,omitempty"`
	Quantity          int64           `json:"quantity"`
	ReservedQuantity  int64           `json:"reserved_quantity"`
	UnitPrice         int64           `json:"unit_price"`
	PriceWhenAdded    int64           `json:"price_when_added"`
	RetailPrice       *int64          `json:"retail_price"`
	Subtotal          int64           `json:"subtotal"`
	Discount          int64           `json:"discount"`
	Tax               int64           `json:"tax"`
	Total             int64           `json:"total"`
	Notes             string          `json:"notes,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	InventoryStatus   string          `json:"inventory_status"`
	AvailableQuantity int64           `json:"available_quantity"`
	ReservedUntil     *time.Time      `json:"reserved_until"`
	Expired           bool            `json:"expired"`
	UnavailableReason *string         `json:"unavailable_reason"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// Message reports what a call did: a quantity clamped, an item removed, a price changed.
type Message struct {
	Type      string `json:"type"` // info or warning
	Code      string `json:"code"`
	Message   string `json:"message"`
	ItemID    string `json:"item_id,omitempty"`
	Requested *int64 `json:"requested,omitempty"`
	Applied   *int64 `json:"applied,omitempty"`
	Available *int64 `json:"available,omitempty"`
	OldPrice  *int64 `json:"old_price,omitempty"`
	NewPrice  *int64 `json:"new_price,omitempty"`
}

// Coupon is a promotion on a cart: applied, or kept with the reason it does not apply.
type Coupon struct {
	Code        string  `json:"code"`
	Number      int64   `json:"number"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Method      string  `json:"method"`
	Amount      int64   `json:"amount"`
	Description string  `json:"description"`
	Applied     bool    `json:"applied"`
	Reason      *string `json:"reason"`
	Message     *string `json:"message"`
}

// NewCart is the body of CreateCart; every field may be left empty.
type NewCart struct {
	CustomerID string          `json:"customer_id,omitempty"`
	Currency   string          `json:"currency,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// NewItem is the body of AddItem: a variant by SKU or id, and the units to add (0 means 1).
type NewItem struct {
	SKU         string          `json:"sku,omitempty"`
	VariantID   string          `json:"variant_id,omitempty"`
	Quantity    int64           `json:"quantity,omitempty"`
	Notes       string          `json:"notes,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	StockPolicy string          `json:"stock_policy,omitempty"` // reject (default), clamp or ignore
}

// ItemChange is the body of SetItem (PUT: Quantity) and UpdateItem (PATCH: Quantity or
// QuantityDelta). A quantity of 0 or less removes the line.
type ItemChange struct {
	Quantity      *int64          `json:"quantity,omitempty"`
	QuantityDelta *int64          `json:"quantity_delta,omitempty"`
	Notes         *string         `json:"notes,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	StockPolicy   string          `json:"stock_policy,omitempty"`
}

// Change is one change of UpdateItems: a line by ItemID, or a variant by SKU or VariantID
// (upserted), set to Quantity or moved by QuantityDelta.
type Change struct {
	ItemID        string          `json:"item_id,omitempty"`
	SKU           string          `json:"sku,omitempty"`
	VariantID     string          `json:"variant_id,omitempty"`
	Quantity      *int64          `json:"quantity,omitempty"`
	QuantityDelta *int64          `json:"quantity_delta,omitempty"`
	Notes         *string         `json:"notes,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	StockPolicy   string          `json:"stock_policy,omitempty"`
}

// Product is a product with its variants, as PutProduct sends it and Product reads it.
type Product struct {
	ID          string    `json:"id,omitempty"`
	Object      string    `json:"object,omitempty"`
	Number      int64     `json:"number,omitempty"`
	Name        string    `json:"name"`
	Brand       string    `json:"brand,omitempty"`
	Category    string    `json:"category,omitempty"`
	Description string    `json:"description,omitempty"`
	ImageURL    string    `json:"image_url,omitempty"`
	TaxCode     string    `json:"tax_code,omitempty"`
	Variants    []Variant `json:"variants"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// Variant is a purchasable variant: prices per currency in minor units.
type Variant struct {
	ID          string           `json:"id"`
	Number      int64            `json:"number,omitempty"`
	SKU         string           `json:"sku"`
	Name        string           `json:"name,omitempty"`
	Options     []VariantOption  `json:"options,omitempty"`
	Price       map[string]int64 `json:"price"`
	RetailPrice map[string]int64 `json:"retail_price,omitempty"`
	Tiers       []Tier           `json:"tiers,omitempty"`
	TaxRate     int64            `json:"tax_rate,omitempty"` // basis points: 500 is 5%
	WeightGrams int64            `json:"weight_grams,omitempty"`
	Active      *bool            `json:"active,omitempty"` // nil: cartd's default (active)
	Returnable  *bool            `json:"returnable,omitempty"`
	SaleID      *string          `json:"sale_id,omitempty"`
}

// VariantOption is one option value of a variant (color: Red).
type VariantOption struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Tier is a unit price from a quantity on.
type Tier struct {
	MinQuantity int64            `json:"min_quantity"`
	Price       map[string]int64 `json:"price"`
}

// Inventory is a SKU's stock.
type Inventory struct {
	Object      string     `json:"object"`
	SKU         string     `json:"sku"`
	OnHand      int64      `json:"on_hand"`
	Reserved    int64      `json:"reserved"`
	Available   int64      `json:"available"`
	Backordered int64      `json:"backordered"`
	Version     int64      `json:"version"`
	UpdatedAt   *time.Time `json:"updated_at"`
}

// Settings are the shop's settings.
type Settings struct {
	Object                  string                  `json:"object"`
	DefaultCurrency         string                  `json:"default_currency"`
	PricesIncludeTax        bool                    `json:"prices_include_tax"`
	MaxQuantityPerItem      int64                   `json:"max_quantity_per_item"`
	MaxLinesPerCart         int64                   `json:"max_lines_per_cart"`
	MaxGuestQuantityPerItem int64                   `json:"max_guest_quantity_per_item"`
	Shipping                map[string]ShippingRate `json:"shipping"`
	UpdatedAt               *time.Time              `json:"updated_at"`
}

// ShippingRate is a flat shipping rate, free from FreeOver on when set.
type ShippingRate struct {
	Flat     int64  `json:"flat"`
	FreeOver *int64 `json:"free_over,omitempty"`
}

// CustomerToken is a customer token (ct_...): Token is shown once, when it is issued.
type CustomerToken struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	CustomerID string    `json:"customer_id"`
	Token      string    `json:"token"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// FieldError names one request field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
