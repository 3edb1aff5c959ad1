package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// errRerun stands for a serialization failure: the attempt is rolled back and run again.
var errRerun = errors.New("serialization failure (injected)")

// rerunStore runs every Write's function twice, as store.Store allows where the database can
// raise a serialization failure (PostgreSQL, CockroachDB): the first attempt fails at its first
// read of a product or promotion, and is rolled back; the second runs to the end. A function
// that leaves anything of the first attempt behind (outside the transaction) shows.
type rerunStore struct{ store.Store }

func (s rerunStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	err := s.Store.Write(ctx, func(tx store.Tx) error { return fn(failingTx{Tx: tx}) })
	if !errors.Is(err, errRerun) {
		return err
	}
	return s.Store.Write(ctx, fn)
}

// failingTx fails the reads that follow a write in the engine's catalog calls.
type failingTx struct{ store.Tx }

func (failingTx) Product(context.Context, string) (cart.Product, error) {
	return cart.Product{}, errRerun
}

func (failingTx) Promotion(context.Context, string) (cart.Promotion, error) {
	return cart.Promotion{}, errRerun
}

func TestWritesRerun(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(rerunStore{st}, engine.Config{})
	admin := auth.Principal{Scopes: []auth.Scope{auth.Admin}}

	t.Run("a product put whose read-back is re-run stores that product", func(t *testing.T) {
		got, err := eng.PutProduct(ctx, admin, cart.Product{ID: "prod_rerun", Name: "Rerun", Variants: []cart.Variant{
			{ID: "var_rerun", SKU: "RERUN-1", Prices: map[string]int64{"USD": 100}, Active: true}}}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "prod_rerun" || len(got.Variants) != 1 || got.Variants[0].SKU != "RERUN-1" {
			t.Errorf("PutProduct returned %+v, want prod_rerun with its variant", got)
		}
		if _, err := eng.Product(ctx, admin, ""); cart.ErrorCode(err) != cart.NotFound {
			t.Errorf("the re-run stored a product without an id: %v", err)
		}
	})

	t.Run("a promotion put whose read-back is re-run stores that promotion", func(t *testing.T) {
		got, err := eng.PutPromotion(ctx, admin, cart.Promotion{Code: "RERUN10", Name: "Rerun", Type: cart.Percent,
			Method: cart.Manual, Rate: 1000, Active: true}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Code != "RERUN10" || got.Rate != 1000 {
			t.Errorf("PutPromotion returned %+v, want RERUN10 at 10%%", got)
		}
	})
}
