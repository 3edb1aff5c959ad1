package cart

import "time"

// MessageType says whether a message reports what was asked (info) or a departure from it.
type MessageType string

// Message types.
const (
	Info    MessageType = "info"
	Warning MessageType = "warning"
)

// Message is one structured report of what a change did, or of a line's state that the shopper
// should know of. Requested, Applied and Available are set for every quantity that was
// clamped, removed, backordered or left short; OldPrice and NewPrice for a unit price that
// changed in the catalog.
type Message struct {
	Type      MessageType
	Code      string
	Text      string
	ItemNum   int64 // 0 when the message is about the cart
	Requested *int64
	Applied   *int64
	Available *int64
	OldPrice  *int64
	NewPrice  *int64
	// Scale is the quantity scale of the line the message is about: Requested, Applied and
	// Available count units of 10^-Scale (docs/measured-quantities.md).
	Scale uint8
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
	// Expired is set on a line whose reservation lapsed (View.ExpiredLines).
	Expired bool
	// UnavailableReason says why a line of View.Unavailable cannot be bought (one of the
	// Unavailable... reasons); "" for the others.
	UnavailableReason string
}

// Why a line cannot be bought.
const (
	UnavailableInactive       = "inactive"         // the variant was deactivated
	UnavailableDeleted        = "deleted"          // the variant or its product was deleted
	UnavailableNoPrice        = "no_price"         // no price in the cart's currency
	UnavailableSaleNotStarted = "sale_not_started" // its sale has not started
	UnavailableSaleEnded      = "sale_ended"       // its sale ended
)

// View is a cart as a front door shows it: its lines priced and its totals computed from
// them. Every figure is a pure function of the lines, the settings and the instant.
type View struct {
	Cart  Cart
	Lines []LineView // the lines that count in the totals
	// ExpiredLines are the lines whose reservation lapsed: still in the cart, shown among its
	// items, but out of the totals until touched again. Lines, ExpiredLines and Unavailable
	// each keep the cart's order of lines.
	ExpiredLines    []LineView
	Unavailable     []LineView
	ItemCount       int64 // units of Lines
	UniqueItemCount int64 // lines of Lines
	Expired         int64 // units of ExpiredLines
	Subtotal        int64
	Discount        int64
	Tax             int64
	Shipping        int64
	Total           int64
	RetailTotal     int64
	Saved           int64
	// Promotions are the cart's coupons, applied or not, and the automatic promotions that
	// apply, in that order.
	Promotions []PromotionView
	// PricesIncludeTax says whether the amounts include Tax (the shop's setting): then Total
	// does not add it.
	PricesIncludeTax bool
	Messages         []Message
	// ChangedItems and RemovedItems are set by a mutating call: the numbers of the lines it
	// created or changed (in the order first touched; a line whose discount or tax moved
	// because a promotion came or went counts as changed), and of the lines it removed. A line
	// created and removed by the same call is in neither.
	ChangedItems []int64
	RemovedItems []int64
	At           time.Time
	// Partial says Lines, ExpiredLines and Unavailable hold only the lines a call changed
	// and those its messages are about, not the whole cart: the answer to a call that asked
	// for no more (engine.Options.Minimal). The totals are the whole cart's.
	Partial bool
}
