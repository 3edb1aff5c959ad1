package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// A merge moves the lines of one cart (the source, typically a guest's) into another (the
// target, typically the customer's cart after they sign in), in one transaction:
//
//   - quantities of the same variant are added, under the clamp policy: what the target line
//     cannot hold (stock, per-item limit) stays behind, with a quantity_clamped warning naming
//     the target's line; lines of variants the target lacks become new lines of the target,
//     unless the target is at max_lines_per_cart (too_many_lines) or nothing is available
//     (out_of_stock);
//   - unavailable source lines (inactive, deleted, no price) are not moved (item_unavailable);
//   - stock moves with the lines: every reservation of the source is released and the target's
//     lines reserve what they now hold, so for each SKU the change in reserved equals the change
//     in the items' reserved quantities (invariant 1);
//   - the source is closed: status merged, no lines, MergedInto naming the target. Like any
//     cart that is not active it refuses changes from then on.
//
// Lock order: the transaction locks the two carts' rows in ascending number order (whichever
// is the source), then the stock rows of the source's SKUs in ascending SKU order. Every
// transaction that holds two carts takes them in this order, so that two merges crossing each
// other wait instead of deadlocking on a database with row locks (PostgreSQL); single-cart
// calls lock their one cart first and stock after it, which is consistent with it.

// MergeCart merges cart src into cart dst (scope carts:write) and returns dst, re-priced, with
// a message for every line. Both carts must be visible to the principal (a customer token's
// own), active and of one currency. opt.IfMatch is checked against the source's version.
// Errors: NotFound (either cart), Invalid (merge_into_self, currency_mismatch), Conflict
// (cart_not_active, with that cart), Precondition (with the source).
func (e *Engine) MergeCart(ctx context.Context, p auth.Principal, src, dst int64, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	if src == dst {
		return cart.View{}, cart.InvalidField("merge_into_self", "into", "a cart cannot be merged into itself")
	}
	var view cart.View
	err := e.write(ctx, opt, func() any { return view }, func(tx store.Tx) error {
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		carts, err := lockCarts(ctx, tx, p, src, dst)
		if err != nil {
			return err
		}
		source, target := carts[src], carts[dst]
		now := tx.Now()
		if err := e.checkSource(s, source, opt, now); err != nil {
			return err
		}
		if err := e.checkTarget(s, source, target, "into", now); err != nil {
			return err
		}
		view, err = e.merge(ctx, tx, s, source, target)
		return err
	})
	return view, err
}

// CartUpdate changes a cart's own fields; nil fields stay as they are.
type CartUpdate struct {
	// CustomerID assigns a guest cart to a customer (see UpdateCart).
	CustomerID *string
	// Metadata replaces the cart's metadata.
	Metadata json.RawMessage
}

