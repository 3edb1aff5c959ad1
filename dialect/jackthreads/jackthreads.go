// Package jackthreads is the JackThreads dialect: the set_qty call of the JackThreads mobile
// API, served by cartd's engine, so that an app built against it works against cartd
// unchanged.
//
//	POST /services/v1/cart/set_qty
//	Content-Type: application/x-www-form-urlencoded
//
//	qty=2&option_id=87744&oauth_token=ct_...
//
// It sets the quantity of one item in the user's cart (engine.UpsertCustomerItem): the
// customer's most recently active cart, opened in the shop's default currency if they have
// none. The item is named by sku or by option_id, the variant's number (both: ARCHITECTURE.md
// §Decisions), and is added if the cart lacks it; qty 0 removes it. More than the stock available is
// capped at it (the clamp policy, docs/dialects.md), nothing available leaving the item out.
// oauth_token is a customer token (POST /v1/customers/{id}/tokens); an API key is not a user
// and is refused like a bad token. Parameters are read from the form body (urlencoded or
// multipart) and the query string, the body first.
//
// The response is the seed's example: {"success": true, "cart": {...}}. Where the seed is
// garbled or disagrees with its example, this package follows the example:
//
//   - sale_id is listed as required but the example omits it: it is accepted (an integer) and
//     may be omitted; an item's sale is its variant's (ARCHITECTURE.md §Decisions);
//   - the cart's promotions are "coupons", an array, as in the example (the field list says
//     "coupon", an object): every code applied to the cart, applying or not, and every
//     automatic promotion that applies, each {id, name, type, method, amount, desc} with id
//     the promotion's number, name its name (its code when it has none), amount what it took
//     off ("0.00" when it does not apply; for freeship the shipping it waived);
//   - an item's delivery estimate is "est_delivery", as in the example (the field list says
//     "ext_delivery"). cartd keeps no delivery estimates: it is null, which the seed defines
//     as "not subject to an extended delivery";
//   - items carry cart_id and product_id, as the example does (the field list omits
//     cart_id): the cart's and the product's numbers. An item's id is its option id, the
//     variant's number, as in the example, where it matches the SKU.
//
// The cart's fields: qty counts the units that count in the totals; expired the units of
// items that cannot be bought as they stand (is_expired: their reservation lapsed, their sale
// ended or has not started, or their variant was withdrawn), which are listed among the items
// but out of the totals; subtotal, tax, shipping, discount, total, retail (the retail value
// of the items, at their list prices where they have one) and saved (retail less what is
// paid for the items) are decimal strings in the cart's currency.
//
// Each item: name is the product's, price the unit price in effect, image the product's,
// brand its brand, color and size the variant's option values of those names (size.code is
// the value too); expires is when its stock reservation lapses ("YYYY-MM-DD HH:MM:SS", UTC,
// as the example writes times; null while it holds none); sale is its variant's sale with
// its window, or null for an item on no sale; is_returnable is the variant's flag. cartd
// keeps brands, colors and sizes as names, without numbers: their ids are stable numbers
// derived from the name (the first 31 bits of its FNV-1a hash; 0 for none), so equal names
// have equal ids, which is what an app compares them for. options lists the product's other
// variants ("option info"), each with sold_out when it is inactive or has no stock
// available.
//
// The seed documents no errors. Refusals answer {"success": false, "code": "...", "message":
// "..."} with the status that says why: 401 for a missing, unknown, expired or revoked
// oauth_token; 400 for a missing or invalid parameter (the code names it: missing_qty,
// invalid_qty, missing_item, ambiguous_item, invalid_option_id, invalid_sale_id, ...) or an
// unknown sku or option_id (unknown_variant) or a quantity above the shop's limit per item
// (quantity_limit); 409 for an item that cannot be bought (a sale not started or ended, a
// withdrawn variant: qty 0 still removes it); 404 and 405 for other paths and methods; 413,
// 415, 429 rate_limited (the oauth_token's rate limit, or the client address's without one;
// with Retry-After), 503; 500 is logged and never detailed. Every response is Cache-Control: no-store.
package jackthreads

import (
	"errors"
	"github.com/cartd/cartd/internal/strictjson"
	"log/slog"
	"mime"
	"net/http"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/httpx"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/reqinfo"
)

// Prefix is the path under which the dialect's routes lie; cartd sends it every request under
// it.
const Prefix = "/services/v1/cart/"

// maxBody bounds a request body: a few short parameters fit many times over.
const maxBody = 64 << 10

// Config tunes a Handler.
type Config struct {
	// Guard, when set, rate-limits requests and caps those in flight (internal/limits),
	// answering its refusals in the dialect's error shape.
	Guard  *limits.Guard
	Logger *slog.Logger
}

// Handler serves the JackThreads dialect over an engine.
type Handler struct {
	eng *engine.Engine
	log *slog.Logger
	mux *http.ServeMux
	// guard and guarded: Config.Guard, and the mux behind it. The rate limit is charged in
	// handleSetQty, once the form (which holds oauth_token) is read.
	guard   *limits.Guard
	guarded http.Handler
}

