package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// The outbox's use cases: the feed, retention, cart.abandoned, webhooks and the work of
// delivering to them (package webhook sends; the engine keeps the books).

// Feed limits.
const (
	DefaultFeedLimit = 50
	MaxFeedLimit     = 500
)

// Events returns at most limit events after position after (scope events:read), and whether
// more follow.
func (e *Engine) Events(ctx context.Context, p auth.Principal, after int64, limit int) ([]store.Event, bool, error) {
	return e.feed(ctx, p, after, limit, func(tx store.ReadTx, n int) ([]store.Event, error) {
		return tx.Events(ctx, after, n)
	})
}

// CartEvents is Events of one cart: its timeline, in the feed's order and under the feed's
// rule (an event shows once positioned; see store/events.go). A cart never created, or purged
// since, has no events left or only those the retention kept; either way the answer is a
// page, never NotFound, as the feed does not say which carts exist.
func (e *Engine) CartEvents(ctx context.Context, p auth.Principal, cartNum, after int64, limit int) ([]store.Event, bool, error) {
	if cartNum < 1 {
		return nil, false, cart.InvalidField("invalid_cart_id", "cart_id", "cart_id must be a cart's id, such as cart_42")
	}
	return e.feed(ctx, p, after, limit, func(tx store.ReadTx, n int) ([]store.Event, error) {
		return tx.CartEvents(ctx, cartNum, after, n)
	})
}

func (e *Engine) feed(ctx context.Context, p auth.Principal, after int64, limit int, read func(store.ReadTx, int) ([]store.Event, error)) ([]store.Event, bool, error) {
	if err := require(p, auth.EventsRead); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > MaxFeedLimit {
		return nil, false, cart.InvalidField("invalid_limit", "limit", "limit must be 1 to %d", MaxFeedLimit)
	}
	if after < 0 {
		return nil, false, cart.InvalidField("invalid_after", "after", "after must be a position (0 or more)")
	}
	var evs []store.Event
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		evs, err = read(tx, limit+1)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(evs) > limit
	return evs[:min(len(evs), limit)], more, nil
}

// eventBatch bounds the events one transaction positions, fans out or purges.
const eventBatch = 500

// PositionEvents gives positions to committed events that have none (see store/events.go;
// nothing to do on SQLite) and returns how many it positioned. Any number of nodes may run it
// at once: they queue on one row.
func (e *Engine) PositionEvents(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PositionEvents(ctx, eventBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("position events: %w", err)
		}
		if n < eventBatch {
			return total, nil
		}
	}
}

// DefaultEventRetention is how long events are kept in the feed.
const DefaultEventRetention = 7 * 24 * time.Hour

// PurgeEvents deletes events older than retention (those a pending delivery still needs
// excepted) and finished deliveries as old, in small batches, and returns how many events it
// deleted; retention 0 or less purges nothing.
func (e *Engine) PurgeEvents(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	total := 0
	for {
		var n int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PurgeEvents(ctx, tx.Now().Add(-retention), eventBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("purge events: %w", err)
		}
		if n < eventBatch {
			return total, nil
		}
	}
}

// DefaultAbandonAfter is how long an active cart with items sits untouched before
// cart.abandoned reports it.
const DefaultAbandonAfter = time.Hour

