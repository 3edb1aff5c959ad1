package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/pricing"
	"github.com/cartd/cartd/store"
)

// Reads of a cart should cost less than changes to it. A read opens a transaction, reads the
// settings, the cart, its lines with their variants, products, stock and sales, its coupons and
// the automatic promotions, prices it all and renders it; most of the time nothing of that
// changed since the last read. So over a store whose every write passes through this process
// (soleWriter: SQLite), the engine keeps each active cart's last read view, a snapshot, and
// answers the next read from it, with the bytes a front door rendered from it the first time.
//
// A snapshot holds while both are true:
//   - nothing it was derived from was written: the engine's store wrapper (snapshotStore)
//     sees every transaction and, once it committed, forgets the snapshots of the carts it
//     wrote (row, items, coupons) and of the carts showing a SKU whose stock it wrote, and
//     every snapshot when it wrote the catalog, a sale, a promotion or the settings. A
//     commit by another process on the file (cartd import) forgets them all, once the store
//     noticed it (soleWriter.ExternalCommits);
//   - the clock has not reached the first instant the view changes by itself: a line's
//     reservation lapses, a sale starts or ends (pricing.Figures.Until), or an automatic
//     promotion starts or ends (promotionChanges).
//
// Carts with coupons or automatic promotions in effect, and carts no longer active, get no
// snapshot. A read racing a write cannot leave a stale snapshot behind: every forgetting is
// numbered, a read notes the number before its transaction begins, and keeps what it read only
// if nothing it depends on was forgotten since. Over a store shared by several processes
// (PostgreSQL) the engine keeps no snapshots: every read reads the database.

// soleWriter is a store whose every write passes through this process's Store.Write.
type soleWriter interface {
	SoleWriter() bool
	// Now reads the clock the store's transactions read.
	Now() time.Time
	// ExternalCommits moves whenever the store found the database written by another process.
	ExternalCommits() uint64
}

// promotionChanges is a read transaction that can tell until when the automatic promotions in
// effect stay the same.
type promotionChanges interface {
	// NextAutoPromotionChange returns the first instant after at when an automatic promotion
	// starts or ends, zero if none will.
	NextAutoPromotionChange(ctx context.Context, at time.Time) (time.Time, error)
}

// Bounds of the snapshots: at most maxSnapshotLines lines in all (a line's priced view, the
// line it was priced from, its cart's view and rendering: up to about three kilobytes for a
// one-line cart, so some 45 MB in all; with 50,000, `update` over 50,000 one-line carts had a
// live heap of 160 MB that its writer's cache bound hardly moved), and at most
// maxSnapshotMarks carts and SKUs remembered as written (beyond which every snapshot is
// forgotten and the count starts over).
const (
	maxSnapshotLines = 15_000
	maxSnapshotMarks = 100_000
)

// snapshot is a cart's view as a read returned it.
type snapshot struct {
	view  cart.View // with its messages
	until time.Time // the first instant the view changes by itself; zero: none
	ext   uint64    // soleWriter.ExternalCommits when it was read
	skus  []string  // whose stock its lines show
	lines int
	// What it was priced from, to price it again with newer stock (snapshots.refresh).
	base     []cart.Line
	settings cart.Settings
	// stale is set (under snapshots.mu) when a committed write moved the stock of one of
	// its SKUs: the next read prices base again with the stock as written.
	stale bool

	mu       sync.Mutex
	rendered map[string][]byte // by front door (Engine.CartRendered)
}

// snapshots are the engine's snapshots and what it needs to know which still hold.
type snapshots struct {
	st   soleWriter
	hits atomic.Uint64 // reads answered from a snapshot

	mu     sync.RWMutex
	seq    uint64 // numbers the forgettings
	floor  uint64 // reads that began before it keep nothing (everything was forgotten)
	byCart map[int64]*snapshot
	bySKU  map[string]map[int64]bool // the carts whose snapshot shows a SKU
	// cartMark and skuMark are the number of the last forgetting of a cart or a SKU.
	cartMark map[int64]uint64
	skuMark  map[string]uint64
	lines    int
	// stock is the latest committed stock row of the SKUs snapshots show, as written.
	stock map[string]cart.Stock
}

