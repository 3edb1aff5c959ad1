package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// memoValue is what the memo tests leave with a store: a pointer, so that what TakeMemo hands
// back is compared by identity, as the engine's own memo would be.
type memoValue struct {
	name  string
	lines int // its size in cart lines (store.Memo)
}

func (v *memoValue) Len() int { return v.lines }

// memosOf returns the memo capability of a store's write transaction, failing the test when
// the store has none (keepsMemos is asked first).
func memosOf(t *testing.T, tx store.Tx) store.Memos {
	t.Helper()
	m, ok := tx.(store.Memos)
	if !ok {
		t.Fatalf("the store's transaction %T keeps no memos", tx)
	}
	return m
}

// memoFixture is a store with a product of two variants, stock for the first, two manual
// promotions, and two carts of one line each; cart a also holds the coupon TEN.
type memoFixture struct {
	s            store.Store
	a, b         cart.Cart
	itemA, itemB cart.Item
}

func newMemoFixture(t *testing.T, open func(t *testing.T) store.Store) memoFixture {
	t.Helper()
	s := open(t)
	p := MustPutProduct(t, s, newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M")))
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutStock(ctx, cart.Stock{SKU: "TEE-S", OnHand: 10, Reserved: 2, Version: 1, UpdatedAt: at(5)})
	})
	MustPutPromotion(t, s, newPromotion("TEN", cart.Manual))
	MustPutPromotion(t, s, newPromotion("FIVE", cart.Manual))
	f := memoFixture{s: s, a: MustInsertCart(t, s, newCart("cust_a")), b: MustInsertCart(t, s, newCart("cust_b"))}
	f.itemA = MustInsertItem(t, s, newItem(f.a.Num, p.Variants[0].Num, 2))
	f.itemB = MustInsertItem(t, s, newItem(f.b.Num, p.Variants[0].Num, 1))
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AddCoupon(ctx, cart.Coupon{CartNum: f.a.Num, Code: "TEN", AddedAt: at(20)})
	})
	return f
}

// keepMemo leaves v with the store for a cart, in a write of its own that first reads the
// cart's lines. The engine keeps a memo only in a transaction that read the cart's lines or
// took its memo, and a store may rely on that: the SQLite writer keeps one only while it holds
// the cart's item list, so that every write of the items finds the memo to forget.
func keepMemo(t *testing.T, s store.Store, cartNum int64, v *memoValue) {
	t.Helper()
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		lines, err := tx.Lines(ctx, cartNum)
		if err != nil {
			return err
		}
		v.lines = len(lines)
		memosOf(t, tx).KeepMemo(cartNum, v)
		return nil
	})
}

// takeMemo takes a cart's memo in a write of its own.
func takeMemo(t *testing.T, s store.Store, cartNum int64) any {
	t.Helper()
	var v any
	MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
		v = memosOf(t, tx).TakeMemo(cartNum)
		return nil
	})
	return v
}

// wantMemo fails the test unless got is want (nil for none), by identity.
func wantMemo(t *testing.T, got any, want *memoValue, after string) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("TakeMemo after %s = %+v, want nil", after, got)
	case want != nil && got != any(want):
		t.Errorf("TakeMemo after %s = %+v, want the memo kept (%p)", after, got, want)
	}
}

// keepsMemos reports whether the store keeps memos at all: a store that cannot see every
// write (several nodes sharing store/postgres) keeps none, and the remaining memo cases do not
// apply to it.
func keepsMemos(t *testing.T, open func(t *testing.T) store.Store) bool {
	t.Helper()
	f := newMemoFixture(t, open)
	var keeps bool
	MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error {
		_, keeps = tx.(store.Memos)
		return nil
	})
	if !keeps {
		return false
	}
	want := &memoValue{name: "probe"}
	keepMemo(t, f.s, f.a.Num, want)
	got := takeMemo(t, f.s, f.a.Num)
	if got != nil && got != any(want) {
		t.Fatalf("TakeMemo = %+v, want the memo kept (%p) or nil", got, want)
	}
	return got != nil
}

