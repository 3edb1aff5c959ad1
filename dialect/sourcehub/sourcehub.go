// Package sourcehub is the SourceHub dialect: SourceHub's cart/update-item call, served by
// cartd's engine, so that an app built against SourceHub works against cartd unchanged.
//
//	POST /api/cart/update-item?quantity=2&customer_id=9&cart_id=79532
//	Authorization: Bearer <API key with carts:write>
//
// It sets the quantity of one line of the customer's cart (engine.UpdateCustomerItem: the
// customer's most recently active cart, ARCHITECTURE.md §Decisions); 0 removes the line; more than the stock
// available is refused and changes nothing. The response is the seed's example shape: the
// cart's counts and amounts and its items, each with its product.
//
// Where the seed is garbled or silent, this package decides, following the seed's example:
//
//   - cart_id is the cart *item* id (the example's cart_id=79532 answers an item with id
//     79532), the item's number: cartd's ci_79532. The parameters are read from the query
//     string only, as the seed sends them; customer_id must be an integer, and names the
//     customer "9" for 9 (ARCHITECTURE.md §Model).
//   - quantity sets the quantity (the seed's "0 removes" only makes sense for a set; its
//     example's request of 2 answering 6 is taken as garbled).
//   - items are the cart's lines that count in its totals, then the lines whose reservation
//     lapsed (they are still in the cart, as the native API lists them among its items; a
//     quantity change reserves again), each in cart order. Lines that cannot be bought any
//     more (product withdrawn, sale ended) are not listed; quantity 0 still removes them.
//   - Amounts are exact JSON numbers written from minor units (money.Number: 1200, 12.5).
//     cart_item_count counts the lines, total_cart_quantity the units, of the totals;
//     cart_total is the subtotal, discount the cart's discount, billable_amount its total
//     (the example's 1200 = 6 × 200 with GST 5% is a shop whose prices include tax).
//   - A SourceHub product is a cartd variant (its sku is "a unique identifier of the
//     product"), shown with its product's number as id, the product's name, image,
//     description and HSN code (tax code), and the variant's weight in grams.
//     price_per_unit is the variant's base unit price and productpricing the pricing set in
//     effect for the line's quantity: the quantity tier reached (buying_qty is its minimum
//     quantity, price its unit price), or the base price from 1 unit. Tiers carry no id in
//     cartd: productpricing.id is the variant's number × 1000 + the tier's position (1 for the
//     first tier, 0 for the base price), unique and stable while the tiers keep their order.
//     (The example's price_per_unit of 10 beside a pricing set of 200 from 1 unit cannot both
//     be cartd prices: there, both are the base price.)
//     maximum_retail_price is the variant's retail price, or the unit price when it has none
//     (as the cart's retail total counts it); gst_percent its tax rate as a percentage.
//     cartd has no measurement types, product volumes or category records: vol is 0,
//     measurementtype is {id: 0, name: ""}, productcategory is {id: 0, name: the product's
//     category, image: ""}.
//   - message is the seed's "Cart item quantity updated", for a removal too.
//
// Errors are the seed's envelope, {"error": {code, description, source, status_code}}, with
// source the URL called. The seed documents 401 AUTHENTICATION_ERROR ("Invalid credential or
// token.") and 422 VALIDATION_ERROR, whose reasons include an incorrect customer id: so an
// unknown customer or item is a 422 ("The selected customer id is invalid.", "The selected
// cart id is invalid."), as are the request's values ("The customer id field is required.",
// "The quantity must be an integer.", ...), checked in the order customer_id, cart_id,
// quantity, and short stock. The rest, which the seed does not document, keep their HTTP
// meaning: 403 AUTHORIZATION_ERROR for a key without carts:write, 404 NOT_FOUND and 405
// METHOD_NOT_ALLOWED for other paths and methods, 429, 503 SERVICE_UNAVAILABLE and 500
// SERVER_ERROR (logged, never detailed).
package sourcehub

import (
	"fmt"
	"github.com/cartd/cartd/internal/strictjson"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/httpx"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/reqinfo"
)

// Prefix is the path under which the dialect's routes lie; cartd sends it every request under
// it.
const Prefix = "/api/cart/"

// Config tunes a Handler.
type Config struct {
	// Guard, when set, rate-limits requests and caps those in flight (internal/limits),
	// answering its refusals in the dialect's error shape.
	Guard  *limits.Guard
	Logger *slog.Logger
}

// Handler serves the SourceHub dialect over an engine.
type Handler struct {
	eng *engine.Engine
	log *slog.Logger
	mux *http.ServeMux
	// guarded is the mux behind Config.Guard.
	guarded http.Handler
	guard   *limits.Guard
}

// New returns the SourceHub dialect's handler.
func New(eng *engine.Engine, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, log: cfg.Logger, mux: http.NewServeMux(), guard: cfg.Guard}
	h.mux.HandleFunc("POST /api/cart/update-item", h.handleUpdateItem)
	h.guarded = cfg.Guard.Wrap(http.HandlerFunc(h.serve), limits.Door{Fail: h.writeError, Credential: limits.Bearer})
	return h
}

// ServeHTTP serves the dialect. Requests no route matches get 404 or 405 in the seed's
// envelope, and a panicking handler answers 500 instead of dropping the connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guarded.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(h.mux, w, r, h.notMatched, h.writeError)
}

// notMatched answers a request no route matches in the envelope.
func (h *Handler) notMatched(w http.ResponseWriter, r *http.Request, status int, _ http.Header) {
	if status == http.StatusMethodNotAllowed {
		writeEnvelope(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
			fmt.Sprintf("The %s method is not supported for this route.", r.Method), h.log)
		return
	}
	writeEnvelope(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("The route %s could not be found.", strings.TrimPrefix(r.URL.Path, "/")), h.log)
}

// handleUpdateItem is cart/update-item: authenticate, validate the query, set the quantity.
func (h *Handler) handleUpdateItem(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := strictjson.Form(r.URL.Query()); err != nil {
		h.writeError(w, r, err)
		return
	}
	req, err := decodeUpdateItem(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v, err := h.eng.UpdateCustomerItem(r.Context(), p, engine.CustomerItemChange{
		CustomerID: req.CustomerID, ItemNum: req.ItemNum, Change: cart.WholeSet(req.Quantity), Policy: cart.Reject,
	}, engine.Options{})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := renderCart(v)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, response{Data: body, Message: "Cart item quantity updated"}, h.log)
}

// authenticate resolves the Bearer credential. Scopes are the engine's to check.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (auth.Principal, error) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return auth.Principal{}, cart.Errorf(cart.Unauthorized, "missing_credentials", "no Bearer credential")
	}
	p, err := h.eng.Authenticate(r.Context(), secret)
	if err == nil {
		reqinfo.SetPrincipal(r.Context(), p)
	} else if cart.ErrorCode(err) == cart.Unauthorized {
		// No valid credential: the request counts against its address, as one without any.
		if lerr := h.guard.LimitUnrecognized(w, r, secret); lerr != nil {
			return p, lerr
		}
	}
	return p, err
}
