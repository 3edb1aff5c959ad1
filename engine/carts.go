package engine

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// Size limits of shop-supplied free text.
const (
	MaxNotes    = 1000
	MaxMetadata = 16 << 10
)

// NewCart is what a new cart starts with. Currency "" means the shop's default currency.
type NewCart struct {
	CustomerID string
	Currency   string
	Metadata   json.RawMessage
}

// CreateCart opens a cart (scope carts:write). A customer token's carts always belong to its
// customer; naming another customer is Forbidden.
func (e *Engine) CreateCart(ctx context.Context, p auth.Principal, in NewCart, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	if p.IsCustomer() {
		if in.CustomerID != "" && in.CustomerID != p.CustomerID {
			return cart.View{}, cart.Errorf(cart.Forbidden, "customer_mismatch", "a customer token can only open carts for its own customer")
		}
		in.CustomerID = p.CustomerID
	}
	if in.CustomerID != "" {
		if err := validCustomerID(in.CustomerID); err != nil {
			return cart.View{}, err
		}
	}
	if err := validMetadata(in.Metadata); err != nil {
		return cart.View{}, err
	}
	var view cart.View
	err := e.write(ctx, opt, func() any { return view }, func(tx store.Tx) error {
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		cur := in.Currency
		if cur == "" {
			cur = s.DefaultCurrency
		} else if !money.Valid(cur) {
			return cart.InvalidField("unknown_currency", "currency", "%q is not an ISO 4217 currency code", cur)
		}
		now := tx.Now()
		c := cart.Cart{CustomerID: in.CustomerID, Currency: cur, Status: cart.StatusActive, Version: 1,
			Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now, LastActivity: now}
		if err := tx.InsertCart(ctx, &c); err != nil {
			return err
		}
		view, err = pricing.Price(pricing.Input{Cart: c, Lines: nil, Settings: s, Now: now, Reserve: e.Reserving()})
		return err
	})
	return view, err
}

// Cart returns a cart (scope carts:read). Another customer's cart is NotFound.
func (e *Engine) Cart(ctx context.Context, p auth.Principal, num int64) (cart.View, error) {
	if err := require(p, auth.CartsRead); err != nil {
		return cart.View{}, err
	}
	if e.snaps != nil {
		sn, err := e.snapshotCart(ctx, p, num) // snapshot.go
		if err != nil {
			return cart.View{}, err
		}
		return sn.view, nil
	}
	var view cart.View
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		s, c, lines, err := loadCart(ctx, tx, p, num)
		if err != nil {
			return err
		}
		view, err = e.price(ctx, tx, c, lines, s, tx.Now())
		view.Messages = e.notices(view)
		return err
	})
	return view, err
}

// notices are the messages a cart reports on every read and write about the state of its lines
// (pricing.Notices): price changes not yet stored, lines left short by an inventory decrease.
// Only an active cart reports them; any other cannot change, so there is nothing to act on.
func (e *Engine) notices(v cart.View) []cart.Message {
	if v.Cart.Status != cart.StatusActive {
		return nil
	}
	return pricing.Notices(v, e.Reserving())
}

// ItemRef names a line: by its number, or by its variant (SKU or variant id), which makes the
// change an upsert of that variant's line.
type ItemRef struct {
	ItemNum   int64
	SKU       string
	VariantID string
}

// Update is one change to one line. A nil Change leaves the quantity alone (a notes or
// metadata edit); nil Notes and Metadata leave those alone.
type Update struct {
	Item     ItemRef
	Change   *cart.Change
	Notes    *string
	Metadata json.RawMessage
	Policy   cart.Policy
	// Add is the "add to cart" call: the quantity must be positive, and a new line may be
	// created even though the reference is by variant.
	Add bool
}

// Options are the preconditions of a mutating call.
type Options struct {
	// IfMatch, when set, is the version the caller last saw; another version is Precondition.
	IfMatch *int64
	// Idempotency, when set, applies the call at most once per key (see Engine.write).
	Idempotency *Idempotency
	// Minimal says the caller shows only what a cart call changed (Prefer: return=minimal):
	// the cart's version, totals and messages and the lines the call changed. The View may
	// then hold only those lines and the lines its messages are about (View.Partial).
	Minimal bool
}

