package store

import (
	"context"
	"encoding/json"
	"time"
)

// The outbox (docs/events.md): every transaction that changes a cart or a SKU's stock appends
// its events in that same transaction, so a change that commits has its events and one that
// rolls back has none. An event gets its position in the feed (Seq) only once it is final:
//
//   - SQLite has one writer, so commit order is append order: Seq is assigned by AppendEvents
//     (AUTOINCREMENT, never reused) and PositionEvents has nothing to do;
//   - PostgreSQL commits concurrent transactions in any order, so a sequence drawn at insert
//     time could become visible after a higher one. Events are appended without a position,
//     and PositionEvents, which any node may run at any time, numbers the committed ones in
//     one transaction holding the single row of event_positions: a position is only ever
//     given to an event that is already committed, and all positions below it were given by
//     earlier (committed) runs or by this one. A reader following Seq never skips one.
//
// Two events of one cart (or one SKU) keep their order: the transactions that append them hold
// the cart's (or the stock's) row lock, so the later one's events are appended after the
// earlier one committed, and positioned after it.

// Event is one entry of the outbox.
type Event struct {
	Seq         int64 // position in the feed; 0 until positioned
	Type        string
	CartNum     int64 // the cart it is about; 0 for none
	CartVersion int64
	// Key orders deliveries: a webhook receives the events of one key in Seq order ("cart_<n>"
	// for a cart's events, "sku_<sku>" for a SKU's).
	Key            string
	OccurredAt     time.Time
	RequestID      string
	IdempotencyKey string
	Data           json.RawMessage
}

