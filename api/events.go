package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/internal/cartjson"
	"github.com/cartd/cartd/store"
)

// Events out over HTTP (docs/events.md): the feed, webhooks and their deliveries.

// CompletedCart renders the data of cart.checked_out: the checkout's record of the completed
// cart (docs/completed-carts.md), exactly as every later read of the cart through the native
// API shows it (cartjson.Render). The engine calls it (engine.Config.CompletedCart) in the
// checkout's transaction, with the view it stores as the record.
func CompletedCart(v cart.View) (json.RawMessage, error) {
	return json.Marshal(cartjson.Record(v))
}

// list is the shape of every list: {"object":"list","data":[...],"has_more":bool}.
type list[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func newList[T any](data []T, more bool) list[T] {
	if data == nil {
		data = []T{}
	}
	return list[T]{Object: "list", Data: data, HasMore: more}
}

// Limits of list pages (the feed's are engine.DefaultFeedLimit and engine.MaxFeedLimit).
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// queryLimit reads ?limit=, 1 to max, def when absent.
func queryLimit(q url.Values, def, max int) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || n < 1 || n > max || len(s) > 1 {
		return 0, cart.InvalidField("invalid_limit", "limit", "limit must be one integer from 1 to %d", max)
	}
	return n, nil
}

// queryPosition reads a position (?after=) of the feed or of deliveries; 0 when absent.
func queryPosition(q url.Values, name string) (int64, error) {
	s, ok := q[name]
	if !ok {
		return 0, nil
	}
	v := strings.TrimPrefix(s[0], "evt_")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || len(s) > 1 {
		return 0, cart.InvalidField("invalid_after", name, "%s must be one event position (seq), 0 or more", name)
	}
	return n, nil
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	after, err := queryPosition(q, "after")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(q, engine.DefaultFeedLimit, engine.MaxFeedLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var (
		evs  []store.Event
		more bool
	)
	if id, ok := q["cart_id"]; ok {
		num, valid := parseID(id[0], cartPrefix)
		if !valid || len(id) > 1 { // a number below 1 is the engine's to refuse
			s.writeError(w, r, cart.InvalidField("invalid_cart_id", "cart_id", "cart_id must be one cart id, such as cart_42"))
			return
		}
		evs, more, err = s.eng.CartEvents(r.Context(), p, num, after, limit)
	} else {
		evs, more, err = s.eng.Events(r.Context(), p, after, limit)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]events.JSON, 0, len(evs))
	for _, ev := range evs {
		out = append(out, events.Render(ev))
	}
	s.writeJSON(w, http.StatusOK, newList(out, more))
}

type webhookRequest struct {
	URL    *string   `json:"url"`
	Secret *string   `json:"secret"`
	Types  *[]string `json:"types"`
	Active *bool     `json:"active"`
}

// decodeWebhook reads PUT /v1/webhooks/{id}.
func decodeWebhook(body []byte) (engine.WebhookInput, error) {
	var req webhookRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.WebhookInput{}, err
	}
	if req.URL == nil {
		return engine.WebhookInput{}, cart.InvalidField("missing_field", "url", "url is required")
	}
	in := engine.WebhookInput{URL: *req.URL, Secret: req.Secret, Active: req.Active}
	if req.Types != nil {
		in.Types = *req.Types
		if in.Types == nil {
			in.Types = []string{}
		}
	}
	return in, nil
}

type webhookJSON struct {
	ID     string   `json:"id"`
	Object string   `json:"object"`
	URL    string   `json:"url"`
	Types  []string `json:"types"`
	Active bool     `json:"active"`
	// Secret is shown once, in the response that generated it.
	Secret *string `json:"secret,omitempty"`
	// SecretRotationEndsAt is when the secret replaced last stops signing deliveries.
	SecretRotationEndsAt *string `json:"secret_rotation_ends_at"`
	CreatedAt            string  `json:"created_at"`
	UpdatedAt            string  `json:"updated_at"`
}

