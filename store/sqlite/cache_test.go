package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/storetest"
)

// cacheFixture is a catalog of a few products and carts to change at random.
type cacheFixture struct {
	skus  []string
	carts []int64
}

func newCacheFixture(t *testing.T, s store.Store) cacheFixture {
	t.Helper()
	var f cacheFixture
	for p := range 3 {
		prod := cart.Product{ID: fmt.Sprintf("prod_%d", p), Name: "Product"}
		for v := range 4 {
			sku := fmt.Sprintf("SKU-%d-%d", p, v)
			f.skus = append(f.skus, sku)
			prod.Variants = append(prod.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Active: true,
				Prices: map[string]int64{"USD": int64(100 * (v + 1))}, SaleID: map[bool]string{true: "sale_1"}[v == 3]})
		}
		storetest.MustPutProduct(t, s, prod)
	}
	storetest.MustPutSale(t, s, cart.Sale{ID: "sale_1", Name: "Sale", StartsAt: time.Unix(0, 0), EndsAt: time.Unix(1<<40, 0)})
	storetest.MustPutPromotion(t, s, cart.Promotion{Code: "AUTO", Name: "Auto", Type: cart.Percent,
		Method: cart.Auto, Rate: 500, Active: true})
	storetest.MustPutPromotion(t, s, cart.Promotion{Code: "CODE", Name: "Code", Type: cart.Percent,
		Method: cart.Manual, Rate: 1000, Active: true})
	for range 6 {
		f.carts = append(f.carts, storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 1}).Num)
	}
	return f
}

// errDeliberate fails a call after it wrote, so that its savepoint rolls back.
var errDeliberate = errors.New("deliberate failure")

// change makes one random change in tx, and sometimes fails after it.
func (f cacheFixture) change(ctx context.Context, tx store.Tx, r *rand.Rand) error {
	cartNum := f.carts[r.IntN(len(f.carts))]
	lines, err := tx.Lines(ctx, cartNum)
	if err != nil {
		return err
	}
	now := tx.Now()
	for range 1 + r.IntN(3) {
		switch op := r.IntN(12); {
		case op < 3 || len(lines) == 0: // a new line
			sku := f.skus[r.IntN(len(f.skus))]
			v, _, err := tx.VariantBySKU(ctx, sku)
			if err != nil {
				return err
			}
			it := cart.Item{CartNum: cartNum, VariantNum: v.Num, Quantity: 1 + r.Int64N(5), UnitPrice: 100,
				AddedUnitPrice: 100, CreatedAt: now, UpdatedAt: now, ReservedUntil: now.Add(time.Minute + 123*time.Nanosecond),
				Metadata: []byte(`{"n":1}`)}
			if err := tx.InsertItem(ctx, &it); err != nil {
				return err
			}
			lines = append(lines, cart.Line{Item: it})
		case op < 6:
			it := lines[r.IntN(len(lines))].Item
			it.Quantity, it.UpdatedAt, it.Notes = 1+r.Int64N(9), now, fmt.Sprint(r.IntN(100))
			it.ReservedQuantity, it.ReservedUntil = it.Quantity, now.Add(time.Duration(r.IntN(1000))*time.Millisecond)
			if r.IntN(3) == 0 {
				it.Metadata, it.ReservedUntil = nil, time.Time{}
			}
			if err := tx.UpdateItem(ctx, it); err != nil {
				return err
			}
		case op < 7:
			i := r.IntN(len(lines))
			if err := tx.DeleteItem(ctx, lines[i].Item.Num); err != nil {
				return err
			}
			lines = append(lines[:i], lines[i+1:]...)
		case op < 8:
			sku := f.skus[r.IntN(len(f.skus))]
			st, err := tx.Stock(ctx, sku)
			if err != nil {
				return err
			}
			st.SKU, st.OnHand, st.Reserved, st.Version, st.UpdatedAt = sku, 100+r.Int64N(10), r.Int64N(10), st.Version+1, now
			if err := tx.PutStock(ctx, st); err != nil {
				return err
			}
		case op < 9:
			if r.IntN(2) == 0 {
				if err := tx.AddCoupon(ctx, cart.Coupon{CartNum: cartNum, Code: "CODE", AddedAt: now}); err != nil && cart.ErrorCode(err) != cart.Conflict {
					return err
				}
			} else if err := tx.RemoveCoupon(ctx, cartNum, "CODE"); err != nil && cart.ErrorCode(err) != cart.NotFound {
				return err
			}
		case op < 10: // settings, read back through JSON
			st, err := tx.Settings(ctx)
			if err != nil {
				return err
			}
			st.MaxQuantityPerItem, st.UpdatedAt = 10+r.Int64N(90), now
			if err := tx.PutSettings(ctx, st); err != nil {
				return err
			}
		case op < 11: // a cart that comes and goes within the call, its lines read in between
			tmp := cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now, LastActivity: now}
			if err := tx.InsertCart(ctx, &tmp); err != nil {
				return err
			}
			v, _, err := tx.VariantBySKU(ctx, f.skus[r.IntN(len(f.skus))])
			if err != nil {
				return err
			}
			it := cart.Item{CartNum: tmp.Num, VariantNum: v.Num, Quantity: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertItem(ctx, &it); err != nil {
				return err
			}
			if got, err := tx.Lines(ctx, tmp.Num); err != nil || len(got) != 1 {
				return fmt.Errorf("a new cart's lines: %d, %v", len(got), err)
			}
			if err := tx.DeleteCart(ctx, tmp.Num); err != nil {
				return err
			}
			if _, err := tx.Cart(ctx, tmp.Num); cart.ErrorCode(err) != cart.NotFound {
				return fmt.Errorf("a deleted cart reads back: %v", err)
			}
			if got, err := tx.Lines(ctx, tmp.Num); err != nil || len(got) != 0 {
				return fmt.Errorf("a deleted cart's lines: %d, %v", len(got), err)
			}
		default:
			if r.IntN(4) == 0 { // a catalog write: every variant read again
				p, err := tx.Product(ctx, "prod_1")
				if err != nil {
					return err
				}
				p.Variants[0].Prices = map[string]int64{"USD": 100 + r.Int64N(50)}
				p.UpdatedAt = now
				if err := tx.PutProduct(ctx, &p); err != nil {
					return err
				}
			} else if r.IntN(2) == 0 {
				if err := tx.DeleteItems(ctx, cartNum); err != nil {
					return err
				}
				lines = nil
			}
		}
		c, err := tx.Cart(ctx, cartNum)
		if err != nil {
			return err
		}
		c.Version++
		c.UpdatedAt, c.LastActivity = now, now
		if r.IntN(3) == 0 {
			c.Metadata = []byte(fmt.Sprintf(`{"v":%d}`, c.Version))
		}
		if err := tx.UpdateCart(ctx, c); err != nil {
			return err
		}
	}
	if r.IntN(4) == 0 {
		return errDeliberate
	}
	return nil
}

