package sqlite

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// The writer's cache.
//
// Every cart change runs on the one write connection, and most of what it reads it read
// before: the cart row, its lines with their variants, products, stock and sales, the
// promotions, the settings. Reading and decoding a whole cart again on every change made a
// quantity change cost O(lines) and was most of the writer's time. So the writer keeps the
// rows it read or wrote, decoded, and its transactions read them from memory.
//
// It is correct by construction rather than by expiry: only the writer connection writes, and
// every Tx method that writes a cached row updates (or drops) the cached copy in the same
// step, as the database would change the row. Each change is recorded with its undo, so a call
// whose savepoint rolls back, or a group whose COMMIT fails, leaves the cache as the database
// is. Writes by anything else (another process on the same file: `cartd import`, `cartd keys`)
// are detected at the start of every group with PRAGMA data_version, which changes when
// another connection commits, and empty the cache.
//
// Read transactions (the read pool) never use it: they read their own snapshot, which may be
// older than the writer's latest state.
type writeCache struct {
	dataVersion int64
	starts      atomic.Uint64 // times begin emptied the cache (Store.ExternalCommits)
	settings    *cart.Settings
	carts       map[int64]cart.Cart
	items       map[int64]cart.Item
	// cartItems is the complete list of a cart's item numbers, ascending. Whenever a cart's
	// list is present, every item on it is in items.
	cartItems map[int64][]int64
	stock     map[string]cart.Stock
	variants  map[int64]variantEntry // by Num, deleted ones included (as Lines joins them)
	liveBySKU map[string]variantEntry
	sales     map[string]cart.Sale // by ID; the zero Sale for a sale not stored
	// auto holds every automatic promotion that is active and not withdrawn, in code order,
	// whatever its dates; AutoPromotions filters by instant. autoLoaded says it is filled.
	auto       []cart.Promotion
	autoLoaded bool
	coupons    map[int64][]cart.Coupon
	// memos are what the engine left with carts (store.Memos). A cart has one only while
	// its item list is cached, so that every write of its items finds the cart to forget it
	// by. memoLines is the sum of their sizes.
	memos     map[int64]memoEntry
	memoLines int

	// bytes estimates the memory the cached entries hold (entrySize), memos aside; maxBytes
	// bounds it together with the memos' (memoLineBytes a line). See begin.
	bytes    int64
	maxBytes int64

	undo []func()
}

// memoEntry is a memo with its size in lines.
type memoEntry struct {
	v     store.Memo
	lines int
}

// variantEntry is a variant with its product, shared read-only by the lines made from it.
type variantEntry struct {
	v *cart.Variant
	p *cart.Product
}

// DefaultWriteCacheBytes is the default bound of the writer's cache (Options.WriteCacheBytes):
// past it the cache is emptied at the start of a group, so that its memory stays bounded by
// the working set of recent carts rather than by everything ever touched. 64 MiB holds about
// 50,000 one-line carts with their memos, beside a catalog of 10,000 SKUs.
const DefaultWriteCacheBytes = 64 << 20

// Sizes of the estimate (entrySize): what a Go map costs an entry beyond its key and value
// (buckets, tophash, the load factor's slack), and what a memo keeps per line (the line, its
// variant's share, its priced figures).
const (
	mapEntryBytes = 48
	memoLineBytes = 1024
)

func newWriteCache(maxBytes int64) *writeCache {
	if maxBytes <= 0 {
		maxBytes = DefaultWriteCacheBytes
	}
	c := &writeCache{maxBytes: maxBytes}
	c.reset()
	return c
}

// size is the cache's estimated memory, memos included.
func (c *writeCache) size() int64 { return c.bytes + int64(c.memoLines)*memoLineBytes }