func newSnapshots(st soleWriter) *snapshots {
	s := &snapshots{st: st}
	s.clear()
	return s
}

// clear forgets everything; s.mu is held (or s is new).
func (s *snapshots) clear() {
	s.floor = s.seq
	s.byCart, s.bySKU = map[int64]*snapshot{}, map[string]map[int64]bool{}
	s.cartMark, s.skuMark = map[int64]uint64{}, map[string]uint64{}
	s.lines, s.stock = 0, map[string]cart.Stock{}
}

// get returns the cart's snapshot if it holds at now, or nil; stale says its stock must be
// brought up to date first (refresh).
func (s *snapshots) get(num int64, now time.Time) (sn *snapshot, stale bool) {
	s.mu.RLock()
	sn = s.byCart[num]
	if sn != nil {
		stale = sn.stale
	}
	s.mu.RUnlock()
	if sn == nil || sn.ext != s.st.ExternalCommits() || now.Before(sn.view.At) ||
		!sn.until.IsZero() && !now.Before(sn.until) {
		return nil, false
	}
	s.hits.Add(1)
	return sn, stale
}

// refresh prices a stale snapshot's lines again with the stock its SKUs have now, and keeps
// the result in its place unless the snapshot was forgotten or replaced meanwhile. Only stock
// moved since it was read (anything else would have forgotten it), and the clock has not
// reached its until, so this is the view a fresh read would price.
func (s *snapshots) refresh(e *Engine, num int64, sn *snapshot, now time.Time) (*snapshot, error) {
	lines := slices.Clone(sn.base)
	s.mu.RLock()
	for i := range lines {
		if st, ok := s.stock[lineSKU(lines[i])]; ok && st.Version > lines[i].Stock.Version {
			lines[i].Stock = st
		}
	}
	s.mu.RUnlock()
	view, err := e.priceWith(sn.view.Cart, lines, sn.settings, now, offers{})
	if err != nil {
		return nil, err
	}
	view.Messages = e.notices(view)
	next := &snapshot{view: view, until: sn.until, ext: sn.ext, skus: sn.skus, lines: sn.lines, base: lines, settings: sn.settings}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byCart[num] == sn {
		// Stock written while this ran leaves next stale again.
		for _, l := range lines {
			if st, ok := s.stock[lineSKU(l)]; ok && st.Version > l.Stock.Version {
				next.stale = true
			}
		}
		s.byCart[num] = next
	}
	return next, nil
}

// begin notes where a read starts: the forgetting number and the store's external commits.
func (s *snapshots) begin() (uint64, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq, s.st.ExternalCommits()
}

// put keeps sn for cart num, read by a read that began at start, unless something it depends
// on was forgotten since.
func (s *snapshots) put(num int64, start uint64, sn *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if start < s.floor || s.cartMark[num] > start || sn.ext != s.st.ExternalCommits() {
		return
	}
	for _, sku := range sn.skus {
		if s.skuMark[sku] > start {
			return
		}
	}
	s.drop(num)
	for s.lines+sn.lines > maxSnapshotLines && len(s.byCart) > 0 {
		for n := range s.byCart { // any one: map order is as good a victim as any
			s.drop(n)
			break
		}
	}
	s.byCart[num] = sn
	s.lines += sn.lines
	for _, sku := range sn.skus {
		carts := s.bySKU[sku]
		if carts == nil {
			carts = map[int64]bool{}
			s.bySKU[sku] = carts
		}
		carts[num] = true
	}
}

