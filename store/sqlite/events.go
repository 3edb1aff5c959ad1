package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// The outbox, webhooks and deliveries (store/events.go). With one writer, an event's seq is
// given at insert: the order of inserts is the order of commits.

const qAppendEvent = `
	INSERT INTO events (type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// AppendEvents inserts events; each gets the next seq.
func (t *txn) AppendEvents(ctx context.Context, evs []store.Event) error {
	for _, ev := range evs {
		_, err := t.exec(ctx, qAppendEvent, ev.Type, ev.CartNum, ev.CartVersion, ev.Key, micros(ev.OccurredAt),
			ev.RequestID, ev.IdempotencyKey, string(ev.Data))
		if err != nil {
			return fmt.Errorf("sqlite: append event: %w", dbErr(ctx, err))
		}
	}
	return nil
}

// PositionEvents has nothing to do: AppendEvents positioned every event.
func (t *txn) PositionEvents(context.Context, int) (int, error) { return 0, nil }

const eventColumns = `seq, type, cart_num, cart_version, order_key, occurred_at, request_id, idempotency_key, data`

const (
	qEvents = `SELECT ` + eventColumns + ` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`
	// cart_num <> 0 as written lets the planner use the partial index events_cart (migration
	// 0018), which leaves out the events about no cart.
	qCartEvents = `SELECT ` + eventColumns + ` FROM events WHERE cart_num = ? AND cart_num <> 0 AND seq > ? ORDER BY seq LIMIT ?`
)

// Events returns events after a position.
func (t *txn) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	return t.events(ctx, "events", qEvents, after, limit)
}

// CartEvents returns one cart's events after a position.
func (t *txn) CartEvents(ctx context.Context, cartNum, after int64, limit int) ([]store.Event, error) {
	return t.events(ctx, "cart events", qCartEvents, cartNum, after, limit)
}

func (t *txn) events(ctx context.Context, op, query string, args ...any) ([]store.Event, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var ev store.Event
		var at int64
		var data string
		if err := rows.Scan(&ev.Seq, &ev.Type, &ev.CartNum, &ev.CartVersion, &ev.Key, &at, &ev.RequestID, &ev.IdempotencyKey, &data); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
		}
		ev.OccurredAt, ev.Data = fromMicros(at), json.RawMessage(data)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	return out, nil
}

const (
	qPurgeEvents = `
		DELETE FROM events WHERE seq IN (
			SELECT seq FROM events WHERE occurred_at < ? AND seq < (SELECT max(seq) FROM events)
			  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = events.seq AND d.status = 'pending')
			ORDER BY seq LIMIT ?)`
	qPurgeDeliveries = `
		DELETE FROM deliveries WHERE rowid IN (
			SELECT rowid FROM deliveries WHERE status <> 'pending' AND updated_at < ? LIMIT ?)`
)

// PurgeEvents deletes old events no pending delivery needs, and old finished deliveries.
func (t *txn) PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if _, err := t.exec(ctx, qPurgeDeliveries, micros(before), limit); err != nil {
		return 0, fmt.Errorf("sqlite: purge deliveries: %w", dbErr(ctx, err))
	}
	res, err := t.exec(ctx, qPurgeEvents, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge events: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const webhookColumns = `id, url, secret, previous_secret, previous_until, types, active, cursor, created_at, updated_at`

const (
	qWebhook  = `SELECT ` + webhookColumns + ` FROM webhooks WHERE id = ?`
	qWebhooks = `SELECT ` + webhookColumns + ` FROM webhooks WHERE id > ? ORDER BY id LIMIT ?`
)

func errWebhookNotFound(id string) *cart.Error {
	return cart.Errorf(cart.NotFound, "webhook_not_found", "no webhook %q", id)
}

func scanWebhook(scan func(...any) error) (store.Webhook, error) {
	var (
		w                store.Webhook
		until            sql.NullInt64
		types            string
		created, updated int64
	)
	if err := scan(&w.ID, &w.URL, &w.Secret, &w.PreviousSecret, &until, &types, &w.Active, &w.Cursor, &created, &updated); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
		return w, fmt.Errorf("types: %w", err)
	}
	w.PreviousUntil, w.CreatedAt, w.UpdatedAt = fromNullMicros(until), fromMicros(created), fromMicros(updated)
	return w, nil
}

// Webhook returns a webhook by id.
func (t *txn) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	w, err := scanWebhook(t.queryRow(ctx, qWebhook, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return w, errWebhookNotFound(id)
	}
	if err != nil {
		return w, fmt.Errorf("sqlite: webhook: %w", dbErr(ctx, err))
	}
	return w, nil
}

// LockWebhook is Webhook: the writer holds the whole database.
func (t *txn) LockWebhook(ctx context.Context, id string) (store.Webhook, error) {
	return t.Webhook(ctx, id)
}

// Webhooks lists webhooks by id.
func (t *txn) Webhooks(ctx context.Context, after string, limit int) ([]store.Webhook, error) {
	rows, err := t.query(ctx, qWebhooks, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhooks: %w", dbErr(ctx, err))
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", dbErr(ctx, err))
	}
	return out, nil
}

const qPutWebhook = `
	INSERT INTO webhooks (` + webhookColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret,
		previous_secret = excluded.previous_secret, previous_until = excluded.previous_until,
		types = excluded.types, active = excluded.active, updated_at = excluded.updated_at
	RETURNING cursor, created_at`

// PutWebhook creates or replaces a webhook.
func (t *txn) PutWebhook(ctx context.Context, w *store.Webhook) error {
	types, err := json.Marshal(nonNil(w.Types))
	if err != nil {
		return fmt.Errorf("sqlite: put webhook: %w", err)
	}
	var created int64
	err = t.queryRow(ctx, qPutWebhook, w.ID, w.URL, w.Secret, w.PreviousSecret, nullMicros(w.PreviousUntil), string(types),
		w.Active, w.Cursor, micros(w.CreatedAt), micros(w.UpdatedAt)).Scan(&w.Cursor, &created)
	if err != nil {
		return fmt.Errorf("sqlite: put webhook: %w", dbErr(ctx, err))
	}
	w.CreatedAt = fromMicros(created)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const qDeleteWebhook = `DELETE FROM webhooks WHERE id = ?`

// DeleteWebhook deletes a webhook; its deliveries go with it (ON DELETE CASCADE).
func (t *txn) DeleteWebhook(ctx context.Context, id string) error {
	return t.execOne(ctx, func() *cart.Error { return errWebhookNotFound(id) }, "delete webhook", qDeleteWebhook, id)
}

const (
	qAddDelivery = `
		INSERT INTO deliveries (webhook_id, seq, order_key, status, attempts, next_attempt_at, lease_owner, lease_until,
		                        last_status, last_error, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', 0, ?, '', NULL, 0, '', ?, ?)
		ON CONFLICT (webhook_id, seq) DO NOTHING`
	qSetCursor = `UPDATE webhooks SET cursor = ? WHERE id = ?`
)

// AddDeliveries records pending deliveries and moves the webhook's cursor.
func (t *txn) AddDeliveries(ctx context.Context, webhookID string, ds []store.Delivery, cursor int64) error {
	for _, d := range ds {
		if _, err := t.exec(ctx, qAddDelivery, webhookID, d.Seq, d.Key, micros(d.NextAttemptAt), micros(d.CreatedAt), micros(d.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: add delivery: %w", dbErr(ctx, err))
		}
	}
	return t.execOne(ctx, func() *cart.Error { return errWebhookNotFound(webhookID) }, "set webhook cursor", qSetCursor, cursor, webhookID)
}

const deliveryColumns = `d.webhook_id, d.seq, d.order_key, d.status, d.attempts, d.next_attempt_at, d.lease_owner, d.lease_until,
	d.last_status, d.last_error, d.created_at, d.updated_at,
	coalesce(e.type, ''), coalesce(e.cart_num, 0), coalesce(e.cart_version, 0), coalesce(e.occurred_at, 0),
	coalesce(e.request_id, ''), coalesce(e.idempotency_key, ''), coalesce(e.data, '')`

func scanDelivery(scan func(...any) error) (store.Delivery, error) {
	var (
		d                      store.Delivery
		next, created, updated int64
		until                  sql.NullInt64
		at                     int64
		data                   string
	)
	err := scan(&d.WebhookID, &d.Seq, &d.Key, &d.Status, &d.Attempts, &next, &d.LeaseOwner, &until,
		&d.LastStatus, &d.LastError, &created, &updated,
		&d.Event.Type, &d.Event.CartNum, &d.Event.CartVersion, &at, &d.Event.RequestID, &d.Event.IdempotencyKey, &data)
	if err != nil {
		return d, err
	}
	d.NextAttemptAt, d.LeaseUntil, d.CreatedAt, d.UpdatedAt = fromMicros(next), fromNullMicros(until), fromMicros(created), fromMicros(updated)
	if d.Event.Type != "" {
		d.Event.Seq, d.Event.Key, d.Event.OccurredAt, d.Event.Data = d.Seq, d.Key, fromMicros(at), json.RawMessage(data)
	}
	return d, nil
}

func (t *txn) deliveries(ctx context.Context, op, query string, args ...any) ([]store.Delivery, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, dbErr(ctx, err))
	}
	return out, nil
}

const qDeliveries = `
	SELECT ` + deliveryColumns + ` FROM deliveries d LEFT JOIN events e ON e.seq = d.seq
	WHERE d.webhook_id = ? AND (? = '' OR d.status = ?) AND d.seq > ? ORDER BY d.seq LIMIT ?`

// Deliveries lists a webhook's deliveries.
func (t *txn) Deliveries(ctx context.Context, webhookID, status string, after int64, limit int) ([]store.Delivery, error) {
	return t.deliveries(ctx, "deliveries", qDeliveries, webhookID, status, status, after, limit)
}

// qClaimable finds the deliveries due whose lease is free and that are first of their key.
const qClaimable = `
	SELECT ` + deliveryColumns + ` FROM deliveries d LEFT JOIN events e ON e.seq = d.seq
	WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
	  AND d.webhook_id NOT IN (SELECT value FROM json_each(?))
	  AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.webhook_id = d.webhook_id AND p.order_key = d.order_key
	                  AND p.status = 'pending' AND p.seq < d.seq)
	ORDER BY d.seq LIMIT ?`

const qLease = `UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE webhook_id = ? AND seq = ?`

// ClaimDeliveries leases the deliveries due; the writer holds the database, so claims of two
// transactions never overlap.
func (t *txn) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int, skip []string) ([]store.Delivery, error) {
	skipped, err := json.Marshal(nonNil(skip))
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	ds, err := t.deliveries(ctx, "claim deliveries", qClaimable, micros(now), micros(now), string(skipped), limit)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if _, err := t.exec(ctx, qLease, owner, micros(until), ds[i].WebhookID, ds[i].Seq); err != nil {
			return nil, fmt.Errorf("sqlite: claim deliveries: %w", dbErr(ctx, err))
		}
		ds[i].LeaseOwner, ds[i].LeaseUntil = owner, until
	}
	return ds, nil
}