// snapshotOf reads everything the cache holds for the fixture through tx.
func (f cacheFixture) snapshotOf(ctx context.Context, tx store.ReadTx) (map[string]any, error) {
	out := map[string]any{}
	s, err := tx.Settings(ctx)
	if err != nil {
		return nil, err
	}
	out["settings"] = s
	for _, num := range f.carts {
		c, err := tx.Cart(ctx, num)
		if err != nil {
			return nil, err
		}
		lines, err := tx.Lines(ctx, num)
		if err != nil {
			return nil, err
		}
		coupons, err := tx.Coupons(ctx, num)
		if err != nil {
			return nil, err
		}
		out[fmt.Sprint("cart ", num)] = []any{c, lines, coupons}
	}
	for _, sku := range f.skus {
		st, err := tx.Stock(ctx, sku)
		if err != nil {
			return nil, err
		}
		v, p, err := tx.VariantBySKU(ctx, sku)
		if err != nil {
			return nil, err
		}
		out["stock "+sku] = []any{st, v, p}
	}
	sale, err := tx.Sale(ctx, "sale_1")
	if err != nil {
		return nil, err
	}
	auto, err := tx.AutoPromotions(ctx, tx.Now())
	if err != nil {
		return nil, err
	}
	out["promotions"] = []any{sale, auto}
	return out, nil
}

func TestWriterCacheReadsAsTheDatabaseDoes(t *testing.T) {
	s := mustOpen(t, tempDB(t), Options{})
	f := newCacheFixture(t, s)

	// Concurrent writers, so that calls share group commits, with every fourth call rolled
	// back after its writes.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 150 {
				err := s.Write(t.Context(), func(tx store.Tx) error { return f.change(t.Context(), tx, r) })
				if err != nil && !errors.Is(err, errDeliberate) {
					t.Errorf("write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	// The writer's cached reads, the same transaction's reads without the cache, and a read
	// transaction must all agree.
	var cached, uncached, read map[string]any
	storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if cached, err = f.snapshotOf(ctx, tx); err != nil {
			return err
		}
		direct := *tx.(*txn)
		direct.c = nil
		uncached, err = f.snapshotOf(ctx, &direct)
		return err
	})
	storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		var err error
		read, err = f.snapshotOf(ctx, tx)
		return err
	})
	if diff := cmp.Diff(uncached, cached); diff != "" {
		t.Errorf("cached reads differ from the database (-database +cache):\n%s", diff)
	}
	// The read transaction has its own clock reading: compare what does not depend on it.
	delete(read, "promotions")
	delete(uncached, "promotions")
	if diff := cmp.Diff(read, uncached); diff != "" {
		t.Errorf("the writer's reads differ from a read transaction's (-read +writer):\n%s", diff)
	}
}

