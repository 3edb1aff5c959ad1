package engine

import (
	"context"
	"sync"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// IdempotencyTTL is how long a key's outcome is kept and replayed.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey bounds a key's length.
const MaxIdempotencyKey = 255

// Idempotency asks that a mutating call be applied at most once per key. The front door
// scopes the key (principal, method and path) and identifies the request by a hash of its
// raw body.
type Idempotency struct {
	Scope       string
	Key         string
	RequestHash [32]byte
	// Record renders the call's result as the response that is stored with the key, in the
	// call's own transaction, and replayed to every retry.
	Record func(result any) (Response, error)
}

// Response is a front door's response as stored for replay.
type Response struct {
	Status int
	Header map[string]string
	Body   []byte
}

// Replayed is the error a call returns instead of running again when its key already holds
// the outcome of the same request: the front door answers with Response.
type Replayed struct{ Response Response }

func (r *Replayed) Error() string { return "idempotent replay" }

// inflight holds the keys whose first call is running on this node, so that a retry arriving
// meanwhile is told so (409) instead of queueing behind it. Across nodes the database's
// primary key on (scope, key) serializes the two, and the later one replays.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (f *inflight) acquire(k string) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.keys[k]; busy {
		return nil, false
	}
	if f.keys == nil {
		f.keys = map[string]struct{}{}
	}
	f.keys[k] = struct{}{}
	return func() {
		f.mu.Lock()
		delete(f.keys, k)
		f.mu.Unlock()
	}, true
}

// write runs fn as one write transaction. Under an idempotency key it first looks for the
// key's record (a retry is answered from it, without running fn), and otherwise stores
// result()'s rendering with the key in the same transaction as fn's change, so that a change
// is never applied without its record nor recorded without being applied. A call that fails
// records nothing: its change was rolled back, so it may be retried with the same key.
func (e *Engine) write(ctx context.Context, opt Options, result func() any, fn func(store.Tx) error) error {
	err := e.recordedWrite(ctx, opt, result, fn)
	e.observeCall(err)
	return err
}

func (e *Engine) recordedWrite(ctx context.Context, opt Options, result func() any, fn func(store.Tx) error) error {
	idem := opt.Idempotency
	if idem == nil {
		return e.observedWrite(ctx, fn)
	}
	ctx = eventCtx(ctx, idem)
	if idem.Key == "" || len(idem.Key) > MaxIdempotencyKey {
		return cart.InvalidField("invalid_idempotency_key", "Idempotency-Key", "an Idempotency-Key is 1 to %d characters", MaxIdempotencyKey)
	}
	// Both are stored with the record.
	if err := validText("Idempotency-Key", idem.Key); err != nil {
		return err
	}
	if err := validText("path", idem.Scope); err != nil {
		return err
	}
	release, ok := e.inflight.acquire(idem.Scope + "\x00" + idem.Key)
	if !ok {
		return cart.Errorf(cart.Conflict, "idempotency_in_flight", "a request with this Idempotency-Key is still being processed; retry later")
	}
	defer release()
	// Most retries find their record: answer them from a read, without taking the writer.
	if err := e.st.Read(ctx, func(tx store.ReadTx) error { return replay(ctx, tx, idem) }); err != nil {
		return err
	}
	err := e.observedWrite(ctx, func(tx store.Tx) error {
		if err := replay(ctx, tx, idem); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		resp, err := idem.Record(result())
		if err != nil {
			return err
		}
		now := tx.Now()
		return tx.PutIdempotency(ctx, store.IdempotencyRecord{
			Scope: idem.Scope, Key: idem.Key, RequestHash: idem.RequestHash,
			Status: resp.Status, Header: resp.Header, Body: resp.Body,
			CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL),
		})
	})
	if cart.HasReason(err, cart.Conflict, cart.ReasonIdempotencyKeyTaken) {
		// Another node recorded the key while this call ran, and this call rolled back: answer
		// with what the other recorded.
		if err := e.st.Read(ctx, func(tx store.ReadTx) error { return replay(ctx, tx, idem) }); err != nil {
			return err
		}
	}
	return err
}

// replay returns *Replayed when the key holds a live record of the same request, Invalid when
// it holds one of another request, and nil when the key is free.
func replay(ctx context.Context, tx store.ReadTx, idem *Idempotency) error {
	r, err := tx.Idempotency(ctx, idem.Scope, idem.Key)
	switch {
	case cart.ErrorCode(err) == cart.NotFound:
		return nil
	case err != nil:
		return err
	case !tx.Now().Before(r.ExpiresAt):
		return nil
	case r.RequestHash != idem.RequestHash:
		return cart.InvalidField("idempotency_key_reused", "Idempotency-Key", "this Idempotency-Key was used with another request body")
	}
	return &Replayed{Response: Response{Status: r.Status, Header: r.Header, Body: r.Body}}
}

// purgeBatch bounds one housekeeping transaction, so the writer is never held for long.
const purgeBatch = 500

// PurgeIdempotency deletes expired idempotency records in small batches and returns how many
// it deleted.
func (e *Engine) PurgeIdempotency(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PurgeIdempotency(ctx, tx.Now(), purgeBatch)
			return err
		})
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}