const (
	qRenewLeases        = `UPDATE deliveries SET lease_until = ? WHERE lease_owner = ? AND status = 'pending' AND lease_until IS NOT NULL`
	qRenewWebhookLeases = `UPDATE webhooks SET lease_until = ? WHERE lease_owner = ?`
)

// RenewLeases extends owner's leases on deliveries and on webhooks' streams.
func (t *txn) RenewLeases(ctx context.Context, owner string, until time.Time) (int, error) {
	if _, err := t.exec(ctx, qRenewWebhookLeases, micros(until), owner); err != nil {
		return 0, fmt.Errorf("sqlite: renew leases: %w", dbErr(ctx, err))
	}
	res, err := t.exec(ctx, qRenewLeases, micros(until), owner)
	if err != nil {
		return 0, fmt.Errorf("sqlite: renew leases: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const qTakeWebhook = `
	UPDATE webhooks SET lease_owner = ?, lease_until = ?
	WHERE id = ? AND (lease_owner = ? OR lease_owner = '' OR lease_until IS NULL OR lease_until <= ?)
	RETURNING ` + webhookColumns

// TakeWebhook leases a webhook's stream to owner unless another owner holds it.
func (t *txn) TakeWebhook(ctx context.Context, id, owner string, now, until time.Time) (store.Webhook, bool, error) {
	w, err := scanWebhook(t.queryRow(ctx, qTakeWebhook, owner, micros(until), id, owner, micros(now)).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := t.Webhook(ctx, id); err != nil {
			return store.Webhook{}, false, err
		}
		return store.Webhook{}, false, nil
	}
	if err != nil {
		return store.Webhook{}, false, fmt.Errorf("sqlite: take webhook: %w", dbErr(ctx, err))
	}
	return w, true, nil
}

const (
	qAdvanceStream  = `UPDATE webhooks SET cursor = ?, lease_until = ? WHERE id = ? AND lease_owner = ? AND cursor = ?`
	qRecordDelivery = `
		INSERT INTO deliveries (webhook_id, seq, order_key, status, attempts, next_attempt_at, lease_owner, lease_until,
		                        last_status, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, '', NULL, ?, ?, ?, ?)
		ON CONFLICT (webhook_id, seq) DO NOTHING`
)

// RecordDeliveries stores deliveries and moves the cursor, if owner still holds the stream
// at from.
func (t *txn) RecordDeliveries(ctx context.Context, webhookID, owner string, from, to int64, ds []store.Delivery, until time.Time) (bool, error) {
	res, err := t.exec(ctx, qAdvanceStream, to, micros(until), webhookID, owner, from)
	if err != nil {
		return false, fmt.Errorf("sqlite: record deliveries: %w", dbErr(ctx, err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	for _, d := range ds {
		_, err := t.exec(ctx, qRecordDelivery, webhookID, d.Seq, d.Key, d.Status, d.Attempts, micros(d.NextAttemptAt),
			d.LastStatus, d.LastError, micros(d.CreatedAt), micros(d.UpdatedAt))
		if err != nil {
			return false, fmt.Errorf("sqlite: record deliveries: %w", dbErr(ctx, err))
		}
	}
	return true, nil
}

const qReleaseWebhooks = `UPDATE webhooks SET lease_owner = '', lease_until = NULL WHERE lease_owner = ?`

// ReleaseWebhooks gives up owner's leases on webhooks' streams.
func (t *txn) ReleaseWebhooks(ctx context.Context, owner string) error {
	if _, err := t.exec(ctx, qReleaseWebhooks, owner); err != nil {
		return fmt.Errorf("sqlite: release webhooks: %w", dbErr(ctx, err))
	}
	return nil
}

const qPendingKeys = `
	SELECT DISTINCT order_key FROM deliveries
	WHERE webhook_id = ? AND status = 'pending' AND order_key IN (SELECT value FROM json_each(?))`

// PendingKeys returns which keys have a pending delivery to the webhook.
func (t *txn) PendingKeys(ctx context.Context, webhookID string, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending keys: %w", err)
	}
	rows, err := t.query(ctx, qPendingKeys, webhookID, string(b))
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending keys: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: pending keys: %w", dbErr(ctx, err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending keys: %w", dbErr(ctx, err))
	}
	return out, nil
}

const qFinishAttempt = `
	UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_owner = '', lease_until = NULL,
		last_status = ?, last_error = ?, updated_at = ?
	WHERE webhook_id = ? AND seq = ? AND status = 'pending'`

// FinishAttempt stores an attempt's outcome.
func (t *txn) FinishAttempt(ctx context.Context, d store.Delivery) error {
	_, err := t.exec(ctx, qFinishAttempt, d.Status, d.Attempts, micros(d.NextAttemptAt), d.LastStatus, d.LastError,
		micros(d.UpdatedAt), d.WebhookID, d.Seq)
	if err != nil {
		return fmt.Errorf("sqlite: finish delivery attempt: %w", dbErr(ctx, err))
	}
	return nil
}

const qRetryDelivery = `
	UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_owner = '', lease_until = NULL, updated_at = ?, created_at = ?
	WHERE webhook_id = ? AND seq = ?`

func errDeliveryNotFound(id string, seq int64) *cart.Error {
	return cart.Errorf(cart.NotFound, "delivery_not_found", "webhook %q has no delivery of event %d", id, seq)
}

// RetryDelivery makes a delivery pending again.
func (t *txn) RetryDelivery(ctx context.Context, webhookID string, seq int64, at time.Time) error {
	return t.execOne(ctx, func() *cart.Error { return errDeliveryNotFound(webhookID, seq) }, "retry delivery", qRetryDelivery,
		micros(at), micros(at), micros(at), webhookID, seq)
}

const qOldestPending = `
	SELECT min(e.occurred_at) FROM deliveries d JOIN events e ON e.seq = d.seq WHERE d.status = 'pending'`

// OldestPending returns when the oldest event pending delivery occurred.
func (t *txn) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	if err := t.queryRow(ctx, qOldestPending).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest pending delivery: %w", dbErr(ctx, err))
	}
	return fromNullMicros(at), at.Valid, nil
}

// qIdleCarts walks carts_unreported from its most idle cart, so it reads the carts due rather
// than every active one, and returns them in num order.
const qIdleCarts = `
	SELECT num FROM (
		SELECT num FROM carts INDEXED BY carts_unreported
		WHERE status = 'active' AND last_activity < ? AND (abandoned_at IS NULL OR abandoned_at < last_activity)
		  AND EXISTS (SELECT 1 FROM cart_items WHERE cart_items.cart_num = carts.num)
		ORDER BY last_activity, num LIMIT ?)
	ORDER BY num`

// IdleCarts returns carts idle since before the instant and not reported since.
func (t *txn) IdleCarts(ctx context.Context, before time.Time, limit int) ([]int64, error) {
	rows, err := t.query(ctx, qIdleCarts, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: idle carts: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	var nums []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: idle carts: %w", dbErr(ctx, err))
		}
		nums = append(nums, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: idle carts: %w", dbErr(ctx, err))
	}
	return nums, nil
}

const qMarkAbandoned = `UPDATE carts SET abandoned_at = ? WHERE num = ?`

// MarkAbandoned records that a cart was reported abandoned.
func (t *txn) MarkAbandoned(ctx context.Context, cartNum int64, at time.Time) error {
	return t.execOne(ctx, errCartNotFound, "mark cart abandoned", qMarkAbandoned, micros(at), cartNum)
}

const qLastEventSeq = `SELECT coalesce(max(seq), 0) FROM events`

// LastEventSeq returns the highest position given.
func (t *txn) LastEventSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, qLastEventSeq).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: last event seq: %w", dbErr(ctx, err))
	}
	return n, nil
}
