package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// The outbox, webhooks and deliveries (store/events.go). Transactions of several nodes commit
// in any order, so events are appended without a position and PositionEvents numbers the
// committed ones under the lock of event_positions' single row (see the migration 0010).

// AppendEvents inserts events without a position, in one round trip and in the order given
// (id, drawn in that order, is the order PositionEvents follows).
func (t *txn) AppendEvents(ctx context.Context, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	n := len(evs)
	types, keys, reqs, idems, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	carts, versions := make([]int64, n), make([]int64, n)
	at := make([]time.Time, n)
	for i, ev := range evs {
		types[i], carts[i], versions[i], keys[i], at[i] = ev.Type, ev.CartNum, ev.CartVersion, ev.Key, ev.OccurredAt
		reqs[i], idems[i], data[i] = ev.RequestID, ev.IdempotencyKey, string(ev.Data)
	}
	// Nothing waits for the insert: it goes with the next statement or the COMMIT.
	t.later("append events", nil, `
		INSERT INTO events (type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data)
		SELECT type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[])
			WITH ORDINALITY AS e (type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data, n)
		ORDER BY n`, types, carts, versions, keys, at, reqs, idems, data)
	return nil
}

// PositionEvents numbers committed events in the order they were appended. The row of
// event_positions is locked first; at READ COMMITTED the UPDATE that follows takes its
// snapshot after that, so it sees every event an earlier run positioned, and only committed
// events: no position is ever given to an event that could still roll back, nor a lower
// position given after a higher one became visible.
func (t *txn) PositionEvents(ctx context.Context, limit int) (int, error) {
	var last int64
	found, err := t.queryRow(ctx, "position events", `SELECT last FROM event_positions WHERE id = 1 FOR UPDATE`, nil, &last)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("postgres: position events: event_positions is empty")
	}
	n, err := t.exec(ctx, "position events", `
		UPDATE events SET seq = $1 + p.rn
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn
		      FROM (SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT $2) s) p
		WHERE events.id = p.id`, last, limit)
	if err != nil || n == 0 {
		return 0, err
	}
	if _, err := t.exec(ctx, "position events", `UPDATE event_positions SET last = $1 WHERE id = 1`, last+n); err != nil {
		return 0, err
	}
	return int(n), nil
}

const eventColumns = `seq, type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data`

// Events returns positioned events after a position.
func (t *txn) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return t.events(ctx, "events", `SELECT `+eventColumns+` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
}

// CartEvents returns one cart's positioned events after a position: the feed's own rule (an
// event shows once positioned, so seq > after leaves out those still without one), on the
// partial index events_cart (migration 0018), which cart_num <> 0 as written lets the planner
// use whatever the parameter.
func (t *txn) CartEvents(ctx context.Context, cartNum, after int64, limit int) ([]store.Event, error) {
	return t.events(ctx, "cart events", qCartEvents, cartNum, after, limit)
}

const qCartEvents = `SELECT ` + eventColumns + ` FROM events WHERE cart_num = $1 AND cart_num <> 0 AND seq > $2 ORDER BY seq LIMIT $3`

func (t *txn) events(ctx context.Context, op, query string, args ...any) ([]store.Event, error) {
	var (
		out  []store.Event
		ev   store.Event
		data string
	)
	err := t.query(ctx, op, query, args,
		[]any{&ev.Seq, &ev.Type, &ev.CartNum, &ev.CartVersion, &ev.Key, &ev.OccurredAt, &ev.RequestID, &ev.IdempotencyKey, &data},
		func() error {
			e := ev
			e.OccurredAt, e.Data = e.OccurredAt.UTC(), json.RawMessage(data)
			out = append(out, e)
			return nil
		})
	return out, err
}

// PurgeEvents deletes old events no pending delivery needs, and old finished deliveries.
func (t *txn) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	_, err := t.exec(ctx, "purge deliveries", `
		DELETE FROM deliveries WHERE (webhook_id, seq) IN (
			SELECT webhook_id, seq FROM deliveries WHERE status <> 'pending' AND updated_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, err
	}
	n, err := t.exec(ctx, "purge events", `
		DELETE FROM events WHERE id IN (
			SELECT id FROM events WHERE seq IS NOT NULL AND occurred_at < $1 AND seq < (SELECT max(seq) FROM events)
			  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = events.seq AND d.status = 'pending')
			ORDER BY seq LIMIT $2)`, before, limit)
	return int(n), err
}

