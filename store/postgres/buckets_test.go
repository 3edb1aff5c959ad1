package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/storetest"
)

func TestContractWithStockBuckets(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, postgrestest.URL(t), Options{StockBuckets: 4})
	})
}

// bucketRows reads a SKU's rows as stored, in bucket order.
func bucketRows(t *testing.T, s *Store, sku string) []stockRow {
	t.Helper()
	var rows []stockRow
	err := s.Read(t.Context(), func(tx store.ReadTx) error {
		var err error
		rows, err = tx.(*txn).stockRows(t.Context(), qStockRows+` ORDER BY bucket`, sku)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkRows holds a SKU's rows to what every committed state keeps: each row between 0 and
// its on_hand, the sums as wanted.
func checkRows(t *testing.T, s *Store, sku string, onHand, reserved int64) []stockRow {
	t.Helper()
	rows := bucketRows(t, s, sku)
	for _, r := range rows {
		if r.reserved < 0 || r.reserved > r.onHand {
			t.Errorf("bucket %d: reserved %d of on_hand %d", r.bucket, r.reserved, r.onHand)
		}
	}
	if sum := sumRows(sku, rows); sum.OnHand != onHand || sum.Reserved != reserved {
		t.Errorf("sums: on_hand %d, reserved %d; want %d, %d (rows %+v)", sum.OnHand, sum.Reserved, onHand, reserved, rows)
	}
	return rows
}

// move reserves d units (returns them when negative) of sku for cart num, as the engine does:
// the cart locked, the stock read, refused (false) when fewer than d are available, written
// with the version bumped.
func move(ctx context.Context, tx store.Tx, num int64, sku string, d int64) (bool, error) {
	if _, err := tx.Cart(ctx, num); err != nil {
		return false, err
	}
	st, err := tx.Stock(ctx, sku)
	if err != nil {
		return false, err
	}
	if d > st.Available() {
		return false, nil
	}
	st.Reserved += d
	st.Version++
	st.UpdatedAt = tx.Now()
	return true, tx.PutStock(ctx, st)
}

func TestBucketsFor(t *testing.T) {
	for _, tt := range []struct {
		onHand, reserved int64
		setting, want    int
	}{
		{1000, 0, 8, 8},
		{1000, 0, 1, 1},
		{1000, 0, 0, 1},
		{1000, 950, 8, 5},
		{1000, 991, 8, 1},
		{5, 9, 8, 1}, // reserved above on_hand for a moment
	} {
		s := cart.Stock{OnHand: tt.onHand, Reserved: tt.reserved}
		if got := bucketsFor(s, tt.setting); got != tt.want {
			t.Errorf("bucketsFor(on_hand %d, reserved %d, %d) = %d, want %d", tt.onHand, tt.reserved, tt.setting, got, tt.want)
		}
	}
}

func TestStockBuckets(t *testing.T) {
	const n = 4
	ctx := t.Context()
	setup := func(t *testing.T, opts Options, onHand int64) (*Store, []int64) {
		opts.StockBuckets = n
		s := mustOpen(t, postgrestest.URL(t), opts)
		var nums []int64
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			for i := range 2 * n {
				c := newCart(fmt.Sprintf("bucket_%d", i))
				if err := tx.InsertCart(ctx, &c); err != nil {
					return err
				}
				nums = append(nums, c.Num)
			}
			return tx.PutStock(ctx, cart.Stock{SKU: "HOT", OnHand: onHand, Version: 1, UpdatedAt: tx.Now()})
		})
		return s, nums
	}

	t.Run("a SKU written whole is spread over the buckets, and its figures are the sums", func(t *testing.T) {
		s, _ := setup(t, Options{}, 41)
		rows := checkRows(t, s, "HOT", 41, 0)
		if len(rows) != n {
			t.Fatalf("%d rows, want %d", len(rows), n)
		}
		for _, r := range rows {
			if r.onHand < 41/n {
				t.Errorf("bucket %d holds %d of 41", r.bucket, r.onHand)
			}
		}
		storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			st, err := tx.Stock(ctx, "HOT")
			if err == nil && (st.OnHand != 41 || st.Reserved != 0 || st.Version != 1) {
				t.Errorf("stock = %+v, want on_hand 41, reserved 0, version 1", st)
			}
			return err
		})
	})

	t.Run("a cart draws from its own bucket and returns to it", func(t *testing.T) {
		s, nums := setup(t, Options{}, 40)
		for i, num := range nums[:n] {
			storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				ok, err := move(ctx, tx, num, "HOT", int64(i+1))
				if err == nil && !ok {
					t.Errorf("cart %d: refused", num)
				}
				return err
			})
		}
		rows := checkRows(t, s, "HOT", 40, 1+2+3+4)
		for i, num := range nums[:n] {
			if b := num % n; rows[b].reserved != int64(i+1) {
				t.Errorf("bucket %d (cart %d) reserved %d, want %d", b, num, rows[b].reserved, i+1)
			}
		}
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := move(ctx, tx, nums[2], "HOT", -3)
			return err
		})
		rows = checkRows(t, s, "HOT", 40, 1+2+4)
		if b := nums[2] % n; rows[b].reserved != 0 {
			t.Errorf("bucket %d still holds %d after cart %d returned its units", b, rows[b].reserved, nums[2])
		}
		storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			st, err := tx.Stock(ctx, "HOT")
			if err == nil && st.Version != 1+n+1 {
				t.Errorf("version %d after %d writes of the SKU, want %d", st.Version, 1+n+1, 1+n+1)
			}
			return err
		})
	})

	t.Run("a request no single bucket covers but the sum does is granted, and rebalances", func(t *testing.T) {
		var retries atomic.Int64
		s, nums := setup(t, Options{OnRetry: func(string) { retries.Add(1) }}, 40) // 10 units a bucket
		if rows := checkRows(t, s, "HOT", 40, 0); len(rows) != n {
			t.Fatalf("%d rows, want %d", len(rows), n)
		}
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			ok, err := move(ctx, tx, nums[0], "HOT", 25)
			if err == nil && !ok {
				t.Error("25 of 40 units refused")
			}
			return err
		})
		// 15 left: one bucket, since two would hold fewer than minBucketShare each.
		if rows := checkRows(t, s, "HOT", 40, 25); len(rows) != 1 {
			t.Errorf("%d rows with 15 units available, want 1", len(rows))
		}
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			ok, err := move(ctx, tx, nums[1], "HOT", 15) // every unit left
			if err == nil && !ok {
				t.Error("the last 15 units refused")
			}
			return err
		})
		checkRows(t, s, "HOT", 40, 40)
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			ok, err := move(ctx, tx, nums[2], "HOT", 1)
			if err == nil && ok {
				t.Error("a unit beyond the stock granted")
			}
			return err
		})
		checkRows(t, s, "HOT", 40, 40)
		// Returns too, wherever the units are.
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			_, err := move(ctx, tx, nums[0], "HOT", -25)
			return err
		})
		checkRows(t, s, "HOT", 40, 15)
		if retries.Load() != 0 {
			t.Errorf("%d retries without a concurrent write", retries.Load())
		}
	})

	t.Run("a write decided on figures that moved since is re-run on the SKU locked whole", func(t *testing.T) {
		var reasons []string
		s, nums := setup(t, Options{OnRetry: func(r string) { reasons = append(reasons, r) }}, 40)
		other := mustOpen(t, s.pool.Config().ConnString(), Options{StockBuckets: n})
		var versions []int64
		err := s.Write(ctx, func(tx store.Tx) error {
			st, err := tx.Stock(ctx, "HOT")
			if err != nil {
				return err
			}
			versions = append(versions, st.Version)
			if len(versions) == 1 {
				// Another node draws in between: the version this write read is gone.
				storetest.MustWrite(t, other, func(ctx context.Context, tx store.Tx) error {
					_, err := move(ctx, tx, nums[1], "HOT", 1)
					return err
				})
			}
			st.OnHand = 30 // an inventory set, with If-Match on the version read
			st.Version++
			return tx.PutStock(ctx, st)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(versions, []int64{1, 2}) || !slices.Equal(reasons, []string{"stale_read"}) {
			t.Errorf("versions read %v, retries %v; want [1 2], [stale_read]", versions, reasons)
		}
		checkRows(t, s, "HOT", 30, 1)
	})

	t.Run("concurrent draws and returns on two nodes never oversell and lose nothing", func(t *testing.T) {
		const onHand, workers, rounds = 30, 16, 25
		s, nums := setup(t, Options{}, onHand)
		other := mustOpen(t, s.pool.Config().ConnString(), Options{StockBuckets: n})
		nodes := [2]*Store{s, other}
		held := make([]int64, len(nums)) // per cart, under its mutex
		mus := make([]sync.Mutex, len(nums))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for range rounds {
					c := rng.IntN(len(nums))
					mus[c].Lock()
					d := max(int64(rng.IntN(7))-3, -held[c])
					var granted bool
					err := nodes[w%2].Write(ctx, func(tx store.Tx) error {
						var err error
						granted, err = move(ctx, tx, nums[c], "HOT", d)
						return err
					})
					if err == nil && granted {
						held[c] += d
					}
					mus[c].Unlock()
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		var total int64
		for _, h := range held {
			total += h
		}
		checkRows(t, s, "HOT", onHand, total)
	})
}

func TestMaxStockBucketsSQL(t *testing.T) {
	if maxStockBucketsSQL != fmt.Sprint(MaxStockBuckets) {
		t.Errorf("maxStockBucketsSQL %s, MaxStockBuckets %d", maxStockBucketsSQL, MaxStockBuckets)
	}
}