// New returns the JackThreads dialect's handler.
func New(eng *engine.Engine, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, log: cfg.Logger, mux: http.NewServeMux(), guard: cfg.Guard}
	h.mux.HandleFunc("POST /services/v1/cart/set_qty", h.handleSetQty)
	h.guarded = cfg.Guard.Wrap(http.HandlerFunc(h.serve), limits.Door{Fail: h.writeError})
	return h
}

// ServeHTTP serves the dialect. Requests no route matches get 404 or 405 in the dialect's
// shape, and a panicking handler answers 500 instead of dropping the connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.guarded.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(h.mux, w, r, h.notMatched, h.writeError)
}

// notMatched answers a request no route matches in the dialect's shape.
func (h *Handler) notMatched(w http.ResponseWriter, r *http.Request, status int, _ http.Header) {
	if status == http.StatusMethodNotAllowed {
		writeJSON(w, http.StatusMethodNotAllowed, failure{Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path}, h.log)
		return
	}
	writeJSON(w, http.StatusNotFound, failure{Code: "not_found", Message: "no method at " + r.URL.Path}, h.log)
}

func (h *Handler) handleSetQty(w http.ResponseWriter, r *http.Request) {
	formErr := h.parseForm(w, r)
	// Charged to the user's token, or, without a readable one, to the client's address.
	if err := h.guard.Limit(w, r, r.Form.Get("oauth_token")); err != nil {
		h.writeError(w, r, err)
		return
	}
	if formErr != nil {
		h.writeError(w, r, formErr)
		return
	}
	q, err := decodeSetQty(r.Form)
	if cart.ErrorCode(err) == cart.Unauthorized {
		h.writeError(w, r, err)
		return
	}
	// The user first: a request without a good token learns nothing about its parameters.
	p, authErr := h.eng.Authenticate(r.Context(), q.Token)
	if cart.ErrorCode(authErr) == cart.Unauthorized {
		// No valid token: the request counts against its address, as one without any.
		if err := h.guard.LimitUnrecognized(w, r, q.Token); err != nil {
			authErr = err
		}
	}
	if authErr == nil && !p.IsCustomer() {
		authErr = cart.Errorf(cart.Unauthorized, "invalid_credentials", "oauth_token is not a user token")
	}
	if authErr != nil {
		h.writeError(w, r, authErr)
		return
	}
	reqinfo.SetPrincipal(r.Context(), p)
	if err := strictjson.Form(r.Form); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v, err := h.eng.UpsertCustomerItem(r.Context(), p, engine.CustomerUpsert{
		SKU: q.SKU, VariantNum: q.OptionID, Change: cart.WholeSet(q.Qty), Policy: cart.Clamp}, engine.Options{})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	siblings, err := h.eng.Siblings(r.Context(), p, v)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, response{Success: true, Cart: renderCart(v, siblings)}, h.log)
}

// parseForm reads the form body (urlencoded or multipart) and the query string into r.Form. A
// body without a Content-Type is taken as urlencoded, which is what curl -d sends.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch mt {
	case "multipart/form-data":
		err = r.ParseMultipartForm(maxBody)
	case "", "application/x-www-form-urlencoded":
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		err = r.ParseForm()
	default:
		return cart.Errorf(cart.MediaType, "unsupported_media_type", "send the parameters form-encoded (application/x-www-form-urlencoded)")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return cart.Errorf(cart.TooLarge, "body_too_large", "the request body is over %d bytes", maxBody)
	case err != nil:
		return cart.Errorf(cart.Malformed, "malformed_body", "the request body is not a valid form")
	}
	return nil
}

// failure is the body of a refusal.
type failure struct {
	Success bool   `json:"success"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf maps the engine's error codes to HTTP statuses: the dialect's one table. The seed
// answers parameter errors as a form API does, 400 rather than 422.
var statusOf = map[cart.Code]int{
	cart.Malformed:    http.StatusBadRequest,
	cart.Invalid:      http.StatusBadRequest,
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

// writeError answers with err as a failure. Internal errors are logged in full and never
// detailed; a bad token is one message whatever was wrong with it.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := cart.AsError(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if strictjson.Refused(e) {
		// Well-formed, but not text cartd takes: 422, as every front door answers it.
		status = http.StatusUnprocessableEntity
	}
	f := failure{Code: e.Reason, Message: e.Message}
	switch {
	case status >= 500 && e.Code != cart.Unavailable:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		f = failure{Code: "internal", Message: "the server could not complete the request"}
	case e.Code == cart.Unauthorized && e.Reason != "missing_token":
		f = failure{Code: "invalid_token", Message: "oauth_token is unknown, expired, revoked or not a user token"}
	case e.Reason == "unknown_variant":
		f.Message = "no item has this sku or option_id"
	}
	writeJSON(w, status, f, h.log)
}
