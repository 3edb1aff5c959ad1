package engine

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Observer is told what the engine did, for metrics. The engine calls it only after the
// transaction concerned committed (or, for a rejection, was refused), once per call, never for
// an attempt a store re-ran: counts are of outcomes, not of attempts. Its methods must be
// cheap and safe for concurrent use; they return nothing because nothing may fail a call for
// the sake of a metric. Config.Observer nil observes nothing.
type Observer interface {
	// QuantityChanged reports n line changes of one outcome made by a committed call, or one
	// refused change (QuantityRejected).
	QuantityChanged(outcome QuantityOutcome, n int)
	// ReservationReleased reports units of stock given back to available by a committed
	// transaction, for a reason other than the holding line's own quantity change.
	ReservationReleased(reason ReleaseReason, units int64)
	// SweepRan reports one pass of the sweeper: how many carts it changed, and its error.
	SweepRan(carts int, err error)
	// IdempotentReplay reports a call answered from its Idempotency-Key's record instead of
	// running again.
	IdempotentReplay()
}

// QuantityOutcome is what became of one line change, as the call's messages report it.
type QuantityOutcome string

// Quantity outcomes.
const (
	QuantitySet         QuantityOutcome = "set"         // applied as asked: a line added or its quantity set
	QuantityRemoved     QuantityOutcome = "removed"     // the line removed as asked (quantity 0, a delete, a clear)
	QuantityClamped     QuantityOutcome = "clamped"     // the clamp policy applied less than asked, or nothing
	QuantityBackordered QuantityOutcome = "backordered" // the ignore policy accepted more than the stock
	QuantityRejected    QuantityOutcome = "rejected"    // the reject policy refused it for want of stock (409)
)

// QuantityOutcomes lists every outcome, so that a metric can show each from the start.
var QuantityOutcomes = []QuantityOutcome{QuantitySet, QuantityRemoved, QuantityClamped, QuantityBackordered, QuantityRejected}

// ReleaseReason is why stock a line held went back to available without the line's own
// quantity change.
type ReleaseReason string

// Release reasons.
const (
	ReleaseExpired      ReleaseReason = "expired"       // the reservation lapsed (sweeper, the cart's next write, or a cart short of the SKU)
	ReleaseUnavailable  ReleaseReason = "unavailable"   // the line can no longer be bought
	ReleaseStockLowered ReleaseReason = "stock_lowered" // the shop lowered on_hand below what carts held
	ReleaseAbandoned    ReleaseReason = "abandoned"     // housekeeping purged the guest cart holding it
)

// ReleaseReasons lists every reason, so that a metric can show each from the start.
var ReleaseReasons = releaseIndex[:]

// callTx is the transaction as one engine call sees it. It tallies the stock the call
// releases, to be reported once it commits; and, once asked (recordStock), it keeps each
// stock row as it was before the call's first write of it, so that a call working on lines
// whose stock it did not read (a memo's, memo.go) can still show them as they were. A store
// may run a transaction's closure more than once (PostgreSQL retries); each run gets a new
// callTx, so only the run that committed counts.
type callTx struct {
	store.Tx
	released [len(releaseIndex)]int64
	before   map[string]cart.Stock // nil: not recording
}

// recordStock starts keeping stock rows as they were before the call's writes.
func (t *callTx) recordStock() { t.before = map[string]cart.Stock{} }

// PutStock writes a stock row, keeping it as it was first when recording.
func (t *callTx) PutStock(ctx context.Context, st cart.Stock) error {
	if t.before != nil {
		if _, seen := t.before[st.SKU]; !seen {
			old, err := t.Tx.Stock(ctx, st.SKU)
			if err != nil {
				return err
			}
			t.before[st.SKU] = old
		}
	}
	return t.Tx.PutStock(ctx, st)
}

// stockBefore returns a SKU's stock as it was before the call wrote it (recordStock).
func (t *callTx) stockBefore(ctx context.Context, sku string) (cart.Stock, error) {
	if st, ok := t.before[sku]; ok {
		return st, nil
	}
	return t.Tx.Stock(ctx, sku)
}

var releaseIndex = [...]ReleaseReason{ReleaseExpired, ReleaseUnavailable, ReleaseStockLowered, ReleaseAbandoned}

// noteRelease tallies units released in tx for reason; nothing when tx is not a callTx.
func noteRelease(tx store.Tx, reason ReleaseReason, units int64) {
	o, ok := tx.(*callTx)
	if !ok || units <= 0 {
		return
	}
	for i, r := range releaseIndex {
		if r == reason {
			o.released[i] += units
		}
	}
}

// observedWrite is store.Write with fn given a callTx, and the releases fn makes reported
// after the commit.
func (e *Engine) observedWrite(ctx context.Context, fn func(store.Tx) error) error {
	// last and the attempt count share one variable: the closure keeps it on the heap, and
	// one allocation is what this cost before attempts were counted.
	var run struct {
		last     *callTx
		attempts int
	}
	var span trace.Span
	if e.tracer != nil {
		ctx, span = e.startTx(ctx)
	}
	err := e.st.Write(ctx, func(tx store.Tx) error {
		run.attempts++
		run.last = &callTx{Tx: tx}
		return fn(run.last)
	})
	if span != nil {
		endTx(span, run.attempts, err)
	}
	last := run.last
	if err == nil && last != nil && e.obs != nil {
		for i, units := range last.released {
			if units > 0 {
				e.obs.ReservationReleased(releaseIndex[i], units)
			}
		}
	}
	return err
}

// observeCall reports what a finished write call did: the quantity outcomes its messages
// show when it committed a cart, a stock refusal, or a replay.
func (e *Engine) observeCall(result func() any, err error) {
	if e.obs == nil {
		return
	}
	if err != nil {
		var replayed *Replayed
		var ce *cart.Error
		switch {
		case errors.As(err, &replayed):
			e.obs.IdempotentReplay()
		case errors.As(err, &ce) && ce.Code == cart.StockShort && len(ce.Fields) > 0:
			// A refused quantity names its field; a refused checkout names none.
			e.obs.QuantityChanged(QuantityRejected, 1)
		}
		return
	}
	v, ok := result().(cart.View)
	if !ok || v.Cart.Status != cart.StatusActive {
		// Only an active cart's lines change quantity; a checkout's backorder notes do not count.
		return
	}
	var n [5]int
	for _, m := range v.Messages {
		switch {
		case m.Code == "item_added" || m.Code == "quantity_updated":
			n[0]++
		case m.Code == "item_removed" && m.Type == cart.Info:
			n[1]++
		case m.Code == "quantity_clamped" || m.Code == "out_of_stock" || m.Code == "item_removed":
			n[2]++
		case m.Code == "backordered" && m.ItemNum != 0:
			n[3]++
		}
	}
	for i, c := range n {
		if c > 0 {
			e.obs.QuantityChanged(QuantityOutcomes[i], c)
		}
	}
}
