// Package storefront is the storefront session dialect: the session cart API of the seed
// "A storefront session cart (/api/v1/cart/items/)", served by cartd's engine, so that a
// storefront built against it works against cartd unchanged.
//
//	GET    /api/v1/cart/         the cart
//	POST   /api/v1/cart/         add {"item_key": "prod12_TEE-RED-M_dflt", "quantity": 2}
//	DELETE /api/v1/cart/         empty the cart
//	PUT    /api/v1/cart/items/   change a quantity by {"item_key", "quantity": +n or -n}
//	DELETE /api/v1/cart/items/   remove {"item_key"}
//
// A sessionid cookie names the shopper's guest cart (engine.UpdateSession and its siblings).
// The first add of a request without a live session starts one, in the same transaction as
// the add, and the response sets the cookie: HttpOnly, SameSite=Lax, Path=/, Max-Age the
// session's two weeks (engine.SessionTTL), and Secure when the request came over TLS
// (directly, or through a proxy saying X-Forwarded-Proto: https). Reading or emptying a cart
// without a session answers an empty cart and stores nothing; changing an item of it answers
// that the item is not in the cart. A session whose cart was checked out, or given to a
// customer when the shopper signed in, reaches nothing any more: the next add starts a new
// one. SameSite=Lax keeps other sites from sending the cookie with their forms' POST, PUT or
// DELETE, which is this API's defence against cross-site request forgery (there is no CSRF
// token).
//
// The item_key is prod{product_id}_{sku}_dflt, case-sensitive, where product_id is cartd's
// number for the product (ARCHITECTURE.md §Decisions: the number the native API shows as a product's
// "number") and sku the variant's SKU; a key whose SKU is not a variant of that product names
// nothing. Bodies are JSON objects or forms, as Django REST framework's default parsers take
// them; quantity is a whole number, or a string of one.
//
// The quantity rules (docs/dialects.md, ARCHITECTURE.md §Decisions):
//
//   - POST adds quantity (1 or more) to the item, creating it if the cart lacks it; more than
//     the stock available (counting what the cart already holds) changes nothing and answers
//     the seed's 400 {"quantity": ["Requested quantity: (10) exceeds available stock: (5) for
//     this variant"]}, the quantity being the line's total after the add;
//   - PUT is additive: quantity is a non-zero delta (0 is a 400 quantity error). A result
//     above the stock available is capped at it ("Quantity limited to available stock:
//     (5)"); a result of 0 or less, or a cap at nothing available, removes the item ("Item
//     removed from cart"); otherwise "Quantity updated";
//   - lines that can no longer be bought (variant inactive or deleted, product deleted, sale
//     not started or ended, no price in the cart's currency) are removed whenever the cart is
//     read or changed, and the removal is stored. The read and the POST list them in
//     removed_items. A PUT or POST naming such a line answers the seed's 400 {"item_key":
//     ["Product is no longer availabe"]} (its spelling; "Product variant no longer exists"
//     when the variant or its product was deleted), and the removal stands: the one
//     documented exception to "a refused call changes nothing" (ARCHITECTURE.md §Invariants 4). A DELETE naming
//     one answers that the item has been removed, which it has.
//
// The seed documents two bodies, both kept to the letter: PUT and DELETE of an item answer
// {"success": true, "message": "..."}, and an item not in the cart answers 404 {"success":
// false, "message": "This item is not in your cart"} (the seed shows it for DELETE; PUT
// answers it too, keeping "Invalid cart item key" for keys that are not item keys). The seed
// shows no bodies for the view, the add and the clear; they answer in the same style, with
// the cart:
//
//	{"success": true, "message": "Item added to cart",
//	 "cart": {"id": 17, "currency": "USD",
//	          "items": [{"item_key": "prod2_TEE-RED-M_dflt", "product_id": 2, "sku": "TEE-RED-M",
//	                     "name": "Classic T-Shirt", "variant": "Red - M",
//	                     "image": "https://...", "quantity": 2, "unit_price": "24.99",
//	                     "total_price": "49.98", "discount": "0.00", "available_stock": 198,
//	                     "expired": false}],
//	          "item_count": 2, "subtotal": "49.98", "discount": "0.00", "tax": "2.50",
//	          "shipping": "5.99", "total": "58.47", "prices_include_tax": false,
//	          "vouchers": [{"code": "SAVE10", "name": "...", "discount": "5.00", "applied": true, "message": ""}],
//	          "offers": []},
//	 "removed_items": [{"item_key": "...", "product_id": 3, "sku": "...", "name": "...",
//	                    "quantity": 1, "message": "Product is no longer availabe"}]}
//
// The view's message is "Cart retrieved", the add's "Item added to cart" ("Quantity updated"
// when the cart held the item already), the clear's "Cart cleared". id is the cart's number
// (the native API's cart_<id>), null while the request has no session. Money is decimal
// strings in the cart's currency (ARCHITECTURE.md §Model: integers inside, rendered exactly). items lists
// every line in cart order, those whose stock reservation lapsed too (expired: true; they are
// out of the totals until their quantity is changed, which reserves again); item_count
// counts the units of the lines in the totals. vouchers are the codes applied to the cart
// (applied or not, with why not), offers the automatic promotions that apply: the seed's
// "voucher discount amounts" and "offer eligibility and status".
//
// Errors are the seed's field-keyed 400s ({"item_key": [...]}, {"quantity": [...]}, several
// fields at once when several are wrong) and the 404 above; what the seed leaves to its
// framework answers as Django REST framework does: {"detail": "..."} with 400 for a body
// that does not parse, 404, 405 (with Allow), 413, 415, 429 (the session's rate limit, or
// the client address's without a session; with Retry-After), 503, and 500 (logged, never
// detailed). Every response is Cache-Control: no-store.
package storefront

