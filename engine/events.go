package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/reqinfo"
	"github.com/cartd/cartd/store"
)

// Events out (docs/events.md). Every transaction an engine call runs through observedWrite
// records its events in the outbox before it commits: what the call did to each cart's lines
// (recorded where the engine makes the change, with its cause), what it released, and, from
// what the transaction wrote, each cart it created or changed and each SKU's stock as it
// leaves it. A cart whose version moved and that no other event reports gets cart.updated, so
// every version has at least one event.

// Event types.
const (
	EventCartCreated         = "cart.created"
	EventItemAdded           = "cart.item.added"
	EventItemQuantityChanged = "cart.item.quantity_changed"
	EventItemRemoved         = "cart.item.removed"
	EventCartUpdated         = "cart.updated"
	EventCartMerged          = "cart.merged"
	EventCartCheckedOut      = "cart.checked_out"
	EventCartAbandoned       = "cart.abandoned"
	EventCartPurged          = "cart.purged"
	EventReservationReleased = "reservation.released"
	EventStockChanged        = "stock.changed"
)

// EventTypes lists every event type, for validation of subscriptions and for documentation.
var EventTypes = []string{
	EventCartCreated, EventItemAdded, EventItemQuantityChanged, EventItemRemoved, EventCartUpdated,
	EventCartMerged, EventCartCheckedOut, EventCartAbandoned, EventCartPurged,
	EventReservationReleased, EventStockChanged,
}

// Cause says why a line's quantity changed, or why it was added or removed.
type Cause string

// Causes of line changes.
const (
	CauseRequest     Cause = "request"     // applied as asked
	CauseClamp       Cause = "clamp"       // the clamp policy applied less than asked
	CauseMerge       Cause = "merge"       // a merge moved units into the line
	CauseUnavailable Cause = "unavailable" // the line could no longer be bought and was removed
)

// Event data, as the JSON of each type (api/openapi.json documents them).
type (
	cartCreatedData struct {
		CustomerID *string `json:"customer_id"`
		Currency   string  `json:"currency"`
	}
	itemAddedData struct {
		ItemID   string `json:"item_id"`
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
		Cause    Cause  `json:"cause"`
	}
	quantityChangedData struct {
		ItemID string `json:"item_id"`
		SKU    string `json:"sku"`
		From   int64  `json:"from"`
		To     int64  `json:"to"`
		Delta  int64  `json:"delta"`
		Cause  Cause  `json:"cause"`
	}
	itemRemovedData struct {
		ItemID   string `json:"item_id"`
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"` // what it held before
		Cause    Cause  `json:"cause"`
	}
	mergedData struct {
		From string `json:"from"`
		Into string `json:"into"`
	}
	releasedData struct {
		ItemID string        `json:"item_id"`
		SKU    string        `json:"sku"`
		Units  int64         `json:"units"`
		Reason ReleaseReason `json:"reason"`
	}
	stockData struct {
		SKU         string `json:"sku"`
		OnHand      int64  `json:"on_hand"`
		Reserved    int64  `json:"reserved"`
		Available   int64  `json:"available"`
		Backordered int64  `json:"backordered"`
		Version     int64  `json:"version"`
	}
	abandonedData struct {
		LastActivity string `json:"last_activity"`
		IdleSeconds  int64  `json:"idle_seconds"`
	}
	purgedData struct {
		Reason       string `json:"reason"`
		LastActivity string `json:"last_activity"`
	}
)

// CartID and ItemID name carts and items as every event does (the native API's ids).
func CartID(num int64) string { return "cart_" + strconv.FormatInt(num, 10) }
func ItemID(num int64) string { return "ci_" + strconv.FormatInt(num, 10) }

func cartKey(num int64) string { return CartID(num) }
func skuKey(sku string) string { return "sku_" + sku }

// eventLog is what one transaction records, flushed into the outbox just before it commits.
type eventLog struct {
	evs []store.Event
	// versions holds the version each cart the transaction wrote ends at, in the order first
	// written; reported, the carts an event of evs is about.
	versions map[int64]int64
	carts    []int64
	reported map[int64]bool
	// stock holds each SKU's row as the transaction leaves it, in the order first written.
	stock map[string]cart.Stock
	skus  []string
}

// event records an event of type typ about cart num (0: none); its version is the cart's as
// the transaction leaves it, unless version is given.
func (l *eventLog) event(typ string, num, version int64, key string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic("engine: encode event data: " + err.Error()) // our own types always encode
	}
	if num != 0 {
		if l.reported == nil {
			l.reported = map[int64]bool{}
		}
		l.reported[num] = true
	}
	l.evs = append(l.evs, store.Event{Type: typ, CartNum: num, CartVersion: version, Key: key, Data: b})
}