// UpdateCart changes a cart's customer or metadata (scope carts:write). Giving a guest cart a
// customer is how a shopper's cart follows them when they sign in: if the customer has an
// active cart (the most recently active one), the guest cart is merged into it (see
// MergeCart) and that cart is returned; if not, the guest cart becomes the customer's. A
// metadata change applies to the cart named, merged or not. Setting the customer a cart
// already has changes nothing; setting another is Conflict customer_already_set. A customer
// token may only name its own customer (Forbidden). opt.IfMatch is checked against the cart
// named. Errors also: NotFound, Invalid (values, empty_update, currency_mismatch when a merge
// would mix currencies), Conflict (cart_not_active), Precondition; and Unavailable if the
// customer's carts changed between their lookup and their locking (a store with row locks
// only; the call can be retried).
func (e *Engine) UpdateCart(ctx context.Context, p auth.Principal, num int64, u CartUpdate, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	if u.CustomerID == nil && u.Metadata == nil {
		return cart.View{}, cart.InvalidField("empty_update", "customer_id", "nothing to change: give customer_id or metadata")
	}
	if u.CustomerID != nil {
		if err := validCustomerID(*u.CustomerID); err != nil {
			return cart.View{}, err
		}
		if p.IsCustomer() && *u.CustomerID != p.CustomerID {
			return cart.View{}, cart.Errorf(cart.Forbidden, "customer_mismatch", "a customer token can only assign carts to its own customer")
		}
	}
	if err := validMetadata(u.Metadata); err != nil {
		return cart.View{}, err
	}
	var view cart.View
	err := e.write(ctx, opt, func() any { return view }, func(tx store.Tx) error {
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		// The customer's cart is looked up before any row is locked, so that the two carts
		// can then be locked in ascending order.
		into, err := customerCart(ctx, tx, u.CustomerID)
		if err != nil {
			return err
		}
		nums := []int64{num}
		if into != 0 && into != num {
			nums = append(nums, into)
		}
		carts, err := lockCarts(ctx, tx, p, nums...)
		if err != nil {
			return err
		}
		source := carts[num]
		now := tx.Now()
		if err := e.checkSource(s, source, opt, now); err != nil {
			return err
		}
		c := source.cart
		if u.CustomerID != nil && c.CustomerID != "" && c.CustomerID != *u.CustomerID {
			return e.withCart(cart.Errorf(cart.Conflict, "customer_already_set", "the cart belongs to another customer"), s, source, now)
		}
		changed := false // a change of the cart's own fields
		var msgs []cart.Message
		if u.Metadata != nil {
			c.Metadata, changed = u.Metadata, true
		}
		if u.CustomerID != nil && c.CustomerID == "" {
			c.CustomerID, changed = *u.CustomerID, true
			if target, ok := carts[into]; ok && into != num {
				// The customer's cart was read before it was locked: make sure it still is
				// the one (always so with a single writer).
				if again, err := customerCart(ctx, tx, u.CustomerID); err != nil || again != into {
					return cart.Errorf(cart.Unavailable, "concurrent_change", "the customer's carts changed during the call; retry it")
				}
				if err := e.checkTarget(s, source, target, "customer_id", now); err != nil {
					return err
				}
				source.cart = c
				view, err = e.merge(ctx, tx, s, source, target)
				return err
			}
			msgs = append(msgs, cart.Message{Type: cart.Info, Code: "customer_assigned",
				Text: "The cart now belongs to customer " + c.CustomerID})
		}
		m := &mutation{ctx: ctx, tx: tx, e: e, now: now, settings: s, cart: c, lines: slices.Clone(source.lines), changed: changed}
		if err := m.snapshot(); err != nil {
			return err
		}
		if err := m.storePrices(); err != nil {
			return err
		}
		m.note(msgs)
		// A guest cart's units start counting against the customer's limits now.
		if err := m.fitCustomerLimits(); err != nil {
			return err
		}
		view, err = m.finish()
		return err
	})
	return view, err
}

// customerCart returns the number of a customer's active cart, 0 when there is none or no
// customer is named.
func customerCart(ctx context.Context, tx store.ReadTx, customerID *string) (int64, error) {
	if customerID == nil {
		return 0, nil
	}
	c, err := tx.ActiveCartOf(ctx, *customerID)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return c.Num, nil
}

// held is a cart whose row the transaction holds, with its lines and offers.
type held struct {
	cart   cart.Cart
	lines  []cart.Line
	offers offers
	// record is a completed cart's checkout record, what it shows (record.go).
	record *cart.View
}