import (
	"errors"
	"fmt"
	"github.com/cartd/cartd/internal/strictjson"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/httpx"
	"github.com/cartd/cartd/internal/limits"
)

// Prefix is the path under which the dialect's routes lie; cartd sends it every request under
// it.
const Prefix = "/api/v1/cart/"

// CookieName is the session cookie's name.
const CookieName = "sessionid"

// maxBody bounds a request body: an item key and a quantity fit many times over.
const maxBody = 64 << 10

// Config tunes a Handler.
type Config struct {
	// Guard, when set, rate-limits requests and caps those in flight (internal/limits),
	// answering its refusals in the dialect's error shape.
	Guard  *limits.Guard
	Logger *slog.Logger
}

// Handler serves the storefront dialect over an engine.
type Handler struct {
	eng *engine.Engine
	log *slog.Logger
	mux *http.ServeMux
	// guard and guarded: Config.Guard, and the mux behind it. The guard also names the client
	// address a new session records and limits the sessions an address starts.
	guard   *limits.Guard
	guarded http.Handler
}

// New returns the storefront dialect's handler.
func New(eng *engine.Engine, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, log: cfg.Logger, mux: http.NewServeMux(), guard: cfg.Guard}
	h.mux.HandleFunc("GET /api/v1/cart/{$}", h.handleView)
	h.mux.HandleFunc("POST /api/v1/cart/{$}", h.handleAdd)
	h.mux.HandleFunc("DELETE /api/v1/cart/{$}", h.handleClear)
	h.mux.HandleFunc("PUT /api/v1/cart/items/{$}", h.handleUpdate)
	h.mux.HandleFunc("DELETE /api/v1/cart/items/{$}", h.handleRemove)
	fail := func(w http.ResponseWriter, r *http.Request, err error) { h.writeError(w, r, err, 0) }
	h.guarded = cfg.Guard.Wrap(http.HandlerFunc(h.serve), limits.Door{Fail: fail, Credential: limits.Cookie(CookieName)})
	return h
}

// ServeHTTP serves the dialect. Requests no route matches get 404 or 405 in REST framework's
// shape, and a panicking handler answers 500 instead of dropping the connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.guarded.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(h.mux, w, r, h.notMatched, func(w http.ResponseWriter, r *http.Request, err error) {
		h.writeError(w, r, err, 0)
	})
}

