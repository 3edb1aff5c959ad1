// Package storetest is the contract suite of store.Store, written once and run unchanged by
// every implementation, so that the engine can rely on the behaviour rather than on one
// database. A store's own tests call Run with a function opening an empty store.
//
// Beyond the doc comments of package store, the suite pins what the engine relies on without
// the interface saying it: times come back equal to the microsecond; JSON comes back with the
// same meaning (not necessarily the same bytes); empty maps and slices may come back nil; nums
// are never reused; a rejected PutProduct writes nothing even if the caller goes on to commit;
// updating or deleting a row that does not exist is NotFound; Write serializes
// read-modify-write transactions; a memo taken is gone even if its transaction rolls back, and
// a memo kept by a transaction that rolls back leaves the one before it.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Run runs the contract suite. open must return a new, empty, migrated store for each call
// and arrange (with t.Cleanup) for it to be closed; every test opens its own, so tests share
// no state.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("settings", func(t *testing.T) { testSettings(t, open) })
	t.Run("carts", func(t *testing.T) { testCarts(t, open) })
	t.Run("items", func(t *testing.T) { testItems(t, open) })
	t.Run("products", func(t *testing.T) { testProducts(t, open) })
	t.Run("stock", func(t *testing.T) { testStock(t, open) })
	t.Run("stock versions", func(t *testing.T) { testStockVersion(t, open) })
	t.Run("sales and reservations", func(t *testing.T) { testSales(t, open) })
	t.Run("reserved units", func(t *testing.T) { testReservedUnits(t, open) })
	t.Run("customers' carts", func(t *testing.T) { testCustomerCarts(t, open) })
	t.Run("credentials", func(t *testing.T) { testCredentials(t, open) })
	t.Run("storefront sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("units held by an address", func(t *testing.T) { testAddressHeld(t, open) })
	t.Run("key listing and revocation", func(t *testing.T) { testKeys(t, open) })
	t.Run("housekeeping", func(t *testing.T) { testHousekeeping(t, open) })
	t.Run("idempotency records", func(t *testing.T) { testIdempotency(t, open) })
	t.Run("promotions and coupons", func(t *testing.T) { testPromotions(t, open) })
	t.Run("lookups", func(t *testing.T) { testNotFound(t, open) })
	t.Run("transactions", func(t *testing.T) { testTransactions(t, open) })
	t.Run("concurrent writes", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("memos", func(t *testing.T) { testMemos(t, open) })
	t.Run("checkout records", func(t *testing.T) { testCheckoutRecords(t, open) })
	t.Run("quantity rules", func(t *testing.T) { testQuantityRules(t, open) })
	t.Run("lists", func(t *testing.T) { testLists(t, open) })
	t.Run("events", func(t *testing.T) { testEvents(t, open) })
	t.Run("webhooks", func(t *testing.T) { testWebhooks(t, open) })
	t.Run("deliveries", func(t *testing.T) { testDeliveries(t, open) })
	t.Run("webhook streams", func(t *testing.T) { testStreams(t, open) })
	t.Run("idle carts", func(t *testing.T) { testIdleCarts(t, open) })
}

// cmpOpts compare what a store returns with what was stored: times by instant (cmp uses
// time.Time.Equal), JSON by meaning, and empty maps and slices equal to nil.
var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.FilterValues(func(x, y json.RawMessage) bool { return len(x) > 0 || len(y) > 0 },
		cmp.Comparer(jsonEqual)),
}

func jsonEqual(x, y json.RawMessage) bool {
	var vx, vy any
	if json.Unmarshal(x, &vx) != nil || json.Unmarshal(y, &vy) != nil {
		return bytes.Equal(x, y)
	}
	return reflect.DeepEqual(vx, vy)
}

// MustWrite runs fn in a Write and fails the test if it returns an error.
func MustWrite(tb testing.TB, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	tb.Helper()
	ctx := tb.Context()
	if err := s.Write(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		tb.Fatalf("Write: %v", err)
	}
}

// MustRead runs fn in a Read and fails the test if it returns an error.
func MustRead(tb testing.TB, s store.Store, fn func(ctx context.Context, tx store.ReadTx) error) {
	tb.Helper()
	ctx := tb.Context()
	if err := s.Read(ctx, func(tx store.ReadTx) error { return fn(ctx, tx) }); err != nil {
		tb.Fatalf("Read: %v", err)
	}
}