// drop forgets cart num's snapshot; s.mu is held.
func (s *snapshots) drop(num int64) {
	sn := s.byCart[num]
	if sn == nil {
		return
	}
	delete(s.byCart, num)
	s.lines -= sn.lines
	for _, sku := range sn.skus {
		if carts := s.bySKU[sku]; carts != nil {
			delete(carts, num)
			if len(carts) == 0 {
				delete(s.bySKU, sku)
			}
		}
	}
}

// forget forgets what a committed (or possibly committed) transaction wrote. A committed
// transaction's stock writes only mark the snapshots showing those SKUs stale, with the rows
// as written; an uncertain one's forget them.
func (s *snapshots) forget(w *written, committed bool) {
	if w.empty() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if w.all || len(s.cartMark)+len(s.skuMark) > maxSnapshotMarks {
		s.clear()
		return
	}
	for num := range w.carts {
		s.drop(num)
		s.cartMark[num] = s.seq
	}
	for sku := range w.skus {
		st, known := w.stock[sku]
		if committed && known && w.runs == 1 {
			if st.Version > s.stock[sku].Version {
				s.stock[sku] = st
			}
			for num := range s.bySKU[sku] {
				s.byCart[num].stale = true
			}
		} else {
			for num := range s.bySKU[sku] {
				s.drop(num)
			}
			delete(s.stock, sku)
		}
		s.skuMark[sku] = s.seq
	}
}

// Cart's read through the snapshots: a snapshot that holds, or a read that may leave one.
func (e *Engine) snapshotCart(ctx context.Context, p auth.Principal, num int64) (*snapshot, error) {
	now := e.snaps.st.Now()
	if sn, stale := e.snaps.get(num, now); sn != nil {
		if p.IsCustomer() && sn.view.Cart.CustomerID != p.CustomerID {
			return nil, cart.Errorf(cart.NotFound, "cart_not_found", "no cart %d", num)
		}
		if stale {
			return e.snaps.refresh(e, num, sn, now)
		}
		return sn, nil
	}
	start, ext := e.snaps.begin()
	var sn *snapshot
	keep := false
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		s, c, lines, err := loadCart(ctx, tx, p, num)
		if err != nil {
			return err
		}
		now := tx.Now()
		if c.Status != cart.StatusActive {
			// An inactive cart keeps no snapshot, and a completed one reads its checkout
			// record (record.go), which e.price serves.
			view, err := e.price(ctx, tx, c, lines, s, now)
			if err != nil {
				return err
			}
			view.Messages = e.notices(view)
			sn = &snapshot{view: view, ext: ext, lines: len(lines), base: lines, settings: s}
			return nil
		}
		o, err := loadOffers(ctx, tx, c.Num, now)
		if err != nil {
			return err
		}
		view, err := e.priceWith(c, lines, s, now, o)
		if err != nil {
			return err
		}
		view.Messages = e.notices(view)
		sn = &snapshot{view: view, ext: ext, lines: len(lines), base: lines, settings: s}
		pc, ok := tx.(promotionChanges)
		if !ok || c.Status != cart.StatusActive || len(o.coupons)+len(o.auto) > 0 {
			return nil
		}
		if sn.until, err = pc.NextAutoPromotionChange(ctx, now); err != nil {
			return err
		}
		for _, f := range pricing.FiguresOf(&view, now) {
			sn.until = earlier(sn.until, f.Until)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			if sku := lineSKU(l); sku != "" && !seen[sku] {
				seen[sku] = true
				sn.skus = append(sn.skus, sku)
			}
		}
		keep = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if keep {
		e.snaps.put(num, start, sn)
	}
	return sn, nil
}

// lineSKU is the SKU whose stock a line shows: its variant's (a stock row never written
// reads as zero stock under that SKU).
func lineSKU(l cart.Line) string {
	if l.Variant != nil && l.Variant.SKU != "" {
		return l.Variant.SKU
	}
	return l.Stock.SKU
}