func TestWriterCacheSeesOtherConnectionsWrites(t *testing.T) {
	path := tempDB(t)
	s := mustOpen(t, path, Options{})
	f := newCacheFixture(t, s)
	sku := f.skus[0]
	stockOf := func(st store.Store) cart.Stock {
		var got cart.Stock
		storetest.MustWrite(t, st, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = tx.Stock(ctx, sku)
			return err
		})
		return got
	}
	stockOf(s) // now cached by s's writer

	// Another process on the same file (cartd import, cartd keys) changes the row.
	other := mustOpen(t, path, Options{})
	storetest.MustWrite(t, other, func(ctx context.Context, tx store.Tx) error {
		return tx.PutStock(ctx, cart.Stock{SKU: sku, OnHand: 42, Version: 9, UpdatedAt: tx.Now()})
	})
	if got := stockOf(s); got.OnHand != 42 || got.Version != 9 {
		t.Fatalf("after another connection's write, the writer reads %+v, want on_hand 42 version 9", got)
	}
}

// The contract suite skips its memo cases for a store that keeps none, which store/postgres
// may do and this store must not: its writer keeps them, and forgets them when another
// process commits to the same file.
func TestWriterKeepsMemos(t *testing.T) {
	path := tempDB(t)
	s := mustOpen(t, path, Options{})
	f := newCacheFixture(t, s)
	num := f.carts[0]
	memo := new(sizedMemo)
	*memo = 1
	keep := func() {
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.Lines(ctx, num); err != nil {
				return err
			}
			tx.(store.Memos).KeepMemo(num, memo)
			return nil
		})
	}
	take := func() store.Memo {
		var got store.Memo
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			got = tx.(store.Memos).TakeMemo(num)
			return nil
		})
		return got
	}
	keep()
	if got := take(); got != memo {
		t.Fatalf("the writer gave back %v, want the memo it was left", got)
	}
	keep()
	other := mustOpen(t, path, Options{})
	storetest.MustWrite(t, other, func(ctx context.Context, tx store.Tx) error {
		return tx.PutStock(ctx, cart.Stock{SKU: f.skus[0], OnHand: 5, Version: 7, UpdatedAt: tx.Now()})
	})
	if got := take(); got != nil {
		t.Fatalf("after another process's commit the writer gave back %v, want nothing", got)
	}
}

// memoLines must stay the sum of the kept memos' sizes whatever mix of keeps, takes, forgets
// and rollbacks a group goes through: it is what bounds the memory memos hold.
func TestWriterCacheCountsMemoLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	c := newWriteCache(0)
	for n := range int64(4) {
		c.cartItems[n] = []int64{}
	}
	check := func(step int) {
		t.Helper()
		sum := 0
		for _, e := range c.memos {
			sum += e.lines
		}
		if sum != c.memoLines {
			t.Fatalf("step %d: memoLines %d, the memos hold %d", step, c.memoLines, sum)
		}
	}
	marks := []int{}
	for step := range 5000 {
		n := rng.Int64N(4)
		switch r := rng.IntN(10); {
		case r < 3:
			m := sizedMemo(1 + rng.IntN(50))
			c.keepMemo(n, &m)
		case r < 5:
			c.takeMemo(n)
		case r < 6:
			c.forgetMemo(n)
		case r < 7:
			c.forgetMemos()
		case r < 8:
			marks = append(marks, c.mark())
		case r < 9 && len(marks) > 0:
			c.rollbackTo(marks[len(marks)-1])
			marks = marks[:len(marks)-1]
		default:
			c.commit()
			marks = marks[:0]
		}
		check(step)
	}
}

// sizedMemo is a memo of so many cart lines, compared by identity (a pointer).
type sizedMemo int

func (m *sizedMemo) Len() int { return int(*m) }

// The writer's cache stays within its bound in bytes, however many carts pass through it: a
// bound of 256 KiB and carts of a few hundred bytes each must empty it several times, and the
// estimate never grows past the bound by more than one group's worth.
func TestWriterCacheBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	const bound = 256 << 10
	s, err := Open(ctx, t.TempDir()+"/cartd.db", Options{WriteCacheBytes: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var nums []int64
	for range 4000 {
		nums = append(nums, storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 1,
			Metadata: []byte(`{"note":"a cart that takes some room"}`)}).Num)
	}
	var most int64
	for _, n := range nums {
		err := s.Write(ctx, func(tx store.Tx) error {
			k, err := tx.Cart(ctx, n)
			if err != nil {
				return err
			}
			k.Version++
			return tx.UpdateCart(ctx, k)
		})
		if err != nil {
			t.Fatal(err)
		}
		// Only the writer touches the cache; between writes it is quiet.
		most = max(most, s.cache.size())
	}
	if s.cache.size() == 0 || most == 0 {
		t.Fatalf("the cache holds nothing (%d bytes at most): the estimate does not count", most)
	}
	if most > bound+bound/4 {
		t.Errorf("the cache reached %d bytes, bound %d", most, bound)
	}
	if len(s.cache.carts) >= len(nums) {
		t.Errorf("all %d carts are still cached: the bound was never applied", len(s.cache.carts))
	}
}
