package engine

import (
	"context"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Keys lists every API key, revoked ones included, oldest first. Like CreateKey it is an
// operator's call (the CLI), so it takes no principal; the secrets were never stored, and the
// digests are for no one to show.
func (e *Engine) Keys(ctx context.Context) ([]auth.Key, error) {
	var keys []auth.Key
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		keys, err = tx.Keys(ctx)
		return err
	})
	return keys, err
}

// RevokeKey revokes API key num and returns it as stored: from then on it no longer
// authenticates (Authenticate refuses a revoked key) through this engine, and through other
// engines on the same database (another process, another node) once their cache of
// authenticated keys lets go of it, within keyCacheTTL. Revoking a revoked key changes
// nothing and succeeds, keeping the first instant. An unknown num is NotFound
// (key_not_found). An operator's call, like CreateKey.
func (e *Engine) RevokeKey(ctx context.Context, num int64) (auth.Key, error) {
	var k auth.Key
	err := e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.RevokeKey(ctx, num, tx.Now()); err != nil {
			return err
		}
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		for _, got := range keys {
			if got.Num == num {
				k = got
				return nil
			}
		}
		return cart.Errorf(cart.Internal, "key_vanished", "API key %d was revoked but is not listed", num)
	})
	if err == nil {
		e.keys.forget(num)
	}
	return k, err
}
