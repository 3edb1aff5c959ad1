package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/storetest"
)

// mustOpen opens a store on url and closes it when the test ends.
func mustOpen(tb testing.TB, url string, opts Options) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), url, opts)
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

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, postgrestest.URL(t), Options{})
	})
}

// wantError fails the test unless err is a *cart.Error with the code and reason.
func wantError(t *testing.T, err error, code cart.Code, reason string) {
	t.Helper()
	var e *cart.Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		t.Fatalf("err = %v, want %s/%s", err, code, reason)
	}
}

// raise makes the transaction fail the way the server would, with a real server error of the
// given SQLSTATE.
func raise(ctx context.Context, tx store.Tx, sqlstate string) error {
	_, err := tx.(*txn).exec(ctx, "raise", fmt.Sprintf(
		`DO $$ BEGIN RAISE EXCEPTION 'provoked by the test' USING ERRCODE = '%s'; END $$`, sqlstate))
	return err
}

func newCart(customerID string) cart.Cart {
	return cart.Cart{CustomerID: customerID, Currency: "USD", Status: cart.StatusActive, Version: 1}
}

func cartExists(t *testing.T, s store.Store, num int64) bool {
	t.Helper()
	var found bool
	storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		_, err := tx.Cart(ctx, num)
		found = err == nil
		if cart.ErrorCode(err) == cart.NotFound {
			err = nil
		}
		return err
	})
	return found
}

