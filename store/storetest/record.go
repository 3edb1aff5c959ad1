package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// testCheckoutRecords holds a store to what a completed cart's record needs: stored with its
// checkout, read back byte for byte whatever is written afterwards, written once, undone with
// a rolled-back checkout, and gone with its cart.
func testCheckoutRecords(t *testing.T, open func(t *testing.T) store.Store) {
	record := []byte(`{"format":1,"view":{"Total":6099,"text":"caf\u00e9 \u2603"}}`)
	readRecord := func(t *testing.T, s store.Store, num int64) ([]byte, error) {
		var got []byte
		err := s.Read(t.Context(), func(tx store.ReadTx) error {
			var err error
			got, err = tx.CheckoutRecord(t.Context(), num)
			return err
		})
		return got, err
	}

	t.Run("a record reads back byte for byte, whatever is written after it", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart("cus_1"))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutCheckoutRecord(ctx, c.Num, record, at(5))
		})
		p := newProduct("prod_r", newVariant("var_r", "SKU-R"))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.PutProduct(ctx, &p); err != nil {
				return err
			}
			c.Status, c.Version = cart.StatusCompleted, c.Version+1
			if err := tx.UpdateCart(ctx, c); err != nil {
				return err
			}
			return tx.DeleteProduct(ctx, "prod_r")
		})
		got, err := readRecord(t, s, c.Num)
		if err != nil || !bytes.Equal(got, record) {
			t.Fatalf("CheckoutRecord = %q, %v; want %q", got, err, record)
		}
	})

	t.Run("a cart without one is not found", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart("cus_1"))
		if _, err := readRecord(t, s, c.Num); cart.ErrorCode(err) != cart.NotFound {
			t.Fatalf("CheckoutRecord of a cart never checked out: %v, want NotFound", err)
		}
	})

	t.Run("a record is written once", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart("cus_1"))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutCheckoutRecord(ctx, c.Num, record, at(5))
		})
		err := s.Write(t.Context(), func(tx store.Tx) error {
			return tx.PutCheckoutRecord(t.Context(), c.Num, []byte(`{"other":true}`), at(6))
		})
		if cart.ErrorCode(err) != cart.Conflict {
			t.Fatalf("a second record: %v, want Conflict", err)
		}
		if got, err := readRecord(t, s, c.Num); err != nil || !bytes.Equal(got, record) {
			t.Fatalf("after a refused second record: %q, %v; want the first", got, err)
		}
	})

	t.Run("a rolled-back checkout leaves no record", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart("cus_1"))
		boom := errors.New("boom")
		err := s.Write(t.Context(), func(tx store.Tx) error {
			if err := tx.PutCheckoutRecord(t.Context(), c.Num, record, at(5)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want the closure's error", err)
		}
		if _, err := readRecord(t, s, c.Num); cart.ErrorCode(err) != cart.NotFound {
			t.Fatalf("after a rollback: %v, want NotFound", err)
		}
	})

	t.Run("a record goes with its cart", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart("cus_1"))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutCheckoutRecord(ctx, c.Num, record, at(5))
		})
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCart(ctx, c.Num) })
		if _, err := readRecord(t, s, c.Num); cart.ErrorCode(err) != cart.NotFound {
			t.Fatalf("after the cart's deletion: %v, want NotFound", err)
		}
	})
}