func (l *eventLog) cartWritten(c cart.Cart) {
	if l.versions == nil {
		l.versions = map[int64]int64{}
	}
	if _, ok := l.versions[c.Num]; !ok {
		l.carts = append(l.carts, c.Num)
	}
	l.versions[c.Num] = c.Version
}

func (l *eventLog) stockWritten(st cart.Stock) {
	if l.stock == nil {
		l.stock = map[string]cart.Stock{}
	}
	if _, ok := l.stock[st.SKU]; !ok {
		l.skus = append(l.skus, st.SKU)
	}
	l.stock[st.SKU] = st
}

// flush completes the transaction's events and appends them to the outbox; it returns how
// many it appended.
func (l *eventLog) flush(ctx context.Context, tx store.Tx) (int, error) {
	for _, num := range l.carts {
		if !l.reported[num] {
			l.event(EventCartUpdated, num, 0, cartKey(num), struct{}{})
		}
	}
	for _, sku := range l.skus {
		st := l.stock[sku]
		// Each stock event is a key of its own: deliveries of one SKU's stock go in parallel, and
		// a consumer orders them by version. (A hot SKU would otherwise hold every webhook's
		// stock events to one at a time.)
		l.event(EventStockChanged, 0, 0, skuKey(sku)+"@"+strconv.FormatInt(st.Version, 10), stockData{SKU: sku, OnHand: st.OnHand, Reserved: st.Reserved,
			Available: st.Available(), Backordered: st.Backordered, Version: st.Version})
	}
	if len(l.evs) == 0 {
		return 0, nil
	}
	var requestID, idemKey string
	if info := reqinfo.FromContext(ctx); info != nil {
		requestID = info.ID
	}
	if k, ok := ctx.Value(idempotencyKeyCtx{}).(string); ok {
		idemKey = k
	}
	now := tx.Now()
	for i := range l.evs {
		ev := &l.evs[i]
		if ev.CartNum != 0 && ev.CartVersion == 0 {
			ev.CartVersion = l.versions[ev.CartNum]
		}
		ev.OccurredAt, ev.RequestID, ev.IdempotencyKey = now, requestID, idemKey
	}
	return len(l.evs), tx.AppendEvents(ctx, l.evs)
}

// idempotencyKeyCtx carries a call's Idempotency-Key to the events its transaction records.
type idempotencyKeyCtx struct{}

// events returns the log of tx, or nil when tx records none (not a callTx).
func events(tx store.Tx) *eventLog {
	if t := callOf(tx); t != nil {
		return &t.events
	}
	return nil
}

// lineEvent records what a call did to a line: added (from 0), changed or removed (to 0).
func (m *mutation) lineEvent(l cart.Line, from, to int64, cause Cause) {
	log := events(m.tx)
	if log == nil || from == to {
		return
	}
	num, id, sku := m.cart.Num, ItemID(l.Item.Num), l.Variant.SKU
	switch {
	case from == 0:
		log.event(EventItemAdded, num, 0, cartKey(num), itemAddedData{ItemID: id, SKU: sku, Quantity: to, Cause: cause})
	case to == 0:
		log.event(EventItemRemoved, num, 0, cartKey(num), itemRemovedData{ItemID: id, SKU: sku, Quantity: from, Cause: cause})
	default:
		log.event(EventItemQuantityChanged, num, 0, cartKey(num), quantityChangedData{ItemID: id, SKU: sku, From: from, To: to, Delta: to - from, Cause: cause})
	}
}

// releaseEvent records stock given back from an item of cart num for a reason other than the
// line's own quantity change.
func releaseEvent(tx store.Tx, num, itemNum int64, sku string, units int64, reason ReleaseReason) {
	if log := events(tx); log != nil && units > 0 {
		log.event(EventReservationReleased, num, 0, cartKey(num), releasedData{ItemID: ItemID(itemNum), SKU: sku, Units: units, Reason: reason})
	}
}

// eventCtx is ctx carrying the Idempotency-Key of a call, if any.
func eventCtx(ctx context.Context, idem *Idempotency) context.Context {
	if idem == nil {
		return ctx
	}
	return context.WithValue(ctx, idempotencyKeyCtx{}, idem.Key)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// checkedOutEvent records cart.checked_out with the completed cart as its data: the frozen
// record of what was bought, rendered once, in the checkout's own transaction, by the front
// door's renderer (Config.CompletedCart).
func (e *Engine) checkedOutEvent(tx store.Tx, v cart.View) error {
	log := events(tx)
	if log == nil {
		return nil
	}
	data := json.RawMessage("null")
	if e.completedCart != nil {
		var err error
		if data, err = e.completedCart(v); err != nil {
			return err
		}
	}
	log.event(EventCartCheckedOut, v.Cart.Num, v.Cart.Version, cartKey(v.Cart.Num), data)
	return nil
}