// RemoveItem removes one line (scope carts:write).
func (e *Engine) RemoveItem(ctx context.Context, p auth.Principal, cartNum, itemNum int64, opt Options) (cart.View, error) {
	ch := cart.SetTo(0)
	return e.Update(ctx, p, cartNum, []Update{{Item: ItemRef{ItemNum: itemNum}, Change: &ch}}, opt)
}

// Update applies changes to a cart's lines in one transaction, all or none (scope
// carts:write). It returns the re-priced cart with a message for every change. Errors:
// NotFound (cart or item), Invalid (values, limits, unknown SKU, currency), StockShort
// (reject policy; carries the unchanged cart), Conflict (cart not active, item unavailable),
// Precondition (IfMatch).
func (e *Engine) Update(ctx context.Context, p auth.Principal, cartNum int64, updates []Update, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	for i := range updates {
		if err := validateUpdate(&updates[i]); err != nil {
			return cart.View{}, err
		}
	}
	if e.tracer != nil {
		var end func(cart.View, error)
		ctx, end = e.startCall(ctx, "engine.Update", cartNum, len(updates))
		v, err := e.update(ctx, p, cartNum, updates, opt)
		end(v, err)
		return v, err
	}
	return e.update(ctx, p, cartNum, updates, opt)
}

func (e *Engine) update(ctx context.Context, p auth.Principal, cartNum int64, updates []Update, opt Options) (cart.View, error) {
	return e.mutate(ctx, p, cartNum, opt, func(m *mutation) error {
		for _, u := range updates {
			if err := m.apply(u); err != nil {
				return err
			}
		}
		return nil
	})
}

// Batch applies several changes to a cart's lines in one transaction, all or none (scope
// carts:write): the native PATCH /v1/carts/{id}/items. It is Update with the failing change
// named: an error about change i names its fields changes[i].<field> (changes[i].item_id, or
// .sku or .variant_id, when the change's line is unknown or unavailable), keeping its code,
// so front doors report which change failed whatever their shape. A batch holds 1 to
// max_lines_per_cart changes; an empty or longer one is Invalid naming changes.
func (e *Engine) Batch(ctx context.Context, p auth.Principal, cartNum int64, updates []Update, opt Options) (v cart.View, err error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	if len(updates) == 0 {
		return cart.View{}, cart.InvalidField("empty_batch", "changes", "changes must hold at least one change")
	}
	for i := range updates {
		if err := validateUpdate(&updates[i]); err != nil {
			return cart.View{}, atChange(i, updates[i].Item, err)
		}
	}
	if e.tracer != nil {
		var end func(cart.View, error)
		ctx, end = e.startCall(ctx, "engine.Batch", cartNum, len(updates))
		defer func() { end(v, err) }()
	}
	return e.mutate(ctx, p, cartNum, opt, func(m *mutation) error {
		if n := int64(len(updates)); n > m.settings.MaxLinesPerCart {
			return cart.InvalidField("too_many_changes", "changes", "a batch holds at most %d changes (max_lines_per_cart), not %d", m.settings.MaxLinesPerCart, n)
		}
		for i, u := range updates {
			if err := m.apply(u); err != nil {
				return atChange(i, u.Item, err)
			}
		}
		return nil
	})
}

// atChange names change i of a batch in err: its fields become changes[i].<field>, and an
// error naming no field (an unknown or unavailable line) names the change's item reference.
// The store's own failures pass unchanged: they are no change's fault.
func atChange(i int, ref ItemRef, err error) error {
	var ce *cart.Error
	if !errors.As(err, &ce) || ce.Code == cart.Internal || ce.Code == cart.Unavailable {
		return err
	}
	prefix := fmt.Sprintf("changes[%d]", i)
	named := *ce
	named.Message = prefix + ": " + ce.Message
	named.Fields = make([]cart.FieldError, 0, max(len(ce.Fields), 1))
	for _, f := range ce.Fields {
		named.Fields = append(named.Fields, cart.FieldError{Field: prefix + "." + f.Field, Message: f.Message})
	}
	if len(named.Fields) == 0 {
		field := "item_id"
		switch {
		case ref.ItemNum != 0:
		case ref.SKU != "":
			field = "sku"
		case ref.VariantID != "":
			field = "variant_id"
		}
		named.Fields = append(named.Fields, cart.FieldError{Field: prefix + "." + field, Message: ce.Message})
	}
	return &named
}