// ReportAbandoned records cart.abandoned for every active cart with items untouched for
// after, once per idle period (a cart reported is reported again only after new activity and
// another such idle stretch), and returns how many it reported; after 0 or less reports none.
// Each cart is locked and checked again in a transaction of its own.
func (e *Engine) ReportAbandoned(ctx context.Context, after time.Duration) (int, error) {
	if after <= 0 {
		return 0, nil
	}
	total := 0
	for {
		var nums []int64
		err := e.st.Read(ctx, func(tx store.ReadTx) error {
			var err error
			nums, err = tx.IdleCarts(ctx, tx.Now().Add(-after), cartPurgeBatch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("report abandoned carts: %w", err)
		}
		reported := 0
		for _, num := range nums {
			err := e.observedWrite(ctx, func(tx store.Tx) error {
				c, err := tx.Cart(ctx, num)
				if cart.ErrorCode(err) == cart.NotFound {
					return nil
				}
				if err != nil {
					return err
				}
				now := tx.Now()
				if c.Status != cart.StatusActive || !c.LastActivity.Before(now.Add(-after)) {
					return nil // touched since it was found
				}
				if err := tx.MarkAbandoned(ctx, num, now); err != nil {
					return err
				}
				events(tx).event(EventCartAbandoned, num, c.Version, cartKey(num), abandonedData{
					LastActivity: rfc3339(c.LastActivity), IdleSeconds: int64(now.Sub(c.LastActivity) / time.Second)})
				reported++
				return nil
			})
			if err != nil {
				return total, fmt.Errorf("report abandoned cart %d: %w", num, err)
			}
		}
		total += reported
		if len(nums) < cartPurgeBatch || reported == 0 {
			return total, nil
		}
	}
}

// Webhook limits.
const (
	MaxWebhookURL     = 2048
	MinWebhookSecret  = 16
	MaxWebhookSecret  = 256
	MaxWebhookTypes   = 64
	SecretRotation    = 24 * time.Hour // how long a replaced secret still signs deliveries
	webhookSecretSize = 32
)

// WebhookInput is what PUT /v1/webhooks/{id} gives; nil fields keep what the webhook has (or
// take the default on creation: every type, active, a generated secret).
type WebhookInput struct {
	URL    string
	Secret *string
	Types  []string // nil: keep (every type on creation)
	Active *bool
}

// WebhookResult is a webhook as stored, and the secret when cartd generated it: shown once.
type WebhookResult struct {
	Webhook         store.Webhook
	GeneratedSecret string
	Created         bool
}

// PutWebhook creates or replaces a webhook (scope admin). A secret given is used as it is
// (16 to 256 printable ASCII characters); none on creation generates one, returned once. A
// new secret on an existing webhook starts a rotation: deliveries are signed with both for
// SecretRotation. A new webhook receives the events recorded from its creation on.
func (e *Engine) PutWebhook(ctx context.Context, p auth.Principal, id string, in WebhookInput, opt Options) (WebhookResult, error) {
	if err := require(p, auth.Admin); err != nil {
		return WebhookResult{}, err
	}
	if err := validWebhook(id, in); err != nil {
		return WebhookResult{}, err
	}
	var res WebhookResult
	err := e.write(ctx, opt, func() any { return res }, func(tx store.Tx) error {
		res = WebhookResult{}
		now := tx.Now()
		w, err := tx.Webhook(ctx, id)
		switch {
		case cart.ErrorCode(err) == cart.NotFound:
			res.Created = true
			if w.Cursor, err = tx.LastEventSeq(ctx); err != nil {
				return err
			}
			w = store.Webhook{ID: id, Active: true, Cursor: w.Cursor, CreatedAt: now, Types: []string{}}
			if in.Secret == nil {
				res.GeneratedSecret = newWebhookSecret()
				w.Secret = res.GeneratedSecret
			}
		case err != nil:
			return err
		}
		w = rotationOver(w, now)
		w.URL, w.UpdatedAt = in.URL, now
		if in.Secret != nil && *in.Secret != w.Secret {
			if w.Secret != "" {
				w.PreviousSecret, w.PreviousUntil = w.Secret, now.Add(SecretRotation)
			}
			w.Secret = *in.Secret
		}
		if in.Types != nil {
			w.Types = slices.Clone(in.Types)
		}
		if in.Active != nil {
			w.Active = *in.Active
		}
		if err := tx.PutWebhook(ctx, &w); err != nil {
			return err
		}
		res.Webhook = w
		return nil
	})
	return res, err
}

func newWebhookSecret() string {
	b := make([]byte, webhookSecretSize)
	rand.Read(b) // never fails on supported platforms
	return "whsec_" + hex.EncodeToString(b)
}

func validWebhook(id string, in WebhookInput) error {
	if !idPattern.MatchString(id) {
		return cart.InvalidField("invalid_id", "id", "id must be 1 to 64 letters, digits, '_' or '-'")
	}
	u, err := url.Parse(in.URL)
	if len(in.URL) > MaxWebhookURL || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return cart.InvalidField("invalid_url", "url", "url must be an absolute http or https URL of at most %d characters, without credentials or fragment", MaxWebhookURL)
	}
	if in.Secret != nil {
		s := *in.Secret
		ok := len(s) >= MinWebhookSecret && len(s) <= MaxWebhookSecret
		for i := 0; ok && i < len(s); i++ {
			ok = s[i] >= 0x21 && s[i] <= 0x7e
		}
		if !ok {
			return cart.InvalidField("invalid_secret", "secret", "secret must be %d to %d printable ASCII characters without spaces", MinWebhookSecret, MaxWebhookSecret)
		}
	}
	if len(in.Types) > MaxWebhookTypes {
		return cart.InvalidField("too_many_types", "types", "types holds at most %d patterns", MaxWebhookTypes)
	}
	for i, t := range in.Types {
		if !validPattern(t) {
			return cart.InvalidField("unknown_event_type", fmt.Sprintf("types[%d]", i),
				"%q is not an event type, nor a pattern such as \"cart.*\" matching one (types: %s)", t, strings.Join(EventTypes, ", "))
		}
	}
	return nil
}

// validPattern reports whether a subscription pattern names a type or matches at least one.
func validPattern(p string) bool {
	for _, t := range EventTypes {
		if MatchType(p, t) {
			return true
		}
	}
	return false
}

// MatchType reports whether event type t matches pattern p: the type itself, "*", or a
// prefix ending in ".*" ("cart.*" matches cart.created and cart.item.added).
func MatchType(p, t string) bool {
	switch {
	case p == "*" || p == t:
		return true
	case strings.HasSuffix(p, ".*"):
		return strings.HasPrefix(t, p[:len(p)-1])
	}
	return false
}

// Subscribed reports whether a webhook receives events of type t.
func Subscribed(w store.Webhook, t string) bool {
	if len(w.Types) == 0 {
		return true
	}
	for _, p := range w.Types {
		if MatchType(p, t) {
			return true
		}
	}
	return false
}

// Webhook returns a webhook (scope admin).
func (e *Engine) Webhook(ctx context.Context, p auth.Principal, id string) (store.Webhook, error) {
	if err := require(p, auth.Admin); err != nil {
		return store.Webhook{}, err
	}
	var w store.Webhook
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		w, err = tx.Webhook(ctx, id)
		w = rotationOver(w, tx.Now())
		return err
	})
	return w, err
}

