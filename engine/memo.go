package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// A change to a cart of a thousand lines should cost about what a change to a one-line cart
// costs when the caller wants only what changed (Options.Minimal): reading, assembling and
// re-pricing every line on every change made it cost ten to twenty times as much. So every
// mutation of an active cart without promotions leaves its lines, their figures and what those
// add up to with a store that keeps memos (store.Memos), and the cart's next minimal change
// takes them back instead of reading the lines: it re-prices the lines it changed
// (pricing.Line), moves their figures in and out of the sums, and prices again only the lines
// its answer shows (those it changed and those with a notice). The store forgets a memo when
// anything it was derived from changes, save stock; so a memo's lines are kept without stock,
// and the lines an answer shows get theirs when needed (stockAsBefore).
//
// A memo also stops holding when the clock reaches a line's reservation lapse or a sale's
// start or end (until), and is not used for a cart with coupons or automatic promotions in
// effect, which re-price every line.
//
// All of this is entered from mutate at two points: mutation.load takes a memo (takeMemo) and
// mutation.reprice prices from it and keeps the next (keepMemo).

// memo is what a mutation leaves for the cart's next change.
type memo struct {
	version int64     // the cart's version it describes
	at      time.Time // the instant it was priced at
	until   time.Time // no later than the first instant a line's figures change; zero: none
	lines   []cart.Line
	figs    []pricing.Figures // figs[i] are lines[i]'s
	sums    pricing.Sums      // of figs
	units   int64             // of lines, all three lists
	notices []int64           // the lines with a notice (Figures.Notice), ascending
}

// Len is the memo's size in cart lines (store.Memo).
func (mm *memo) Len() int { return len(mm.lines) }

// memosOf returns the memo capability of the store transaction under tx (which the engine
// observes through a callTx, and, with snapshots, a writtenTx), or nil when the store keeps
// no memos.
func memosOf(tx store.Tx) store.Memos {
	if ct, ok := tx.(*callTx); ok {
		tx = ct.Tx
	}
	if wt, ok := tx.(*writtenTx); ok { // snapshots watch writes; memos are no write
		tx = wt.Tx
	}
	ms, _ := tx.(store.Memos)
	return ms
}

// takeMemo puts a minimal call on the fast path when the store keeps memos, the cart has no
// offers, and its last change left a memo that holds now: the memo's lines become the
// mutation's, and its transaction keeps stock as it was before the call's writes (stockLog).
// It reports whether it did. The store forgets the memo either way.
func (m *mutation) takeMemo(minimal bool) (bool, error) {
	if !minimal || m.memos == nil {
		return false, nil
	}
	o, err := m.offers()
	if err != nil || len(o.coupons)+len(o.auto) > 0 {
		return false, err
	}
	mm, _ := m.memos.TakeMemo(m.cart.Num).(*memo)
	if mm == nil || mm.version != m.cart.Version || m.now.Before(mm.at) ||
		!mm.until.IsZero() && !m.now.Before(mm.until) || len(mm.lines) != len(mm.figs) {
		return false, nil
	}
	m.memo, m.lines, m.unitsBefore = mm, mm.lines, mm.units
	// A memo's lines need none of what load does to lines it reads: their prices were stored
	// and their lapsed reservations released by the change that left it, and neither the
	// catalog nor the clock has moved them since.
	m.rec = &stockLog{Tx: m.tx, before: map[string]cart.Stock{}}
	m.tx = m.rec
	return true, nil
}