func renderWebhook(wh store.Webhook) webhookJSON {
	out := webhookJSON{ID: wh.ID, Object: "webhook", URL: wh.URL, Types: wh.Types, Active: wh.Active,
		CreatedAt: timeJSON(wh.CreatedAt), UpdatedAt: timeJSON(wh.UpdatedAt)}
	if out.Types == nil {
		out.Types = []string{}
	}
	if wh.PreviousSecret != "" {
		out.SecretRotationEndsAt = optTime(wh.PreviousUntil)
	}
	return out
}

func (s *Server) handleWebhookPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, in, ok := decodeBody(s, w, r, decodeWebhook)
	if !ok {
		return
	}
	render := func(result any) engine.Response {
		res := result.(engine.WebhookResult)
		out := renderWebhook(res.Webhook)
		if res.GeneratedSecret != "" {
			out.Secret = &res.GeneratedSecret
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return jsonResponse(status, out)
	}
	s.mutate(w, r, p, body, render, func(opt engine.Options) (any, error) {
		return s.eng.PutWebhook(r.Context(), p, r.PathValue("id"), in, opt)
	})
}

func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	wh, err := s.eng.Webhook(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, renderWebhook(wh))
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.mutate(w, r, p, nil, noContent, func(opt engine.Options) (any, error) {
		return nil, s.eng.DeleteWebhook(r.Context(), p, r.PathValue("id"), opt)
	})
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	limit, err := queryLimit(q, defaultListLimit, maxListLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := q.Get("starting_after")
	ws, more, err := s.eng.Webhooks(r.Context(), p, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, 0, len(ws))
	for _, wh := range ws {
		out = append(out, renderWebhook(wh))
	}
	s.writeJSON(w, http.StatusOK, newList(out, more))
}

type deliveryJSON struct {
	Object        string       `json:"object"`
	WebhookID     string       `json:"webhook_id"`
	EventID       string       `json:"event_id"`
	Seq           int64        `json:"seq"`
	Status        string       `json:"status"`
	Attempts      int          `json:"attempts"`
	NextAttemptAt *string      `json:"next_attempt_at"`
	LastStatus    *int         `json:"last_status"`
	LastError     *string      `json:"last_error"`
	CreatedAt     string       `json:"created_at"`
	UpdatedAt     string       `json:"updated_at"`
	Event         *events.JSON `json:"event"`
}

func renderDelivery(d store.Delivery) deliveryJSON {
	out := deliveryJSON{Object: "delivery", WebhookID: d.WebhookID, EventID: events.ID(d.Seq), Seq: d.Seq, Status: d.Status,
		Attempts: d.Attempts, CreatedAt: timeJSON(d.CreatedAt), UpdatedAt: timeJSON(d.UpdatedAt)}
	if d.Status == store.DeliveryPending {
		out.NextAttemptAt = optTime(d.NextAttemptAt)
	}
	if d.LastStatus != 0 {
		out.LastStatus = &d.LastStatus
	}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	if d.Event.Type != "" {
		ev := events.Render(d.Event)
		out.Event = &ev
	}
	return out
}

func (s *Server) handleDeliveryList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	limit, err := queryLimit(q, defaultListLimit, maxListLimit)
	if err == nil {
		var after int64
		if after, err = queryPosition(q, "after"); err == nil {
			var ds []store.Delivery
			var more bool
			if ds, more, err = s.eng.Deliveries(r.Context(), p, r.PathValue("id"), q.Get("status"), after, limit); err == nil {
				out := make([]deliveryJSON, 0, len(ds))
				for _, d := range ds {
					out = append(out, renderDelivery(d))
				}
				s.writeJSON(w, http.StatusOK, newList(out, more))
				return
			}
		}
	}
	s.writeError(w, r, err)
}

func (s *Server) handleDeliveryRetry(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	seq, ok := parseID(r.PathValue("event_id"), "evt_")
	if !ok {
		s.writeError(w, r, cart.Errorf(cart.NotFound, "delivery_not_found", "no event %q", r.PathValue("event_id")))
		return
	}
	render := func(result any) engine.Response {
		return jsonResponse(http.StatusOK, renderDelivery(result.(store.Delivery)))
	}
	s.mutate(w, r, p, nil, render, func(opt engine.Options) (any, error) {
		return s.eng.RetryDelivery(r.Context(), p, r.PathValue("id"), seq, opt)
	})
}
