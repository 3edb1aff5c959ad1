package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// Storefront sessions (the storefront dialect, docs/dialects.md). A session is a secret the
// shopper's browser keeps in a cookie, naming one guest cart; it is stored as its SHA-256,
// like customer tokens, and lasts SessionTTL from its start. There is no login: whoever holds
// the secret acts on that cart and no other.
//
// A session is started by the first change that puts something in a cart (an add), in the
// same transaction as that change, so a refused add leaves neither a session nor a cart
// behind; reading or emptying the cart of a request without a session answers an empty cart
// and stores nothing. A session whose cart is no longer an active guest cart (checked out,
// merged, or given to a customer when the shopper signed in) reaches nothing any more, and
// the next add starts a new one.
//
// The storefront's seed removes lines that can no longer be bought, "automatically ... with
// appropriate message", where every other front door keeps them as unavailable items
// (docs/stock.md). So every session call removes them first, in its own transaction: a read
// stores the removal (a write, only when there is something to remove), and a change removes
// them before it applies itself. A change naming a line it so removed is not applied, and
// the removals stand (SessionResult.Gone): the one documented exception to invariant 4
// (ARCHITECTURE.md §Invariants 4).

// SessionTTL is how long a storefront session lasts from its start: two weeks, the default
// lifetime of the session cookie of the Django storefronts the seed describes.
const SessionTTL = 14 * 24 * time.Hour

// SessionChange is a change to one line of a session's cart, named as the storefront's
// item_key names it: by its product's number and its variant's SKU, both of which must match.
type SessionChange struct {
	ProductNum int64
	SKU        string
	Change     cart.Change
	Policy     cart.Policy
	// Add is "add to cart": the quantity must be positive, and the line is created if the
	// cart lacks it (with a new session and cart if the request has none). Without Add the
	// line must be in the session's cart, else NotFound item_not_found.
	Add bool
	// ClientAddr is the client address of the request (limits.Guard.ClientAddr's form): a
	// session started by this change records it, and the units that the carts of the
	// sessions begun from one address hold are capped per SKU (Config.AnonymousHold).
	ClientAddr string
	// Admit, when set, is asked before the change starts a new session; its error refuses the
	// call (the front door's rate limit on new sessions per address).
	Admit func() error
}

// SessionResult is what a session call did.
type SessionResult struct {
	// View is the session's cart after the call; an empty cart that is not stored (Cart.Num
	// 0, the shop's default currency) when the request has no session.
	View cart.View
	// Secret and ExpiresAt are set when the call started a session: the cookie to give the
	// shopper.
	Secret    string
	ExpiresAt time.Time
	// Removed are the lines the call removed because they can no longer be bought, each with
	// its UnavailableReason.
	Removed []cart.LineView
	// Gone is the one of Removed that the change named: the change was not applied.
	Gone *cart.LineView
	// Change are the messages of the change itself (also in View.Messages): what a front door
	// that reports one outcome per call reports.
	Change []cart.Message
	// NoSession is set when the secret named no live session (made up, expired, or its cart
	// no longer a guest cart) and the call started none: a front door counts such a request
	// as one without a credential. Also set with the NotFound of a change that needs a session.
	NoSession bool
}

// sessionPrincipal is the principal of the engine's session calls: it holds the cart scopes
// and no customer, and is only ever used here, on the one cart a session names.
func sessionPrincipal() auth.Principal {
	return auth.Principal{Scopes: []auth.Scope{auth.CartsRead, auth.CartsWrite}}
}

// sessionCartChanged is the message of a session call whose cart kept ceasing to be the
// session's (checked out or given to a customer) between its lookup and its change
// (retryLookup).
const sessionCartChanged = "the session's cart changed during the call; retry it"

// sessionCart returns the live session a secret names, or a zero session (CartNum 0) when it
// names none, an expired one, or one whose cart is no longer an active guest cart.
func sessionCart(ctx context.Context, tx store.ReadTx, secret string) (auth.Session, error) {
	if !strings.HasPrefix(secret, auth.SessionPrefix) {
		return auth.Session{}, nil
	}
	h := auth.Hash(secret)
	s, err := tx.SessionByHash(ctx, h)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return auth.Session{}, nil
	case err != nil:
		return auth.Session{}, err
	case !auth.Equal(s.Hash, h) || !tx.Now().Before(s.ExpiresAt):
		return auth.Session{}, nil
	}
	c, err := tx.Cart(ctx, s.CartNum)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return auth.Session{}, nil
	case err != nil:
		return auth.Session{}, err
	case c.Status != cart.StatusActive || c.CustomerID != "":
		return auth.Session{}, nil
	}
	return s, nil
}

// lookupSession runs sessionCart in a read and returns the session's cart number (0 for none).
func (e *Engine) lookupSession(ctx context.Context, secret string) (int64, error) {
	s, err := e.session(ctx, secret)
	return s.CartNum, err
}

// session runs sessionCart in a read.
func (e *Engine) session(ctx context.Context, secret string) (auth.Session, error) {
	var s auth.Session
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		s, err = sessionCart(ctx, tx, secret)
		return err
	})
	return s, err
}

