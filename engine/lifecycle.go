package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// The life of the stock a line holds (docs/stock.md):
//
//   - a quantity change reserves stock until reserveUntil: now + the TTL, never past the end
//     of the line's sale;
//   - a reservation lapses at that instant: the line stays in its cart, expired and out of the
//     totals, and its stock goes back to available, taken by whichever comes first of the
//     sweeper (Sweep, every second by default), the cart's next write (releaseHeld, run by
//     every mutation before its own changes), and another cart short of that SKU (reclaim);
//   - a line that can no longer be bought (variant deactivated or deleted, product deleted,
//     sale not started or ended, no price in the cart's currency) moves to the cart's
//     unavailable items, and its stock goes back the same way;
//   - touching a lapsed line (any quantity change) reserves again what is free, under the
//     call's stock policy, as if the line were new;
//   - checkout turns what the lines hold into stock commitments (Checkout).
//
// Every release locks the cart holding the line before the stock row, re-reads the line
// under that lock, and releases only what the line still holds: two sweepers, on one node or
// several, or a sweeper and a write, can never release a reservation twice, and one that
// finds nothing left to do changes nothing.

// reserveUntil is when a reservation of line l made by this mutation lapses: after the TTL,
// and never after the end of the line's sale.
func (m *mutation) reserveUntil(l cart.Line) time.Time {
	until := m.now.Add(m.e.ttl)
	if l.Sale.Num != 0 && l.Sale.EndsAt.Before(until) {
		until = l.Sale.EndsAt
	}
	return until
}

// lapsed reports whether a line holds stock it may no longer hold: its reservation lapsed, or
// it cannot be bought.
func (m *mutation) lapsed(l *cart.Line) bool {
	return l.Item.ReservedQuantity > 0 &&
		(l.Item.Expired(m.now) || pricing.UnavailableAt(l, m.cart.Currency, m.now) != "")
}

// releaseHeld gives back the stock of every line of the mutation's cart that which selects,
// locking the stock rows in SKU order (after the cart, which the caller holds). Each line
// keeps its quantity and holds nothing; it counts as a change of the cart.
func (m *mutation) releaseHeld(which func(*cart.Line) bool) error {
	return m.releaseHeldFor(which, releaseReason)
}