// rotationOver forgets a webhook's previous secret once its rotation ended at now: it signs
// nothing any more, and the webhook shows no rotation under way.
func rotationOver(w store.Webhook, now time.Time) store.Webhook {
	if w.PreviousSecret != "" && !now.Before(w.PreviousUntil) {
		w.PreviousSecret, w.PreviousUntil = "", time.Time{}
	}
	return w
}

// Webhooks lists webhooks in id order after the id startingAfter (scope admin), and whether
// more follow.
func (e *Engine) Webhooks(ctx context.Context, p auth.Principal, startingAfter string, limit int) ([]store.Webhook, bool, error) {
	if err := require(p, auth.Admin); err != nil {
		return nil, false, err
	}
	var ws []store.Webhook
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		ws, err = tx.Webhooks(ctx, startingAfter, limit+1)
		for i := range ws {
			ws[i] = rotationOver(ws[i], tx.Now())
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return ws[:min(len(ws), limit)], len(ws) > limit, nil
}

// DeleteWebhook deletes a webhook and its deliveries (scope admin).
func (e *Engine) DeleteWebhook(ctx context.Context, p auth.Principal, id string, opt Options) error {
	if err := require(p, auth.Admin); err != nil {
		return err
	}
	return e.write(ctx, opt, func() any { return nil }, func(tx store.Tx) error { return tx.DeleteWebhook(ctx, id) })
}

// Deliveries lists a webhook's deliveries of a status ("" any) after event position after
// (scope admin), and whether more follow.
func (e *Engine) Deliveries(ctx context.Context, p auth.Principal, id, status string, after int64, limit int) ([]store.Delivery, bool, error) {
	if err := require(p, auth.Admin); err != nil {
		return nil, false, err
	}
	switch status {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
	default:
		return nil, false, cart.InvalidField("invalid_status", "status", "status must be pending, delivered or failed")
	}
	var ds []store.Delivery
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		if _, err := tx.Webhook(ctx, id); err != nil {
			return err
		}
		var err error
		ds, err = tx.Deliveries(ctx, id, status, after, limit+1)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return ds[:min(len(ds), limit)], len(ds) > limit, nil
}

// RetryDelivery sends a delivery again, whatever its status (scope admin): it becomes
// pending, due now, its attempts counted afresh.
func (e *Engine) RetryDelivery(ctx context.Context, p auth.Principal, id string, seq int64, opt Options) (store.Delivery, error) {
	if err := require(p, auth.Admin); err != nil {
		return store.Delivery{}, err
	}
	var d store.Delivery
	err := e.write(ctx, opt, func() any { return d }, func(tx store.Tx) error {
		if _, err := tx.Webhook(ctx, id); err != nil {
			return err
		}
		err := tx.RetryDelivery(ctx, id, seq, tx.Now())
		if cart.ErrorCode(err) == cart.NotFound {
			err = retryFirstAttempt(ctx, tx, id, seq)
		}
		if err != nil {
			return err
		}
		ds, err := tx.Deliveries(ctx, id, "", seq-1, 1)
		if err != nil {
			return err
		}
		if len(ds) == 0 || ds[0].Seq != seq {
			return cart.Errorf(cart.NotFound, "delivery_not_found", "webhook %q has no delivery of event %d", id, seq)
		}
		d = ds[0]
		return nil
	})
	return d, err
}

// retryFirstAttempt makes a delivery pending, due now, for an event the webhook's stream
// delivered at its first attempt (such deliveries keep no row; see RecordStream): retrying
// sends again whatever the status. NotFound unless the stream passed the event and the
// webhook subscribes to it.
func retryFirstAttempt(ctx context.Context, tx store.Tx, id string, seq int64) error {
	notFound := cart.Errorf(cart.NotFound, "delivery_not_found", "webhook %q has no delivery of event %d", id, seq)
	w, err := tx.LockWebhook(ctx, id)
	if err != nil {
		return err
	}
	if seq < 1 || seq > w.Cursor {
		return notFound
	}
	evs, err := tx.Events(ctx, seq-1, 1)
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].Seq != seq || !Subscribed(w, evs[0].Type) || evs[0].OccurredAt.Before(w.CreatedAt) {
		return notFound
	}
	now := tx.Now()
	return tx.AddDeliveries(ctx, id, []store.Delivery{{Seq: seq, Key: evs[0].Key, NextAttemptAt: now, CreatedAt: now}}, w.Cursor)
}

