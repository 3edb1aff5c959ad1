package ebay

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/limits"
)

// errorJSON is eBay's ErrorDetailV3: an error, or a warning.
type errorJSON struct {
	ErrorID      int64           `json:"errorId"`
	Domain       string          `json:"domain"`
	Category     string          `json:"category"`
	Message      string          `json:"message"`
	LongMessage  string          `json:"longMessage,omitempty"`
	InputRefIDs  []string        `json:"inputRefIds,omitempty"`
	OutputRefIDs []string        `json:"outputRefIds,omitempty"`
	Parameters   []parameterJSON `json:"parameters,omitempty"`
}

type parameterJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// errorsBody is eBay's error response: errors, and no warnings.
type errorsBody struct {
	Errors []errorJSON `json:"errors"`
}

// Domains and categories of eBay's errors.
const (
	domain      = "API_BROWSE"
	request     = "REQUEST"
	business    = "BUSINESS"
	application = "APPLICATION"
)

// invalidRequest is eBay's common error for a request it cannot read.
var invalidRequest = errorJSON{ErrorID: 2004, Domain: "ACCESS", Category: request, Message: "Invalid request",
	LongMessage: "The request has errors. For help, see the documentation for this API."}

// failure is how an engine error code answers: a status and an error without parameters.
type failure struct {
	status int
	err    errorJSON
}

// errorOf maps the engine's error codes to eBay's errors: the dialect's one table. The request
// is decoded before the engine sees it, so Invalid can only be about the quantity (the limit
// per item), and NotFound only about the item (not in the member's cart).
var errorOf = map[cart.Code]failure{
	cart.Unauthorized: {http.StatusUnauthorized, errorJSON{ErrorID: 1001, Domain: "OAuth", Category: request,
		Message: "Invalid access token", LongMessage: "Invalid access token. Check the value of the Authorization HTTP request header."}},
	cart.Forbidden: {http.StatusForbidden, errorJSON{ErrorID: 10002, Domain: domain, Category: request,
		Message: "Insufficient permissions to fulfill the request."}},
	cart.Malformed: {http.StatusBadRequest, invalidRequest},
	cart.Invalid: {http.StatusBadRequest, errorJSON{ErrorID: 10009, Domain: domain, Category: request,
		Message: "The quantity value is invalid. The quantity must be greater than 0."}},
	cart.NotFound: {http.StatusConflict, errorJSON{ErrorID: 10013, Domain: domain, Category: business,
		Message: "The item is not in your cart."}},
	cart.Conflict: {http.StatusConflict, errorJSON{ErrorID: 10004, Domain: domain, Category: business,
		Message: "The item is not available for purchase. This can be for several reason such as, the listing has ended or the item is out of stock."}},
	cart.StockShort: {http.StatusConflict, errorJSON{ErrorID: 10006, Domain: domain, Category: business,
		Message: "The item is not available in the quantity specified."}},
	cart.Precondition: {http.StatusPreconditionFailed, invalidRequest},
	cart.RateLimited: {http.StatusTooManyRequests, errorJSON{ErrorID: 2001, Domain: "ACCESS", Category: request,
		Message: "Too many requests", LongMessage: "The request limit has been reached for the resource."}},
	cart.TooLarge:  {http.StatusRequestEntityTooLarge, invalidRequest},
	cart.MediaType: {http.StatusUnsupportedMediaType, invalidRequest},
	cart.Unavailable: {http.StatusServiceUnavailable, errorJSON{ErrorID: 10000, Domain: domain, Category: application,
		Message: "There was a problem with an internal system or process. Retry the call."}},
	cart.Internal: {http.StatusInternalServerError, errorJSON{ErrorID: 10000, Domain: domain, Category: application,
		Message: "There was a problem with an internal system or process."}},
}

// writeError answers with an engine error in eBay's shape. Internal errors are logged in full
// and never detailed to the client.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.writeItemError(w, r, err, "")
}

// writeItemError is writeError for a call about one cart item, which the error's parameters
// name.
func (h *Handler) writeItemError(w http.ResponseWriter, r *http.Request, err error, cartItemID string) {
	e := cart.AsError(err)
	f, ok := errorOf[e.Code]
	if !ok {
		f = errorOf[cart.Internal]
	}
	out := f.err
	switch {
	case f.status >= 500:
		if e.Reason != limits.Overloaded {
			h.log.ErrorContext(r.Context(), "request failed", "dialect", "ebay", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		if e.Code == cart.Unavailable {
			out.LongMessage = e.Message
		}
	case e.Code == cart.Unauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cartd"`)
	case out.LongMessage == "":
		out.LongMessage = e.Message
	}
	if cartItemID != "" && f.status < 500 && e.Code != cart.Unauthorized && e.Code != cart.Forbidden {
		out.Parameters = []parameterJSON{{Name: "cartItemId", Value: cartItemID}}
	}
	writeErrors(w, f.status, []errorJSON{out}, h.log)
}

// required is 10007 for a missing field.
func required(field string) errorJSON {
	return errorJSON{ErrorID: 10007, Domain: domain, Category: request,
		Message:     "The field: " + field + " is required. Add the field and resubmit the call.",
		InputRefIDs: []string{field}, Parameters: []parameterJSON{{Name: "field", Value: field}}}
}

// invalidItemID is 10012 for a cartItemId that names no item: raw is the JSON sent, s the
// string it holds (if it is one).
func invalidItemID(raw, s string) errorJSON {
	value := raw
	if s != "" {
		value = s
	}
	if len(value) > 64 { // a value echoed back, not a body
		value = strings.ToValidUTF8(value[:64], "") + "..."
	}
	return errorJSON{ErrorID: 10012, Domain: domain, Category: request,
		Message:     "The value of 'cartItemId' " + value + " is invalid.",
		InputRefIDs: []string{"cartItemId"}, Parameters: []parameterJSON{{Name: "cartItemId", Value: value}}}
}

// invalidQuantity is 10009 for a quantity that is not an integer of at least 1.
func invalidQuantity(raw string) errorJSON {
	if len(raw) > 64 {
		raw = strings.ToValidUTF8(raw[:64], "") + "..."
	}
	return errorJSON{ErrorID: 10009, Domain: domain, Category: request,
		Message:     "The quantity value is invalid. The quantity must be greater than 0.",
		InputRefIDs: []string{"quantity"}, Parameters: []parameterJSON{{Name: "quantity", Value: raw}}}
}

func writeErrors(w http.ResponseWriter, status int, errs []errorJSON, log *slog.Logger) {
	writeJSON(w, status, errorsBody{Errors: errs}, log)
}

func writeJSON(w http.ResponseWriter, status int, v any, log *slog.Logger) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("ebay: encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"errorId":10000,"domain":"API_BROWSE","category":"APPLICATION","message":"There was a problem with an internal system or process."}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