func TestRetry(t *testing.T) {
	for _, tt := range []struct {
		name, sqlstate, reason string
	}{
		{"a serialization failure", "40001", "serialization_failure"},
		{"a deadlock", "40P01", "deadlock"},
		{"a unique violation", "23505", "unique_violation"},
	} {
		t.Run("a write re-runs after "+tt.name+" and commits only the attempt that succeeded", func(t *testing.T) {
			var retries []string // OnRetry runs on the Write's own goroutine
			s := mustOpen(t, postgrestest.URL(t), Options{OnRetry: func(reason string) { retries = append(retries, reason) }})
			var (
				attempts int
				nums     []int64
				nows     []time.Time
			)
			err := s.Write(t.Context(), func(tx store.Tx) error {
				ctx := t.Context()
				attempts++
				c := newCart(fmt.Sprintf("attempt_%d", attempts))
				if err := tx.InsertCart(ctx, &c); err != nil {
					return err
				}
				nums, nows = append(nums, c.Num), append(nows, tx.Now())
				if attempts == 1 {
					return raise(ctx, tx, tt.sqlstate)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Write = %v, want success on the second attempt", err)
			}
			if attempts != 2 {
				t.Fatalf("the closure ran %d times, want 2", attempts)
			}
			if cartExists(t, s, nums[0]) || !cartExists(t, s, nums[1]) {
				t.Errorf("after the retry, cart of attempt 1 exists: %v, of attempt 2: %v; want only the second",
					cartExists(t, s, nums[0]), cartExists(t, s, nums[1]))
			}
			if nows[1].Before(nows[0]) {
				t.Errorf("the second attempt's Now %v is before the first's %v", nows[1], nows[0])
			}
			if len(retries) != 1 || retries[0] != tt.reason {
				t.Errorf("OnRetry reported %q, want [%s]", retries, tt.reason)
			}
		})
	}

	t.Run("a conflict the closure ignores still re-runs the write", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		attempts := 0
		err := s.Write(t.Context(), func(tx store.Tx) error {
			attempts++
			if attempts == 1 {
				_ = raise(t.Context(), tx, "40001") // the transaction is aborted nonetheless
			}
			return nil
		})
		if err != nil || attempts != 2 {
			t.Errorf("Write = %v after %d attempts, want success after 2", err, attempts)
		}
	})

	t.Run("a write that keeps conflicting gives up, unavailable", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		attempts := 0
		err := s.Write(t.Context(), func(tx store.Tx) error {
			attempts++
			return raise(t.Context(), tx, "40001")
		})
		wantError(t, err, cart.Unavailable, "database_contention")
		if attempts != maxAttempts {
			t.Errorf("the closure ran %d times, want %d", attempts, maxAttempts)
		}
	})

	t.Run("a domain error or another database error is not retried", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		for _, fail := range []func(context.Context, store.Tx) error{
			func(context.Context, store.Tx) error { return cart.Errorf(cart.Conflict, "cart_not_active", "no") },
			func(ctx context.Context, tx store.Tx) error { return raise(ctx, tx, "23514") }, // check violation
		} {
			attempts := 0
			err := s.Write(t.Context(), func(tx store.Tx) error {
				attempts++
				return fail(t.Context(), tx)
			})
			if err == nil || attempts != 1 {
				t.Errorf("Write = %v after %d attempts, want the error after 1", err, attempts)
			}
		}
	})

	t.Run("two writes locking two carts in opposite orders both commit, the one going against the lock order re-run", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		a := storetest.MustInsertCart(t, s, newCart("a"))
		b := storetest.MustInsertCart(t, s, newCart("b"))
		var (
			wg       sync.WaitGroup
			attempts atomic.Int64
			first    sync.WaitGroup // both hold their first cart before either takes its second
		)
		first.Add(2)
		lockBoth := func(one, other int64) error {
			arrived := false
			return s.Write(t.Context(), func(tx store.Tx) error {
				ctx := t.Context()
				attempts.Add(1)
				for i, num := range []int64{one, other} {
					c, err := tx.Cart(ctx, num)
					if err != nil {
						return err
					}
					if i == 0 && !arrived {
						arrived = true
						first.Done()
						first.Wait()
					}
					c.Version++
					if err := tx.UpdateCart(ctx, c); err != nil {
						return err
					}
				}
				return nil
			})
		}
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = lockBoth(a.Num, b.Num) })
		wg.Go(func() { errs[1] = lockBoth(b.Num, a.Num) })
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := attempts.Load(); n < 3 {
			t.Errorf("%d attempts in all, want at least 3 (one side re-run after the deadlock)", n)
		}
		for _, c := range []cart.Cart{a, b} {
			var got cart.Cart
			storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
				got, err = tx.Cart(ctx, c.Num)
				return err
			})
			if got.Version != c.Version+2 {
				t.Errorf("cart %d at version %d, want %d: both writes applied once", c.Num, got.Version, c.Version+2)
			}
		}
	})
}

