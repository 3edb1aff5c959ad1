package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// BenchmarkSweep times one pass of the sweeper over a store whose carts hold stock: with
// nothing due, and with some reservations due (each iteration puts them back first, untimed).
// A pass's cost should follow what is due, not how many carts hold stock (BENCHMARKS.md, "A
// grown store"):
//
//	go test ./engine -run '^$' -bench BenchmarkSweep -benchtime 20x
func BenchmarkSweep(b *testing.B) {
	for _, holding := range []int{1_000, 200_000} {
		ctx := context.Background()
		t0 := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
		clock := &testClock{now: t0}
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		items := holdStock(b, st, holding, t0)
		b.Logf("%d carts holding stock made in %s", holding, time.Since(began).Round(time.Millisecond))
		eng := engine.New(st, engine.Config{ReservationTTL: ttl})
		for _, due := range []int{0, 200} {
			b.Run(fmt.Sprintf("holding=%d/due=%d", holding, due), func(b *testing.B) {
				// The first due items (in order of lapse) are past their reservation: item j
				// lapses at t0+ttl+j µs, and a reservation lapsing at now is due.
				clock.mu.Lock()
				clock.now = t0.Add(ttl + time.Duration(due-1)*time.Microsecond)
				clock.mu.Unlock()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					rearm(b, st, items[:due])
					b.StartTimer()
					n, err := eng.Sweep(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if n != due {
						b.Fatalf("the pass released %d carts, want %d", n, due)
					}
				}
			})
		}
		st.Close()
	}
}

const sweepSKUs = 1000

// holdStock makes n carts of one line each, holding one unit of one of sweepSKUs SKUs until
// t0+ttl plus its index in microseconds, with the stock's reserved counts to match.
func holdStock(b *testing.B, st store.Store, n int, t0 time.Time) []cart.Item {
	b.Helper()
	ctx := context.Background()
	var variants []int64
	err := st.Write(ctx, func(tx store.Tx) error {
		for p := range sweepSKUs / 10 {
			prod := cart.Product{ID: fmt.Sprintf("prod_%d", p), Name: "Tee"}
			for v := range 10 {
				sku := fmt.Sprintf("SKU-%d-%d", p, v)
				prod.Variants = append(prod.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Active: true,
					Prices: map[string]int64{"USD": 1000}})
			}
			if err := tx.PutProduct(ctx, &prod); err != nil {
				return err
			}
			for _, v := range prod.Variants {
				variants = append(variants, v.Num)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	items := make([]cart.Item, 0, n)
	reserved := make([]int64, sweepSKUs)
	for start := 0; start < n; start += 2000 {
		err := st.Write(ctx, func(tx store.Tx) error {
			for j := start; j < min(n, start+2000); j++ {
				k := cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 1, CreatedAt: t0, UpdatedAt: t0, LastActivity: t0}
				if err := tx.InsertCart(ctx, &k); err != nil {
					return err
				}
				it := cart.Item{CartNum: k.Num, VariantNum: variants[j%sweepSKUs], Quantity: 1, ReservedQuantity: 1,
					UnitPrice: 1000, AddedUnitPrice: 1000, CreatedAt: t0, UpdatedAt: t0,
					ReservedUntil: t0.Add(ttl + time.Duration(j)*time.Microsecond)}
				if err := tx.InsertItem(ctx, &it); err != nil {
					return err
				}
				items = append(items, it)
				reserved[j%sweepSKUs]++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	err = st.Write(ctx, func(tx store.Tx) error {
		for p := range sweepSKUs / 10 {
			for v := range 10 {
				i := p*10 + v
				if err := tx.PutStock(ctx, cart.Stock{SKU: fmt.Sprintf("SKU-%d-%d", p, v), OnHand: 1_000_000,
					Reserved: reserved[i], Version: 1, UpdatedAt: t0}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return items
}

// rearm gives items their reservation back (the sweep released it), with their SKUs' stock.
func rearm(b *testing.B, st store.Store, items []cart.Item) {
	b.Helper()
	if len(items) == 0 {
		return
	}
	ctx := context.Background()
	err := st.Write(ctx, func(tx store.Tx) error {
		var back []cart.Item
		for _, it := range items {
			lines, err := tx.Lines(ctx, it.CartNum)
			if err != nil {
				return err
			}
			if len(lines) == 1 && lines[0].Item.ReservedQuantity == 0 {
				back = append(back, it)
				s := lines[0].Stock
				s.Reserved++
				s.Version++
				if err := tx.PutStock(ctx, s); err != nil {
					return err
				}
				if err := tx.UpdateItem(ctx, it); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