const webhookColumns = `id, url, secret, previous_secret, previous_until, types, active, cursor, created_at, updated_at`

func errWebhookNotFound(id string) *cart.Error {
	return cart.Errorf(cart.NotFound, "webhook_not_found", "no webhook %q", id)
}

type webhookRow struct {
	w     store.Webhook
	until *time.Time
	types string
}

func (r *webhookRow) dest() []any {
	return []any{&r.w.ID, &r.w.URL, &r.w.Secret, &r.w.PreviousSecret, &r.until, &r.types, &r.w.Active, &r.w.Cursor, &r.w.CreatedAt, &r.w.UpdatedAt}
}

func (r *webhookRow) webhook() (store.Webhook, error) {
	w := r.w
	w.Types = nil
	if err := json.Unmarshal([]byte(r.types), &w.Types); err != nil {
		return w, fmt.Errorf("postgres: webhook types: %w", err)
	}
	w.PreviousUntil, w.CreatedAt, w.UpdatedAt = fromNullTime(r.until), w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return w, nil
}

func (t *txn) webhook(ctx context.Context, id, lock string) (store.Webhook, error) {
	var r webhookRow
	found, err := t.queryRow(ctx, "webhook", `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`+lock, []any{id}, r.dest()...)
	if err != nil {
		return store.Webhook{}, err
	}
	if !found {
		return store.Webhook{}, errWebhookNotFound(id)
	}
	return r.webhook()
}

// Webhook returns a webhook by id.
func (t *txn) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	return t.webhook(ctx, id, "")
}

// LockWebhook returns a webhook, its row locked until commit.
func (t *txn) LockWebhook(ctx context.Context, id string) (store.Webhook, error) {
	return t.webhook(ctx, id, " FOR UPDATE")
}

// Webhooks lists webhooks by id.
func (t *txn) Webhooks(ctx context.Context, after string, limit int) ([]store.Webhook, error) {
	var (
		out []store.Webhook
		r   webhookRow
	)
	err := t.query(ctx, "webhooks", `SELECT `+webhookColumns+` FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2`,
		[]any{after, limit}, r.dest(), func() error {
			w, err := r.webhook()
			out = append(out, w)
			return err
		})
	return out, err
}

// PutWebhook creates or replaces a webhook.
func (t *txn) PutWebhook(ctx context.Context, w *store.Webhook) error {
	types := w.Types
	if types == nil {
		types = []string{}
	}
	b, err := json.Marshal(types)
	if err != nil {
		return fmt.Errorf("postgres: put webhook: %w", err)
	}
	_, err = t.queryRow(ctx, "put webhook", `
		INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
			previous_secret = excluded.previous_secret, previous_until = excluded.previous_until,
			types = excluded.types, active = excluded.active, updated_at = excluded.updated_at
		RETURNING cursor, created_at`,
		[]any{w.ID, w.URL, w.Secret, w.PreviousSecret, nullTime(w.PreviousUntil), string(b), w.Active, w.Cursor, w.CreatedAt, w.UpdatedAt},
		&w.Cursor, &w.CreatedAt)
	w.CreatedAt = w.CreatedAt.UTC()
	return err
}

// DeleteWebhook deletes a webhook; its deliveries go with it (ON DELETE CASCADE).
func (t *txn) DeleteWebhook(ctx context.Context, id string) error {
	return t.execOne(ctx, errWebhookNotFound(id), "delete webhook", `DELETE FROM webhooks WHERE id = $1`, id)
}