// lockCarts locks the carts nums in ascending number order (see the lock order above) and
// reads their lines. A cart the principal may not see is NotFound, as in loadCart.
func lockCarts(ctx context.Context, tx store.Tx, p auth.Principal, nums ...int64) (map[int64]held, error) {
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	carts := make(map[int64]held, len(nums))
	for _, num := range sorted {
		c, err := tx.Cart(ctx, num)
		if err != nil {
			return nil, err
		}
		if p.IsCustomer() && c.CustomerID != p.CustomerID {
			return nil, cart.Errorf(cart.NotFound, "cart_not_found", "no cart %d", num)
		}
		carts[num] = held{cart: c}
	}
	for _, num := range sorted {
		lines, err := tx.Lines(ctx, num)
		if err != nil {
			return nil, err
		}
		h := carts[num]
		h.lines = lines
		if h.offers, err = loadOffers(ctx, tx, num, tx.Now()); err != nil {
			return nil, err
		}
		if v, ok, err := recorded(ctx, tx, h.cart); err != nil {
			return nil, err
		} else if ok {
			h.record = &v
		}
		carts[num] = h
	}
	return carts, nil
}

// withCart attaches a cart as it is to an error, so the client recovers in one round trip.
func (e *Engine) withCart(err *cart.Error, s cart.Settings, h held, now time.Time) error {
	if h.record != nil {
		err.Cart = h.record
		return err
	}
	if v, perr := e.priceWith(h.cart, h.lines, s, now, h.offers); perr == nil {
		v.Messages = e.notices(v)
		err.Cart = &v
	}
	return err
}

// checkSource holds the cart a merge or update names in its path to the call's preconditions.
func (e *Engine) checkSource(s cart.Settings, h held, opt Options, now time.Time) error {
	c := h.cart
	if opt.IfMatch != nil && *opt.IfMatch != c.Version {
		return e.withCart(cart.Errorf(cart.Precondition, "version_mismatch", "the cart is at version %d, not %d", c.Version, *opt.IfMatch), s, h, now)
	}
	if c.Status != cart.StatusActive {
		return e.withCart(cart.Errorf(cart.Conflict, cart.ReasonCartNotActive, "the cart is %s and cannot change", c.Status), s, h, now)
	}
	return nil
}

// checkTarget holds the cart a merge goes into to the merge's rules; field names the request
// field that chose it.
func (e *Engine) checkTarget(s cart.Settings, source, target held, field string, now time.Time) error {
	if target.cart.Status != cart.StatusActive {
		return e.withCart(cart.Errorf(cart.Conflict, cart.ReasonCartNotActive, "cart %d is %s and cannot take lines", target.cart.Num, target.cart.Status), s, target, now)
	}
	if source.cart.Currency != target.cart.Currency {
		return cart.InvalidField("currency_mismatch", field, "cart %d is in %s, cart %d in %s: only carts of one currency merge",
			source.cart.Num, source.cart.Currency, target.cart.Num, target.cart.Currency)
	}
	return nil
}

