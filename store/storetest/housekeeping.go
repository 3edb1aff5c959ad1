package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func readKeys(t *testing.T, s store.Store) []auth.Key {
	t.Helper()
	var keys []auth.Key
	MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
		keys, err = tx.Keys(ctx)
		return err
	})
	return keys
}

func testKeys(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a store without keys lists none", func(t *testing.T) {
		if got := readKeys(t, open(t)); len(got) != 0 {
			t.Errorf("Keys = %+v, want none", got)
		}
	})

	t.Run("are listed in num order, revoked ones too, and revoked once", func(t *testing.T) {
		s := open(t)
		keys := []auth.Key{
			{Hash: auth.Hash("sk_web"), Scopes: []auth.Scope{auth.CartsRead, auth.CartsWrite}, Label: "web", CreatedAt: at(1)},
			{Hash: auth.Hash("sk_ops"), Scopes: []auth.Scope{auth.Admin}, Label: "ops", CreatedAt: at(2)},
			{Hash: auth.Hash("sk_old"), Scopes: []auth.Scope{auth.CatalogRead}, CreatedAt: at(3), RevokedAt: at(4)},
		}
		for i := range keys {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertKey(ctx, &keys[i]) })
		}
		if diff := cmp.Diff(keys, readKeys(t, s), cmpOpts); diff != "" {
			t.Errorf("Keys (-want +got):\n%s", diff)
		}

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RevokeKey(ctx, keys[1].Num, at(10)) })
		keys[1].RevokedAt = at(10)
		// Revoking again, or a key revoked before, keeps the first instant.
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RevokeKey(ctx, keys[1].Num, at(20)) })
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.RevokeKey(ctx, keys[2].Num, at(20)) })
		if diff := cmp.Diff(keys, readKeys(t, s), cmpOpts); diff != "" {
			t.Errorf("Keys after revoking (-want +got):\n%s", diff)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.KeyByHash(ctx, keys[1].Hash)
			if err != nil {
				return err
			}
			if !got.RevokedAt.Equal(at(10)) {
				t.Errorf("KeyByHash of the revoked key: revoked at %v, want %v", got.RevokedAt, at(10))
			}
			return nil
		})

		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.RevokeKey(t.Context(), 424242, at(30)) })
		wantCode(t, err, cart.NotFound, "key_not_found")
	})
}