func testMemos(t *testing.T, open func(t *testing.T) store.Store) {
	if !keepsMemos(t, open) {
		t.Skip("the store keeps no memos (several nodes)")
	}

	// Each write runs in a transaction of its own between the keep and the take. Those that
	// change what the memo of cart a was derived from must make the store forget it; stock
	// and other carts are not part of it.
	tests := []struct {
		name    string
		write   func(ctx context.Context, tx store.Tx, f memoFixture) error
		forgets bool
	}{
		{"updating the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			c := f.a
			c.Version++
			c.UpdatedAt = at(60)
			return tx.UpdateCart(ctx, c)
		}, true},
		{"adding an item to the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			it := newItem(f.a.Num, f.itemA.VariantNum, 1)
			return tx.InsertItem(ctx, &it)
		}, true},
		{"updating an item of the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			it := f.itemA
			it.Quantity, it.ReservedQuantity, it.UpdatedAt = 3, 3, at(60)
			return tx.UpdateItem(ctx, it)
		}, true},
		// UpdateItem finds the item by Num alone; the cart is fixed at insert.
		{"updating an item of the cart given without its cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			it := f.itemA
			it.CartNum = 0
			it.Quantity, it.ReservedQuantity, it.UpdatedAt = 3, 3, at(60)
			return tx.UpdateItem(ctx, it)
		}, true},
		{"deleting an item of the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteItem(ctx, f.itemA.Num)
		}, true},
		{"deleting the cart's items forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteItems(ctx, f.a.Num)
		}, true},
		{"applying a coupon to the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.AddCoupon(ctx, cart.Coupon{CartNum: f.a.Num, Code: "FIVE", AddedAt: at(60)})
		}, true},
		{"removing a coupon from the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.RemoveCoupon(ctx, f.a.Num, "TEN")
		}, true},
		{"deleting the cart forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteCart(ctx, f.a.Num)
		}, true},
		{"putting the cart's product forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			p := newProduct("prod_tee", newVariant("var_tee_s", "TEE-S"), newVariant("var_tee_m", "TEE-M"))
			p.Variants[0].Prices = map[string]int64{"USD": 100}
			p.UpdatedAt = at(60)
			return tx.PutProduct(ctx, &p)
		}, true},
		{"deleting the cart's product forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteProduct(ctx, "prod_tee")
		}, true},
		{"putting the sale the cart's variants name forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			sale := newSale("sale_summer", 0, 1000)
			return tx.PutSale(ctx, &sale)
		}, true},
		{"putting a promotion forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			p := newPromotion("AUTO", cart.Auto)
			return tx.PutPromotion(ctx, &p)
		}, true},
		{"withdrawing a promotion forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeletePromotion(ctx, "TEN")
		}, true},
		{"putting the settings forgets it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			s := cart.DefaultSettings()
			s.PricesIncludeTax = true
			s.UpdatedAt = at(60)
			return tx.PutSettings(ctx, s)
		}, true},

		{"a write of nothing keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return nil
		}, false},
		{"stocking the cart's SKU keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.PutStock(ctx, cart.Stock{SKU: "TEE-S", OnHand: 4, Reserved: 3, Version: 2, UpdatedAt: at(60)})
		}, false},
		{"inserting another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			c := newCart("cust_c")
			return tx.InsertCart(ctx, &c)
		}, false},
		{"updating another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			c := f.b
			c.Version++
			c.UpdatedAt = at(60)
			return tx.UpdateCart(ctx, c)
		}, false},
		{"adding an item to another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			it := newItem(f.b.Num, f.itemB.VariantNum, 1)
			return tx.InsertItem(ctx, &it)
		}, false},
		{"updating an item of another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			it := f.itemB
			it.Quantity, it.ReservedQuantity, it.UpdatedAt = 4, 4, at(60)
			return tx.UpdateItem(ctx, it)
		}, false},
		{"deleting an item of another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteItem(ctx, f.itemB.Num)
		}, false},
		{"deleting another cart's items keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteItems(ctx, f.b.Num)
		}, false},
		{"applying a coupon to another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.AddCoupon(ctx, cart.Coupon{CartNum: f.b.Num, Code: "FIVE", AddedAt: at(60)})
		}, false},
		{"deleting another cart keeps it", func(ctx context.Context, tx store.Tx, f memoFixture) error {
			return tx.DeleteCart(ctx, f.b.Num)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMemoFixture(t, open)
			kept := &memoValue{name: "a"}
			keepMemo(t, f.s, f.a.Num, kept)
			MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error { return tt.write(ctx, tx, f) })
			want := kept
			if tt.forgets {
				want = nil
			}
			wantMemo(t, takeMemo(t, f.s, f.a.Num), want, "the write")
		})
	}

	t.Run("taking a memo forgets it", func(t *testing.T) {
		f := newMemoFixture(t, open)
		kept := &memoValue{name: "a"}
		keepMemo(t, f.s, f.a.Num, kept)
		wantMemo(t, takeMemo(t, f.s, f.a.Num), kept, "keeping it")
		wantMemo(t, takeMemo(t, f.s, f.a.Num), nil, "taking it once")
	})

	t.Run("a memo is its own cart's", func(t *testing.T) {
		f := newMemoFixture(t, open)
		ma, mb := &memoValue{name: "a"}, &memoValue{name: "b"}
		keepMemo(t, f.s, f.a.Num, ma)
		keepMemo(t, f.s, f.b.Num, mb)
		wantMemo(t, takeMemo(t, f.s, f.a.Num), ma, "keeping one for each cart")
		wantMemo(t, takeMemo(t, f.s, f.b.Num), mb, "taking the other cart's")
	})

	// The engine's minimal change takes the memo instead of reading the lines, writes the
	// cart, and keeps the next memo after its writes: that memo must hold.
	t.Run("a memo kept after the writes of the change that took the last one is kept", func(t *testing.T) {
		f := newMemoFixture(t, open)
		first, next := &memoValue{name: "first"}, &memoValue{name: "next"}
		keepMemo(t, f.s, f.a.Num, first)
		MustWrite(t, f.s, func(ctx context.Context, tx store.Tx) error {
			wantMemo(t, memosOf(t, tx).TakeMemo(f.a.Num), first, "keeping it")
			it := f.itemA
			it.Quantity, it.ReservedQuantity, it.UpdatedAt = 5, 5, at(60)
			if err := tx.UpdateItem(ctx, it); err != nil {
				return err
			}
			c := f.a
			c.Version++
			c.UpdatedAt = at(60)
			if err := tx.UpdateCart(ctx, c); err != nil {
				return err
			}
			next.lines = 1
			memosOf(t, tx).KeepMemo(f.a.Num, next)
			return nil
		})
		wantMemo(t, takeMemo(t, f.s, f.a.Num), next, "a change kept it")
	})

	t.Run("a memo kept by a write that fails is not kept", func(t *testing.T) {
		f := newMemoFixture(t, open)
		keepAndFail(t, f.s, f.a.Num)
		wantMemo(t, takeMemo(t, f.s, f.a.Num), nil, "the write failed")
	})

	// Keeping is undone with its transaction: the memo before it comes back, since nothing it
	// was derived from changed and nobody took it.
	t.Run("a write that keeps a memo and fails leaves the one before", func(t *testing.T) {
		f := newMemoFixture(t, open)
		first := &memoValue{name: "first"}
		keepMemo(t, f.s, f.a.Num, first)
		keepAndFail(t, f.s, f.a.Num)
		wantMemo(t, takeMemo(t, f.s, f.a.Num), first, "a failed write kept another")
	})

	// Taking is never undone: the taker owns the memo and may have changed it (the engine
	// re-figures a memo's lines in place), so a rollback must not hand it out again.
	t.Run("a write that takes a memo and fails leaves none", func(t *testing.T) {
		f := newMemoFixture(t, open)
		first := &memoValue{name: "first"}
		keepMemo(t, f.s, f.a.Num, first)
		err := f.s.Write(t.Context(), func(tx store.Tx) error {
			wantMemo(t, memosOf(t, tx).TakeMemo(f.a.Num), first, "keeping it")
			first.name = "changed by its taker"
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Write = %v, want the function's error", err)
		}
		wantMemo(t, takeMemo(t, f.s, f.a.Num), nil, "a failed write took it")
	})
}

// keepAndFail keeps a memo for cart num in a write that then fails.
func keepAndFail(t *testing.T, s store.Store, num int64) {
	t.Helper()
	err := s.Write(t.Context(), func(tx store.Tx) error {
		lines, err := tx.Lines(t.Context(), num)
		if err != nil {
			return err
		}
		memosOf(t, tx).KeepMemo(num, &memoValue{name: "failed", lines: len(lines)})
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
}

// errStop is what a write that must roll back returns.
var errStop = errors.New("stop")