// ClearCart removes every line (scope carts:write).
func (e *Engine) ClearCart(ctx context.Context, p auth.Principal, cartNum int64, opt Options) (cart.View, error) {
	if err := require(p, auth.CartsWrite); err != nil {
		return cart.View{}, err
	}
	return e.mutate(ctx, p, cartNum, opt, func(m *mutation) error {
		for len(m.lines) > 0 {
			if err := m.apply(Update{Item: ItemRef{ItemNum: m.lines[0].Item.Num}, Change: &cart.Change{Set: true}}); err != nil {
				return err
			}
		}
		return nil
	})
}

func validateUpdate(u *Update) error {
	if u.Item.ItemNum == 0 && u.Item.SKU == "" && u.Item.VariantID == "" {
		return cart.InvalidField("missing_item", "sku", "name the item by sku or variant_id")
	}
	if u.Add && (u.Change == nil || u.Change.N < 1) {
		return cart.InvalidField("invalid_quantity", "quantity", "quantity must be at least 1")
	}
	if u.Change == nil && u.Notes == nil && u.Metadata == nil {
		return cart.InvalidField("empty_update", "quantity", "nothing to change: give quantity, notes or metadata")
	}
	if u.Notes != nil && len(*u.Notes) > MaxNotes {
		return cart.InvalidField("notes_too_long", "notes", "notes must be at most %d bytes", MaxNotes)
	}
	if u.Notes != nil {
		if err := validText("notes", *u.Notes); err != nil {
			return err
		}
	}
	if u.Policy == "" {
		u.Policy = cart.Reject
	}
	return validMetadata(u.Metadata)
}

func validMetadata(m json.RawMessage) error {
	if m == nil {
		return nil
	}
	if len(m) > MaxMetadata || !bytes.HasPrefix(bytes.TrimSpace(m), []byte("{")) || !json.Valid(m) {
		return cart.InvalidField("invalid_metadata", "metadata", "metadata must be a JSON object of at most %d bytes", MaxMetadata)
	}
	return validJSONText("metadata", m)
}

// loadCart reads a cart the principal may see, with the settings and its lines.
func loadCart(ctx context.Context, tx store.ReadTx, p auth.Principal, num int64) (cart.Settings, cart.Cart, []cart.Line, error) {
	s, c, err := loadCartRow(ctx, tx, p, num)
	if err != nil {
		return s, c, nil, err
	}
	lines, err := tx.Lines(ctx, num)
	return s, c, lines, err
}

// loadCartRow reads a cart the principal may see, without its lines, and the settings.
func loadCartRow(ctx context.Context, tx store.ReadTx, p auth.Principal, num int64) (cart.Settings, cart.Cart, error) {
	s, err := tx.Settings(ctx)
	if err != nil {
		return s, cart.Cart{}, err
	}
	c, err := tx.Cart(ctx, num)
	if err != nil {
		return s, c, err
	}
	if p.IsCustomer() && c.CustomerID != p.CustomerID {
		// Not 403: a customer must not learn which cart numbers exist.
		return s, cart.Cart{}, cart.Errorf(cart.NotFound, "cart_not_found", "no cart %d", num)
	}
	return s, c, nil
}