// Webhook is an endpoint events are delivered to.
type Webhook struct {
	ID     string // the shop's
	URL    string
	Secret string
	// PreviousSecret is the secret before the last rotation, still signed with until
	// PreviousUntil.
	PreviousSecret string
	PreviousUntil  time.Time
	Types          []string // patterns ("cart.*", "stock.changed"); empty: every type
	Active         bool
	// Cursor is the last Seq examined for this webhook: each matching event up to it was
	// delivered at its first attempt or has a delivery (RecordDeliveries, AddDeliveries).
	Cursor    int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event to send to one webhook, and how that went.
type Delivery struct {
	WebhookID     string
	Seq           int64
	Key           string // the event's Key
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastStatus    int // last HTTP status; 0 for none (timeout, refused)
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Event         Event // filled by ClaimDeliveries and Deliveries
}

// EventReader reads the outbox, webhooks and deliveries.
type EventReader interface {
	// Events returns at most limit positioned events with Seq > after, in Seq order.
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// CartEvents is Events restricted to one cart's events (CartNum): at most limit positioned
	// events of the cart with Seq > after, in Seq order. A cart that never existed has none.
	CartEvents(ctx context.Context, cartNum, after int64, limit int) ([]Event, error)
	// LastEventSeq returns the highest position of the events kept (0 for none): where a new
	// webhook's deliveries start.
	LastEventSeq(ctx context.Context) (int64, error)
	// Webhook returns a webhook; NotFound ("webhook_not_found") if there is none.
	Webhook(ctx context.Context, id string) (Webhook, error)
	// Webhooks returns at most limit webhooks with ID > after, in ID order.
	Webhooks(ctx context.Context, after string, limit int) ([]Webhook, error)
	// Deliveries returns at most limit deliveries of a webhook with the given status ("" for
	// any) and Seq > after, in Seq order, each with its event (zero if purged).
	Deliveries(ctx context.Context, webhookID, status string, after int64, limit int) ([]Delivery, error)
	// PendingKeys returns which of keys have a pending delivery to the webhook: an event of
	// such a key waits behind it.
	PendingKeys(ctx context.Context, webhookID string, keys []string) ([]string, error)
	// OldestPending returns when the oldest event still pending delivery occurred, and false
	// when none is pending.
	OldestPending(ctx context.Context) (time.Time, bool, error)
	// IdleCarts returns at most limit active carts with items whose LastActivity is before the
	// instant and which were not reported abandoned since (MarkAbandoned), in ascending Num.
	IdleCarts(ctx context.Context, before time.Time, limit int) ([]int64, error)
}

// EventWriter writes the outbox, webhooks and deliveries.
type EventWriter interface {
	// AppendEvents adds events to the outbox in order (Seq is the store's to set; see above).
	AppendEvents(ctx context.Context, evs []Event) error
	// PositionEvents gives positions to at most limit committed events without one, in the
	// order they were appended, and returns how many it positioned.
	PositionEvents(ctx context.Context, limit int) (int, error)
	// PurgeEvents deletes at most limit positioned events that occurred before the instant and
	// that no pending delivery needs, never the newest (SQLite gives the next position after
	// it), and the finished deliveries updated before it; it returns how many events it
	// deleted.
	PurgeEvents(ctx context.Context, before time.Time, limit int) (int, error)

	// PutWebhook creates or replaces a webhook by ID; one that exists keeps its Cursor and
	// CreatedAt (written back into w). A new one starts at Cursor as given.
	PutWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook deletes a webhook and its deliveries; NotFound ("webhook_not_found").
	DeleteWebhook(ctx context.Context, id string) error
	// LockWebhook is Webhook, locking its row until commit: fan-out runs under it, so that of
	// two nodes only one adds a range of deliveries.
	LockWebhook(ctx context.Context, id string) (Webhook, error)
	// AddDeliveries records pending deliveries (one that exists is left as it is) and moves
	// the webhook's Cursor to cursor.
	AddDeliveries(ctx context.Context, webhookID string, ds []Delivery, cursor int64) error
	// ClaimDeliveries leases at most limit pending deliveries due at now to owner until the
	// instant: those whose lease is free or lapsed and with no earlier pending delivery of
	// the same webhook and Key (so a key's events go out in order, one at a time), in Seq
	// order, each with its event, leaving out the webhooks in skip. Claims of concurrent
	// transactions never overlap.
	ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int, skip []string) ([]Delivery, error)
	// RenewLeases extends owner's leases on pending deliveries, and on webhooks' streams
	// (TakeWebhook), to the instant; it returns how many deliveries it renewed.
	RenewLeases(ctx context.Context, owner string, until time.Time) (int, error)
	// TakeWebhook leases a webhook's stream (the events after its Cursor) to owner until the
	// instant, if no other owner holds it at now, and returns the webhook and whether owner
	// holds it. Of several nodes, only the holder sends and records the events after the
	// cursor (RecordDeliveries), so that in the normal case each is sent once.
	TakeWebhook(ctx context.Context, id, owner string, now, until time.Time) (Webhook, bool, error)
	// RecordDeliveries stores deliveries as given (status, attempts and times included; one
	// that exists is left as it is), moves the webhook's cursor from from to to and extends
	// owner's lease on its stream until the instant, all only if owner still holds the stream
	// and the cursor is still from; it returns false, writing nothing, otherwise.
	RecordDeliveries(ctx context.Context, webhookID, owner string, from, to int64, ds []Delivery, until time.Time) (bool, error)
	// ReleaseWebhooks gives up owner's leases on webhooks' streams (a node stopping), so that
	// another node, or the same one restarted, takes them at once.
	ReleaseWebhooks(ctx context.Context, owner string) error
	// FinishAttempt stores the outcome of an attempt (Status, Attempts, NextAttemptAt,
	// LastStatus, LastError, UpdatedAt) and frees the lease; a delivery no longer pending is
	// left as it is (another node's attempt finished it first).
	FinishAttempt(ctx context.Context, d Delivery) error
	// RetryDelivery makes a delivery pending again, due at the instant, attempts reset and
	// CreatedAt set to the instant (its retry window starts again);
	// NotFound ("delivery_not_found") if the webhook has no delivery of that event.
	RetryDelivery(ctx context.Context, webhookID string, seq int64, at time.Time) error
	// MarkAbandoned records that a cart was reported abandoned at the instant.
	MarkAbandoned(ctx context.Context, cartNum int64, at time.Time) error
}