// SessionCart returns the cart of the session a secret names, after removing the lines that
// can no longer be bought (stored, with a version bump, when there are any). A secret naming
// no live session answers an empty cart that is not stored.
func (e *Engine) SessionCart(ctx context.Context, secret string) (SessionResult, error) {
	return retryLookup(sessionCartChanged, func() (SessionResult, error) {
		num, err := e.lookupSession(ctx, secret)
		if err != nil || num == 0 {
			if err != nil {
				return SessionResult{}, err
			}
			res, err := e.emptySession(ctx)
			res.NoSession = true
			return res, err
		}
		v, err := e.Cart(ctx, sessionPrincipal(), num)
		if err == nil && len(v.Unavailable) == 0 {
			return SessionResult{View: v}, nil
		}
		var res SessionResult
		if err == nil {
			res.View, err = e.mutate(ctx, sessionPrincipal(), num, Options{}, func(m *mutation) error {
				if err := m.stillGuestCart(); err != nil {
					return err
				}
				var err error
				res.Removed, err = m.removeUnavailable()
				return err
			})
		}
		return res, err
	})
}

// emptySession is the cart of a request without a session: nothing, in the shop's default
// currency, priced as any cart (automatic promotions have nothing to apply to).
func (e *Engine) emptySession(ctx context.Context) (SessionResult, error) {
	var v cart.View
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		now := tx.Now()
		c := cart.Cart{Currency: s.DefaultCurrency, Status: cart.StatusActive, CreatedAt: now, UpdatedAt: now, LastActivity: now}
		v, err = pricing.Price(pricing.Input{Cart: c, Settings: s, Now: now, Reserve: e.Reserving()})
		return err
	})
	return SessionResult{View: v}, err
}

// UpdateSession applies a change to a line of the session's cart, after removing the lines
// that can no longer be bought (see the top of this file), and returns the re-priced cart.
// An add without a live session starts one, with a new guest cart in the shop's default
// currency. Errors: NotFound item_not_found (no such line, or no session, without Add),
// Invalid (values and limits as Update; unknown_variant for an add of a SKU no live variant
// has, item_key_mismatch for a SKU of another product), StockShort (reject; carries the cart
// as it was), Conflict (a sale not started or ended).
func (e *Engine) UpdateSession(ctx context.Context, secret string, ch SessionChange) (SessionResult, error) {
	if ch.ProductNum <= 0 || ch.SKU == "" {
		return SessionResult{}, cart.InvalidField("invalid_item", "item_key", "name the item by its product's number and its SKU")
	}
	if ch.Add && ch.Change.N < 1 {
		return SessionResult{}, cart.InvalidField("invalid_quantity", "quantity", "quantity must be at least 1")
	}
	if ch.Policy == "" {
		ch.Policy = cart.Reject
	}
	return retryLookup(sessionCartChanged, func() (SessionResult, error) {
		sess, err := e.session(ctx, secret)
		num := sess.CartNum
		switch {
		case err != nil:
			return SessionResult{}, err
		case num == 0 && ch.Add:
			if ch.Admit != nil {
				if err := ch.Admit(); err != nil {
					return SessionResult{}, err
				}
			}
			return e.startSession(ctx, ch)
		case num == 0:
			return SessionResult{NoSession: true}, errNotInSession()
		}
		var res SessionResult
		res.View, err = e.mutate(ctx, sessionPrincipal(), num, Options{}, func(m *mutation) error {
			if err := m.stillGuestCart(); err != nil {
				return err
			}
			m.holdAddr = sess.ClientAddr
			var err error
			if res.Removed, err = m.removeUnavailable(); err != nil {
				return err
			}
			for i, l := range res.Removed {
				if l.Product.Num == ch.ProductNum && l.Variant.SKU == ch.SKU {
					res.Gone = &res.Removed[i]
					return nil
				}
			}
			res.Change, err = m.applySession(ch)
			return err
		})
		return res, err
	})
}

// ClearSession empties the session's cart. Without a live session there is nothing to empty:
// it answers an empty cart that is not stored.
func (e *Engine) ClearSession(ctx context.Context, secret string) (SessionResult, error) {
	return retryLookup(sessionCartChanged, func() (SessionResult, error) {
		num, err := e.lookupSession(ctx, secret)
		if err != nil || num == 0 {
			if err != nil {
				return SessionResult{}, err
			}
			res, err := e.emptySession(ctx)
			res.NoSession = true
			return res, err
		}
		var res SessionResult
		res.View, err = e.mutate(ctx, sessionPrincipal(), num, Options{}, func(m *mutation) error {
			if err := m.stillGuestCart(); err != nil {
				return err
			}
			for len(m.lines) > 0 {
				if err := m.apply(Update{Item: ItemRef{ItemNum: m.lines[0].Item.Num}, Change: &cart.Change{Set: true}, Policy: cart.Reject}); err != nil {
					return err
				}
			}
			return nil
		})
		return res, err
	})
}