// mutation is one write to one cart inside a transaction.
type mutation struct {
	ctx      context.Context
	tx       store.Tx
	e        *Engine
	now      time.Time
	settings cart.Settings
	cart     cart.Cart
	lines    []cart.Line
	// holdAddr is the client address a storefront session's cart began from: its holdings
	// count against that address's cap (anonhold.go). "" for every other cart. Session calls
	// set it; for any other call on a guest cart addressRoom looks it up (holdLooked).
	holdAddr   string
	holdLooked bool
	messages   []cart.Message
	// changed records whether anything of the cart was written: only then is there a new
	// version (a clamp that adds nothing changes nothing).
	changed bool
	// touched and removed are the lines the call wrote and deleted (cart.View's ChangedItems
	// and RemovedItems); created, the lines it inserted.
	touched, removed []int64
	created          map[int64]bool
	// orig holds the lines the call changed or removed, as they were (keep, original).
	orig map[int64]cart.Line
	// off are the cart's coupons and the automatic promotions (mutation.offers), prev the
	// cart as priced before the call (mutation.snapshot), and couponCalls the codes the call
	// applied or removed itself.
	off         offers
	offersRead  bool
	prev        *cart.View
	couponCalls map[string]bool
	// memos is the store transaction's memo capability (nil: it keeps none), memo the memo
	// whose lines the call works on (nil: they were read), and rec the transaction keeping
	// stock as it was before the call, for a memo's lines (memo.go). unitsBefore counts the
	// units of the lines as the call found them.
	memos       store.Memos
	memo        *memo
	rec         *stockLog
	unitsBefore int64
	// cause is why the call changes lines, for their events ("" is CauseRequest); checkedOut
	// says the call checked the cart out: its view is stored as the cart's record.
	cause      Cause
	checkedOut bool
}