// FanOut is the way to deliveries without sending: the dispatcher sends each webhook's stream
// first instead (TakeWebhook, RecordStream), and tests use FanOut to have pending deliveries.
// FanOut adds, for every webhook, a pending delivery of each event recorded since its cursor
// that it subscribes to (an inactive webhook skips them), under the webhook's row lock, so
// that of several nodes only one adds each range. It returns how many deliveries it added and
// how many webhooks there are (none: there is nothing to deliver).
func (e *Engine) FanOut(ctx context.Context) (added, webhooks int, err error) {
	ids, err := e.EventsWebhooks(ctx)
	if err != nil {
		return 0, len(ids), fmt.Errorf("fan out: %w", err)
	}
	for _, id := range ids {
		n, err := e.fanOut(ctx, id)
		added += n
		if err != nil {
			return added, len(ids), err
		}
	}
	return added, len(ids), nil
}

func (e *Engine) fanOut(ctx context.Context, id string) (int, error) {
	total := 0
	for {
		var n, seen int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			n, seen = 0, 0
			w, err := tx.LockWebhook(ctx, id)
			if cart.ErrorCode(err) == cart.NotFound {
				return nil // deleted since listed
			}
			if err != nil {
				return err
			}
			evs, err := tx.Events(ctx, w.Cursor, eventBatch)
			if err != nil || len(evs) == 0 {
				return err
			}
			seen = len(evs)
			now := tx.Now()
			var ds []store.Delivery
			for _, ev := range evs {
				if w.Active && Subscribed(w, ev.Type) {
					ds = append(ds, store.Delivery{Seq: ev.Seq, Key: ev.Key, NextAttemptAt: now, CreatedAt: now})
				}
			}
			n = len(ds)
			return tx.AddDeliveries(ctx, id, ds, evs[len(evs)-1].Seq)
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("fan out to webhook %s: %w", id, err)
		}
		if seen < eventBatch {
			return total, nil
		}
	}
}

// Job is a claimed delivery with the webhook it goes to.
type Job struct {
	Delivery store.Delivery
	Webhook  store.Webhook
}

