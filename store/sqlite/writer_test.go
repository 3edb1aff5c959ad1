package sqlite

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// TestGroupCommitKeepsEachCallAllOrNothing runs many concurrent writes, so that they share
// commits, where every third fails after writing and one panics: only the others' changes
// may be stored, and each caller hears its own outcome.
func TestGroupCommitKeepsEachCallAllOrNothing(t *testing.T) {
	s := mustOpen(t, tempDB(t), Options{})
	const n = 90
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(context.Background(), func(tx store.Tx) error {
				st, err := tx.Stock(context.Background(), "SKU")
				if err != nil {
					return err
				}
				st.SKU, st.OnHand = "SKU", st.OnHand+1
				if err := tx.PutStock(context.Background(), st); err != nil {
					return err
				}
				switch {
				case i == 7:
					panic("boom")
				case i%3 == 0:
					return cart.Errorf(cart.Invalid, "test", "call %d fails after writing", i)
				}
				return nil
			})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case i == 7:
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("panicking call: err = %v", err)
			}
		case i%3 == 0:
			if cart.ErrorCode(err) != cart.Invalid {
				t.Errorf("call %d: err = %v, want its own Invalid", i, err)
			}
		case err != nil:
			t.Errorf("call %d: %v", i, err)
		default:
			ok++
		}
	}
	var got cart.Stock
	if err := s.Read(context.Background(), func(tx store.ReadTx) error {
		var err error
		got, err = tx.Stock(context.Background(), "SKU")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got.OnHand != int64(ok) {
		t.Errorf("on_hand = %d, want %d (one per successful call)", got.OnHand, ok)
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	s, err := Open(context.Background(), tempDB(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), func(store.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("Write after Close = %v, want errClosed", err)
	}
}