// AddDeliveries records pending deliveries and moves the webhook's cursor.
func (t *txn) AddDeliveries(ctx context.Context, webhookID string, ds []store.Delivery, cursor int64) error {
	if len(ds) > 0 {
		seqs, keys := make([]int64, len(ds)), make([]string, len(ds))
		for i, d := range ds {
			seqs[i], keys[i] = d.Seq, d.Key
		}
		_, err := t.exec(ctx, "add deliveries", `
			INSERT INTO deliveries (webhook_id, seq, order_key, status, attempts, next_attempt_at, lease_owner, lease_until,
			                        last_status, last_error, created_at, updated_at)
			SELECT $1, seq, order_key, 'pending', 0, $4, '', NULL, 0, '', $4, $4
			FROM unnest($2::bigint[], $3::text[]) AS d (seq, order_key)
			ON CONFLICT (webhook_id, seq) DO NOTHING`, webhookID, seqs, keys, ds[0].CreatedAt)
		if err != nil {
			return err
		}
	}
	return t.execOne(ctx, errWebhookNotFound(webhookID), "set webhook cursor", `UPDATE webhooks SET cursor = $1 WHERE id = $2`, cursor, webhookID)
}

const deliveryColumns = `d.webhook_id, d.seq, d.order_key, d.status, d.attempts, d.next_attempt_at, d.lease_owner, d.lease_until,
	d.last_status, d.last_error, d.created_at, d.updated_at,
	coalesce(e.type, ''), coalesce(e.cart_num, 0), coalesce(e.cart_version, 0), e.occurred_at,
	coalesce(e.request_id, ''), coalesce(e.idempotency_key, ''), coalesce(e.data, '')`