// mutate runs fn on a loaded cart and, if it succeeds, bumps the version and re-prices; the
// whole is one transaction. A refused call's error carries the cart as it was, untouched, so
// the client can recover without another read. The fast path (memo.go) is entered at two
// points: load, where a minimal call takes the lines of the memo the cart's last change left,
// when one holds, and reprice, which prices from that memo and leaves the next.
func (e *Engine) mutate(ctx context.Context, p auth.Principal, num int64, opt Options, fn func(*mutation) error) (cart.View, error) {
	var view cart.View
	err := e.write(ctx, opt, func() any { return view }, func(tx store.Tx) error {
		s, c, err := loadCartRow(ctx, tx, p, num)
		if err != nil {
			return err
		}
		now := tx.Now()
		m := &mutation{ctx: ctx, tx: tx, e: e, now: now, settings: s, cart: c, memos: memosOf(tx)}
		before := func(lines []cart.Line, err *cart.Error) error {
			if ferr := m.stockAsBefore(lines); ferr != nil {
				return ferr
			}
			if v, perr := e.price(ctx, tx, c, lines, s, now); perr == nil {
				v.Messages = e.notices(v)
				err.Cart = &v
			}
			return err
		}
		if ce := refusal(c, opt); ce != nil {
			lines, err := tx.Lines(ctx, num)
			if err != nil {
				return err
			}
			return before(lines, ce)
		}
		if err := m.load(opt.Minimal); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			var ce *cart.Error
			if errors.As(err, &ce) && (ce.Code == cart.StockShort || ce.Code == cart.Conflict) {
				return before(m.original(), ce)
			}
			return err
		}
		if m.changed {
			m.cart.Version++
			m.cart.UpdatedAt, m.cart.LastActivity = now, now
			if err := tx.UpdateCart(ctx, m.cart); err != nil {
				return err
			}
		}
		if view, err = m.reprice(); err != nil {
			return err
		}
		o, err := m.offers()
		if err != nil {
			return err
		}
		if err := figuresInRange(view, func() (cart.View, error) {
			if m.prev != nil {
				return *m.prev, nil
			}
			return e.priceWith(c, m.original(), s, now, o)
		}); err != nil {
			var ce *cart.Error
			errors.As(err, &ce)
			return before(m.original(), ce)
		}
		if m.checkedOut {
			rec := view
			if rec.Partial {
				if rec, err = e.priceWith(m.cart, m.lines, m.settings, now, o); err != nil {
					return err
				}
			}
			if err := putRecord(ctx, tx, rec, now); err != nil {
				return err
			}
			if err := e.checkedOutEvent(tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	return view, err
}

// refusal is the error of a call the cart refuses as it stands: another version than the
// caller saw (If-Match), or a cart that is not active; nil when there is none.
func refusal(c cart.Cart, opt Options) *cart.Error {
	if opt.IfMatch != nil && *opt.IfMatch != c.Version {
		return cart.Errorf(cart.Precondition, "version_mismatch", "the cart is at version %d, not %d", c.Version, *opt.IfMatch)
	}
	if c.Status != cart.StatusActive {
		return cart.Errorf(cart.Conflict, cart.ReasonCartNotActive, "the cart is %s and cannot change", c.Status)
	}
	return nil
}

// load gives the mutation the cart's lines and counts their units. A minimal call takes them
// from a memo when one holds (takeMemo); otherwise they are read and brought up to date before
// the call's own changes. The mutation owns its lines (a fresh slice from the store, or a
// memo's): rather than copy a cart of up to a thousand lines on every change, it keeps the
// lines it changes as they were (mutation.keep), to rebuild the cart as it was should the
// call fail.
func (m *mutation) load(minimal bool) error {
	if taken, err := m.takeMemo(minimal); taken || err != nil {
		return err
	}
	lines, err := m.tx.Lines(m.ctx, m.cart.Num)
	if err != nil {
		return err
	}
	m.lines, m.unitsBefore = lines, units(lines)
	if err := m.snapshot(); err != nil {
		return err
	}
	if err := m.storePrices(); err != nil {
		return err
	}
	// Stock a line may no longer hold goes back before the call's own changes, so that a
	// lapsed line the call touches reserves again from what is free.
	return m.releaseHeld(m.lapsed)
}

// reprice prices the cart as the call leaves it (whose version mutate moved on) after
// checking its units against the limit, with the call's messages and the notices of its
// lines, and leaves the next memo with the store. On a memo, with no offer the call brought
// (a coupon), the lines the call changed are priced again into the next memo, whose unit
// count the limit takes; else every line is counted and priced.
func (m *mutation) reprice() (cart.View, error) {
	o, err := m.offers()
	if err != nil {
		return cart.View{}, err
	}
	var next *memo
	unitsAfter := int64(0)
	if m.memo != nil && len(o.coupons)+len(o.auto) == 0 {
		next, err = m.refigure(m.memo)
		if err == nil {
			unitsAfter = next.units
		}
	}
	if next == nil {
		unitsAfter = units(m.lines)
	}
	if lerr := unitsLimit(m.unitsBefore, unitsAfter); lerr != nil {
		return cart.View{}, lerr
	}
	if err != nil {
		return cart.View{}, err
	}
	var view cart.View
	if next != nil {
		view, err = m.priceFromMemo(next)
	} else if err = m.stockAsBefore(m.lines); err == nil {
		view, err = m.price()
	}
	if err != nil {
		return cart.View{}, err
	}
	view.Messages = append(m.messages, m.e.notices(view)...)
	view.ChangedItems, view.RemovedItems = m.touched, m.removed
	m.keepMemo(&view, next)
	return view, nil
}

// storePrices stores the catalog's unit price on every line whose price changed since it was
// stored, each with a price_changed message: a catalog price change is shown by reads and
// stored by the cart's next write (ARCHITECTURE.md §Decisions), whose version bump covers it. It runs before
// the call's own changes, so a line the call moves to another tier is not mistaken for a
// price change.
func (m *mutation) storePrices() error {
	for i := range m.lines {
		old, current, changed := pricing.PriceChange(&m.lines[i], m.cart.Currency)
		if !changed {
			continue
		}
		l := m.lines[i]
		l.Item.UnitPrice = current
		if err := m.write(i, l, false, []cart.Message{pricing.PriceChangedMessage(l, m.cart.Currency, old, current)}); err != nil {
			return err
		}
	}
	return nil
}

// find returns the index of the line an update names, or -1 for a variant not yet in the cart.
func (m *mutation) find(ref ItemRef) (int, error) {
	if ref.ItemNum != 0 {
		if i, ok := lineAt(m.lines, ref.ItemNum); ok {
			return i, nil // lines are in item order; the scan below finds them whatever the order
		}
	}
	for i := range m.lines {
		switch l := &m.lines[i]; {
		case ref.ItemNum != 0 && l.Item.Num == ref.ItemNum,
			ref.ItemNum == 0 && !l.Variant.Deleted && (ref.SKU != "" && l.Variant.SKU == ref.SKU || ref.VariantID != "" && l.Variant.ID == ref.VariantID):
			return i, nil
		}
	}
	if ref.ItemNum != 0 {
		return -1, cart.Errorf(cart.NotFound, "item_not_found", "the cart has no item %d", ref.ItemNum)
	}
	return -1, nil
}

// newLine prepares a line for a variant the cart does not hold yet.
func (m *mutation) newLine(ref ItemRef) (cart.Line, error) {
	var (
		v   cart.Variant
		p   cart.Product
		err error
	)
	field := "sku"
	if ref.SKU != "" {
		v, p, err = m.tx.VariantBySKU(m.ctx, ref.SKU)
	} else {
		field = "variant_id"
		v, p, err = m.tx.VariantByID(m.ctx, ref.VariantID)
	}
	if cart.ErrorCode(err) == cart.NotFound {
		return cart.Line{}, cart.InvalidField("unknown_variant", field, "no product variant has %s %q", field, ref.SKU+ref.VariantID)
	}
	if err != nil {
		return cart.Line{}, err
	}
	l := cart.Line{Variant: &v, Product: &p, Item: cart.Item{CartNum: m.cart.Num, VariantNum: v.Num, CreatedAt: m.now}}
	if v.SaleID != "" {
		switch sale, err := m.tx.Sale(m.ctx, v.SaleID); {
		case err == nil:
			l.Sale = sale
		case cart.ErrorCode(err) != cart.NotFound: // a sale not stored restricts nothing
			return cart.Line{}, err
		}
	}
	switch pricing.UnavailableAt(&l, m.cart.Currency, m.now) {
	case "":
	case cart.UnavailableNoPrice:
		return cart.Line{}, cart.InvalidField("currency_unavailable", field, "%s has no price in %s", v.SKU, m.cart.Currency)
	case cart.UnavailableSaleNotStarted:
		return cart.Line{}, cart.Errorf(cart.Conflict, "sale_not_started", "%s is not on sale yet: its sale starts at %s",
			v.SKU, l.Sale.StartsAt.Format(time.RFC3339))
	case cart.UnavailableSaleEnded:
		return cart.Line{}, cart.Errorf(cart.Conflict, "sale_ended", "%s is no longer on sale: its sale ended at %s",
			v.SKU, l.Sale.EndsAt.Format(time.RFC3339))
	default:
		return cart.Line{}, cart.InvalidField("variant_unavailable", field, "%s is not available", v.SKU)
	}
	if int64(len(m.lines)) >= m.settings.MaxLinesPerCart {
		return cart.Line{}, cart.InvalidField("too_many_lines", field, "a cart holds at most %d lines", m.settings.MaxLinesPerCart)
	}
	return l, nil
}

// apply performs one update: it resolves the quantity under the stock policy, moves stock
// between available and reserved, and writes the line, all within the mutation's transaction.
func (m *mutation) apply(u Update) error {
	i, err := m.find(u.Item)
	if err != nil {
		return err
	}
	created := i < 0
	var l cart.Line
	if created {
		if l, err = m.newLine(u.Item); err != nil {
			return err
		}
	} else {
		l = m.lines[i]
	}
	if u.Notes != nil {
		l.Item.Notes = *u.Notes
	}
	if u.Metadata != nil {
		l.Item.Metadata = u.Metadata
	}
	if u.Change == nil {
		if created {
			return cart.InvalidField("invalid_quantity", "quantity", "a new item needs a quantity")
		}
		return m.write(i, l, false, []cart.Message{{Type: cart.Info, Code: "item_updated", ItemNum: l.Item.Num, Text: "Item updated"}})
	}
	// The change in the variant's units (docs/measured-quantities.md); a whole change of a
	// whole variant, every change but the native API's of a measured one, costs nothing here.
	change := *u.Change
	if change.Form != cart.FormUnits {
		if change, err = change.In(l.Variant.Scale(), l.Variant.SKU, l.Variant.Unit); err != nil {
			return addField(u, err)
		}
	}
	want := change.N
	if !change.Set {
		want = l.Item.Quantity + min(change.N, math.MaxInt64-l.Item.Quantity) // overflow is ResolveQuantity's to report
	}
	if !created && want > 0 && pricing.UnavailableAt(&l, m.cart.Currency, m.now) != "" {
		return cart.Errorf(cart.Conflict, "item_unavailable", "%s is no longer available; it can only be removed", l.Variant.SKU)
	}
	rule := cart.RuleOf(l.Variant, l.Product)
	held, err := m.heldElsewhere(&l, rule)
	if err != nil {
		return err
	}
	stock, err := m.tx.Stock(m.ctx, l.Variant.SKU)
	if err != nil {
		return err
	}
	free := stock.Available() + l.Item.ReservedQuantity
	if m.e.Reserving() && want > free {
		// Short: take back what other carts hold past their reservation's lapse first.
		if n, err := m.reclaim(l.Variant.SKU); err != nil {
			return err
		} else if n > 0 {
			if stock, err = m.tx.Stock(m.ctx, l.Variant.SKU); err != nil {
				return err
			}
			free = stock.Available() + l.Item.ReservedQuantity
		}
	}
	// The cap never takes back what a line holds, so a change that asks for no more than the
	// line holds leaves it alone, without looking up the cart's session.
	room, capping := int64(0), false
	if want > l.Item.ReservedQuantity || l.Item.Expired(m.now) {
		if room, capping, err = m.addressRoom(l, stock); err != nil {
			return err
		}
	}
	capping = capping && room < free
	if capping {
		free = room
	}
	stock.SKU = l.Variant.SKU
	res, err := cart.ResolveQuantity(cart.QuantityRequest{
		Current: l.Item.Quantity, CurrentReserved: l.Item.ReservedQuantity, CurrentBackorder: l.Item.Backorder,
		Change: change, Limit: cart.ScaleLimit(m.settings.MaxQuantityPerItem, l.Variant.Scale()),
		GuestLimit: cart.ScaleLimit(m.guestLimit(), l.Variant.Scale()), Free: free, Policy: u.Policy, Reserve: m.e.Reserving(),
		Lapsed: !created && l.Item.Expired(m.now), Rule: rule, Held: held, Scale: l.Variant.Scale(),
	})
	err = addField(u, err)
	if ce, ok := err.(*cart.Error); ok {
		ce.Scale = l.Variant.QuantityScale
	}
	if capping && (cart.ErrorCode(err) == cart.StockShort || (err == nil && res.Quantity < want)) {
		m.noteCapped(l.Variant.SKU)
	}
	if err != nil {
		return err
	}
	if delta := res.Reserved - l.Item.ReservedQuantity; delta != 0 {
		stock.Reserved += delta
		stock.Version++
		stock.UpdatedAt = m.now
		if err := m.tx.PutStock(m.ctx, stock); err != nil {
			return err
		}
	}
	l.Stock = stock
	msgs := scaled(cart.QuantityMessages(l.Item.Num, res, free, created), l.Variant)
	noteChange(m.tx, changeOutcome(res), 1)
	cause := m.cause
	if cause == "" {
		cause = CauseRequest
	}
	if res.Clamped && cause == CauseRequest {
		cause = CauseClamp
	}
	if res.Removed() {
		if created {
			return m.note(msgs)
		}
		if err := m.tx.DeleteItem(m.ctx, l.Item.Num); err != nil {
			return err
		}
		m.lineEvent(l, l.Item.Quantity, 0, cause)
		m.changed = true
		m.keep(i)
		m.lines = slices.Delete(m.lines, i, i+1)
		m.touched = slices.DeleteFunc(m.touched, func(n int64) bool { return n == l.Item.Num })
		if !m.created[l.Item.Num] {
			m.removed = append(m.removed, l.Item.Num)
		}
		return m.note(msgs)
	}
	from := l.Item.Quantity
	l.Item.Quantity, l.Item.ReservedQuantity, l.Item.Backorder = res.Quantity, res.Reserved, res.Backorder
	l.Item.ReservedUntil = time.Time{}
	if res.Reserved > 0 {
		l.Item.ReservedUntil = m.reserveUntil(l)
	}
	l.Item.UnitPrice, _ = pricing.UnitPrice(*l.Variant, m.cart.Currency, res.Quantity)
	if created {
		l.Item.AddedUnitPrice = l.Item.UnitPrice
	}
	if err := m.write(i, l, created, msgs); err != nil {
		return err
	}
	m.lineEvent(m.lines[m.index(i)], from, res.Quantity, cause)
	return nil
}

// scaled marks msgs, about a line of v, with v's quantity scale.
func scaled(msgs []cart.Message, v *cart.Variant) []cart.Message {
	if v.QuantityScale != 0 {
		for i := range msgs {
			msgs[i].Scale = v.QuantityScale
		}
	}
	return msgs
}

// addField names the field an add's caller sent, quantity, in err: an add is a delta inside.
func addField(u Update, err error) error {
	var ce *cart.Error
	if err != nil && u.Add && errors.As(err, &ce) {
		for j := range ce.Fields {
			if ce.Fields[j].Field == "quantity_delta" {
				ce.Fields[j].Field = "quantity"
				ce.Fields[j].Message = strings.Replace(ce.Fields[j].Message, "quantity_delta ", "quantity ", 1)
			}
		}
		ce.Message = strings.Replace(ce.Message, "quantity_delta ", "quantity ", 1)
	}
	return err
}

// index is where line i of a write is now: a new line (i < 0) was appended last.
func (m *mutation) index(i int) int {
	if i < 0 {
		return len(m.lines) - 1
	}
	return i
}

// write stores a line (new when i < 0) and records its messages.
func (m *mutation) write(i int, l cart.Line, created bool, msgs []cart.Message) error {
	l.Item.UpdatedAt = m.now
	m.changed = true
	if created {
		if err := m.tx.InsertItem(m.ctx, &l.Item); err != nil {
			return err
		}
		m.lines = append(m.lines, l)
		if m.created == nil {
			m.created = map[int64]bool{}
		}
		m.created[l.Item.Num] = true
	} else {
		if err := m.tx.UpdateItem(m.ctx, l.Item); err != nil {
			return err
		}
		m.keep(i)
		m.lines[i] = l
	}
	if !slices.Contains(m.touched, l.Item.Num) {
		m.touched = append(m.touched, l.Item.Num)
	}
	for j := range msgs {
		msgs[j].ItemNum = l.Item.Num
	}
	return m.note(msgs)
}

// keep records line i as it was before the call first changed it (see original).
func (m *mutation) keep(i int) {
	n := m.lines[i].Item.Num
	if m.created[n] {
		return
	}
	if m.orig == nil {
		m.orig = map[int64]cart.Line{}
	}
	if _, ok := m.orig[n]; !ok {
		m.orig[n] = m.lines[i]
	}
}

// original rebuilds the cart's lines as they were before the call: its lines without those it
// created, those it changed or removed as kept, in the store's order (oldest, lowest Num,
// first).
func (m *mutation) original() []cart.Line {
	out := make([]cart.Line, 0, len(m.lines)+len(m.orig))
	present := make(map[int64]bool, len(m.orig))
	for i := range m.lines {
		n := m.lines[i].Item.Num
		switch o, kept := m.orig[n]; {
		case m.created[n]:
		case kept:
			out = append(out, o)
			present[n] = true
		default:
			out = append(out, m.lines[i])
		}
	}
	for n, o := range m.orig {
		if !present[n] {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b cart.Line) int { return cmp.Compare(a.Item.Num, b.Item.Num) })
	return out
}

func (m *mutation) note(msgs []cart.Message) error {
	m.messages = append(m.messages, msgs...)
	return nil
}
