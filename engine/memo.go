package engine

import (
	"cmp"
	"slices"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
)

// A change to a cart of a thousand lines should cost about what a change to a one-line cart
// costs when the caller wants only what changed (Options.Minimal): reading, assembling and
// re-pricing every line on every change made it cost ten to twenty times as much. So every
// mutation of an active cart without promotions leaves its lines and their figures with the
// store (store.Tx.KeepMemo), and the cart's next minimal change takes them back instead of
// reading the lines, re-prices only the lines it changed (pricing.Line) and adds the totals up
// again from the figures (pricing.Totals). The store forgets a memo when anything it was
// derived from changes, save stock; so a memo's lines carry no Stock to trust, and the lines
// a response shows get theirs read again (freshStock).
//
// A memo also stops holding when the clock reaches a line's reservation lapse or a sale's
// start or end (until), and is not used for a cart with coupons or automatic promotions in
// effect, which re-price every line.

// memo is what a mutation leaves for the cart's next change.
type memo struct {
	version int64     // the cart's version it describes
	at      time.Time // the instant it was priced at
	until   time.Time // the first instant at which a line's figures change; zero: none
	lines   []cart.Line
	figs    []pricing.Figures // figs[i] are lines[i]'s
}

// takeMemo returns the memo of the mutation's cart if it holds now, or nil. Either way the
// store forgets it.
func (m *mutation) takeMemo() *memo {
	mm, _ := m.tx.TakeMemo(m.cart.Num).(*memo)
	if mm == nil || mm.version != m.cart.Version || m.now.Before(mm.at) ||
		!mm.until.IsZero() && !m.now.Before(mm.until) || len(mm.lines) != len(mm.figs) {
		return nil
	}
	return mm
}

// keepMemo leaves the cart's lines and their figures with the store, when the cart is one a
// memo serves: active, without offers, with reservations on (without them a line's status
// depends on the stock, which a memo does not follow). figs are the lines' figures, or nil to
// take them from v, the view just priced.
func (m *mutation) keepMemo(v *cart.View, figs []pricing.Figures) {
	if !m.e.Reserving() || m.cart.Status != cart.StatusActive || len(m.off.coupons)+len(m.off.auto) > 0 || !m.offersRead {
		return
	}
	if figs == nil {
		// FiguresOf gives them in item order, as the store returns lines and appends new
		// ones (numbers only grow); lines out of that order get no memo.
		figs = pricing.FiguresOf(v, m.now)
		if len(figs) != len(m.lines) {
			return
		}
		for i := range figs {
			if figs[i].Num != m.lines[i].Item.Num {
				return
			}
		}
	}
	mm := &memo{version: m.cart.Version, at: m.now, lines: m.lines, figs: figs}
	for i := range figs {
		if u := figs[i].Until; !u.IsZero() && (mm.until.IsZero() || u.Before(mm.until)) {
			mm.until = u
		}
	}
	for i := range m.lines {
		m.lines[i].Stock = cart.Stock{} // read again when needed (stockAsBefore)
	}
	m.tx.KeepMemo(m.cart.Num, mm, len(m.lines))
	m.lines = nil // the store's now
}

// priceFromMemo prices the cart after a change made on a memo's lines: the lines the call
// changed are priced again, the others keep their figures, and the totals are added up
// again. The view holds only the lines a minimal response shows or reports on: those the call
// changed and those with a notice, each with its stock read again. figs are the figures of
// every line, for keepMemo.
func (m *mutation) priceFromMemo(old *memo) (cart.View, []pricing.Figures, error) {
	v := cart.View{Cart: m.cart, At: m.now, Partial: true}
	figs, err := m.refigure(old)
	if err != nil {
		return cart.View{}, nil, err
	}
	if err := pricing.Totals(&v, figs, m.settings); err != nil {
		return cart.View{}, nil, err
	}
	for i := range m.lines {
		n := m.lines[i].Item.Num
		if !figs[i].Notice && !slices.Contains(m.touched, n) {
			continue
		}
		if err := m.stockAsBefore(m.lines[i : i+1]); err != nil {
			return cart.View{}, nil, err
		}
		lv, f, err := pricing.Line(&m.lines[i], m.cart.Currency, m.now, true, m.settings.PricesIncludeTax)
		if err != nil {
			return cart.View{}, nil, err
		}
		switch f.List {
		case pricing.ListExpired:
			v.ExpiredLines = append(v.ExpiredLines, lv)
		case pricing.ListUnavailable:
			v.Unavailable = append(v.Unavailable, lv)
		default:
			v.Lines = append(v.Lines, lv)
		}
	}
	return v, figs, nil
}

// refigure returns the figures of the mutation's lines, made from the memo's: those of the
// lines the call created or changed are priced again. When the call neither created nor
// removed a line, the memo's slice is updated where it stands.
func (m *mutation) refigure(old *memo) ([]pricing.Figures, error) {
	include := m.settings.PricesIncludeTax
	if len(m.created) == 0 && len(m.lines) == len(old.figs) {
		figs := old.figs
		inPlace := true
		for n := range m.orig {
			i, found := slices.BinarySearchFunc(m.lines, n, func(l cart.Line, n int64) int { return cmp.Compare(l.Item.Num, n) })
			if !found || figs[i].Num != n {
				inPlace = false // a line removed, or lines out of order: match them one by one
				break
			}
			_, f, err := pricing.Line(&m.lines[i], m.cart.Currency, m.now, true, include)
			if err != nil {
				return nil, err
			}
			figs[i] = f
		}
		if inPlace {
			return figs, nil
		}
	}
	figs := make([]pricing.Figures, len(m.lines))
	j := 0
	for i := range m.lines {
		l := &m.lines[i]
		n := l.Item.Num
		for j < len(old.figs) && old.figs[j].Num < n {
			j++
		}
		_, changed := m.orig[n]
		if !changed && !m.created[n] && j < len(old.figs) && old.figs[j].Num == n {
			figs[i] = old.figs[j]
			continue
		}
		_, f, err := pricing.Line(l, m.cart.Currency, m.now, true, include)
		if err != nil {
			return nil, err
		}
		figs[i] = f
	}
	return figs, nil
}

// stockAsBefore gives the lines of a memo whose stock the call did not read their stock as it
// was before the call, as the lines the store returns at its start would have: a memo's lines
// are kept without stock (Stock.SKU is empty; the store always names the SKU), since other
// carts change it. Lines the call changed carry the stock it read and wrote. It does nothing
// for lines the store returned.
func (m *mutation) stockAsBefore(lines []cart.Line) error {
	if m.rec == nil {
		return nil
	}
	for i := range lines {
		l := &lines[i]
		if l.Stock.SKU != "" {
			continue
		}
		st, err := m.rec.stockBefore(m.ctx, l.Variant.SKU)
		if err != nil {
			return err
		}
		st.SKU = l.Variant.SKU
		l.Stock = st
	}
	return nil
}