// SnapshotHits counts the reads of carts answered from a snapshot (and the versions of
// If-None-Match found there); always 0 over a store several processes write.
func (e *Engine) SnapshotHits() uint64 {
	if e.snaps == nil {
		return 0
	}
	return e.snaps.hits.Load()
}

// CartRendered is Cart, with the view rendered by render: a front door's rendering of a cart
// read from a snapshot is kept with it, under door, and served again while the snapshot holds.
// render must depend on nothing but the view.
func (e *Engine) CartRendered(ctx context.Context, p auth.Principal, num int64, door string, render func(cart.View) ([]byte, error)) (cart.View, []byte, error) {
	if err := require(p, auth.CartsRead); err != nil {
		return cart.View{}, nil, err
	}
	if e.snaps == nil {
		v, err := e.Cart(ctx, p, num)
		if err != nil {
			return v, nil, err
		}
		b, err := render(v)
		return v, b, err
	}
	sn, err := e.snapshotCart(ctx, p, num)
	if err != nil {
		return cart.View{}, nil, err
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if b, ok := sn.rendered[door]; ok {
		return sn.view, b, nil
	}
	b, err := render(sn.view)
	if err != nil {
		return sn.view, nil, err
	}
	if sn.rendered == nil {
		sn.rendered = map[string][]byte{}
	}
	sn.rendered[door] = b
	return sn.view, b, nil
}

// CartVersion returns a cart's version (its ETag) without reading its lines (scope
// carts:read): from its snapshot when one holds, else from the cart's row. Another customer's
// cart is NotFound.
func (e *Engine) CartVersion(ctx context.Context, p auth.Principal, num int64) (int64, error) {
	if err := require(p, auth.CartsRead); err != nil {
		return 0, err
	}
	if e.snaps != nil {
		if sn, _ := e.snaps.get(num, e.snaps.st.Now()); sn != nil { // stock moves no version
			if p.IsCustomer() && sn.view.Cart.CustomerID != p.CustomerID {
				return 0, cart.Errorf(cart.NotFound, "cart_not_found", "no cart %d", num)
			}
			return sn.view.Cart.Version, nil
		}
	}
	var version int64
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		_, c, err := loadCartRow(ctx, tx, p, num)
		version = c.Version
		return err
	})
	return version, err
}

// snapshotStore is the store as the engine sees it when it keeps snapshots: every write
// transaction is watched (writtenTx), and what it wrote is forgotten once it returns,
// committed or not (a failed COMMIT may have committed).
type snapshotStore struct {
	store.Store
	snaps *snapshots
}

func (s snapshotStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	w := &written{}
	// Attempts a store re-runs add to w: what any of them wrote is forgotten.
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		w.mu.Lock()
		w.runs++
		w.mu.Unlock()
		return fn(&writtenTx{Tx: tx, w: w})
	})
	s.snaps.forget(w, err == nil)
	return err
}

// written is what a write transaction may have changed of what views show.
type written struct {
	mu    sync.Mutex // a store may run attempts on other goroutines
	all   bool       // the catalog, a sale, a promotion or the settings
	carts map[int64]bool
	skus  map[string]bool
	stock map[string]cart.Stock // the last row written of each SKU
	runs  int                   // attempts: the rows written are known only if one ran
}

func (w *written) empty() bool { return !w.all && len(w.carts) == 0 && len(w.skus) == 0 }

func (w *written) cart(num int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.carts == nil {
		w.carts = map[int64]bool{}
	}
	w.carts[num] = true
}

func (w *written) sku(sku string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.skus == nil {
		w.skus = map[string]bool{}
	}
	w.skus[sku] = true
}

func (w *written) everything() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = true
}

// writtenTx notes what a transaction writes. Every method of store.Tx that writes something a
// cart's view shows is overridden here; TestSnapshotTxCoversWrites holds the list to the
// interface. Carts the transaction reads are noted as written too: it locked them to change
// them (DeleteItem names no cart), and forgetting a snapshot only costs a read.
type writtenTx struct {
	store.Tx
	w *written
}