func (t *txn) deliveries(ctx context.Context, op, query string, args ...any) ([]store.Delivery, error) {
	var (
		out       []store.Delivery
		d         store.Delivery
		until, at *time.Time
		data      string
	)
	dest := []any{&d.WebhookID, &d.Seq, &d.Key, &d.Status, &d.Attempts, &d.NextAttemptAt, &d.LeaseOwner, &until,
		&d.LastStatus, &d.LastError, &d.CreatedAt, &d.UpdatedAt,
		&d.Event.Type, &d.Event.CartNum, &d.Event.CartVersion, &at, &d.Event.RequestID, &d.Event.IdempotencyKey, &data}
	err := t.query(ctx, op, query, args, dest, func() error {
		x := d
		x.NextAttemptAt, x.LeaseUntil, x.CreatedAt, x.UpdatedAt = x.NextAttemptAt.UTC(), fromNullTime(until), x.CreatedAt.UTC(), x.UpdatedAt.UTC()
		if x.Event.Type != "" {
			x.Event.Seq, x.Event.Key, x.Event.OccurredAt, x.Event.Data = x.Seq, x.Key, fromNullTime(at), json.RawMessage(data)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// Deliveries lists a webhook's deliveries.
func (t *txn) Deliveries(ctx context.Context, webhookID, status string, after int64, limit int) ([]store.Delivery, error) {
	return t.deliveries(ctx, "deliveries", `
		SELECT `+deliveryColumns+` FROM deliveries d LEFT JOIN events e ON e.seq = d.seq
		WHERE d.webhook_id = $1 AND ($2 = '' OR d.status = $2) AND d.seq > $3 ORDER BY d.seq LIMIT $4`,
		webhookID, status, after, limit)
}

// ClaimDeliveries leases the deliveries due. FOR UPDATE SKIP LOCKED passes over the rows
// another node is claiming at this moment, and the lease check, re-evaluated on a row another
// claim changed since this statement's snapshot, passes over those it claimed: two nodes
// never claim one delivery, and neither waits for the other.
func (t *txn) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int, skip []string) ([]store.Delivery, error) {
	if skip == nil {
		skip = []string{}
	}
	var (
		ids  []string
		seqs []int64
		id   string
		seq  int64
	)
	err := t.query(ctx, "claim deliveries", `
		WITH c AS (
			SELECT d.webhook_id, d.seq FROM deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
			  AND NOT (d.webhook_id = ANY ($5::text[]))
			  AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.order_key = d.order_key
			                  AND p.status = 'pending' AND p.seq < d.seq)
			ORDER BY d.seq LIMIT $4
			FOR UPDATE SKIP LOCKED)
		UPDATE deliveries SET lease_owner = $2, lease_until = $3
		FROM c WHERE deliveries.webhook_id = c.webhook_id AND deliveries.seq = c.seq
		RETURNING deliveries.webhook_id, deliveries.seq`,
		[]any{now, owner, until, limit, skip}, []any{&id, &seq}, func() error {
			ids, seqs = append(ids, id), append(seqs, seq)
			return nil
		})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return t.deliveries(ctx, "claim deliveries", `
		SELECT `+deliveryColumns+` FROM deliveries d LEFT JOIN events e ON e.seq = d.seq
		WHERE (d.webhook_id, d.seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
		ORDER BY d.seq`, ids, seqs)
}

// RenewLeases extends owner's leases on deliveries and on webhooks' streams.
func (t *txn) RenewLeases(ctx context.Context, owner string, until time.Time) (int, error) {
	if _, err := t.exec(ctx, "renew leases", `UPDATE webhooks SET lease_until = $1 WHERE lease_owner = $2`, until, owner); err != nil {
		return 0, err
	}
	n, err := t.exec(ctx, "renew leases", `
		UPDATE deliveries SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending' AND lease_until IS NOT NULL`, until, owner)
	return int(n), err
}

// TakeWebhook leases a webhook's stream to owner unless another owner holds it. The UPDATE
// locks the row: of two nodes taking it at once, the second re-evaluates the condition on
// the first's lease and gets nothing.
func (t *txn) TakeWebhook(ctx context.Context, id, owner string, now, until time.Time) (store.Webhook, bool, error) {
	var r webhookRow
	found, err := t.queryRow(ctx, "take webhook", `
		UPDATE webhooks SET lease_owner = $1, lease_until = $2
		WHERE id = $3 AND (lease_owner = $1 OR lease_owner = '' OR lease_until IS NULL OR lease_until <= $4)
		RETURNING `+webhookColumns, []any{owner, until, id, now}, r.dest()...)
	if err != nil {
		return store.Webhook{}, false, err
	}
	if !found {
		if _, err := t.Webhook(ctx, id); err != nil {
			return store.Webhook{}, false, err
		}
		return store.Webhook{}, false, nil
	}
	w, err := r.webhook()
	return w, err == nil, err
}

// RecordDeliveries stores deliveries and moves the cursor, if owner still holds the stream
// at from, in two round trips.
func (t *txn) RecordDeliveries(ctx context.Context, webhookID, owner string, from, to int64, ds []store.Delivery, until time.Time) (bool, error) {
	n, err := t.exec(ctx, "record deliveries", `
		UPDATE webhooks SET cursor = $1, lease_until = $2 WHERE id = $3 AND lease_owner = $4 AND cursor = $5`,
		to, until, webhookID, owner, from)
	if err != nil || n == 0 || len(ds) == 0 {
		return n > 0, err
	}
	k := len(ds)
	seqs, keys, statuses, errs := make([]int64, k), make([]string, k), make([]string, k), make([]string, k)
	attempts, codes := make([]int32, k), make([]int32, k)
	next, created, updated := make([]time.Time, k), make([]time.Time, k), make([]time.Time, k)
	for i, d := range ds {
		seqs[i], keys[i], statuses[i], errs[i] = d.Seq, d.Key, d.Status, d.LastError
		attempts[i], codes[i] = int32(d.Attempts), int32(d.LastStatus)
		next[i], created[i], updated[i] = d.NextAttemptAt, d.CreatedAt, d.UpdatedAt
	}
	_, err = t.exec(ctx, "record deliveries", `
		INSERT INTO deliveries (webhook_id, seq, order_key, status, attempts, next_attempt_at, lease_owner, lease_until,
		                        last_status, last_error, created_at, updated_at)
		SELECT $1, seq, order_key, status, attempts, next_attempt_at, '', NULL, last_status, last_error, created_at, updated_at
		FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::int[], $8::text[], $9::timestamptz[], $10::timestamptz[])
			AS d (seq, order_key, status, attempts, next_attempt_at, last_status, last_error, created_at, updated_at)
		ON CONFLICT (webhook_id, seq) DO NOTHING`,
		webhookID, seqs, keys, statuses, attempts, next, codes, errs, created, updated)
	return err == nil, err
}

// ReleaseWebhooks gives up owner's leases on webhooks' streams.
func (t *txn) ReleaseWebhooks(ctx context.Context, owner string) error {
	_, err := t.exec(ctx, "release webhooks", `UPDATE webhooks SET lease_owner = '', lease_until = NULL WHERE lease_owner = $1`, owner)
	return err
}

// PendingKeys returns which keys have a pending delivery to the webhook.
func (t *txn) PendingKeys(ctx context.Context, webhookID string, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var (
		out []string
		k   string
	)
	err := t.query(ctx, "pending keys", `
		SELECT DISTINCT order_key FROM deliveries WHERE webhook_id = $1 AND status = 'pending' AND order_key = ANY ($2::text[])`,
		[]any{webhookID, keys}, []any{&k}, func() error {
			out = append(out, k)
			return nil
		})
	return out, err
}

// FinishAttempt stores an attempt's outcome.
func (t *txn) FinishAttempt(ctx context.Context, d store.Delivery) error {
	_, err := t.exec(ctx, "finish delivery attempt", `
		UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_owner = '', lease_until = NULL,
			last_status = $4, last_error = $5, updated_at = $6
		WHERE webhook_id = $7 AND seq = $8 AND status = 'pending'`,
		d.Status, d.Attempts, d.NextAttemptAt, d.LastStatus, d.LastError, d.UpdatedAt, d.WebhookID, d.Seq)
	return err
}

// RetryDelivery makes a delivery pending again.
func (t *txn) RetryDelivery(ctx context.Context, webhookID string, seq int64, at time.Time) error {
	return t.execOne(ctx, cart.Errorf(cart.NotFound, "delivery_not_found", "webhook %q has no delivery of event %d", webhookID, seq),
		"retry delivery", `
		UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, lease_owner = '', lease_until = NULL, updated_at = $1, created_at = $1
		WHERE webhook_id = $2 AND seq = $3`, at, webhookID, seq)
}

// OldestPending returns when the oldest event pending delivery occurred.
func (t *txn) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	_, err := t.queryRow(ctx, "oldest pending delivery", `
		SELECT min(e.occurred_at) FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.status = 'pending'`, nil, &at)
	return fromNullTime(at), at != nil, err
}

// IdleCarts returns carts idle since before the instant and not reported since.
func (t *txn) IdleCarts(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	var (
		nums []int64
		n    int64
	)
	err := t.query(ctx, "idle carts", `
		SELECT num FROM carts
		WHERE status = 'active' AND last_activity < $1 AND (abandoned_at IS NULL OR abandoned_at < last_activity)
		  AND EXISTS (SELECT 1 FROM cart_items WHERE cart_items.cart_num = carts.num)
		ORDER BY num LIMIT $2`, []any{before, limit}, []any{&n}, func() error {
		nums = append(nums, n)
		return nil
	})
	return nums, err
}

// MarkAbandoned records that a cart was reported abandoned.
func (t *txn) MarkAbandoned(ctx context.Context, cartNum int64, at time.Time) error {
	return t.execOne(ctx, errCartNotFound(), "mark cart abandoned", `UPDATE carts SET abandoned_at = $1 WHERE num = $2`, at, cartNum)
}

// LastEventSeq returns the highest position given.
func (t *txn) LastEventSeq(ctx context.Context) (int64, error) {
	var n int64
	_, err := t.queryRow(ctx, "last event seq", `SELECT coalesce(max(seq), 0) FROM events`, nil, &n)
	return n, err
}