// keepMemo leaves the cart's lines and their figures with the store, when the store keeps
// memos and the cart is one a memo serves: active, without offers, with reservations on
// (without them a line's status depends on the stock, which a memo does not follow). next is
// what refigure made, or nil to make it all from v, the whole view just priced.
func (m *mutation) keepMemo(v *cart.View, next *memo) {
	if m.memos == nil || !m.e.Reserving() || m.cart.Status != cart.StatusActive || len(m.off.coupons)+len(m.off.auto) > 0 || !m.offersRead {
		return
	}
	if next != nil && next.figs == nil {
		return // refigureAll's
	}
	if next == nil {
		// FiguresOf gives them in item order, as the store returns lines and appends new
		// ones (numbers only grow); lines out of that order get no memo.
		figs := pricing.FiguresOf(v, m.now)
		if len(figs) != len(m.lines) {
			return
		}
		next = &memo{figs: figs, units: units(m.lines)}
		for i := range figs {
			f := &figs[i]
			if f.Num != m.lines[i].Item.Num {
				return
			}
			if err := next.sums.Add(f); err != nil {
				return
			}
			next.until = earlier(next.until, f.Until)
			if f.Notice {
				next.notices = append(next.notices, f.Num)
			}
			m.lines[i].Stock = cart.Stock{} // read again when needed (stockAsBefore)
		}
	}
	next.version, next.at, next.lines = m.cart.Version, m.now, m.lines
	m.memos.KeepMemo(m.cart.Num, next)
	m.lines = nil // the store's now
}

// stockLog is the transaction of a call working on a memo's lines, whose stock it did not
// read: it keeps each stock row as it was before the call's first write of it, so that the
// call can still show those lines as they were (stockAsBefore).
type stockLog struct {
	store.Tx
	before map[string]cart.Stock
}

// PutStock writes a stock row, keeping it as it was first.
func (t *stockLog) PutStock(ctx context.Context, st cart.Stock) error {
	if _, seen := t.before[st.SKU]; !seen {
		old, err := t.Tx.Stock(ctx, st.SKU)
		if err != nil {
			return err
		}
		t.before[st.SKU] = old
	}
	return t.Tx.PutStock(ctx, st)
}

// stockBefore returns a SKU's stock as it was before the call wrote it.
func (t *stockLog) stockBefore(ctx context.Context, sku string) (cart.Stock, error) {
	if st, ok := t.before[sku]; ok {
		return st, nil
	}
	return t.Tx.Stock(ctx, sku)
}

// earlier returns the earlier of two instants, zero meaning never.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// lineAt returns the index of the line numbered n in lines, which are in item order.
func lineAt(lines []cart.Line, n int64) (int, bool) {
	return slices.BinarySearchFunc(lines, n, func(l cart.Line, n int64) int { return cmp.Compare(l.Item.Num, n) })
}

// figAt returns the index of the figures of line n in figs, which are in item order.
func figAt(figs []pricing.Figures, n int64) (int, bool) {
	return slices.BinarySearchFunc(figs, n, func(f pricing.Figures, n int64) int { return cmp.Compare(f.Num, n) })
}

