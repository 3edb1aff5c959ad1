// Package ebay is the eBay dialect: the Browse API's shopping_cart/update_quantity, served by
// cartd's engine, so that an app built against eBay's cart works against cartd unchanged.
//
//	POST /buy/browse/v1/shopping_cart/update_quantity
//	Authorization: Bearer <customer token>
//	X-EBAY-C-MARKETPLACE-ID: EBAY_US
//	Content-Type: application/json
//
//	{"cartItemId": "ci_79532", "quantity": 6}
//
// It sets the quantity of one line of the member's cart, the customer's cart of the token
// (engine.UpdateCustomerItem: their most recently active cart, ARCHITECTURE.md §Decisions). A quantity above
// the available stock is lowered to it with warning 10006; with nothing available at all the
// line is kept as it was, among the unavailable items, with warning 10004 ("a cart never
// expires"). The response is a RemoteShopcartResponse: every item of the cart.
//
// Where the seed is silent, this package decides:
//
//   - cartItemId is cartd's item id (ci_79532; eBay's ids are strings). itemId is
//     v1|<product number>|<variant number>, the RESTful form with the variant as the
//     variation. title is the product's name; image.imageUrl its image; itemWebUrl
//     <public URL>/item/<product id>?variant=<variant id>, and cartWebUrl
//     <public URL>/cart/<cart id> (cartd's --public-url).
//   - price is the unit price at the quantity tier in effect, cartItemSubtotal price ×
//     quantity, cartSubtotal their sum over cartItems: before discounts, tax and shipping, as
//     the seed defines them. Amounts are eBay's decimal strings in the currency's digits
//     ("80.99", "500" JPY), with the cart's currency.
//   - cartItems are the lines that count in the cart's subtotal. unavailableCartItems are the
//     others: lines that cannot be bought (withdrawn, not priced in the cart's currency,
//     sale not started or ended) and lines whose stock reservation lapsed (a quantity change
//     reserves again and brings them back); they carry no cartItemSubtotal (the seed's
//     "Conditional"), and the member field is left out when there are none.
//   - warnings (always present, [] when none): 10006 for a quantity lowered to the stock
//     available, 10004 for each unavailable item, 10005 ("revised") for an item whose catalog
//     price changed since it was stored. Each names the item in parameters (itemId, and
//     cartItemId; 10006 also requestedQuantity and availableQuantity).
//   - X-EBAY-C-MARKETPLACE-ID must be one of eBay's marketplace ids (SupportedMarketplaces),
//     else 10001; it does not change the cart, whose currency is its own.
//   - quantity is a JSON integer (or a string of one, as eBay's deserializer accepts);
//     anything else, or less than 1, is 10009, as is a quantity above the shop's limit per
//     item. All the request's field errors are reported together.
//
// Errors are eBay's {"errors": [{errorId, domain, category, message, longMessage,
// parameters}]}: category REQUEST answers 400, BUSINESS 409 (10013, the item is not in your
// cart; 10004 for a change to an unavailable item), and a missing or bad token 401 with
// errorId 1001 (ARCHITECTURE.md §Decisions). An API key, which is no member, is 403 10002. Malformed bodies are
// eBay's common 400 2004 (also 413 and 415 for a body too large or not JSON), unknown paths
// 404 2004, internal failures 500 10000 (logged, never detailed). A token past its rate
// limit is eBay's 429 2001 ("Too many requests", with Retry-After), a node at capacity 503
// 10000 (cmd/cartd's guard, internal/limits).
package ebay