// releaseHeldFor is releaseHeld, counting each line's units in the metrics under reason.
func (m *mutation) releaseHeldFor(which func(*cart.Line) bool, reason func(cart.Line, time.Time) ReleaseReason) error {
	var idx []int
	for i := range m.lines {
		if l := &m.lines[i]; l.Item.ReservedQuantity > 0 && which(l) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(m.lines[a].Variant.SKU, m.lines[b].Variant.SKU) })
	for _, i := range idx {
		l := m.lines[i]
		st, err := m.tx.Stock(m.ctx, l.Variant.SKU)
		if err != nil {
			return err
		}
		st.SKU = l.Variant.SKU
		noteRelease(m.tx, reason(l, m.now), l.Item.ReservedQuantity)
		releaseEvent(m.tx, m.cart.Num, l.Item.Num, l.Variant.SKU, l.Item.ReservedQuantity, reason(l, m.now))
		m.e.release(m.ctx, &st, &l.Item, m.now)
		if err := m.tx.PutStock(m.ctx, st); err != nil {
			return err
		}
		for j := range m.lines {
			if m.lines[j].Variant.SKU == st.SKU {
				m.keep(j)
				m.lines[j].Stock = st
			}
		}
		l.Stock = st
		if err := m.write(i, l, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// releaseReason is why releaseHeld gives back what line l holds: its reservation lapsed, or
// (still in time) it can no longer be bought.
func releaseReason(l cart.Line, now time.Time) ReleaseReason {
	if l.Item.Expired(now) {
		return ReleaseExpired
	}
	return ReleaseUnavailable
}

// release moves an item's reservation back to the stock. The item holds nothing afterwards;
// its ReservedUntil is kept if already past (it shows as expired) and otherwise ends now, so
// that a line released for being unavailable shows as expired should it become available
// again, and is reserved again by its next quantity change.
func (e *Engine) release(ctx context.Context, st *cart.Stock, it *cart.Item, now time.Time) {
	if st.Reserved < it.ReservedQuantity {
		// The stock and its holders disagree (invariant 1 broken): never go below zero, and
		// say so.
		e.log.ErrorContext(ctx, "release: the SKU's reserved count is below what an item holds",
			"sku", st.SKU, "reserved", st.Reserved, "item", it.Num, "item_reserved", it.ReservedQuantity)
		st.Reserved = it.ReservedQuantity
	}
	st.Reserved -= it.ReservedQuantity
	st.Version++
	st.UpdatedAt = now
	it.ReservedQuantity = 0
	if it.ReservedUntil.IsZero() || now.Before(it.ReservedUntil) {
		it.ReservedUntil = now
	}
}

// reclaim releases, for a line of this mutation short of a SKU, the reservations of that SKU
// that lapsed in other carts and that the sweeper has not released yet. It returns how many
// units came back.
//
// Lock order: the transaction holds its own cart and the SKU's stock row, and now locks each
// other cart in ascending number order. A transaction crossing it (a sweeper holding one of
// those carts and waiting for the stock row) waits for it on SQLite, and on a database with
// row locks is aborted as a deadlock and retried whole by the store.
func (m *mutation) reclaim(sku string) (int64, error) {
	holders, err := m.tx.ExpiredHolders(m.ctx, sku, m.now)
	if err != nil {
		return 0, err
	}
	var carts []int64
	for _, it := range holders {
		// Lines of this cart were released by releaseHeld before the call's changes.
		if it.CartNum != m.cart.Num {
			carts = append(carts, it.CartNum)
		}
	}
	slices.Sort(carts)
	var back int64
	for _, num := range slices.Compact(carts) {
		n, err := m.e.releaseCart(m.ctx, m.tx, num, func(other *mutation, l *cart.Line) bool {
			return l.Variant.SKU == sku && l.Item.Expired(other.now)
		})
		if err != nil {
			return back, err
		}
		back += n
	}
	return back, nil
}

// releaseCart locks cart num in tx, re-reads its lines and releases the stock of those which
// selects (given a mutation of that cart), bumping the cart's version if it changed anything.
// It returns how many units were released.
func (e *Engine) releaseCart(ctx context.Context, tx store.Tx, num int64, which func(*mutation, *cart.Line) bool) (int64, error) {
	c, err := tx.Cart(ctx, num)
	if cart.ErrorCode(err) == cart.NotFound {
		return 0, nil // purged since it was found (PurgeAbandonedCarts), with its stock released
	}
	if err != nil {
		return 0, err
	}
	lines, err := tx.Lines(ctx, num)
	if err != nil {
		return 0, err
	}
	m := &mutation{ctx: ctx, tx: tx, e: e, now: tx.Now(), cart: c, lines: lines}
	var units int64
	err = m.releaseHeld(func(l *cart.Line) bool {
		if which(m, l) {
			units += l.Item.ReservedQuantity
			return true
		}
		return false
	})
	if err != nil || !m.changed {
		return units, err
	}
	// Not LastActivity: nobody acted on the cart.
	m.cart.Version++
	m.cart.UpdatedAt = m.now
	return units, tx.UpdateCart(ctx, m.cart)
}

// sweepBatch bounds how many reservations one pass of Sweep looks at.
const sweepBatch = 200

// Sweep releases the stock still held by lines whose reservation lapsed and by lines that can
// no longer be bought (see the lifecycle above), and returns how many carts it changed. It
// finds them with a read, then releases each cart's in a short write of its own that locks
// the cart, re-reads its lines and releases only what is still due, so it holds the writer
// briefly, and it is safe to run on any number of nodes at once: of two sweepers finding one
// reservation, one releases it and the other finds nothing left to do. A lapsed reservation
// a pass does not see is found by the next. The server runs it every --sweep-interval.
func (e *Engine) Sweep(ctx context.Context) (int, error) {
	changed := 0
	var errs []error
	for {
		var nums []int64
		full := false
		err := e.st.Read(ctx, func(tx store.ReadTx) error {
			now := tx.Now()
			expired, err := tx.ExpiredReservations(ctx, now, sweepBatch)
			if err != nil {
				return err
			}
			unavailable, err := tx.UnavailableReservations(ctx, now, sweepBatch)
			if err != nil {
				return err
			}
			full = len(expired) == sweepBatch || len(unavailable) == sweepBatch
			for _, it := range append(expired, unavailable...) {
				nums = append(nums, it.CartNum)
			}
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("sweep: %w", err)
		}
		slices.Sort(nums)
		released, errs2 := e.releaseCarts(ctx, slices.Compact(nums))
		if ctx.Err() != nil {
			return changed, ctx.Err()
		}
		errs = append(errs, errs2...)
		changed += released
		// Another pass only while there may be more and this one got somewhere.
		if !full || released == 0 {
			return changed, errors.Join(errs...)
		}
	}
}

// sweepWriters is how many carts a sweep releases at once. Each release is a write of its
// own, so that one cart's failure stays its own; sent together, they share commits (the SQLite
// store's group commit; PostgreSQL's connections), so releasing N carts costs about N/8
// commits rather than N.
const sweepWriters = 8

// releaseCarts releases the lapsed and unavailable reservations of carts nums, sweepWriters
// at a time, and returns how many released anything, with each cart's failure.
func (e *Engine) releaseCarts(ctx context.Context, nums []int64) (int, []error) {
	var (
		mu       sync.Mutex
		released int
		errs     []error
		wg       sync.WaitGroup
	)
	next := make(chan int64)
	for range min(sweepWriters, len(nums)) {
		wg.Go(func() {
			for num := range next {
				var units int64
				err := e.observedWrite(ctx, func(tx store.Tx) error {
					var err error
					units, err = e.releaseCart(ctx, tx, num, (*mutation).lapsed)
					return err
				})
				mu.Lock()
				switch {
				case err != nil && ctx.Err() == nil:
					errs = append(errs, fmt.Errorf("sweep cart %d: %w", num, err))
				case err == nil && units > 0:
					released++
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, num := range nums {
		select {
		case next <- num:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return released, errs
}

// Checkout turns a cart's reservations into stock commitments and closes the cart (scope
// carts:write), in one transaction: for every line, the SKU's on_hand and reserved drop by
// what the line holds; a line holding less than its quantity takes the rest from the
// available stock, and under the ignore policy (a backordered line) what it still lacks is
// counted in the SKU's backordered, so on_hand never goes below 0. The cart becomes
// completed, and refuses every change from then on (Conflict cart_not_active); the view
// returned is the final cart, at the prices stored at checkout.
//
// Nothing changes, and the error carries the cart as it is, when the cart has no lines
// (Conflict cart_empty), a line cannot be bought (Conflict checkout_items_unavailable), a
// line's reservation lapsed (Conflict checkout_items_expired: a quantity change reserves it
// again), or a line not backordered cannot be covered by what it holds and what is available
// (StockShort insufficient_stock, Available being the most the first such line could have).
// Under an Idempotency-Key a retried checkout answers the first one's final cart.
func (e *Engine) Checkout(ctx context.Context, p auth.Principal, num int64, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	return e.mutate(ctx, p, num, opt, func(m *mutation) error { return m.checkout() })
}

func (m *mutation) checkout() error {
	if len(m.lines) == 0 {
		return cart.Errorf(cart.Conflict, "cart_empty", "the cart has no items to check out")
	}
	var unavailable, expired []string
	for i := range m.lines {
		switch l := &m.lines[i]; {
		case pricing.UnavailableAt(l, m.cart.Currency, m.now) != "":
			unavailable = append(unavailable, l.Variant.SKU)
		case l.Item.Expired(m.now):
			expired = append(expired, l.Variant.SKU)
		}
	}
	if len(unavailable) > 0 {
		return cart.Errorf(cart.Conflict, "checkout_items_unavailable",
			"the cart holds items that can no longer be bought (%s): remove them first", strings.Join(unavailable, ", "))
	}
	if len(expired) > 0 {
		return cart.Errorf(cart.Conflict, "checkout_items_expired",
			"the reservations of %s lapsed: change their quantities to reserve them again, or remove them", strings.Join(expired, ", "))
	}

	// Stock rows are locked in SKU order; all are computed before anything is written.
	idx := make([]int, len(m.lines))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(m.lines[a].Variant.SKU, m.lines[b].Variant.SKU) })
	stock := map[string]*cart.Stock{}
	var skus []string
	take := make([]int64, len(m.lines))
	var short []string
	var shortAvailable *int64
	for _, i := range idx {
		l := m.lines[i]
		sku := l.Variant.SKU
		st, ok := stock[sku]
		if !ok {
			read, err := m.tx.Stock(m.ctx, sku)
			if err != nil {
				return err
			}
			read.SKU = sku
			st = &read
			stock[sku] = st
			skus = append(skus, sku)
		}
		hold := min(l.Item.ReservedQuantity, st.Reserved)
		can := min(hold+st.Available(), st.OnHand)
		take[i] = min(l.Item.Quantity, can)
		if take[i] < l.Item.Quantity && !l.Item.Backorder {
			short = append(short, fmt.Sprintf("%s (%d of %d)", sku, can, l.Item.Quantity))
			if shortAvailable == nil {
				shortAvailable = &can
			}
		}
		st.Reserved -= hold
		st.OnHand -= take[i]
		st.Backordered += l.Item.Quantity - take[i]
	}
	if len(short) > 0 {
		e := cart.Errorf(cart.StockShort, "insufficient_stock", "not enough stock to check out: %s", strings.Join(short, ", "))
		e.Available = shortAvailable
		return e
	}
	for _, sku := range skus {
		st := stock[sku]
		st.Version++
		st.UpdatedAt = m.now
		if err := m.tx.PutStock(m.ctx, *st); err != nil {
			return err
		}
	}
	var committed, backordered int64
	for _, i := range idx {
		l := m.lines[i]
		q := l.Item.Quantity
		l.Item.Backorder = take[i] < q
		l.Item.ReservedQuantity, l.Item.ReservedUntil = 0, time.Time{}
		l.Stock = *stock[l.Variant.SKU]
		var msgs []cart.Message
		if l.Item.Backorder {
			req, app := q, take[i]
			msgs = append(msgs, cart.Message{Type: cart.Warning, Code: "backordered",
				Text: fmt.Sprintf("%s of the %s units of %s were backordered",
					cart.FormatScaled(q-take[i], l.Variant.Scale()), cart.FormatScaled(q, l.Variant.Scale()), l.Variant.SKU),
				Requested: &req, Applied: &app, Scale: l.Variant.QuantityScale})
		}
		committed += take[i]
		backordered += q - take[i]
		if err := m.write(i, l, false, msgs); err != nil {
			return err
		}
	}
	text := fmt.Sprintf("The cart was checked out: %d units committed from stock", committed)
	if backordered > 0 {
		text += fmt.Sprintf(", %d backordered", backordered)
	}
	m.note([]cart.Message{{Type: cart.Info, Code: "checked_out", Text: text}})
	m.cart.Status = cart.StatusCompleted
	m.changed, m.checkedOut = true, true
	return nil
}

// PutSale creates or replaces a sale (scope catalog:write). The variants whose sale_id names
// it can be added to carts from StartsAt on; their reservations never outlive EndsAt, when
// their lines become unavailable and the sweeper releases their stock. Changing the window
// applies to every line of the sale from then on. EndsAt must be after StartsAt.
func (e *Engine) PutSale(ctx context.Context, p auth.Principal, s cart.Sale, opt Options) (cart.Sale, error) {
	if err := require(p, auth.CatalogWrite); err != nil {
		return cart.Sale{}, err
	}
	var errs []cart.FieldError
	if !idPattern.MatchString(s.ID) {
		errs = append(errs, cart.FieldError{Field: "id", Message: "id must be 1 to 64 letters, digits, '_' or '-'"})
	}
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 500 {
		errs = append(errs, cart.FieldError{Field: "name", Message: "name is required (at most 500 characters)"})
	} else if why := textProblem(s.Name); why != "" {
		errs = append(errs, cart.FieldError{Field: "name", Message: "name must be UTF-8 text without NUL characters: " + why})
	}
	s.StartsAt, s.EndsAt = s.StartsAt.UTC().Truncate(time.Microsecond), s.EndsAt.UTC().Truncate(time.Microsecond)
	switch {
	case s.StartsAt.IsZero():
		errs = append(errs, cart.FieldError{Field: "starts_at", Message: "starts_at is required"})
	case s.EndsAt.IsZero():
		errs = append(errs, cart.FieldError{Field: "ends_at", Message: "ends_at is required"})
	case !s.EndsAt.After(s.StartsAt):
		errs = append(errs, cart.FieldError{Field: "ends_at", Message: "ends_at must be after starts_at"})
	}
	if len(errs) > 0 {
		return cart.Sale{}, &cart.Error{Code: cart.Invalid, Reason: "invalid_sale", Message: errs[0].Field + ": " + errs[0].Message, Fields: errs}
	}
	err := e.write(ctx, opt, func() any { return s }, func(tx store.Tx) error {
		s.CreatedAt, s.UpdatedAt = tx.Now(), tx.Now()
		return tx.PutSale(ctx, &s)
	})
	return s, err
}

// Sale returns a sale (scope catalog:read), and the instant it was read, at which its state
// (cart.Sale.State) is shown.
func (e *Engine) Sale(ctx context.Context, p auth.Principal, id string) (cart.Sale, time.Time, error) {
	if err := require(p, auth.CatalogRead); err != nil {
		return cart.Sale{}, time.Time{}, err
	}
	var (
		s   cart.Sale
		now time.Time
	)
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		now = tx.Now()
		s, err = tx.Sale(ctx, id)
		return err
	})
	return s, now, err
}
