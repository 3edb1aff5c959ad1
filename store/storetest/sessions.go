package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func testSessions(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("are found by hash, expired ones too", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart(""))
		sessions := []auth.Session{
			{CartNum: c.Num, Hash: auth.Hash("ss_live"), CreatedAt: at(1), ExpiresAt: at(3600)},
			{CartNum: c.Num, Hash: auth.Hash("ss_expired"), CreatedAt: at(2), ExpiresAt: at(3)},
		}
		for i := range sessions {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSession(ctx, &sessions[i]) })
		}
		if sessions[0].Num == 0 || sessions[0].Num == sessions[1].Num {
			t.Errorf("InsertSession set nums %d and %d, want distinct non-zero", sessions[0].Num, sessions[1].Num)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for _, want := range sessions {
				got, err := tx.SessionByHash(ctx, want.Hash)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
					t.Errorf("SessionByHash (-want +got):\n%s", diff)
				}
			}
			_, err := tx.SessionByHash(ctx, auth.Hash("ss_nope"))
			wantCode(t, err, cart.NotFound, "session_not_found")
			return nil
		})
	})

	t.Run("a digest names one session", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart(""))
		first := auth.Session{CartNum: c.Num, Hash: auth.Hash("ss_same"), CreatedAt: at(1), ExpiresAt: at(3600)}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSession(ctx, &first) })
		err := s.Write(t.Context(), func(tx store.Tx) error {
			again := first
			return tx.InsertSession(t.Context(), &again)
		})
		if err == nil {
			t.Error("a second session with the same digest was stored")
		}
	})

	t.Run("expired ones are purged in batches, and their carts stay", func(t *testing.T) {
		s := open(t)
		c := MustInsertCart(t, s, newCart(""))
		for i, secret := range []string{"ss_a", "ss_b", "ss_c", "ss_live"} {
			sess := auth.Session{CartNum: c.Num, Hash: auth.Hash(secret), CreatedAt: at(1), ExpiresAt: at(10 + i)}
			if secret == "ss_live" {
				sess.ExpiresAt = at(1000)
			}
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSession(ctx, &sess) })
		}
		purge := func(before, limit int) int {
			t.Helper()
			var n int
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) (err error) {
				n, err = tx.PurgeSessions(ctx, at(before), limit)
				return err
			})
			return n
		}
		// ss_c expires at 12: not before 12.
		if n := purge(12, 1); n != 1 {
			t.Errorf("PurgeSessions(limit 1) = %d, want 1", n)
		}
		if n := purge(12, 10); n != 1 {
			t.Errorf("PurgeSessions(before 12) = %d, want 1 (ss_b)", n)
		}
		if n := purge(12, 10); n != 0 {
			t.Errorf("PurgeSessions again = %d, want 0", n)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			for _, secret := range []string{"ss_c", "ss_live"} {
				if _, err := tx.SessionByHash(ctx, auth.Hash(secret)); err != nil {
					t.Errorf("SessionByHash(%s) after the purge: %v", secret, err)
				}
			}
			_, err := tx.Cart(ctx, c.Num)
			return err
		})
	})
}
