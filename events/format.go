// Package events carries cartd's events out of the outbox (docs/events.md): the one JSON form
// of an event that the feed, webhooks and NATS all send, the webhook signature, and the loop
// that delivers to webhooks. The engine records the events and keeps the books of deliveries;
// this package does the network work and decides when to try again.
package events

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

// JSON is an event as every way out shows it.
type JSON struct {
	ID             string          `json:"id"`
	Object         string          `json:"object"`
	Seq            int64           `json:"seq"`
	Type           string          `json:"type"`
	CartID         string          `json:"cart_id,omitempty"`
	CartVersion    int64           `json:"cart_version,omitempty"`
	OccurredAt     string          `json:"occurred_at"`
	RequestID      string          `json:"request_id,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Data           json.RawMessage `json:"data"`
}

// ID names an event: evt_ and its position in the feed. It is the webhook's Cartd-Event-Id
// and the NATS Nats-Msg-Id, so that duplicates of one event are recognised.
func ID(seq int64) string { return "evt_" + strconv.FormatInt(seq, 10) }

// Render returns an event's JSON form.
func Render(ev store.Event) JSON {
	out := JSON{ID: ID(ev.Seq), Object: "event", Seq: ev.Seq, Type: ev.Type,
		OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano), RequestID: ev.RequestID,
		IdempotencyKey: ev.IdempotencyKey, Data: ev.Data}
	if ev.CartNum != 0 {
		out.CartID, out.CartVersion = engine.CartID(ev.CartNum), ev.CartVersion
	}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("null")
	}
	return out
}

// Body is an event encoded as a delivery's body.
func Body(ev store.Event) []byte {
	b, err := json.Marshal(Render(ev))
	if err != nil {
		panic("events: encode event: " + err.Error()) // data is JSON the engine wrote
	}
	return b
}