// changedLines returns the numbers of the lines the call changed, removed or created,
// ascending.
func (m *mutation) changedLines() []int64 {
	nums := make([]int64, 0, len(m.orig)+len(m.created))
	for n := range m.orig {
		nums = append(nums, n)
	}
	for n := range m.created {
		if _, kept := m.orig[n]; !kept {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums
}

// removedLine reports whether the call removed line n (or created and removed it).
func (m *mutation) removedLine(n int64) bool {
	return slices.Contains(m.removed, n) || m.created[n]
}

// priceFromMemo prices the cart after a change made on a memo's lines, from next, the memo
// refigure made of it: the totals from its sums, and only the lines a minimal answer shows or
// reports on, those the call changed and those with a notice.
func (m *mutation) priceFromMemo(next *memo) (cart.View, error) {
	v := cart.View{Cart: m.cart, At: m.now, Partial: true}
	if err := pricing.SetTotals(&v, next.sums, m.settings); err != nil {
		return cart.View{}, err
	}
	shown := slices.Clone(next.notices)
	for _, n := range m.touched {
		if i, found := slices.BinarySearch(shown, n); !found {
			shown = slices.Insert(shown, i, n)
		}
	}
	for _, n := range shown {
		i, ok := lineAt(m.lines, n)
		if !ok {
			continue
		}
		if err := m.stockAsBefore(m.lines[i : i+1]); err != nil {
			return cart.View{}, err
		}
		lv, f, err := pricing.Line(&m.lines[i], m.cart.Currency, m.now, true, m.settings.PricesIncludeTax)
		if err != nil {
			return cart.View{}, err
		}
		switch f.List {
		case pricing.ListExpired:
			v.ExpiredLines = append(v.ExpiredLines, lv)
		case pricing.ListUnavailable:
			v.Unavailable = append(v.Unavailable, lv)
		default:
			v.Lines = append(v.Lines, lv)
		}
		m.lines[i].Stock = cart.Stock{} // as the memo keeps it
	}
	return v, nil
}

// refigure makes the next memo's figures, sums, notices and bound from the old memo's and the
// lines the call changed, which it prices again; only when lines were created or removed is
// the figures slice made anew.
func (m *mutation) refigure(old *memo) (*memo, error) {
	next := &memo{figs: old.figs, sums: old.sums, units: old.units, until: old.until, notices: old.notices}
	reshaped := len(m.lines) != len(old.figs)
	var fresh map[int64]pricing.Figures // the changed lines' figures, when lines came or went
	if reshaped {
		fresh = map[int64]pricing.Figures{}
	}
	for _, n := range m.changedLines() {
		if j, ok := figAt(old.figs, n); ok {
			next.sums.Remove(&old.figs[j])
			next.units -= old.figs[j].Quantity
		}
		if i, found := slices.BinarySearch(next.notices, n); found {
			next.notices = slices.Delete(slices.Clone(next.notices), i, i+1)
		}
		i, ok := lineAt(m.lines, n)
		if !ok {
			if !m.removedLine(n) {
				return m.refigureAll()
			}
			continue
		}
		_, f, err := pricing.Line(&m.lines[i], m.cart.Currency, m.now, true, m.settings.PricesIncludeTax)
		if err != nil {
			return nil, err
		}
		if err := next.sums.Add(&f); err != nil {
			return nil, err
		}
		next.units += f.Quantity
		next.until = earlier(next.until, f.Until)
		if f.Notice {
			k, _ := slices.BinarySearch(next.notices, n)
			next.notices = slices.Insert(slices.Clone(next.notices), k, n)
		}
		switch {
		case reshaped:
			fresh[n] = f
		case old.figs[i].Num != n:
			return m.refigureAll()
		default:
			next.figs[i] = f
		}
	}
	if reshaped {
		// Lines came or went: line the figures up with them again.
		figs := make([]pricing.Figures, len(m.lines))
		j := 0
		for i := range m.lines {
			n := m.lines[i].Item.Num
			for j < len(old.figs) && old.figs[j].Num < n {
				j++
			}
			switch f, ok := fresh[n]; {
			case ok:
				figs[i] = f
			case j < len(old.figs) && old.figs[j].Num == n:
				figs[i] = old.figs[j]
			default:
				return m.refigureAll()
			}
		}
		next.figs = figs
	}
	return next, nil
}

// refigureAll prices every line again: for lines that are not in item order, which the
// store never returns, so that a view is never wrong even then. Its memo has no figures and
// is not kept.
func (m *mutation) refigureAll() (*memo, error) {
	next := &memo{figs: make([]pricing.Figures, len(m.lines))}
	for i := range m.lines {
		_, f, err := pricing.Line(&m.lines[i], m.cart.Currency, m.now, true, m.settings.PricesIncludeTax)
		if err != nil {
			return nil, err
		}
		next.figs[i] = f
		if err := next.sums.Add(&f); err != nil {
			return nil, err
		}
		next.units += f.Quantity
		next.until = earlier(next.until, f.Until)
		if f.Notice {
			next.notices = append(next.notices, f.Num)
		}
	}
	slices.Sort(next.notices)
	next.figs = nil
	return next, nil
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
