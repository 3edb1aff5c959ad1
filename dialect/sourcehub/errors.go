package sourcehub

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/limits"
)

// kind is how the seed's envelope names an error, and its status.
type kind struct {
	status int
	code   string
}

// errorOf maps the engine's error codes to the seed's envelope: the dialect's one table. The
// seed documents 401 and 422, and lists an incorrect customer id among the 422's causes, so
// every value the request got wrong, unknown ids and short stock included, is a 422.
var errorOf = map[cart.Code]kind{
	cart.Unauthorized: {http.StatusUnauthorized, "AUTHENTICATION_ERROR"},
	cart.Forbidden:    {http.StatusForbidden, "AUTHORIZATION_ERROR"},
	cart.Malformed:    {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	cart.Invalid:      {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	cart.NotFound:     {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	cart.StockShort:   {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	cart.Conflict:     {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	cart.Precondition: {http.StatusPreconditionFailed, "PRECONDITION_FAILED"},
	cart.RateLimited:  {http.StatusTooManyRequests, "RATE_LIMIT_ERROR"},
	cart.TooLarge:     {http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
	cart.MediaType:    {http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	cart.Unavailable:  {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"},
	cart.Internal:     {http.StatusInternalServerError, "SERVER_ERROR"},
}

// description is the seed's wording of an error: its own sentences for credentials and
// unknown ids, the engine's message as a sentence otherwise.
func description(e *cart.Error) string {
	switch {
	case e.Code == cart.Unauthorized:
		return "Invalid credential or token."
	case e.Reason == "cart_not_found":
		return "The selected customer id is invalid."
	case e.Reason == "item_not_found":
		return "The selected cart id is invalid."
	case e.Code == cart.StockShort && e.Available != nil:
		return "The quantity is not available: only " + strconv.FormatInt(*e.Available, 10) + " in stock."
	case e.Code == cart.Internal:
		return "Something went wrong."
	}
	return sentence(e.Message)
}

// sentence capitalises a message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// envelope is the seed's error body.
type envelope struct {
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	Source      string `json:"source"`
	StatusCode  int    `json:"status_code"`
}

// writeError answers with err in the seed's envelope. Internal errors are logged in full and
// never detailed to the client.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := cart.AsError(err)
	k, ok := errorOf[e.Code]
	if !ok {
		k = errorOf[cart.Internal]
	}
	if k.status >= 500 && e.Reason != limits.Overloaded {
		h.log.ErrorContext(r.Context(), "request failed", "dialect", "sourcehub", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if k.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cartd"`)
	}
	writeEnvelope(w, r, k.status, k.code, description(e), h.log)
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, code, desc string, log *slog.Logger) {
	writeJSON(w, status, envelope{Error: envelopeError{Code: code, Description: desc, Source: source(r), StatusCode: status}}, log)
}

// source is the URL the client called, without its query: the seed's "source".
func source(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

func writeJSON(w http.ResponseWriter, status int, v any, log *slog.Logger) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("sourcehub: encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"SERVER_ERROR","description":"Something went wrong.","source":"","status_code":500}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