// base is the fixtures' epoch, with microseconds so that precision loss would show.
var base = time.Date(2025, 6, 1, 12, 0, 0, 123456000, time.UTC)

// at is a fixture instant, s seconds after base.
func at(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }

// wantCode fails the test unless err is a *cart.Error with the code and reason.
func wantCode(t *testing.T, err error, code cart.Code, reason string) {
	t.Helper()
	var e *cart.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *cart.Error %s/%s", err, code, reason)
	}
	if e.Code != code || e.Reason != reason {
		t.Fatalf("err = %s/%s (%v), want %s/%s", e.Code, e.Reason, err, code, reason)
	}
}

func testSettings(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("are the defaults before any are stored", func(t *testing.T) {
		s := open(t)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Settings(ctx)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(cart.DefaultSettings(), got, cmpOpts); diff != "" {
				t.Errorf("Settings (-want +got):\n%s", diff)
			}
			return nil
		})
	})

	t.Run("round trip and are replaced by the next put", func(t *testing.T) {
		s := open(t)
		for _, want := range []cart.Settings{
			{
				DefaultCurrency: "INR", PricesIncludeTax: true, MaxQuantityPerItem: 50, MaxLinesPerCart: 200,
				MaxGuestQuantityPerItem: 2,
				Shipping: map[string]cart.ShippingRate{
					"USD": {Flat: 500, FreeOver: 5000},
					"INR": {Flat: 4000},
				},
				UpdatedAt: at(1),
			},
			{DefaultCurrency: "JPY", MaxQuantityPerItem: 9, MaxLinesPerCart: 10, UpdatedAt: at(2)},
		} {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSettings(ctx, want) })
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				got, err := tx.Settings(ctx)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("Settings (-want +got):\n%s", diff)
				}
				return nil
			})
		}
	})
}

func testTransactions(t *testing.T, open func(t *testing.T) store.Store) {
	errStop := errors.New("stop")

	t.Run("a write whose function fails persists nothing and returns its error", func(t *testing.T) {
		s := open(t)
		var c cart.Cart
		err := s.Write(t.Context(), func(tx store.Tx) error {
			ctx := t.Context()
			c = newCart("cust_1")
			if err := tx.InsertCart(ctx, &c); err != nil {
				return err
			}
			if err := tx.PutStock(ctx, cart.Stock{SKU: "SKU-1", OnHand: 5, UpdatedAt: at(1)}); err != nil {
				return err
			}
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Write = %v, want the function's error", err)
		}
		wantNothingOf(t, s, c.Num, "SKU-1")
	})

	t.Run("a write passes a domain error through unchanged", func(t *testing.T) {
		s := open(t)
		err := s.Write(t.Context(), func(tx store.Tx) error {
			return cart.Errorf(cart.Conflict, "cart_completed", "the cart is completed")
		})
		wantCode(t, err, cart.Conflict, "cart_completed")
	})

	t.Run("a write failing midway in the store leaves nothing half written", func(t *testing.T) {
		s := open(t)
		var c cart.Cart
		err := s.Write(t.Context(), func(tx store.Tx) error {
			ctx := t.Context()
			c = newCart("cust_1")
			if err := tx.InsertCart(ctx, &c); err != nil {
				return err
			}
			if err := tx.PutStock(ctx, cart.Stock{SKU: "SKU-1", OnHand: 5, UpdatedAt: at(1)}); err != nil {
				return err
			}
			it := newItem(c.Num, 987654, 1) // no such variant
			return tx.InsertItem(ctx, &it)
		})
		if err == nil {
			t.Fatal("Write with an item of an unknown variant succeeded")
		}
		wantNothingOf(t, s, c.Num, "SKU-1")
	})

	t.Run("a committed write is visible to later reads", func(t *testing.T) {
		s := open(t)
		c := newCart("cust_1")
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertCart(ctx, &c) })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.Cart(ctx, c.Num)
			return err
		})
	})

	t.Run("a read sees one snapshot while a write commits", func(t *testing.T) {
		s := open(t)
		put := func(onHand int64) {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				return tx.PutStock(ctx, cart.Stock{SKU: "SKU-1", OnHand: onHand, UpdatedAt: at(1)})
			})
		}
		put(5)
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			before, err := tx.Stock(ctx, "SKU-1")
			if err != nil {
				return err
			}
			put(7)
			after, err := tx.Stock(ctx, "SKU-1")
			if err != nil {
				return err
			}
			if before.OnHand != 5 || after.OnHand != 5 {
				t.Errorf("on_hand read %d then %d within one read, want 5 both times", before.OnHand, after.OnHand)
			}
			return nil
		})
	})

	t.Run("now is one UTC instant per transaction, to the microsecond", func(t *testing.T) {
		s := open(t)
		check := func(tx store.ReadTx) time.Time {
			first := tx.Now()
			time.Sleep(2 * time.Millisecond)
			if second := tx.Now(); !second.Equal(first) {
				t.Errorf("Now() = %v, then %v in the same transaction", first, second)
			}
			if first.IsZero() || first.Location() != time.UTC || !first.Equal(first.Truncate(time.Microsecond)) {
				t.Errorf("Now() = %v, want a non-zero UTC time in whole microseconds", first)
			}
			return first
		}
		var w1, w2 time.Time
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { w1 = check(tx); return nil })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error { check(tx); return nil })
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { w2 = check(tx); return nil })
		if w2.Before(w1) {
			t.Errorf("a later write's Now() %v is before an earlier one's %v", w2, w1)
		}
	})
}

