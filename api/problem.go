package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/limits"
)

// statusOf maps the engine's error codes to HTTP statuses: the one table of the native API.
var statusOf = map[cart.Code]int{
	cart.Malformed:    http.StatusBadRequest,
	cart.Invalid:      http.StatusUnprocessableEntity,
	cart.NotFound:     http.StatusNotFound,
	cart.Conflict:     http.StatusConflict,
	cart.StockShort:   http.StatusConflict,
	cart.Precondition: http.StatusPreconditionFailed,
	cart.Unauthorized: http.StatusUnauthorized,
	cart.Forbidden:    http.StatusForbidden,
	cart.RateLimited:  http.StatusTooManyRequests,
	cart.TooLarge:     http.StatusRequestEntityTooLarge,
	cart.MediaType:    http.StatusUnsupportedMediaType,
	cart.Unavailable:  http.StatusServiceUnavailable,
	cart.Internal:     http.StatusInternalServerError,
}

// problemTypeBase prefixes a problem's stable code to make its RFC 9457 type URI.
const problemTypeBase = "https://cartd.dev/problems/"

// problem is an RFC 9457 problem document with cartd's extension members.
type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code"`
	Errors    []cart.FieldError `json:"errors,omitempty"`
	Available *json.Number      `json:"available,omitempty"`
	Version   *int64            `json:"version,omitempty"`
	Cart      *cartJSON         `json:"cart,omitempty"`
	Stock     *stockJSON        `json:"stock,omitempty"`
	// With quantity_not_allowed: the rule, the quantity asked for and the allowed quantities
	// nearest to it (absent when there is none on that side).
	QuantityRule  *ruleJSON    `json:"quantity_rule,omitempty"`
	Requested     *json.Number `json:"requested,omitempty"`
	NearestBelow  *json.Number `json:"nearest_below,omitempty"`
	NearestAbove  *json.Number `json:"nearest_above,omitempty"`
	HeldElsewhere *json.Number `json:"held_elsewhere,omitempty"`
}

// writeError answers with err as problem+json. Internal errors are logged in full and shown
// to the client only as a request-independent message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := cart.AsError(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := problem{Type: problemTypeBase + e.Reason, Title: http.StatusText(status), Status: status,
		Detail: e.Message, Code: e.Reason, Errors: e.Fields, Available: optQuantity(e.Available, e.Scale)}
	if status >= 500 {
		if !quiet(e) {
			s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		p.Detail = "the server could not complete the request"
		if e.Code == cart.Unavailable {
			p.Detail = e.Message
		}
	}
	if e.Cart != nil {
		c := s.renderCart(*e.Cart)
		p.Cart = &c
		p.Version = &e.Cart.Cart.Version
		w.Header().Set("ETag", etag(e.Cart.Cart.Version))
	}
	if d := e.Rule; d != nil {
		r := renderRule(&d.Rule, e.Scale)
		p.QuantityRule, p.Requested = &r, optQuantity(&d.Requested, e.Scale)
		p.NearestBelow, p.NearestAbove = optQuantity(d.NearestBelow, e.Scale), optQuantity(d.NearestAbove, e.Scale)
		if d.Held > 0 {
			p.HeldElsewhere = optQuantity(&d.Held, e.Scale)
		}
	}
	if e.Stock != nil {
		st := renderStock(*e.Stock)
		p.Stock = &st
		w.Header().Set("ETag", etag(e.Stock.Version))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cartd"`)
	}
	writeBody(w, status, "application/problem+json", p, s.log)
}

// writeJSON answers with v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json", v, s.log)
}

func writeBody(w http.ResponseWriter, status int, contentType string, v any, log *slog.Logger) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("encode response", "err", err)
		status, contentType = http.StatusInternalServerError, "application/problem+json"
		b = []byte(`{"type":"` + problemTypeBase + `internal","title":"Internal Server Error","status":500,"code":"internal"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// quiet reports an error not worth a log line: a refusal of the node's own choosing (at
// capacity, shutting down), which under load would otherwise log once per request refused.
func quiet(e *cart.Error) bool {
	return e.Code == cart.Unavailable && (e.Reason == limits.Overloaded || e.Reason == "shutting_down")
}