// ClaimDeliveries leases to owner, for lease, at most limit deliveries due now, none of the
// webhooks in skip (see store.EventWriter.ClaimDeliveries: each key's events one at a time,
// in order).
func (e *Engine) ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int, skip []string) ([]Job, error) {
	var jobs []Job
	err := e.st.Write(ctx, func(tx store.Tx) error {
		jobs = jobs[:0]
		now := tx.Now()
		ds, err := tx.ClaimDeliveries(ctx, owner, now, now.Add(lease), limit, skip)
		if err != nil {
			return err
		}
		hooks := map[string]store.Webhook{}
		for _, d := range ds {
			w, ok := hooks[d.WebhookID]
			if !ok {
				if w, err = tx.Webhook(ctx, d.WebhookID); err != nil {
					return err
				}
				hooks[d.WebhookID] = w
			}
			jobs = append(jobs, Job{Delivery: d, Webhook: w})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return jobs, nil
}

// RenewLeases extends owner's leases on the deliveries it is sending by lease from now.
func (e *Engine) RenewLeases(ctx context.Context, owner string, lease time.Duration) error {
	return e.st.Write(ctx, func(tx store.Tx) error {
		_, err := tx.RenewLeases(ctx, owner, tx.Now().Add(lease))
		return err
	})
}

// Attempt is how one attempt to deliver went.
type Attempt struct {
	OK     bool   // the endpoint answered 2xx
	Status int    // the HTTP status; 0 for none (timeout, refused connection)
	Error  string // what went wrong, for the deliveries list
	// RetryIn is when to try again after a failure; RetryFor, how long after the delivery
	// became pending it stops being tried and is marked failed.
	RetryIn, RetryFor time.Duration
}

// Outcome is one attempt of a delivery and how it went.
type Outcome struct {
	Delivery store.Delivery
	Attempt  Attempt
}

// FinishAttempts stores how attempts went, in one transaction and the store's clock, and
// returns the deliveries as stored: delivered, pending again after RetryIn, or failed once
// RetryFor has passed since the delivery became pending.
func (e *Engine) FinishAttempts(ctx context.Context, outs []Outcome) ([]store.Delivery, error) {
	var done []store.Delivery
	err := e.st.Write(ctx, func(tx store.Tx) error {
		done = done[:0]
		now := tx.Now()
		for _, o := range outs {
			d, a := o.Delivery, o.Attempt
			d.Attempts++
			d.LastStatus, d.LastError, d.UpdatedAt = a.Status, a.Error, now
			switch {
			case a.OK:
				d.Status, d.LastError = store.DeliveryDelivered, ""
			case now.Sub(o.Delivery.CreatedAt) >= a.RetryFor:
				d.Status = store.DeliveryFailed
			default:
				d.Status, d.NextAttemptAt = store.DeliveryPending, now.Add(a.RetryIn)
			}
			if err := tx.FinishAttempt(ctx, d); err != nil {
				return err
			}
			done = append(done, d)
		}
		return nil
	})
	return done, err
}

// OldestPending returns the age of the oldest event still pending delivery, 0 when none.
func (e *Engine) OldestPending(ctx context.Context) (time.Duration, error) {
	var age time.Duration
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		at, ok, err := tx.OldestPending(ctx)
		if err != nil {
			return err
		}
		// An event a webhook's stream has not passed yet is undelivered too (it has no
		// delivery until its batch is recorded): the first subscribed one after each cursor.
		after := ""
		for {
			ws, err := tx.Webhooks(ctx, after, 100)
			if err != nil {
				return err
			}
			for _, w := range ws {
				if !w.Active {
					continue
				}
				evs, err := tx.Events(ctx, w.Cursor, 50)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					if Subscribed(w, ev.Type) {
						if !ok || ev.OccurredAt.Before(at) {
							at, ok = ev.OccurredAt, true
						}
						break
					}
				}
			}
			if len(ws) < 100 {
				break
			}
			after = ws[len(ws)-1].ID
		}
		if ok {
			age = max(tx.Now().Sub(at), 0)
		}
		return nil
	})
	return age, err
}

// EventsAfter returns at most limit events after position after, for the node's own
// publishers (no principal: nothing outside the process calls it).
func (e *Engine) EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	var evs []store.Event
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		evs, err = tx.Events(ctx, after, limit)
		return err
	})
	return evs, err
}

// A webhook's stream is the events after its cursor. The node holding its lease (TakeWebhook)
// reads them, sends them first and records how that went afterwards, in one transaction per
// batch (RecordStream): the delivered ones as delivered, the others as pending deliveries
// that the claims (ClaimDeliveries) carry on with. An event that is not sent at once (its
// key has an earlier delivery pending, or an earlier event of its key failed, or the endpoint
// is paused) is recorded pending and due now, behind the earlier one. A node that dies
// before recording leaves the cursor where it was: the next holder sends those events again
// (at least once, same Cartd-Event-Id).

