package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// testAddressHeld holds AddressHeld to its definition: the live reservations of one SKU in
// the active guest carts of one address's sessions, and nothing else.
func testAddressHeld(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	p := MustPutProduct(t, s, newProduct("prod_held", newVariant("var_a", "HELD-A"), newVariant("var_b", "HELD-B")))
	a, b := p.Variants[0].Num, p.Variants[1].Num
	now := at(500)
	// holding puts a cart with one line of quantity n, reserved until until, in a session
	// begun from addr (none when addr is "-").
	carts := map[string]int64{} // the first cart of each address ("-": no session)
	holding := func(addr, customer string, status cart.Status, variant, n int64, until time.Time) {
		c := newCart(customer)
		c.Status = status
		c = MustInsertCart(t, s, c)
		it := newItem(c.Num, variant, n)
		it.ReservedUntil = until
		MustInsertItem(t, s, it)
		if _, ok := carts[addr]; !ok {
			carts[addr] = c.Num
		}
		if addr == "-" {
			return
		}
		sess := auth.Session{CartNum: c.Num, Hash: auth.Hash(fmt.Sprintf("ss_held_%d", c.Num)), CreatedAt: at(1), ExpiresAt: at(3600), ClientAddr: addr}
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSession(ctx, &sess) })
	}
	holding("192.0.2.1", "", cart.StatusActive, a, 3, at(900))          // counts
	holding("192.0.2.1", "", cart.StatusActive, a, 4, at(901))          // counts
	holding("192.0.2.1", "", cart.StatusActive, b, 5, at(900))          // another SKU
	holding("192.0.2.1", "", cart.StatusActive, a, 6, at(500))          // lapsed at now
	holding("192.0.2.1", "cust_1", cart.StatusActive, a, 7, at(900))    // signed in
	holding("192.0.2.1", "", cart.StatusCompleted, a, 8, at(900))       // checked out
	holding("192.0.2.2", "", cart.StatusActive, a, 9, at(900))          // another address
	holding("2001:db8:1:2::/64", "", cart.StatusActive, a, 10, at(900)) // an IPv6 /64
	holding("-", "", cart.StatusActive, a, 11, at(900))                 // no session
	holding("", "", cart.StatusActive, a, 12, at(900))                  // a session of unknown address

	for _, tc := range []struct {
		addr, sku string
		want      int64
	}{
		{"192.0.2.1", "HELD-A", 7},
		{"192.0.2.1", "HELD-B", 5},
		{"192.0.2.2", "HELD-A", 9},
		{"2001:db8:1:2::/64", "HELD-A", 10},
		{"192.0.2.3", "HELD-A", 0},
		{"192.0.2.1", "HELD-NONE", 0},
		{"", "HELD-A", 0},
	} {
		t.Run(fmt.Sprintf("%s holds %d of %s", tc.addr, tc.want, tc.sku), func(t *testing.T) {
			for _, write := range []bool{false, true} {
				var got int64
				if write {
					MustWrite(t, s, func(ctx context.Context, tx store.Tx) (err error) {
						got, err = tx.AddressHeld(ctx, tc.addr, tc.sku, now)
						return err
					})
				} else {
					MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
						got, err = tx.AddressHeld(ctx, tc.addr, tc.sku, now)
						return err
					})
				}
				if got != tc.want {
					t.Errorf("AddressHeld(%q, %q) in a write %v = %d, want %d", tc.addr, tc.sku, write, got, tc.want)
				}
			}
		})
	}
	t.Run("each cart's session address", func(t *testing.T) {
		for addr, num := range carts {
			want := addr
			if addr == "-" {
				want = ""
			}
			for _, write := range []bool{false, true} {
				var got string
				if write {
					MustWrite(t, s, func(ctx context.Context, tx store.Tx) (err error) {
						got, err = tx.SessionAddr(ctx, num)
						return err
					})
				} else {
					MustRead(t, s, func(ctx context.Context, tx store.ReadTx) (err error) {
						got, err = tx.SessionAddr(ctx, num)
						return err
					})
				}
				if got != want {
					t.Errorf("SessionAddr(%d) in a write %v = %q, want %q", num, write, got, want)
				}
			}
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			if got, err := tx.SessionAddr(ctx, 999_999); err != nil || got != "" {
				t.Errorf("SessionAddr of no cart = %q, %v", got, err)
			}
			return nil
		})
	})
}