// merge moves the lines of src into dst and closes src, in the caller's transaction, which
// holds both carts' rows. It returns dst re-priced, with a message for every source line.
func (e *Engine) merge(ctx context.Context, tx store.Tx, s cart.Settings, src, dst held) (cart.View, error) {
	now := tx.Now()
	// The source's items go first: the lines are in hand, and the customer's units of a
	// variant (a rule's max_per_customer) are then counted without the ones moving. They are
	// counted before any stock row is locked (the lock order of store.Tx.CustomerUnits).
	if err := tx.DeleteItems(ctx, src.cart.Num); err != nil {
		return cart.View{}, err
	}
	held := map[int64]int64{}
	for _, l := range src.lines {
		rule := cart.RuleOf(l.Variant, l.Product)
		if _, done := held[l.Item.VariantNum]; done || rule.MaxPerCustomer == 0 || dst.cart.CustomerID == "" {
			continue
		}
		n, err := tx.CustomerUnits(ctx, dst.cart.CustomerID, l.Item.VariantNum, dst.cart.Num, now.Add(-CustomerLimitWindow))
		if err != nil {
			return cart.View{}, err
		}
		held[l.Item.VariantNum] = n
	}
	skus := make([]string, 0, len(src.lines))
	for _, l := range src.lines {
		skus = append(skus, l.Variant.SKU)
	}
	slices.Sort(skus)
	skus = slices.Compact(skus)
	stock := make(map[string]*cart.Stock, len(skus))
	reserved := make(map[string]int64, len(skus))
	for _, sku := range skus {
		st, err := tx.Stock(ctx, sku)
		if err != nil {
			return cart.View{}, err
		}
		st.SKU = sku
		stock[sku], reserved[sku] = &st, st.Reserved
	}
	// Every reservation of the source is released before any line moves, so the units it
	// held are free for the target's lines.
	for _, l := range src.lines {
		stock[l.Variant.SKU].Reserved -= l.Item.ReservedQuantity
	}

	m := &mutation{ctx: ctx, tx: tx, e: e, now: now, settings: s, cart: dst.cart, lines: slices.Clone(dst.lines), cause: CauseMerge}
	m.note([]cart.Message{{Type: cart.Info, Code: "cart_merged",
		Text: fmt.Sprintf("The items of cart %d were merged into this cart", src.cart.Num)}})
	if err := m.snapshot(); err != nil {
		return cart.View{}, err
	}
	// The target's prices are brought up to date first, as by any write of it, so that a line
	// the merge moves to another tier is not mistaken for a price change.
	if err := m.storePrices(); err != nil {
		return cart.View{}, err
	}
	for _, l := range src.lines {
		if err := m.mergeLine(l, stock[l.Variant.SKU], held[l.Item.VariantNum]); err != nil {
			return cart.View{}, err
		}
	}
	if err := m.mergeCoupons(src.offers.coupons); err != nil {
		return cart.View{}, err
	}
	for _, sku := range skus {
		st := stock[sku]
		if st.Reserved == reserved[sku] {
			continue // released and taken again in equal measure: the row is unchanged
		}
		st.Version++
		st.UpdatedAt = now
		if err := tx.PutStock(ctx, *st); err != nil {
			return cart.View{}, err
		}
	}
	for i, l := range m.lines {
		if st, ok := stock[l.Variant.SKU]; ok {
			m.keep(i)
			m.lines[i].Stock = *st
		}
	}

	closed := src.cart
	closed.Status, closed.MergedInto = cart.StatusMerged, dst.cart.Num
	closed.Version++
	closed.UpdatedAt = now
	if err := tx.UpdateCart(ctx, closed); err != nil {
		return cart.View{}, err
	}

	view, err := m.finish()
	if log := events(tx); log != nil && err == nil {
		data := mergedData{From: CartID(closed.Num), Into: CartID(m.cart.Num)}
		log.event(EventCartMerged, closed.Num, closed.Version, cartKey(closed.Num), data)
		log.event(EventCartMerged, m.cart.Num, m.cart.Version, cartKey(m.cart.Num), data)
	}
	return view, err
}

// finish ends a mutation as mutate does: a new version if anything of the cart was written,
// the cart re-priced with the call's messages and the notices of its lines, and the lines the
// call changed and removed.
func (m *mutation) finish() (cart.View, error) {
	if m.changed {
		m.cart.Version++
		m.cart.UpdatedAt, m.cart.LastActivity = m.now, m.now
	}
	view, err := m.price()
	if err != nil {
		return cart.View{}, err
	}
	if err := figuresInRange(view, func() (cart.View, error) {
		if m.prev != nil {
			return *m.prev, nil
		}
		return m.e.priceWith(m.cart, m.original(), m.settings, m.now, m.off)
	}); err != nil {
		return cart.View{}, err
	}
	view.Messages = append(m.messages, m.e.notices(view)...)
	view.ChangedItems, view.RemovedItems = m.touched, m.removed
	if m.changed {
		if err := m.tx.UpdateCart(m.ctx, m.cart); err != nil {
			return cart.View{}, err
		}
	}
	return view, nil
}

