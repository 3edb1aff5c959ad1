package postgres_test

import (
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// mustTeeCart opens a store on a fresh schema with opts, and through an engine over it makes
// a product TEE at price (USD minor units) with onHand units and an empty USD cart. It
// returns the store, the engine, an admin principal and the cart's number.
func mustTeeCart(t *testing.T, opts postgres.Options, price, onHand int64) (*postgres.Store, *engine.Engine, auth.Principal, int64) {
	t.Helper()
	ctx := t.Context()
	st, err := postgres.Open(ctx, postgrestest.URL(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.PutProduct(ctx, admin, cart.Product{ID: "prod_tee", Name: "Tee", Variants: []cart.Variant{
		{ID: "var_tee", SKU: "TEE", Active: true, Prices: map[string]int64{"USD": price}}}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.PutInventory(ctx, admin, "TEE", engine.StockChange{OnHand: &cart.Decimal{N: onHand}}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	v, err := eng.CreateCart(ctx, admin, engine.NewCart{Currency: "USD"}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, eng, admin, v.Cart.Num
}