// TakeWebhook leases webhook id's stream to owner for lease, unless another owner holds it;
// it returns the webhook and whether owner holds its stream. NotFound if there is no such
// webhook.
func (e *Engine) TakeWebhook(ctx context.Context, id, owner string, lease time.Duration) (store.Webhook, bool, error) {
	var (
		w  store.Webhook
		ok bool
	)
	err := e.st.Write(ctx, func(tx store.Tx) error {
		var err error
		now := tx.Now()
		w, ok, err = tx.TakeWebhook(ctx, id, owner, now, now.Add(lease))
		w = rotationOver(w, now)
		return err
	})
	return w, ok, err
}

// StreamBatch returns webhook id as stored, at most limit events after its cursor, and
// which of their keys have a delivery to it pending (their events wait behind it).
func (e *Engine) StreamBatch(ctx context.Context, id string, limit int) (store.Webhook, []store.Event, map[string]bool, error) {
	var (
		w       store.Webhook
		evs     []store.Event
		pending map[string]bool
	)
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		var err error
		if w, err = tx.Webhook(ctx, id); err != nil {
			return err
		}
		w = rotationOver(w, tx.Now())
		if evs, err = tx.Events(ctx, w.Cursor, limit); err != nil || len(evs) == 0 {
			return err
		}
		seen := map[string]bool{}
		var keys []string
		for _, ev := range evs {
			if !seen[ev.Key] && Subscribed(w, ev.Type) {
				seen[ev.Key] = true
				keys = append(keys, ev.Key)
			}
		}
		ks, err := tx.PendingKeys(ctx, id, keys)
		pending = make(map[string]bool, len(ks))
		for _, k := range ks {
			pending[k] = true
		}
		return err
	})
	return w, evs, pending, err
}

// EventsWebhooks returns the ids of every webhook, for the node's dispatcher.
func (e *Engine) EventsWebhooks(ctx context.Context) ([]string, error) {
	var ids []string
	after := ""
	for {
		var ws []store.Webhook
		err := e.st.Read(ctx, func(tx store.ReadTx) error {
			var err error
			ws, err = tx.Webhooks(ctx, after, 100)
			return err
		})
		if err != nil {
			return ids, fmt.Errorf("list webhooks: %w", err)
		}
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		if len(ws) < 100 {
			return ids, nil
		}
		after = ws[len(ws)-1].ID
	}
}

// Sent is how the stream's sender dealt with one event: attempted (and how that went), or not
// attempted (it waits, pending and due now).
type Sent struct {
	Event     store.Event
	Attempted bool
	Attempt   Attempt
}

// RecordStream records a batch of a webhook's stream, the events from position from (the
// cursor it was read after) to to: a delivery for each of sent, and the cursor moved to to,
// owner's lease on the stream extended by lease. It returns the deliveries as stored and
// false, recording nothing, if owner no longer holds the stream at from (another node took
// it over and sends those events again).
func (e *Engine) RecordStream(ctx context.Context, id, owner string, from, to int64, lease time.Duration, sent []Sent) ([]store.Delivery, bool, error) {
	var (
		ds []store.Delivery
		ok bool
	)
	err := e.st.Write(ctx, func(tx store.Tx) error {
		now := tx.Now()
		ds = ds[:0]
		for _, s := range sent {
			d := store.Delivery{WebhookID: id, Seq: s.Event.Seq, Key: s.Event.Key, Status: store.DeliveryPending,
				NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, Event: s.Event}
			if a := s.Attempt; s.Attempted {
				d.Attempts, d.LastStatus, d.LastError = 1, a.Status, a.Error
				switch {
				case a.OK:
					d.Status, d.LastError = store.DeliveryDelivered, ""
				case a.RetryFor <= 0:
					d.Status = store.DeliveryFailed
				default:
					d.NextAttemptAt = now.Add(a.RetryIn)
				}
			}
			ds = append(ds, d)
		}
		// An event delivered at its first attempt needs no row: the cursor passing it says so.
		// Only those that wait or failed are stored, for the claims and the failed list.
		var rows []store.Delivery
		for _, d := range ds {
			if d.Status != store.DeliveryDelivered {
				rows = append(rows, d)
			}
		}
		var err error
		ok, err = tx.RecordDeliveries(ctx, id, owner, from, to, rows, now.Add(lease))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("record deliveries of webhook %s: %w", id, err)
	}
	if !ok {
		return nil, false, nil
	}
	return ds, true, nil
}

// ReleaseWebhooks gives up owner's leases on webhooks' streams, for a node that stops: the
// next one takes them at once instead of after the lease.
func (e *Engine) ReleaseWebhooks(ctx context.Context, owner string) error {
	return e.st.Write(ctx, func(tx store.Tx) error { return tx.ReleaseWebhooks(ctx, owner) })
}