// notMatched answers a request no route matches in REST framework's shape.
func (h *Handler) notMatched(w http.ResponseWriter, r *http.Request, status int, _ http.Header) {
	if status == http.StatusMethodNotAllowed {
		writeJSON(w, http.StatusMethodNotAllowed, detail(fmt.Sprintf("Method %q not allowed.", r.Method)), h.log)
		return
	}
	writeJSON(w, http.StatusNotFound, detail("Not found."), h.log)
}

// sessionSecret is the request's session cookie, "" without one.
func sessionSecret(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// setSession gives the shopper the cookie of a session the call started.
func setSession(w http.ResponseWriter, r *http.Request, res engine.SessionResult) {
	if res.Secret == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: res.Secret, Path: "/",
		Expires: res.ExpiresAt, MaxAge: int(engine.SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	})
}

// read reads and decodes a request body, answering the request itself (and returning false)
// when it cannot.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (request, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.writeError(w, r, cart.Errorf(cart.TooLarge, "body_too_large", "Request body exceeds %d bytes.", maxBody), 0)
		return request{}, false
	case err != nil:
		h.writeError(w, r, cart.Errorf(cart.Malformed, "malformed_body", "The request body could not be read."), 0)
		return request{}, false
	}
	req, why, ok := decodeBody(r.Header.Get("Content-Type"), body)
	switch {
	case !ok && why == "":
		h.writeError(w, r, cart.Errorf(cart.MediaType, "unsupported_media_type", "Unsupported media type %q in request.", r.Header.Get("Content-Type")), 0)
		return request{}, false
	case !ok:
		h.writeError(w, r, cart.Errorf(cart.Malformed, "malformed_body", "%s", why), 0)
		return request{}, false
	case req.refused != nil:
		h.writeError(w, r, req.refused, 0)
		return request{}, false
	}
	return req, true
}

func (h *Handler) handleView(w http.ResponseWriter, r *http.Request) {
	res, err := h.eng.SessionCart(r.Context(), sessionSecret(r))
	if err == nil {
		err = h.unrecognized(w, r, res)
	}
	if err != nil {
		h.writeError(w, r, err, 0)
		return
	}
	h.writeCart(w, http.StatusOK, "Cart retrieved", res)
}

func (h *Handler) handleClear(w http.ResponseWriter, r *http.Request) {
	res, err := h.eng.ClearSession(r.Context(), sessionSecret(r))
	if err == nil {
		err = h.unrecognized(w, r, res)
	}
	if err != nil {
		h.writeError(w, r, err, 0)
		return
	}
	h.writeCart(w, http.StatusOK, "Cart cleared", res)
}

func (h *Handler) handleAdd(w http.ResponseWriter, r *http.Request) {
	req, ok := h.read(w, r)
	if !ok {
		return
	}
	k, keyOK := req.key()
	n, qtyOK := req.delta(atLeastOne)
	if !keyOK || !qtyOK {
		writeJSON(w, http.StatusBadRequest, req.errs, h.log)
		return
	}
	res, err := h.eng.UpdateSession(r.Context(), sessionSecret(r), engine.SessionChange{
		ProductNum: k.ProductNum, SKU: k.SKU, Change: cart.WholeDelta(n), Policy: cart.Reject, Add: true,
		ClientAddr: h.guard.ClientAddr(r), Admit: func() error { return h.admitSession(w, r) }})
	if err != nil {
		h.writeError(w, r, err, requested(err, k, n))
		return
	}
	setSession(w, r, res)
	if res.Gone != nil {
		writeJSON(w, http.StatusBadRequest, goneErrors(*res.Gone), h.log)
		return
	}
	msg := "Item added to cart"
	if len(res.Change) > 0 && res.Change[0].Code == "quantity_updated" {
		msg = "Quantity updated"
	}
	h.writeCart(w, http.StatusOK, msg, res)
}