// entrySize estimates the bytes one cached value holds: its fixed size, what its strings,
// slices and JSON point at, and its map entry. It errs high rather than low: the bound it
// serves is a memory limit.
func entrySize(v any) int64 {
	var n int64
	switch v := v.(type) {
	case cart.Cart:
		n = int64(unsafe.Sizeof(v)) + int64(len(v.CustomerID)+len(v.Currency)+len(v.Status)+cap(v.Metadata))
	case cart.Item:
		n = int64(unsafe.Sizeof(v)) + int64(len(v.Notes)+cap(v.Metadata))
	case []int64:
		n = int64(unsafe.Sizeof(v)) + 8*int64(cap(v))
	case cart.Stock:
		n = int64(unsafe.Sizeof(v)) + int64(len(v.SKU))
	case variantEntry:
		// The product is shared by its variants, but counting it with each keeps the estimate
		// simple and high; options, prices and tiers cost about 64 bytes each.
		n = 2*16 + int64(unsafe.Sizeof(*v.v)) + int64(len(v.v.ID)+len(v.v.ProductID)+len(v.v.SKU)+len(v.v.SaleID)) +
			64*int64(len(v.v.Options)+len(v.v.Prices)+len(v.v.RetailPrices)+len(v.v.Tiers))
		if v.p != nil {
			n += int64(unsafe.Sizeof(*v.p)) + int64(len(v.p.ID)+len(v.p.Name)+len(v.p.Brand)+len(v.p.Category)+len(v.p.Description)+len(v.p.ImageURL))
		}
	case cart.Sale:
		n = int64(unsafe.Sizeof(v)) + 256
	case []cart.Coupon:
		n = int64(unsafe.Sizeof(v)) + 512*int64(len(v))
	default:
		n = 64
	}
	return n + mapEntryBytes
}

// reset empties the cache, not undoably: begin uses it between groups.
func (c *writeCache) reset() {
	c.settings = nil
	c.carts = map[int64]cart.Cart{}
	c.items = map[int64]cart.Item{}
	c.cartItems = map[int64][]int64{}
	c.stock = map[string]cart.Stock{}
	c.variants = map[int64]variantEntry{}
	c.liveBySKU = map[string]variantEntry{}
	c.sales = map[string]cart.Sale{}
	c.auto, c.autoLoaded = nil, false
	c.coupons = map[int64][]cart.Coupon{}
	c.memos, c.memoLines = map[int64]memoEntry{}, 0
	c.bytes = 0
}

const qDataVersion = `PRAGMA data_version`

// begin runs at the start of a group, in its transaction: it empties the cache if another
// connection committed since the last group, or if the cache outgrew its bounds.
func (c *writeCache) begin(ctx context.Context, t *txn) error {
	var v int64
	if err := t.queryRow(ctx, qDataVersion).Scan(&v); err != nil {
		c.reset()
		c.dataVersion = -1 // unknown: the next group starts afresh too
		c.undo = c.undo[:0]
		return fmt.Errorf("sqlite: data version: %w", dbErr(ctx, err))
	}
	if v != c.dataVersion {
		c.reset()
		c.dataVersion = v
		c.starts.Add(1)
	}
	if c.size() > c.maxBytes {
		// The memos go first: they are the largest part and the cheapest to do without (a
		// change without one reads its cart's lines from the cache below).
		c.memos, c.memoLines = map[int64]memoEntry{}, 0
		if c.bytes > c.maxBytes*3/4 {
			c.reset()
			c.dataVersion = v
		}
	}
	c.undo = c.undo[:0]
	return nil
}

// mark and rollbackTo bracket one call: rolling back undoes, newest first, what the call did
// to the cache.
func (c *writeCache) mark() int { return len(c.undo) }

func (c *writeCache) rollbackTo(mark int) {
	for i := len(c.undo) - 1; i >= mark; i-- {
		c.undo[i]()
		c.undo[i] = nil
	}
	c.undo = c.undo[:mark]
}

// commit forgets the undo log once the group's COMMIT has returned.
func (c *writeCache) commit() {
	clear(c.undo)
	c.undo = c.undo[:0]
}

