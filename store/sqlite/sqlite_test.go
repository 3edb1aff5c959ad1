package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/storetest"
)

// mustOpen opens a store on path and closes it when the test ends.
func mustOpen(tb testing.TB, path string, opts Options) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func tempDB(tb testing.TB) string { return filepath.Join(tb.TempDir(), "cartd.db") }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := mustOpen(t, tempDB(t), Options{})
		for _, p := range []*pool{s.write, s.read} {
			p.unprepared = func(query string) { t.Errorf("statement missing from statements:%s", query) }
		}
		return s
	})
}

func TestReopen(t *testing.T) {
	t.Run("keeps the data and migrating again changes nothing", func(t *testing.T) {
		path := tempDB(t)
		s, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 3})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = mustOpen(t, path, Options{})
		storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Cart(ctx, c.Num)
			if err != nil {
				return err
			}
			if got.Version != 3 {
				t.Errorf("cart after reopening has version %d, want 3", got.Version)
			}
			return nil
		})
		var versions int
		err = s.write.db.QueryRowContext(t.Context(),
			`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&versions)
		if err != nil {
			t.Fatal(err)
		}
		files, err := migrations.ReadDir("migrations")
		if err != nil {
			t.Fatal(err)
		}
		if versions != len(files) {
			t.Errorf("%d migrations recorded after two opens, want %d", versions, len(files))
		}
	})
}

func TestDurability(t *testing.T) {
	tests := []struct {
		name        string
		durability  Durability
		synchronous int
	}{
		{"normal syncs the WAL at checkpoints only", Normal, 1},
		{"full syncs the WAL at every commit", Full, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, tempDB(t), Options{Durability: tt.durability})
			var got int
			if err := s.write.db.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.synchronous {
				t.Errorf("PRAGMA synchronous = %d on the write connection, want %d", got, tt.synchronous)
			}
			var mode string
			if err := s.write.db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" {
				t.Errorf("journal_mode = %q, want wal", mode)
			}
			storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.PutStock(ctx, cart.Stock{SKU: "SKU-1", OnHand: 4})
			})
			storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				st, err := tx.Stock(ctx, "SKU-1")
				if err == nil && st.OnHand != 4 {
					t.Errorf("on_hand = %d, want 4", st.OnHand)
				}
				return err
			})
		})
	}
}

func TestClock(t *testing.T) {
	t.Run("now is read once per transaction from the injected clock", func(t *testing.T) {
		var calls atomic.Int64
		tick := time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.FixedZone("IST", 5*3600+1800))
		s := mustOpen(t, tempDB(t), Options{Now: func() time.Time {
			calls.Add(1)
			return tick
		}})
		want := time.Date(2030, 1, 1, 21, 34, 5, 678901000, time.UTC)
		check := func(tx store.ReadTx) {
			for range 3 {
				if got := tx.Now(); !got.Equal(want) || got.Location() != time.UTC {
					t.Errorf("Now() = %v, want %v", got, want)
				}
			}
		}
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { check(tx); return nil })
		storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error { check(tx); return nil })
		if n := calls.Load(); n != 2 {
			t.Errorf("clock read %d times in two transactions, want 2", n)
		}
	})
}

func TestOpen(t *testing.T) {
	t.Run("refuses in-memory databases", func(t *testing.T) {
		for _, path := range []string{"", ":memory:", "file::memory:"} {
			if s, err := Open(t.Context(), path, Options{}); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", path)
			}
		}
	})

	t.Run("takes paths with URI metacharacters", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a?b#c%20d.db")
		s := mustOpen(t, path, Options{})
		storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive})
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database file not where asked: %v", err)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Run("a cancelled context is the caller's error, not a database failure", func(t *testing.T) {
		s := mustOpen(t, tempDB(t), Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for name, err := range map[string]error{
			"Write": s.Write(ctx, func(store.Tx) error { return nil }),
			"Read":  s.Read(ctx, func(store.ReadTx) error { return nil }),
		} {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
			}
		}
	})

	t.Run("a write waiting for the writer gives up when its context ends", func(t *testing.T) {
		s := mustOpen(t, tempDB(t), Options{})
		held := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- s.Write(context.Background(), func(store.Tx) error {
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		err := s.Write(ctx, func(store.Tx) error { return nil })
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("queued Write = %v, want context.DeadlineExceeded", err)
		}
		if err := <-done; err != nil {
			t.Errorf("holding Write: %v", err)
		}
	})
}

// BenchmarkWrite measures one small cart change: read the cart, update it, commit.
func BenchmarkWrite(b *testing.B) {
	for _, d := range []struct {
		name string
		Durability
	}{{"normal", Normal}, {"full", Full}} {
		b.Run(d.name, func(b *testing.B) {
			s := mustOpen(b, tempDB(b), Options{Durability: d.Durability})
			c := storetest.MustInsertCart(b, s, cart.Cart{Currency: "USD", Status: cart.StatusActive})
			ctx := b.Context()
			for b.Loop() {
				err := s.Write(ctx, func(tx store.Tx) error {
					got, err := tx.Cart(ctx, c.Num)
					if err != nil {
						return err
					}
					got.Version++
					got.UpdatedAt = tx.Now()
					return tx.UpdateCart(ctx, got)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLines measures reading a cart's lines, the query behind every cart response.
func BenchmarkLines(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("%d lines", n), func(b *testing.B) {
			s := mustOpen(b, tempDB(b), Options{})
			c := storetest.MustInsertCart(b, s, cart.Cart{Currency: "USD", Status: cart.StatusActive})
			storetest.MustWrite(b, s, func(ctx context.Context, tx store.Tx) error {
				for i := range n {
					p := cart.Product{ID: fmt.Sprintf("prod_%d", i), Name: "P", Variants: []cart.Variant{{
						ID: fmt.Sprintf("var_%d", i), SKU: fmt.Sprintf("SKU-%d", i), Active: true,
						Options: []cart.Option{{Name: "size", Value: "M"}},
						Prices:  map[string]int64{"USD": 1000, "EUR": 900},
						Tiers:   []cart.Tier{{MinQuantity: 10, Prices: map[string]int64{"USD": 800}}},
					}}}
					if err := tx.PutProduct(ctx, &p); err != nil {
						return err
					}
					if err := tx.PutStock(ctx, cart.Stock{SKU: p.Variants[0].SKU, OnHand: 100}); err != nil {
						return err
					}
					it := cart.Item{CartNum: c.Num, VariantNum: p.Variants[0].Num, Quantity: 1, UnitPrice: 1000}
					if err := tx.InsertItem(ctx, &it); err != nil {
						return err
					}
				}
				return nil
			})
			ctx := b.Context()
			for b.Loop() {
				err := s.Read(ctx, func(tx store.ReadTx) error {
					lines, err := tx.Lines(ctx, c.Num)
					if err == nil && len(lines) != n {
						err = fmt.Errorf("%d lines, want %d", len(lines), n)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCartEventsPlan holds a cart's timeline to its index: the query reads one range of
// events_cart (migration 0018), a partial index it may use because it states cart_num <> 0.
func TestCartEventsPlan(t *testing.T) {
	s := mustOpen(t, tempDB(t), Options{})
	rows, err := s.read.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+qCartEvents, 5, 0, 51)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX events_cart (cart_num=? AND seq>?)") {
		t.Fatalf("a cart's events are not read through events_cart: %q", plan)
	}
}
