package cart

import "time"

// MessageType says whether a message reports what was asked (info) or a departure from it.
type MessageType string

// Message types.
const (
	Info    MessageType = "info"
	Warning MessageType = "warning"
)

// Message is one structured report of what a change did. Requested, Applied and Available are
// set for every quantity that was clamped, removed or backordered.
type Message struct {
	Type      MessageType
	Code      string
	Text      string
	ItemNum   int64 // 0 when the message is about the cart
	Requested *int64
	Applied   *int64
	Available *int64
}

// Inventory statuses of a line.
const (
	InStock      = "in_stock"
	Backordered  = "backordered"
	Insufficient = "insufficient" // holds less than its quantity, not by the shopper's choice
	OutOfStock   = "out_of_stock"
)

// LineView is a priced line.
type LineView struct {
	Line
	UnitPrice       int64 // at the tier in effect for the quantity
	RetailPrice     int64 // unit MRP, 0 when the variant has none in the cart's currency
	Subtotal        int64 // UnitPrice * Quantity
	Discount        int64
	Tax             int64
	Total           int64 // Subtotal - Discount (+ Tax when prices exclude tax)
	Available       int64 // what the line could hold: stock available plus its own reservation
	InventoryStatus string
	Expired         bool
}

// View is a cart as a front door shows it: its lines priced and its totals computed from
// them. Every figure is a pure function of the lines, the settings and the instant.
type View struct {
	Cart            Cart
	Lines           []LineView
	Unavailable     []LineView
	ItemCount       int64 // units
	UniqueItemCount int64 // lines
	Expired         int64 // units
	Subtotal        int64
	Discount        int64
	Tax             int64
	Shipping        int64
	Total           int64
	RetailTotal     int64
	Saved           int64
	Messages        []Message
	At              time.Time
}