// put sets m[k] = v, recording how to undo it. The size estimate follows the change but not
// its undo: a rolled-back call leaves the estimate high until the cache is next emptied.
func put[K comparable, V any](c *writeCache, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	if had {
		c.bytes += entrySize(v) - entrySize(old)
	} else {
		c.bytes += entrySize(v)
	}
	c.undo = append(c.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// drop deletes m[k], recording how to undo it.
func drop[K comparable, V any](c *writeCache, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	c.bytes -= entrySize(old)
	c.undo = append(c.undo, func() { m[k] = old })
}

// swap replaces a whole map with an empty one, recording how to undo it.
func swap[K comparable, V any](c *writeCache, m *map[K]V) {
	old := *m
	if len(old) == 0 {
		return
	}
	*m = map[K]V{}
	c.undo = append(c.undo, func() { *m = old })
}

// keepMemo, takeMemo, forgetMemo and forgetMemos keep c.memos and c.memoLines in step.
// Keeping and forgetting are undone with the rest of their call; taking is not: a taker may
// change what it took, so a rolled-back call leaves the cart without a memo rather than with
// one that may no longer hold.
func (c *writeCache) keepMemo(cartNum int64, v store.Memo) {
	if _, listed := c.cartItems[cartNum]; !listed {
		return
	}
	c.setMemo(cartNum, memoEntry{v, v.Len()}, true)
}

func (c *writeCache) takeMemo(cartNum int64) store.Memo {
	e, ok := c.memos[cartNum]
	if !ok {
		return nil
	}
	delete(c.memos, cartNum)
	c.memoLines -= e.lines
	return e.v
}

func (c *writeCache) forgetMemo(cartNum int64) {
	if _, ok := c.memos[cartNum]; ok {
		c.setMemo(cartNum, memoEntry{}, false)
	}
}

func (c *writeCache) forgetMemos() {
	old, oldLines := c.memos, c.memoLines
	if len(old) == 0 {
		return
	}
	c.memos, c.memoLines = map[int64]memoEntry{}, 0
	c.undo = append(c.undo, func() { c.memos, c.memoLines = old, oldLines })
}

// setMemo sets (or, with !present, deletes) a cart's memo, undoably. Its undo looks at what
// is there by then (a take may have removed it meanwhile), so the count stays the sum.
func (c *writeCache) setMemo(cartNum int64, e memoEntry, present bool) {
	memos := c.memos
	set := func(e memoEntry, present bool) {
		if cur, has := memos[cartNum]; has {
			c.memoLines -= cur.lines
			delete(memos, cartNum)
		}
		if present {
			memos[cartNum] = e
			c.memoLines += e.lines
		}
	}
	old, had := memos[cartNum]
	set(e, present)
	c.undo = append(c.undo, func() { set(old, had) })
}

func (c *writeCache) putSettings(s cart.Settings) {
	old := c.settings
	c.settings = &s
	c.undo = append(c.undo, func() { c.settings = old })
}

// lines assembles a cart's lines from the cache; false if any part of them is missing.
func (c *writeCache) lines(cartNum int64) ([]cart.Line, bool) {
	nums, ok := c.cartItems[cartNum]
	if !ok {
		return nil, false
	}
	if len(nums) == 0 {
		return nil, true // as the query returns no rows
	}
	lines := make([]cart.Line, 0, len(nums))
	for _, n := range nums {
		it, ok := c.items[n]
		if !ok {
			return nil, false
		}
		ve, ok := c.variants[it.VariantNum]
		if !ok {
			return nil, false
		}
		st, ok := c.stock[ve.v.SKU]
		if !ok {
			return nil, false
		}
		var sale cart.Sale
		if ve.v.SaleID != "" {
			if sale, ok = c.sales[ve.v.SaleID]; !ok {
				return nil, false
			}
		}
		lines = append(lines, cart.Line{Item: it, Variant: ve.v, Product: ve.p, Stock: st, Sale: sale})
	}
	return lines, true
}

// putLines caches what a read of a cart's lines returned.
func (c *writeCache) putLines(cartNum int64, lines []cart.Line) {
	nums := make([]int64, len(lines))
	for i, l := range lines {
		nums[i] = l.Item.Num
		put(c, c.items, l.Item.Num, l.Item)
		put(c, c.variants, l.Variant.Num, variantEntry{l.Variant, l.Product})
		put(c, c.stock, l.Variant.SKU, l.Stock)
		if l.Variant.SaleID != "" {
			put(c, c.sales, l.Variant.SaleID, l.Sale)
		}
	}
	put(c, c.cartItems, cartNum, nums)
}

// putCart caches a cart as stored: times as microseconds in UTC, empty metadata as none.
func (c *writeCache) putCart(k cart.Cart) {
	k.Metadata = storedJSON(k.Metadata)
	k.CreatedAt, k.UpdatedAt, k.LastActivity = stored(k.CreatedAt), stored(k.UpdatedAt), stored(k.LastActivity)
	put(c, c.carts, k.Num, k)
}

// updateCart mirrors UpdateCart, which leaves CreatedAt as it was.
func (c *writeCache) updateCart(k cart.Cart) {
	c.forgetMemo(k.Num)
	old, ok := c.carts[k.Num]
	if !ok {
		return
	}
	k.CreatedAt = old.CreatedAt
	c.putCart(k)
}

// insertItem mirrors InsertItem; the item is cached only with its cart's list, which it joins.
func (c *writeCache) insertItem(it cart.Item) {
	c.forgetMemo(it.CartNum)
	nums, ok := c.cartItems[it.CartNum]
	if !ok {
		return
	}
	put(c, c.items, it.Num, storedItem(it))
	i, _ := slices.BinarySearch(nums, it.Num)
	put(c, c.cartItems, it.CartNum, slices.Insert(slices.Clone(nums), i, it.Num))
}

// updateItem mirrors UpdateItem, which leaves the cart, variant and CreatedAt as they were.
func (c *writeCache) updateItem(it cart.Item) {
	old, ok := c.items[it.Num]
	if !ok {
		return // nor is its cart's list, so its cart has no memo (keepMemo)
	}
	c.forgetMemo(old.CartNum)
	it.CartNum, it.VariantNum, it.CreatedAt = old.CartNum, old.VariantNum, old.CreatedAt
	put(c, c.items, it.Num, storedItem(it))
}

func (c *writeCache) deleteItem(num int64) {
	old, ok := c.items[num]
	if !ok {
		return
	}
	drop(c, c.items, num)
	c.forgetMemo(old.CartNum)
	if nums, ok := c.cartItems[old.CartNum]; ok {
		put(c, c.cartItems, old.CartNum, slices.DeleteFunc(slices.Clone(nums), func(n int64) bool { return n == num }))
	}
}

func (c *writeCache) deleteItems(cartNum int64) {
	c.forgetMemo(cartNum)
	for _, n := range c.cartItems[cartNum] {
		drop(c, c.items, n)
	}
	put(c, c.cartItems, cartNum, []int64{})
}

func (c *writeCache) putStock(s cart.Stock) {
	s.UpdatedAt = stored(s.UpdatedAt)
	put(c, c.stock, s.SKU, s)
}

// dropCatalog forgets every variant, product and sale: catalog writes are rare, and the rows a
// product write touches (its variants, their deleted flags, SKUs moving between products) are
// easier to read again than to mirror.
func (c *writeCache) dropCatalog() {
	c.forgetMemos()
	swap(c, &c.variants)
	swap(c, &c.liveBySKU)
	swap(c, &c.sales)
}

// dropPromotions forgets the promotions and every cart's coupons, which embed them.
func (c *writeCache) dropPromotions() {
	oldAuto, oldLoaded := c.auto, c.autoLoaded
	c.auto, c.autoLoaded = nil, false
	c.undo = append(c.undo, func() { c.auto, c.autoLoaded = oldAuto, oldLoaded })
	swap(c, &c.coupons)
	c.forgetMemos()
}

// autoAt filters the cached automatic promotions as qAutoPromotions does.
func (c *writeCache) autoAt(at time.Time) []cart.Promotion {
	us := micros(at)
	var out []cart.Promotion
	for _, p := range c.auto {
		if (p.StartsAt.IsZero() || micros(p.StartsAt) <= us) && (p.EndsAt.IsZero() || micros(p.EndsAt) > us) {
			out = append(out, p)
		}
	}
	return out
}

// stored is a time as it reads back from storage.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fromMicros(micros(t))
}

// storedJSON is client JSON as it reads back from storage (column.JSONText, column.RawJSON):
// empty is NULL, which reads as nil.
func storedJSON(m []byte) []byte {
	if len(m) == 0 {
		return nil
	}
	return m
}

func storedItem(it cart.Item) cart.Item {
	it.Metadata = storedJSON(it.Metadata)
	it.ReservedUntil = stored(it.ReservedUntil)
	it.CreatedAt, it.UpdatedAt = stored(it.CreatedAt), stored(it.UpdatedAt)
	return it
}