func (t *writtenTx) Cart(ctx context.Context, num int64) (cart.Cart, error) {
	t.w.cart(num)
	return t.Tx.Cart(ctx, num)
}

func (t *writtenTx) ActiveCartOf(ctx context.Context, customerID string) (cart.Cart, error) {
	c, err := t.Tx.ActiveCartOf(ctx, customerID)
	if err == nil {
		t.w.cart(c.Num)
	}
	return c, err
}

func (t *writtenTx) PutSettings(ctx context.Context, s cart.Settings) error {
	t.w.everything()
	return t.Tx.PutSettings(ctx, s)
}

func (t *writtenTx) InsertCart(ctx context.Context, c *cart.Cart) error {
	err := t.Tx.InsertCart(ctx, c)
	t.w.cart(c.Num)
	return err
}

func (t *writtenTx) UpdateCart(ctx context.Context, c cart.Cart) error {
	t.w.cart(c.Num)
	return t.Tx.UpdateCart(ctx, c)
}

func (t *writtenTx) InsertItem(ctx context.Context, it *cart.Item) error {
	t.w.cart(it.CartNum)
	return t.Tx.InsertItem(ctx, it)
}

func (t *writtenTx) UpdateItem(ctx context.Context, it cart.Item) error {
	t.w.cart(it.CartNum)
	return t.Tx.UpdateItem(ctx, it)
}

func (t *writtenTx) DeleteItem(ctx context.Context, itemNum int64) error {
	// The item's cart is one the transaction read (and locked); one that read none
	// forgets every snapshot.
	t.w.mu.Lock()
	none := len(t.w.carts) == 0
	t.w.mu.Unlock()
	if none {
		t.w.everything()
	}
	return t.Tx.DeleteItem(ctx, itemNum)
}

func (t *writtenTx) DeleteItems(ctx context.Context, cartNum int64) error {
	t.w.cart(cartNum)
	return t.Tx.DeleteItems(ctx, cartNum)
}

func (t *writtenTx) PutProduct(ctx context.Context, p *cart.Product) error {
	t.w.everything()
	return t.Tx.PutProduct(ctx, p)
}

func (t *writtenTx) DeleteProduct(ctx context.Context, id string) error {
	t.w.everything()
	return t.Tx.DeleteProduct(ctx, id)
}

func (t *writtenTx) PutSale(ctx context.Context, s *cart.Sale) error {
	t.w.everything()
	return t.Tx.PutSale(ctx, s)
}

func (t *writtenTx) PutStock(ctx context.Context, s cart.Stock) error {
	t.w.sku(s.SKU)
	err := t.Tx.PutStock(ctx, s)
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	if t.w.stock == nil {
		t.w.stock = map[string]cart.Stock{}
	}
	if err == nil {
		t.w.stock[s.SKU] = s
	} else {
		delete(t.w.stock, s.SKU)
		t.w.runs++ // the row is unknown: forget rather than refresh
	}
	return err
}

func (t *writtenTx) DeleteCart(ctx context.Context, num int64) error {
	t.w.cart(num)
	return t.Tx.DeleteCart(ctx, num)
}

func (t *writtenTx) PutPromotion(ctx context.Context, p *cart.Promotion) error {
	t.w.everything()
	return t.Tx.PutPromotion(ctx, p)
}

func (t *writtenTx) DeletePromotion(ctx context.Context, code string) error {
	t.w.everything()
	return t.Tx.DeletePromotion(ctx, code)
}

func (t *writtenTx) AddCoupon(ctx context.Context, c cart.Coupon) error {
	t.w.cart(c.CartNum)
	return t.Tx.AddCoupon(ctx, c)
}

func (t *writtenTx) RemoveCoupon(ctx context.Context, cartNum int64, code string) error {
	t.w.cart(cartNum)
	return t.Tx.RemoveCoupon(ctx, cartNum, code)
}