// startSession opens a guest cart and a session naming it, and applies an add to the new
// cart, in one transaction: a refused add stores nothing.
func (e *Engine) startSession(ctx context.Context, ch SessionChange) (SessionResult, error) {
	var res SessionResult
	err := e.write(ctx, Options{}, func() any { return res.View }, func(tx store.Tx) error {
		res = SessionResult{}
		s, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		now := tx.Now()
		c := cart.Cart{Currency: s.DefaultCurrency, Status: cart.StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now, LastActivity: now}
		if err := tx.InsertCart(ctx, &c); err != nil {
			return err
		}
		secret := auth.NewSecret(auth.SessionPrefix)
		sess := auth.Session{CartNum: c.Num, Hash: auth.Hash(secret), CreatedAt: now, ExpiresAt: now.Add(SessionTTL), ClientAddr: ch.ClientAddr}
		if err := tx.InsertSession(ctx, &sess); err != nil {
			return err
		}
		m := &mutation{ctx: ctx, tx: tx, e: e, now: now, settings: s, cart: c, holdAddr: ch.ClientAddr}
		if err := m.snapshot(); err != nil {
			return err
		}
		if res.Change, err = m.applySession(ch); err != nil {
			return err
		}
		if err := m.checkUnits(0); err != nil {
			return err
		}
		if res.View, err = m.finish(); err != nil {
			return err
		}
		res.Secret, res.ExpiresAt = secret, sess.ExpiresAt
		return nil
	})
	return res, err
}

func errNotInSession() error {
	return cart.Errorf(cart.NotFound, "item_not_found", "the cart has no such item")
}

// applySession applies a session change to the line it names and returns the change's own
// messages.
func (m *mutation) applySession(ch SessionChange) ([]cart.Message, error) {
	ref, err := m.sessionRef(ch)
	if err != nil {
		return nil, err
	}
	from := len(m.messages)
	err = m.apply(Update{Item: ref, Change: &ch.Change, Policy: ch.Policy, Add: ch.Add})
	return slices.Clone(m.messages[from:]), err
}

// sessionRef finds the line a session change names, or, for an add, the variant it names.
func (m *mutation) sessionRef(ch SessionChange) (ItemRef, error) {
	for _, l := range m.lines {
		if l.Product.Num == ch.ProductNum && l.Variant.SKU == ch.SKU {
			return ItemRef{ItemNum: l.Item.Num}, nil
		}
	}
	if !ch.Add {
		return ItemRef{}, errNotInSession()
	}
	_, p, err := m.tx.VariantBySKU(m.ctx, ch.SKU)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return ItemRef{}, cart.InvalidField("unknown_variant", "item_key", "no product variant has SKU %q", ch.SKU)
	case err != nil:
		return ItemRef{}, err
	case p.Num != ch.ProductNum:
		return ItemRef{}, cart.InvalidField("item_key_mismatch", "item_key", "SKU %q is not a variant of product %d", ch.SKU, ch.ProductNum)
	}
	return ItemRef{SKU: ch.SKU}, nil
}

// removeUnavailable removes the mutation's cart's lines that can no longer be bought, each
// with an item_removed warning saying why, and returns them as they were. Their stock was
// already released (mutate releases it before the call's changes).
func (m *mutation) removeUnavailable() ([]cart.LineView, error) {
	var gone []cart.LineView
	for i := 0; i < len(m.lines); {
		l := m.lines[i]
		reason := pricing.UnavailableAt(&l, m.cart.Currency, m.now)
		if reason == "" {
			i++
			continue
		}
		gone = append(gone, cart.LineView{Line: l, UnitPrice: l.Item.UnitPrice, UnavailableReason: reason, InventoryStatus: cart.OutOfStock})
		from := len(m.messages)
		m.cause = CauseUnavailable
		err := m.apply(Update{Item: ItemRef{ItemNum: l.Item.Num}, Change: &cart.Change{Set: true}, Policy: cart.Reject})
		m.cause = ""
		if err != nil {
			return nil, err
		}
		// Its warning replaces the removal's message, and it counts as the clamp it reports:
		// nothing the line held could be kept.
		noteChange(m.tx, QuantityRemoved, -1)
		noteChange(m.tx, QuantityClamped, 1)
		requested, none := l.Item.Quantity, int64(0)
		m.messages = append(m.messages[:from], cart.Message{Type: cart.Warning, Code: "item_removed", ItemNum: l.Item.Num,
			Text:      fmt.Sprintf("%s is no longer available (%s) and was removed from the cart", l.Variant.SKU, strings.ReplaceAll(reason, "_", " ")),
			Requested: &requested, Applied: &none, Scale: l.Variant.QuantityScale})
	}
	return gone, nil
}

// sessionPurgeBatch bounds one transaction of PurgeSessions.
const sessionPurgeBatch = 500

// PurgeSessions deletes expired storefront sessions in small batches and returns how many it
// deleted. Their carts stay (a shop may still reach them through the native API).
func (e *Engine) PurgeSessions(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PurgeSessions(ctx, tx.Now(), sessionPurgeBatch)
			return err
		})
		total += n
		if err != nil || n < sessionPurgeBatch {
			return total, err
		}
	}
}
