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
	// AnonymousHoldCapped reports a change to an anonymous cart that the cap on what one
	// client address's carts hold of a SKU limited (refused or clamped); see AnonymousHold.
	AnonymousHoldCapped()
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
var QuantityOutcomes = quantityIndex[:]

var quantityIndex = [...]QuantityOutcome{QuantitySet, QuantityRemoved, QuantityClamped, QuantityBackordered, QuantityRejected}

// ReleaseReason is why stock a line held went back to available without the line's own
// quantity change.
type ReleaseReason string

// Release reasons.
const (
	ReleaseExpired      ReleaseReason = "expired"       // the reservation lapsed (sweeper, the cart's next write, or a cart short of the SKU)
	ReleaseUnavailable  ReleaseReason = "unavailable"   // the line can no longer be bought
	ReleaseStockLowered ReleaseReason = "stock_lowered" // the shop lowered on_hand below what carts held
	ReleaseAbandoned    ReleaseReason = "abandoned"     // housekeeping purged the guest cart holding it
	ReleaseOperator     ReleaseReason = "operator"      // an operator released the cart's reservations (ReleaseReservations)
)

// ReleaseReasons lists every reason, so that a metric can show each from the start.
var ReleaseReasons = releaseIndex[:]

// callTx is the transaction as one engine call sees it: it tallies the stock the call
// releases and the outcomes of the line changes it makes, to be reported once it commits. A
// store may run a transaction's closure more than once (PostgreSQL retries); each run gets a
// new callTx, so only the run that committed counts.
type callTx struct {
	store.Tx
	released [len(releaseIndex)]int64
	changes  [len(quantityIndex)]int
	capped   *capped // a change the cap on anonymous holdings limited (anonhold.go)
	events   eventLog
}

// InsertCart stores a new cart and records cart.created.
func (t *callTx) InsertCart(ctx context.Context, c *cart.Cart) error {
	if err := t.Tx.InsertCart(ctx, c); err != nil {
		return err
	}
	t.events.cartWritten(*c)
	data := cartCreatedData{Currency: c.Currency}
	if c.CustomerID != "" {
		data.CustomerID = &c.CustomerID
	}
	t.events.event(EventCartCreated, c.Num, c.Version, cartKey(c.Num), data)
	return nil
}

// UpdateCart stores a cart, noting the version its events carry.
func (t *callTx) UpdateCart(ctx context.Context, c cart.Cart) error {
	if err := t.Tx.UpdateCart(ctx, c); err != nil {
		return err
	}
	t.events.cartWritten(c)
	return nil
}

// PutStock writes a stock row, noting it for stock.changed.
func (t *callTx) PutStock(ctx context.Context, st cart.Stock) error {
	if err := t.Tx.PutStock(ctx, st); err != nil {
		return err
	}
	t.events.stockWritten(st)
	return nil
}

// callOf returns the callTx of tx (seen through a memo's stockLog), or nil.
func callOf(tx store.Tx) *callTx {
	if l, ok := tx.(*stockLog); ok {
		tx = l.Tx
	}
	o, _ := tx.(*callTx)
	return o
}

var releaseIndex = [...]ReleaseReason{ReleaseExpired, ReleaseUnavailable, ReleaseStockLowered, ReleaseAbandoned, ReleaseOperator}

// noteRelease tallies units released in tx for reason; nothing when tx is not a callTx.
func noteRelease(tx store.Tx, reason ReleaseReason, units int64) {
	o := callOf(tx)
	if o == nil || units <= 0 {
		return
	}
	for i, r := range releaseIndex {
		if r == reason {
			o.released[i] += units
		}
	}
}

// noteChange tallies n line changes of an outcome made in tx (n < 0 takes back what was
// tallied); nothing when tx is not a callTx.
func noteChange(tx store.Tx, outcome QuantityOutcome, n int) {
	o := callOf(tx)
	if o == nil {
		return
	}
	for i, q := range quantityIndex {
		if q == outcome {
			o.changes[i] += n
		}
	}
}

// changeOutcome is the outcome of a line change resolved to r, as its message
// (cart.QuantityMessages) reports it.
func changeOutcome(r cart.QuantityResult) QuantityOutcome {
	switch {
	case r.Clamped:
		return QuantityClamped
	case r.Removed():
		return QuantityRemoved
	case r.Backorder:
		return QuantityBackordered
	}
	return QuantitySet
}

// observedWrite is store.Write with fn given a callTx, the events fn records appended to
// the outbox in its transaction, and the releases and line changes fn makes reported after
// the commit.
func (e *Engine) observedWrite(ctx context.Context, fn func(store.Tx) error) error {
	// last, the attempt count and the events written share one variable: the closure keeps
	// it on the heap, and one allocation is what this cost before attempts were counted.
	var run struct {
		last     *callTx
		attempts int
		written  int
	}
	var span trace.Span
	if e.tracer != nil {
		ctx, span = e.startTx(ctx)
	}
	err := e.st.Write(ctx, func(tx store.Tx) error {
		run.attempts++
		run.last = &callTx{Tx: tx}
		if err := fn(run.last); err != nil {
			return err
		}
		var err error
		run.written, err = run.last.events.flush(ctx, run.last)
		return err
	})
	if span != nil {
		endTx(span, run.attempts, err)
	}
	last := run.last
	if err == nil && run.written > 0 && e.eventsWritten != nil {
		e.eventsWritten(run.written)
	}
	if err == nil && last != nil && e.obs != nil {
		for i, units := range last.released {
			if units > 0 {
				e.obs.ReservationReleased(releaseIndex[i], units)
			}
		}
		for i, n := range last.changes {
			if n > 0 {
				e.obs.QuantityChanged(quantityIndex[i], n)
			}
		}
	}
	if last != nil && last.capped != nil && (err == nil || cart.ErrorCode(err) == cart.StockShort) {
		e.observeCapped(ctx, *last.capped)
	}
	return err
}

// observeCall reports what a write call refused: a stock refusal, or a replay. (What a
// committed call changed observedWrite reports.)
func (e *Engine) observeCall(err error) {
	if e.obs == nil || err == nil {
		return
	}
	var replayed *Replayed
	var ce *cart.Error
	switch {
	case errors.As(err, &replayed):
		e.obs.IdempotentReplay()
	case errors.As(err, &ce) && ce.Code == cart.StockShort && len(ce.Fields) > 0:
		// A refused quantity names its field; a refused checkout names none.
		e.obs.QuantityChanged(QuantityRejected, 1)
	}
}