// mergeLine moves one line of the source into the target this mutation holds: into the
// target's line of the same variant, or into a new line. st is the SKU's stock with the
// source's reservations released; mergeLine takes from it what the line reserves.
func (m *mutation) mergeLine(src cart.Line, st *cart.Stock, held int64) error {
	requested, none := src.Item.Quantity, int64(0)
	if pricing.UnavailableAt(&src, m.cart.Currency, m.now) != "" {
		return m.note([]cart.Message{{Type: cart.Warning, Code: "item_unavailable",
			Text:      fmt.Sprintf("%s is no longer available; it was not moved from the merged cart", src.Variant.SKU),
			Requested: &requested, Applied: &none, Scale: src.Variant.QuantityScale}})
	}
	i := slices.IndexFunc(m.lines, func(l cart.Line) bool { return l.Item.VariantNum == src.Item.VariantNum })
	created := i < 0
	var l cart.Line
	if created {
		if int64(len(m.lines)) >= m.settings.MaxLinesPerCart {
			return m.note([]cart.Message{{Type: cart.Warning, Code: "too_many_lines",
				Text:      fmt.Sprintf("A cart holds at most %d items; %s was not moved from the merged cart", m.settings.MaxLinesPerCart, src.Variant.SKU),
				Requested: &requested, Applied: &none, Scale: src.Variant.QuantityScale}})
		}
		l = cart.Line{Variant: src.Variant, Product: src.Product, Sale: src.Sale, Item: cart.Item{
			CartNum: m.cart.Num, VariantNum: src.Item.VariantNum, AddedUnitPrice: src.Item.AddedUnitPrice,
			Notes: src.Item.Notes, Metadata: src.Item.Metadata, CreatedAt: m.now}}
	} else {
		l = m.lines[i]
	}
	free := st.Available() + l.Item.ReservedQuantity
	// A merge into a storefront session's guest cart holds it to its address's share as any
	// change of that cart is (anonhold.go): what the share cannot take stays behind.
	room, capping, err := m.addressRoom(l, *st)
	if err != nil {
		return err
	}
	if capping = capping && room < free; capping {
		free = room
	}
	from := l.Item.Quantity
	res := cart.MergeQuantity(cart.MergeRequest{
		Current: l.Item.Quantity, CurrentReserved: l.Item.ReservedQuantity, CurrentBackorder: l.Item.Backorder,
		Add: src.Item.Quantity, Limit: cart.ScaleLimit(m.quantityLimit(), src.Variant.Scale()), Free: free, Reserve: m.e.Reserving(),
		Rule: cart.RuleOf(l.Variant, l.Product), Held: held, Scale: src.Variant.Scale(),
	})
	msgs := scaled(cart.MergeMessages(l.Item.Num, res, l.Item.Quantity, free, created), src.Variant)
	if res.Clamped || created && res.Quantity == 0 {
		noteChange(m.tx, QuantityClamped, 1) // quantity_clamped, or out_of_stock
		if capping {
			m.noteCapped(l.Variant.SKU)
		}
	}
	if res.Quantity == l.Item.Quantity && res.Reserved == l.Item.ReservedQuantity {
		return m.note(msgs) // nothing could be moved: the target's line stays as it is
	}
	st.Reserved += res.Reserved - l.Item.ReservedQuantity
	if !created {
		if l.Item.Notes == "" {
			l.Item.Notes = src.Item.Notes
		}
		if l.Item.Metadata == nil {
			l.Item.Metadata = src.Item.Metadata
		}
	}
	l.Item.Quantity, l.Item.ReservedQuantity, l.Item.Backorder = res.Quantity, res.Reserved, res.Backorder
	l.Item.ReservedUntil = time.Time{}
	if res.Reserved > 0 {
		l.Item.ReservedUntil = m.reserveUntil(l)
	}
	l.Item.UnitPrice, _ = pricing.UnitPrice(*l.Variant, m.cart.Currency, res.Quantity)
	l.Stock = *st
	if err := m.write(i, l, created, msgs); err != nil {
		return err
	}
	m.lineEvent(m.lines[m.index(i)], from, res.Quantity, CauseMerge)
	return nil
}
