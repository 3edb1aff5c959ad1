package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func testCredentials(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("keys are found by hash, revoked ones too", func(t *testing.T) {
		s := open(t)
		keys := []auth.Key{
			{Hash: auth.Hash("sk_live"), Scopes: []auth.Scope{auth.CartsRead, auth.CartsWrite}, Label: "storefront", CreatedAt: at(1)},
			{Hash: auth.Hash("sk_revoked"), Scopes: []auth.Scope{auth.Admin}, CreatedAt: at(2), RevokedAt: at(3)},
		}
		for i := range keys {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertKey(ctx, &keys[i]) })
		}
		if keys[0].Num == 0 || keys[0].Num == keys[1].Num {
			t.Errorf("InsertKey set nums %d and %d, want distinct non-zero", keys[0].Num, keys[1].Num)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for _, want := range keys {
				got, err := tx.KeyByHash(ctx, want.Hash)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("KeyByHash (-want +got):\n%s", diff)
				}
			}
			return nil
		})
	})

	t.Run("tokens are found by hash and revoked only by their customer", func(t *testing.T) {
		s := open(t)
		tok := auth.Token{CustomerID: "cust_1", Hash: auth.Hash("ct_1"), CreatedAt: at(1), ExpiresAt: at(3600)}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertToken(ctx, &tok) })
		if tok.Num == 0 {
			t.Fatal("InsertToken left Num 0")
		}
		wantToken := func(want auth.Token) {
			t.Helper()
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				got, err := tx.TokenByHash(ctx, want.Hash)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("TokenByHash (-want +got):\n%s", diff)
				}
				return nil
			})
		}
		wantToken(tok)

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			wantCode(t, tx.RevokeToken(ctx, "cust_2", tok.Num, at(10)), cart.NotFound, "token_not_found")
			return nil
		})
		wantToken(tok)

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, "cust_1", tok.Num, at(10)) })
		tok.RevokedAt = at(10)
		wantToken(tok)

		// Revoking again succeeds and keeps the first instant.
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, "cust_1", tok.Num, at(20)) })
		wantToken(tok)
	})
}

// testNotFound holds every lookup and change of one thing to NotFound when the thing does not
// exist, with the reason a front door may branch on.
func testNotFound(t *testing.T, open func(t *testing.T) store.Store) {
	reads := []struct {
		name   string
		fn     func(ctx context.Context, tx store.ReadTx) error
		reason string
	}{
		{"an unknown cart", func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.Cart(ctx, 424242)
			return err
		}, "cart_not_found"},
		{"an unknown product", func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.Product(ctx, "prod_nope")
			return err
		}, "product_not_found"},
		{"an unknown SKU", func(ctx context.Context, tx store.ReadTx) error {
			_, _, err := tx.VariantBySKU(ctx, "NOPE")
			return err
		}, "variant_not_found"},
		{"an unknown variant id", func(ctx context.Context, tx store.ReadTx) error {
			_, _, err := tx.VariantByID(ctx, "var_nope")
			return err
		}, "variant_not_found"},
		{"an unknown key", func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.KeyByHash(ctx, auth.Hash("sk_nope"))
			return err
		}, "key_not_found"},
		{"an unknown token", func(ctx context.Context, tx store.ReadTx) error {
			_, err := tx.TokenByHash(ctx, auth.Hash("ct_nope"))
			return err
		}, "token_not_found"},
	}
	writes := []struct {
		name   string
		fn     func(ctx context.Context, tx store.Tx) error
		reason string
		// later: the error may come from the call or from the Write (see store.Tx UpdateCart).
		later bool
	}{
		{"updating an unknown cart", func(ctx context.Context, tx store.Tx) error {
			c := newCart("cust_1")
			c.Num = 424242
			return tx.UpdateCart(ctx, c)
		}, "cart_not_found", true},
		{"updating an unknown item", func(ctx context.Context, tx store.Tx) error {
			it := newItem(1, 1, 1)
			it.Num = 424242
			return tx.UpdateItem(ctx, it)
		}, "item_not_found", true},
		{"deleting an unknown item", func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteItem(ctx, 424242)
		}, "item_not_found", false},
		{"deleting an unknown product", func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteProduct(ctx, "prod_nope")
		}, "product_not_found", false},
		{"revoking an unknown token", func(ctx context.Context, tx store.Tx) error {
			return tx.RevokeToken(ctx, "cust_1", 424242, at(1))
		}, "token_not_found", false},
	}

	s := open(t)
	for _, tt := range reads {
		t.Run(tt.name+" is not found in a read", func(t *testing.T) {
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
				wantCode(t, tt.fn(ctx, tx), cart.NotFound, tt.reason)
				return nil
			})
		})
		t.Run(tt.name+" is not found in a write", func(t *testing.T) {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				wantCode(t, tt.fn(ctx, tx), cart.NotFound, tt.reason)
				return nil
			})
		})
	}
	for _, tt := range writes {
		t.Run(tt.name+" is not found", func(t *testing.T) {
			if tt.later {
				// The store may send the write later (store.Tx UpdateCart): Write says it.
				err := s.Write(t.Context(), func(tx store.Tx) error { return tt.fn(t.Context(), tx) })
				wantCode(t, err, cart.NotFound, tt.reason)
				return
			}
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				wantCode(t, tt.fn(ctx, tx), cart.NotFound, tt.reason)
				return nil
			})
		})
	}
}