// TestAcrossNodes runs, on two stores sharing one schema as two cartd nodes do, the
// read-then-write patterns that READ COMMITTED alone would let race (see the package
// documentation): each must count every write exactly once.
func TestAcrossNodes(t *testing.T) {
	const workers, writes = 8, 10
	open := func(t *testing.T) [2]store.Store {
		u := postgrestest.URL(t)
		opts := Options{StockBuckets: postgrestest.StockBuckets(t)}
		return [2]store.Store{mustOpen(t, u, opts), mustOpen(t, u, opts)}
	}
	// hammer runs fn writes times in each of workers goroutines, alternating the stores.
	hammer := func(t *testing.T, nodes [2]store.Store, fn func(ctx context.Context, tx store.Tx) error) {
		t.Helper()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range writes {
					if err := nodes[w%2].Write(t.Context(), func(tx store.Tx) error { return fn(t.Context(), tx) }); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}

	t.Run("the first stock of a SKU loses no update", func(t *testing.T) {
		nodes := open(t)
		hammer(t, nodes, func(ctx context.Context, tx store.Tx) error {
			st, err := tx.Stock(ctx, "NEW-SKU")
			if err != nil {
				return err
			}
			st.OnHand++
			st.Version++
			return tx.PutStock(ctx, st)
		})
		storetest.MustRead(t, nodes[0], func(ctx context.Context, tx store.ReadTx) error {
			st, err := tx.Stock(ctx, "NEW-SKU")
			if err == nil && (st.OnHand != workers*writes || st.Version != workers*writes) {
				t.Errorf("stock after %d increments: on_hand %d, version %d", workers*writes, st.OnHand, st.Version)
			}
			return err
		})
	})

	t.Run("settings lose no update, the first one included", func(t *testing.T) {
		nodes := open(t)
		hammer(t, nodes, func(ctx context.Context, tx store.Tx) error {
			s, err := tx.Settings(ctx)
			if err != nil {
				return err
			}
			s.MaxLinesPerCart++
			s.UpdatedAt = tx.Now()
			return tx.PutSettings(ctx, s)
		})
		storetest.MustRead(t, nodes[1], func(ctx context.Context, tx store.ReadTx) error {
			s, err := tx.Settings(ctx)
			if want := cart.DefaultSettings().MaxLinesPerCart + workers*writes; err == nil && s.MaxLinesPerCart != want {
				t.Errorf("max_lines_per_cart = %d, want %d", s.MaxLinesPerCart, want)
			}
			return err
		})
	})

	t.Run("of two products claiming one new SKU at once, one gets it", func(t *testing.T) {
		for round := range 5 {
			nodes := open(t)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					p := cart.Product{ID: fmt.Sprintf("prod_%d", i), Name: "P", Variants: []cart.Variant{
						{ID: fmt.Sprintf("var_%d", i), SKU: "CONTESTED", Prices: map[string]int64{"USD": 100}, Active: true},
					}}
					errs[i] = nodes[i].Write(t.Context(), func(tx store.Tx) error { return tx.PutProduct(t.Context(), &p) })
				})
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("round %d: PutProduct errors %v and %v, want exactly one to fail", round, errs[0], errs[1])
			}
			for _, err := range errs {
				if err != nil {
					wantError(t, err, cart.Invalid, "duplicate_sku")
				}
			}
		}
	})

	t.Run("of two products claiming one new variant id at once, one gets it", func(t *testing.T) {
		for round := range 5 {
			nodes := open(t)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					p := cart.Product{ID: fmt.Sprintf("prod_%d", i), Name: "P", Variants: []cart.Variant{
						{ID: "var_contested", SKU: fmt.Sprintf("SKU-%d", i), Prices: map[string]int64{"USD": 100}, Active: true},
					}}
					errs[i] = nodes[i].Write(t.Context(), func(tx store.Tx) error { return tx.PutProduct(t.Context(), &p) })
				})
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("round %d: PutProduct errors %v and %v, want exactly one to fail", round, errs[0], errs[1])
			}
			for _, err := range errs {
				if err != nil {
					wantError(t, err, cart.Invalid, "variant_belongs_to_other_product")
				}
			}
		}
	})

	t.Run("an idempotency key is recorded by one call only", func(t *testing.T) {
		nodes := open(t)
		var applied, taken atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				err := nodes[w%2].Write(t.Context(), func(tx store.Tx) error {
					ctx := t.Context()
					if _, err := tx.Idempotency(ctx, "scope", "key"); cart.ErrorCode(err) != cart.NotFound {
						return err // nil: recorded already
					}
					st, err := tx.Stock(ctx, "IDEM")
					if err != nil {
						return err
					}
					st.OnHand++
					if err := tx.PutStock(ctx, st); err != nil {
						return err
					}
					now := tx.Now()
					return tx.PutIdempotency(ctx, store.IdempotencyRecord{Scope: "scope", Key: "key", Status: 200,
						CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
				})
				switch {
				case err == nil:
					applied.Add(1)
				case cart.AsError(err).Reason == "idempotency_key_taken":
					taken.Add(1)
				default:
					t.Errorf("Write: %v", err)
				}
			})
		}
		wg.Wait()
		storetest.MustRead(t, nodes[0], func(ctx context.Context, tx store.ReadTx) error {
			st, err := tx.Stock(ctx, "IDEM")
			if err == nil && st.OnHand != 1 {
				t.Errorf("the change guarded by the key was applied %d times (%d writes succeeded, %d found the key taken)",
					st.OnHand, applied.Load(), taken.Load())
			}
			return err
		})
	})

	t.Run("an inventory decrease's items wait for a concurrent item change, and the other way round", func(t *testing.T) {
		nodes := open(t)
		var item cart.Item
		storetest.MustWrite(t, nodes[0], func(ctx context.Context, tx store.Tx) error {
			p := cart.Product{ID: "prod_hot", Name: "Hot", Variants: []cart.Variant{
				{ID: "var_hot", SKU: "HOT", Prices: map[string]int64{"USD": 100}, Active: true}}}
			if err := tx.PutProduct(ctx, &p); err != nil {
				return err
			}
			c := newCart("cust_1")
			if err := tx.InsertCart(ctx, &c); err != nil {
				return err
			}
			item = cart.Item{CartNum: c.Num, VariantNum: p.Variants[0].Num, Quantity: 2, ReservedQuantity: 2}
			return tx.InsertItem(ctx, &item)
		})
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- nodes[0].Write(t.Context(), func(tx store.Tx) error {
				holders, err := tx.StockHolders(t.Context(), "HOT")
				if err != nil {
					return err
				}
				if len(holders) == 1 {
					close(holding)
					<-release
				}
				return nil
			})
		}()
		<-holding
		changed := make(chan error, 1)
		go func() {
			changed <- nodes[1].Write(t.Context(), func(tx store.Tx) error {
				it := item
				it.Notes = "changed meanwhile"
				return tx.UpdateItem(t.Context(), it)
			})
		}()
		select {
		case err := <-changed:
			t.Errorf("an item change went through while StockHolders held the item (err %v)", err)
			changed <- err
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-changed; err != nil {
			t.Fatal(err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	t.Run("a database that does not answer is unavailable", func(t *testing.T) {
		pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		s := &Store{pool: pool}
		defer s.Close()
		wantError(t, s.Ping(t.Context()), cart.Unavailable, "database_unavailable")
		wantError(t, s.Write(t.Context(), func(store.Tx) error { return nil }), cart.Unavailable, "database_unavailable")
		wantError(t, s.Read(t.Context(), func(store.ReadTx) error { return nil }), cart.Unavailable, "database_unavailable")
	})

	t.Run("connections the server dropped are replaced without a failed call", func(t *testing.T) {
		u, err := url.Parse(postgrestest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		name := "cartd_drop_" + q.Get("search_path")
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		s := mustOpen(t, u.String(), Options{MaxConns: 4})
		c := storetest.MustInsertCart(t, s, newCart("cust_1"))
		// Warm all four connections, then have the server end them.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
					time.Sleep(50 * time.Millisecond)
					return nil
				})
			})
		}
		wg.Wait()
		admin, err := pgx.Connect(t.Context(), postgrestest.ServerURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(t.Context())
		var killed int
		err = admin.QueryRow(t.Context(), `
			SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatal("no connection of the store to terminate")
		}
		for range 8 {
			storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				got, err := tx.Cart(ctx, c.Num)
				if err != nil {
					return err
				}
				got.Version++
				return tx.UpdateCart(ctx, got)
			})
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping after reconnecting: %v", err)
		}
	})

	t.Run("a statement that waits longer than the statement timeout is unavailable", func(t *testing.T) {
		u := postgrestest.URL(t)
		s := mustOpen(t, u, Options{})
		impatient := mustOpen(t, u, Options{StatementTimeout: 100 * time.Millisecond})
		c := storetest.MustInsertCart(t, s, newCart("cust_1"))
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.Write(t.Context(), func(tx store.Tx) error {
				if _, err := tx.Cart(t.Context(), c.Num); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		err := impatient.Write(t.Context(), func(tx store.Tx) error {
			_, err := tx.Cart(t.Context(), c.Num)
			return err
		})
		close(release)
		wantError(t, err, cart.Unavailable, "database_timeout")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a cancelled context is the caller's error, not a database failure", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
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
}

func TestText(t *testing.T) {
	t.Run("a NUL character, which PostgreSQL cannot store, is invalid", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		err := s.Write(t.Context(), func(tx store.Tx) error {
			c := newCart("cust\x00nul")
			return tx.InsertCart(t.Context(), &c)
		})
		wantError(t, err, cart.Invalid, "invalid_text")
		if !strings.Contains(err.Error(), "NUL") {
			t.Errorf("the message does not speak of the NUL: %v", err)
		}
	})

	t.Run("bytes that are not UTF-8 are invalid, and the message says so", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		err := s.Write(t.Context(), func(tx store.Tx) error {
			c := newCart("cust_1")
			c.Metadata = []byte("{\"k\":\"\xc3\x28\"}")
			return tx.InsertCart(t.Context(), &c)
		})
		wantError(t, err, cart.Invalid, "invalid_text")
		var ce *cart.Error
		if !errors.As(err, &ce) || strings.Contains(ce.Message, "NUL") || !strings.Contains(ce.Message, "UTF-8") {
			t.Errorf("the message = %v, want one about UTF-8, not NUL", err)
		}
	})

	t.Run("JSON with a \\u0000 escape is stored as sent", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		c := newCart("cust_1")
		c.Metadata = []byte(`{"a": "x\u0000y"}`)
		c = storetest.MustInsertCart(t, s, c)
		storetest.MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Cart(ctx, c.Num)
			if err == nil && string(got.Metadata) != string(c.Metadata) {
				t.Errorf("metadata = %s, want %s", got.Metadata, c.Metadata)
			}
			return err
		})
	})
}

func TestClock(t *testing.T) {
	t.Run("now is the database's, read afresh by every transaction", func(t *testing.T) {
		s := mustOpen(t, postgrestest.URL(t), Options{})
		var prev time.Time
		for range 3 {
			storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				var db time.Time
				if err := tx.(*txn).conn.QueryRow(ctx, `SELECT now()`).Scan(&db); err != nil {
					return err
				}
				if now := tx.Now(); !now.Equal(db) || now.Location() != time.UTC || !now.After(prev) {
					t.Errorf("Now() = %v, want the transaction's now() %v, in UTC, after the previous %v", now, db, prev)
				}
				prev = tx.Now()
				return nil
			})
		}
	})
}

func TestMigrations(t *testing.T) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	countVersions := func(t *testing.T, s *Store) int {
		var n int
		err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("reopening keeps the data and migrating again changes nothing", func(t *testing.T) {
		u := postgrestest.URL(t)
		s, err := Open(t.Context(), u, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := storetest.MustInsertCart(t, s, newCart("cust_1"))
		s.Close()
		s = mustOpen(t, u, Options{})
		if !cartExists(t, s, c.Num) {
			t.Error("the cart is gone after reopening")
		}
		if n := countVersions(t, s); n != len(files) {
			t.Errorf("%d migrations recorded after two opens, want %d", n, len(files))
		}
	})

	t.Run("nodes starting together migrate once", func(t *testing.T) {
		u := postgrestest.URL(t)
		const nodes = 4
		stores := make([]*Store, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { stores[i], errs[i] = Open(t.Context(), u, Options{}) })
		}
		wg.Wait()
		for i, s := range stores {
			if errs[i] != nil {
				t.Errorf("node %d: Open: %v", i, errs[i])
				continue
			}
			defer s.Close()
		}
		if t.Failed() {
			return
		}
		if n := countVersions(t, stores[0]); n != len(files) {
			t.Errorf("%d migrations recorded, want %d", n, len(files))
		}
	})
}