func (h *Handler) handleUpdate(w http.ResponseWriter, r *http.Request) {
	req, ok := h.read(w, r)
	if !ok {
		return
	}
	k, keyOK := req.key()
	n, qtyOK := req.delta(nonZero)
	if !keyOK || !qtyOK {
		writeJSON(w, http.StatusBadRequest, req.errs, h.log)
		return
	}
	res, err := h.eng.UpdateSession(r.Context(), sessionSecret(r), engine.SessionChange{
		ProductNum: k.ProductNum, SKU: k.SKU, Change: cart.WholeDelta(n), Policy: cart.Clamp})
	if lerr := h.unrecognized(w, r, res); lerr != nil {
		err = lerr
	}
	if err != nil {
		h.writeError(w, r, err, 0)
		return
	}
	if res.Gone != nil {
		writeJSON(w, http.StatusBadRequest, goneErrors(*res.Gone), h.log)
		return
	}
	msg := "Quantity updated"
	for _, m := range res.Change {
		switch m.Code {
		case "quantity_clamped":
			msg = fmt.Sprintf("Quantity limited to available stock: (%d)", *m.Applied)
		case "item_removed", "out_of_stock":
			msg = "Item removed from cart"
		}
	}
	writeJSON(w, http.StatusOK, status{Success: true, Message: msg}, h.log)
}

// handleRemove removes an item. The item_key may also come in the query string, for clients
// that cannot send a body with DELETE.
func (h *Handler) handleRemove(w http.ResponseWriter, r *http.Request) {
	req, ok := h.read(w, r)
	if !ok {
		return
	}
	if req.itemKey == nil && r.URL.Query().Has("item_key") {
		q := r.URL.Query().Get("item_key")
		req.itemKey = &q
	}
	k, keyOK := req.key()
	if !keyOK {
		writeJSON(w, http.StatusBadRequest, req.errs, h.log)
		return
	}
	res, err := h.eng.UpdateSession(r.Context(), sessionSecret(r), engine.SessionChange{
		ProductNum: k.ProductNum, SKU: k.SKU, Change: cart.SetTo(0), Policy: cart.Reject})
	if lerr := h.unrecognized(w, r, res); lerr != nil {
		err = lerr
	}
	if err != nil {
		h.writeError(w, r, err, 0)
		return
	}
	// Removed as asked, or as unavailable (SessionResult.Gone) just before: gone either way.
	writeJSON(w, http.StatusOK, status{Success: true, Message: "Item has been removed from cart"}, h.log)
}

// admitSession is asked before an add starts a new session. A request whose cookie names no
// live session (made up, or expired) is charged to its client address now (unrecognized);
// then the start of a session is charged to the address's bucket of new sessions.
func (h *Handler) admitSession(w http.ResponseWriter, r *http.Request) error {
	if err := h.guard.LimitUnrecognized(w, r, sessionSecret(r)); err != nil {
		return err
	}
	return h.guard.LimitSession(w, r)
}

// unrecognized charges a request whose cookie named no live session (SessionResult.NoSession)
// to its client address, as a request without a cookie: the guard charged a cookie shaped like
// a session's secret to a bucket of its own before the store could tell whether cartd ever
// issued it, and making up cookies must buy no more requests than sending none. Requests of
// a live session are charged to their session's bucket alone.
func (h *Handler) unrecognized(w http.ResponseWriter, r *http.Request, res engine.SessionResult) error {
	if !res.NoSession {
		return nil
	}
	return h.guard.LimitUnrecognized(w, r, sessionSecret(r))
}

// requested is, for an add refused for want of stock, the quantity the line would have had:
// what the cart held (the error carries the cart as it was) plus the add.
func requested(err error, k itemKey, n int64) int64 {
	var ce *cart.Error
	if !errors.As(err, &ce) || ce.Cart == nil {
		return n
	}
	for _, lines := range [][]cart.LineView{ce.Cart.Lines, ce.Cart.ExpiredLines} {
		for _, l := range lines {
			if l.Product.Num == k.ProductNum && l.Variant.SKU == k.SKU {
				return l.Item.Quantity + n
			}
		}
	}
	return n
}

// goneErrors is the 400 of a change naming a line that was removed as unavailable.
func goneErrors(l cart.LineView) fieldErrors {
	return fieldErrors{"item_key": {unavailableMessage(l.UnavailableReason)}}
}