import (
	"log/slog"
	"net/http"
	"slices"
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
const Prefix = "/buy/browse/"

// MaxBody bounds a request body: the call's body is two fields.
const MaxBody = 64 << 10

// SupportedMarketplaces are the values X-EBAY-C-MARKETPLACE-ID may take: eBay's marketplace
// ids.
var SupportedMarketplaces = []string{
	"EBAY_AT", "EBAY_AU", "EBAY_BE", "EBAY_CA", "EBAY_CH", "EBAY_DE", "EBAY_ES", "EBAY_FR",
	"EBAY_GB", "EBAY_HK", "EBAY_IE", "EBAY_IN", "EBAY_IT", "EBAY_MY", "EBAY_NL", "EBAY_PH",
	"EBAY_PL", "EBAY_SG", "EBAY_TW", "EBAY_US",
}

// Config tunes a Handler.
type Config struct {
	// Guard, when set, rate-limits requests and caps those in flight (internal/limits),
	// answering its refusals in the dialect's error shape.
	Guard *limits.Guard
	// PublicURL is the base of the links in responses (cartWebUrl, itemWebUrl), without a
	// trailing slash: cartd's --public-url.
	PublicURL string
	Logger    *slog.Logger
}

// Handler serves the eBay dialect over an engine.
type Handler struct {
	eng       *engine.Engine
	log       *slog.Logger
	publicURL string
	mux       *http.ServeMux
	// guarded is the mux behind Config.Guard.
	guarded http.Handler
	guard   *limits.Guard
}

// New returns the eBay dialect's handler.
func New(eng *engine.Engine, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, log: cfg.Logger, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"), mux: http.NewServeMux(), guard: cfg.Guard}
	h.mux.HandleFunc("POST /buy/browse/v1/shopping_cart/update_quantity", h.handleUpdateQuantity)
	h.guarded = cfg.Guard.Wrap(http.HandlerFunc(h.serve), limits.Door{Fail: h.writeError, Credential: limits.Bearer})
	return h
}

// ServeHTTP serves the dialect. Requests no route matches get 404 or 405 in eBay's error
// shape, and a panicking handler answers 500 instead of dropping the connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.guarded.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(h.mux, w, r, h.notMatched, h.writeError)
}

// notMatched answers a request no route matches in eBay's shape.
func (h *Handler) notMatched(w http.ResponseWriter, r *http.Request, status int, _ http.Header) {
	long := "No resource at " + r.URL.Path + "."
	if status == http.StatusMethodNotAllowed {
		long = r.Method + " is not allowed on " + r.URL.Path + "."
	} else {
		status = http.StatusNotFound
	}
	e := invalidRequest
	e.LongMessage = long
	writeErrors(w, status, []errorJSON{e}, h.log)
}

// handleUpdateQuantity is shopping_cart/update_quantity: the member's token, the marketplace,
// the body, then the change.
func (h *Handler) handleUpdateQuantity(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !p.IsCustomer() {
		h.writeError(w, r, cart.Errorf(cart.Forbidden, "not_a_member", "an API key acts for no member: send a customer token"))
		return
	}
	if errs := checkMarketplace(r.Header.Values("X-EBAY-C-MARKETPLACE-ID")); errs != nil {
		writeErrors(w, http.StatusBadRequest, errs, h.log)
		return
	}
	req, status, errs := readRequest(w, r)
	if errs != nil {
		writeErrors(w, status, errs, h.log)
		return
	}
	v, err := h.eng.UpdateCustomerItem(r.Context(), p, engine.CustomerItemChange{
		ItemNum: req.ItemNum, Change: cart.WholeSet(req.Quantity), Policy: cart.Clamp, KeepOutOfStock: true,
	}, engine.Options{})
	if err != nil {
		h.writeItemError(w, r, err, req.CartItemID)
		return
	}
	body, err := h.renderCart(v)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, body, h.log)
}

// authenticate resolves the Bearer token. Scopes are the engine's to check.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (auth.Principal, error) {
	secret := limits.Bearer(r)
	if secret == "" {
		return auth.Principal{}, cart.Errorf(cart.Unauthorized, "missing_credentials", "no Bearer token")
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

// checkMarketplace requires one supported X-EBAY-C-MARKETPLACE-ID.
func checkMarketplace(values []string) []errorJSON {
	supported := strings.Join(SupportedMarketplaces, ", ")
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return []errorJSON{{ErrorID: 10025, Domain: domain, Category: request,
			Message:    "The header 'X-EBAY-C-MARKETPLACE-ID' is required. The valid Marketplaces are: " + supported + ".",
			Parameters: []parameterJSON{{Name: "supportedValues", Value: supported}}}}
	}
	if v := strings.TrimSpace(values[0]); len(values) > 1 || !slices.Contains(SupportedMarketplaces, v) {
		return []errorJSON{{ErrorID: 10001, Domain: domain, Category: request,
			Message:    "The X-EBAY-C-MARKETPLACE-ID value is not supported. The supported values are: " + supported + ".",
			Parameters: []parameterJSON{{Name: "X-EBAY-C-MARKETPLACE-ID", Value: strings.Join(values, ",")}, {Name: "supportedValues", Value: supported}}}}
	}
	return nil
}