// wantNothingOf fails the test if the cart or the SKU's stock exists.
func wantNothingOf(t *testing.T, s store.Store, cartNum int64, sku string) {
	t.Helper()
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
		if cartNum != 0 {
			if _, err := tx.Cart(ctx, cartNum); cart.ErrorCode(err) != cart.NotFound {
				t.Errorf("Cart(%d) after the failed write = %v, want NotFound", cartNum, err)
			}
		}
		st, err := tx.Stock(ctx, sku)
		if err != nil {
			return err
		}
		if st.OnHand != 0 {
			t.Errorf("stock of %s after the failed write = %+v, want none", sku, st)
		}
		return nil
	})
}

// testConcurrency proves that Write serializes transactions that read and then write: with
// any lost update the counters would fall short.
func testConcurrency(t *testing.T, open func(t *testing.T) store.Store) {
	const workers, writes = 32, 50

	t.Run("read-modify-write of one stock row loses no update", func(t *testing.T) {
		s := open(t)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutStock(ctx, cart.Stock{SKU: "SKU-HOT", OnHand: 1_000_000, UpdatedAt: at(0)})
		})
		hammer(t, workers, writes, func(ctx context.Context) error {
			return s.Write(ctx, func(tx store.Tx) error {
				st, err := tx.Stock(ctx, "SKU-HOT")
				if err != nil {
					return err
				}
				st.Reserved++
				st.UpdatedAt = tx.Now()
				return tx.PutStock(ctx, st)
			})
		})
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			st, err := tx.Stock(ctx, "SKU-HOT")
			if err != nil {
				return err
			}
			if st.Reserved != workers*writes {
				t.Errorf("reserved = %d after %d increments", st.Reserved, workers*writes)
			}
			return nil
		})
	})

	t.Run("read-modify-write of one cart loses no version", func(t *testing.T) {
		s := open(t)
		c := newCart("cust_1")
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertCart(ctx, &c) })
		hammer(t, workers, writes, func(ctx context.Context) error {
			return s.Write(ctx, func(tx store.Tx) error {
				got, err := tx.Cart(ctx, c.Num)
				if err != nil {
					return err
				}
				got.Version++
				got.UpdatedAt = tx.Now()
				return tx.UpdateCart(ctx, got)
			})
		})
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Cart(ctx, c.Num)
			if err != nil {
				return err
			}
			if want := c.Version + workers*writes; got.Version != want {
				t.Errorf("version = %d, want %d", got.Version, want)
			}
			return nil
		})
	})
}

// hammer runs fn writes times in each of workers goroutines at once.
func hammer(t *testing.T, workers, writes int, fn func(ctx context.Context) error) {
	t.Helper()
	ctx := t.Context()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range writes {
				if err := fn(ctx); err != nil {
					t.Errorf("concurrent write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