// unavailableMessage is the seed's message for a line that can no longer be bought: its
// variant (or product) deleted, or unavailable for any other reason.
func unavailableMessage(reason string) string {
	if reason == cart.UnavailableDeleted {
		return msgVariantGone
	}
	return msgUnavailable
}

// status is the seed's outcome body.
type status struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

type detailJSON struct {
	Detail string `json:"detail"`
}

func detail(msg string) detailJSON { return detailJSON{Detail: msg} }

// answer is an error's status and body.
type answer struct {
	status int
	body   any
}

// field answers a 400 naming one field with the seed's message.
func field(name, msg string) func(*cart.Error, int64) answer {
	return func(*cart.Error, int64) answer {
		return answer{http.StatusBadRequest, fieldErrors{name: {msg}}}
	}
}

// ownMessage answers a 400 naming one field with the engine's message.
func ownMessage(name string) func(*cart.Error, int64) answer {
	return func(e *cart.Error, _ int64) answer {
		return answer{http.StatusBadRequest, fieldErrors{name: {sentence(e.Message)}}}
	}
}

// byReason is the first half of the dialect's one error table: the engine's reasons that the
// seed gives a shape of its own.
var byReason = map[string]func(e *cart.Error, requested int64) answer{
	"item_not_found": func(*cart.Error, int64) answer {
		return answer{http.StatusNotFound, status{Success: false, Message: msgNotInCart}}
	},
	"insufficient_stock": func(e *cart.Error, requested int64) answer {
		var available int64
		if e.Available != nil {
			available = *e.Available
		}
		return answer{http.StatusBadRequest, fieldErrors{"quantity": {
			fmt.Sprintf("Requested quantity: (%d) exceeds available stock: (%d) for this variant", requested, available)}}}
	},
	"invalid_item":          field("item_key", msgInvalidKey),
	"item_key_mismatch":     field("item_key", msgInvalidKey),
	"unknown_variant":       field("item_key", msgVariantGone),
	"variant_unavailable":   field("item_key", msgUnavailable),
	"currency_unavailable":  field("item_key", msgUnavailable),
	"sale_not_started":      field("item_key", msgUnavailable),
	"sale_ended":            field("item_key", msgUnavailable),
	"item_unavailable":      field("item_key", msgUnavailable),
	"invalid_quantity":      ownMessage("quantity"),
	"quantity_limit":        ownMessage("quantity"),
	"guest_quantity_limit":  ownMessage("quantity"),
	"quantity_out_of_range": ownMessage("quantity"),
	cart.ReasonMeasured:     ownMessage("quantity"),
	"too_many_units":        ownMessage("quantity"),
	"too_many_lines":        ownMessage("non_field_errors"),
}

// byCode is the second half: every other error, by code, as REST framework answers.
var byCode = map[cart.Code]int{
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

// writeError answers with err in the dialect's shapes. requested is, for a refused add, the
// quantity asked for. Internal errors are logged in full and never detailed.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, requested int64) {
	e := cart.AsError(err)
	if strictjson.Refused(e) {
		// Well-formed, but not text cartd takes: 422, as every front door answers it.
		errs := fieldErrors{}
		for _, f := range e.Fields {
			errs.add(f.Field, sentence(f.Message))
		}
		writeJSON(w, http.StatusUnprocessableEntity, errs, h.log)
		return
	}
	if shape, ok := byReason[e.Reason]; ok && e.Code != cart.Internal {
		a := shape(e, requested)
		writeJSON(w, a.status, a.body, h.log)
		return
	}
	code, ok := byCode[e.Code]
	if !ok {
		code = http.StatusInternalServerError
	}
	switch {
	case code >= 500 && e.Code != cart.Unavailable:
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, code, detail("A server error occurred."), h.log)
	case e.Code == cart.Invalid && len(e.Fields) > 0:
		errs := fieldErrors{}
		for _, f := range e.Fields {
			errs.add(f.Field, sentence(f.Message))
		}
		writeJSON(w, code, errs, h.log)
	default:
		writeJSON(w, code, detail(sentence(e.Message)), h.log)
	}
}

// sentence capitalizes an engine message and ends it with a full stop, as REST framework
// writes its messages.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