func testHousekeeping(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("abandoned carts are the active guest carts idle too long that no live session names", func(t *testing.T) {
		s := open(t)
		mk := func(customer string, status cart.Status, lastActivity int) int64 {
			c := newCart(customer)
			c.Status, c.LastActivity = status, at(lastActivity)
			return MustInsertCart(t, s, c).Num
		}
		oldGuest := mk("", cart.StatusActive, 10)
		_ = mk("", cart.StatusActive, 500)          // recently active
		_ = mk("cust_1", cart.StatusActive, 10)     // a customer's
		_ = mk("", cart.StatusCompleted, 10)        // checked out
		_ = mk("", cart.StatusMerged, 10)           // merged
		oldestGuest := mk("", cart.StatusActive, 5) // idle longest, but a later num
		liveSession := mk("", cart.StatusActive, 10)
		expiredSession := mk("", cart.StatusActive, 10)
		for _, sess := range []auth.Session{
			{CartNum: liveSession, Hash: auth.Hash("ss_live"), CreatedAt: at(1), ExpiresAt: at(1000)},
			{CartNum: expiredSession, Hash: auth.Hash("ss_gone"), CreatedAt: at(1), ExpiresAt: at(50)},
		} {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSession(ctx, &sess) })
		}
		abandoned := func(before, now, limit int) []int64 {
			t.Helper()
			var nums []int64
			MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
				nums, err = tx.AbandonedCarts(ctx, at(before), at(now), limit)
				return err
			})
			return nums
		}
		want := []int64{oldGuest, oldestGuest, expiredSession}
		slices.Sort(want)
		if got := abandoned(100, 100, 10); !slices.Equal(got, want) {
			t.Errorf("AbandonedCarts(before 100, now 100) = %v, want %v", got, want)
		}
		if got := abandoned(100, 100, 1); !slices.Equal(got, []int64{oldestGuest}) {
			t.Errorf("AbandonedCarts(limit 1) = %v, want the one idle longest, %d", got, oldestGuest)
		}
		if got := abandoned(10, 100, 10); !slices.Equal(got, []int64{oldestGuest}) {
			t.Errorf("AbandonedCarts(before 10) = %v, want only %d, idle since 5", got, oldestGuest)
		}
		// Once its session has expired, the cart it named is abandoned too.
		want = append(want, liveSession)
		slices.Sort(want)
		if got := abandoned(100, 1000, 10); !slices.Equal(got, want) {
			t.Errorf("AbandonedCarts(now 1000) = %v, want %v", got, want)
		}
	})

	t.Run("deleting a cart takes its items, coupons, sessions and the carts merged into it", func(t *testing.T) {
		s := open(t)
		p := MustPutProduct(t, s, newProduct("prod_1", newVariant("var_1", "SKU-1")))
		MustPutPromotion(t, s, newPromotion("TEN", cart.Manual))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.PutStock(ctx, cart.Stock{SKU: "SKU-1", OnHand: 10, Reserved: 2, Version: 1, UpdatedAt: at(1)})
		})
		doomed := MustInsertCart(t, s, newCart(""))
		item := MustInsertItem(t, s, newItem(doomed.Num, p.Variants[0].Num, 2))
		sess := auth.Session{CartNum: doomed.Num, Hash: auth.Hash("ss_doomed"), CreatedAt: at(1), ExpiresAt: at(3600)}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertSession(ctx, &sess); err != nil {
				return err
			}
			return tx.AddCoupon(ctx, cart.Coupon{CartNum: doomed.Num, Code: "TEN", AddedAt: at(5)})
		})
		merged := func(into int64) int64 {
			c := newCart("")
			c.Status, c.MergedInto = cart.StatusMerged, into
			return MustInsertCart(t, s, c).Num
		}
		first := merged(doomed.Num)
		second := merged(first) // merged into a cart that was later merged into doomed
		keep := MustInsertCart(t, s, newCart("")).Num
		keptMerged := merged(keep)

		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCart(ctx, doomed.Num) })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for _, num := range []int64{doomed.Num, first, second} {
				if _, err := tx.Cart(ctx, num); cart.ErrorCode(err) != cart.NotFound {
					t.Errorf("Cart(%d) after deleting cart %d: %v, want NotFound", num, doomed.Num, err)
				}
			}
			for _, num := range []int64{keep, keptMerged} {
				if _, err := tx.Cart(ctx, num); err != nil {
					t.Errorf("Cart(%d), unrelated to the deleted cart: %v", num, err)
				}
			}
			if lines, err := tx.Lines(ctx, doomed.Num); err != nil || len(lines) != 0 {
				t.Errorf("Lines of the deleted cart: %d lines, %v; want none", len(lines), err)
			}
			if cs, err := tx.Coupons(ctx, doomed.Num); err != nil || len(cs) != 0 {
				t.Errorf("Coupons of the deleted cart: %v, %v; want none", cs, err)
			}
			if _, err := tx.SessionByHash(ctx, sess.Hash); cart.ErrorCode(err) != cart.NotFound {
				t.Errorf("the deleted cart's session: %v, want NotFound", err)
			}
			if holders, err := tx.StockHolders(ctx, "SKU-1"); err != nil || len(holders) != 0 {
				t.Errorf("StockHolders after deleting item %d: %+v, %v; want none", item.Num, holders, err)
			}
			// The stock is the caller's to release first: deleting leaves it as it was.
			st, err := tx.Stock(ctx, "SKU-1")
			if err != nil {
				return err
			}
			if st.Reserved != 2 || st.Version != 1 {
				t.Errorf("stock after deleting a cart: %+v, want it untouched", st)
			}
			return nil
		})
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.DeleteCart(t.Context(), doomed.Num) })
		wantCode(t, err, cart.NotFound, "cart_not_found")
	})

	t.Run("tokens expired or revoked before the instant are purged in batches", func(t *testing.T) {
		s := open(t)
		tokens := map[string]auth.Token{
			"ct_expired_10":  {CustomerID: "c", ExpiresAt: at(10)},
			"ct_expired_20":  {CustomerID: "c", ExpiresAt: at(20)},
			"ct_revoked_5":   {CustomerID: "c", ExpiresAt: at(10000), RevokedAt: at(5)},
			"ct_live":        {CustomerID: "c", ExpiresAt: at(10000)},
			"ct_revoked_30":  {CustomerID: "c", ExpiresAt: at(10000), RevokedAt: at(30)},
			"ct_expiring_25": {CustomerID: "c", ExpiresAt: at(25)},
		}
		for secret, tok := range tokens {
			tok.Hash, tok.CreatedAt = auth.Hash(secret), at(1)
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertToken(ctx, &tok) })
		}
		purge := func(before, limit int) int {
			t.Helper()
			var n int
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) (err error) {
				n, err = tx.PurgeTokens(ctx, at(before), limit)
				return err
			})
			return n
		}
		if n := purge(25, 1); n != 1 {
			t.Errorf("PurgeTokens(limit 1) = %d, want 1", n)
		}
		if n := purge(25, 10); n != 2 {
			t.Errorf("PurgeTokens(before 25) = %d, want the other 2 of ct_expired_10, ct_expired_20, ct_revoked_5", n)
		}
		if n := purge(25, 10); n != 0 {
			t.Errorf("PurgeTokens again = %d, want 0", n)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for secret := range tokens {
				_, err := tx.TokenByHash(ctx, auth.Hash(secret))
				switch secret {
				case "ct_live", "ct_revoked_30", "ct_expiring_25":
					if err != nil {
						t.Errorf("%s after the purge: %v", secret, err)
					}
				default:
					if cart.ErrorCode(err) != cart.NotFound {
						t.Errorf("%s after the purge: %v, want NotFound", secret, err)
					}
				}
			}
			return nil
		})
	})
}
