package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

func testIdempotency(t *testing.T, open func(t *testing.T) store.Store) {
	rec := func(scope, key string, expires time.Time) store.IdempotencyRecord {
		return store.IdempotencyRecord{
			Scope: scope, Key: key, RequestHash: sha256.Sum256([]byte(scope + key)), Status: 201,
			Header: map[string]string{"Content-Type": "application/json", "ETag": `"3"`},
			Body:   []byte(`{"id":"cart_1"}` + "\n"), CreatedAt: base, ExpiresAt: expires,
		}
	}

	t.Run("a record round-trips and is scoped", func(t *testing.T) {
		s := open(t)
		want := rec("key:1 POST /v1/carts", "k1", base.Add(24*time.Hour))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, want) })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Idempotency(ctx, want.Scope, want.Key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if _, err := tx.Idempotency(ctx, "key:2 POST /v1/carts", "k1"); cart.ErrorCode(err) != cart.NotFound {
				t.Errorf("another scope's key: err = %v, want NotFound", err)
			}
			return nil
		})
	})

	t.Run("a live record cannot be replaced", func(t *testing.T) {
		s := open(t)
		first := rec("scope", "k", base.Add(time.Hour))
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, first) })
		again := rec("scope", "k", base.Add(2*time.Hour))
		again.CreatedAt = base.Add(time.Minute)
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.PutIdempotency(t.Context(), again) })
		var e *cart.Error
		if !errors.As(err, &e) || e.Code != cart.Conflict || e.Reason != "idempotency_key_taken" {
			t.Fatalf("err = %v, want Conflict idempotency_key_taken", err)
		}
	})

	t.Run("putting a key again after it expired replaces its record", func(t *testing.T) {
		s := open(t)
		first := rec("scope", "k", base)
		second := rec("scope", "k", base.Add(time.Hour))
		second.Status, second.Body, second.CreatedAt = 200, []byte("second"), base.Add(time.Minute)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, first) })
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, second) })
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Idempotency(ctx, "scope", "k")
			if err != nil || got.Status != 200 || string(got.Body) != "second" {
				t.Errorf("got %+v, %v; want the second record", got, err)
			}
			return nil
		})
	})

	t.Run("purging removes only expired records, a batch at a time", func(t *testing.T) {
		s := open(t)
		MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			for i, k := range []string{"a", "b", "c"} {
				if err := tx.PutIdempotency(ctx, rec("scope", k, base.Add(time.Duration(i)*time.Minute))); err != nil {
					return err
				}
			}
			return tx.PutIdempotency(ctx, rec("scope", "live", base.Add(time.Hour)))
		})
		cutoff := base.Add(30 * time.Minute)
		var purged []int
		for range 3 {
			MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
				n, err := tx.PurgeIdempotency(ctx, cutoff, 2)
				purged = append(purged, n)
				return err
			})
		}
		if !cmp.Equal(purged, []int{2, 1, 0}) {
			t.Errorf("purged per batch = %v, want [2 1 0]", purged)
		}
		MustRead(t, s, func(ctx context.Context, tx store.ReadTx) error {
			if _, err := tx.Idempotency(ctx, "scope", "live"); err != nil {
				t.Errorf("live record: %v", err)
			}
			if _, err := tx.Idempotency(ctx, "scope", "a"); cart.ErrorCode(err) != cart.NotFound {
				t.Errorf("expired record still there: %v", err)
			}
			return nil
		})
	})
}
