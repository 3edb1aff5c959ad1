// Package api is cartd's native HTTP API (/v1): JSON over net/http, errors as RFC 9457
// problem+json. It translates requests into engine calls and results into responses, and
// holds no business rules.
package api

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/httpx"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/reqinfo"
)

//go:embed openapi.json
var openapiDoc []byte

// DefaultMaxBody is the default request body limit: a 1,000-line batch fits with room.
const DefaultMaxBody = 1 << 20

// Config tunes a Server.
type Config struct {
	Logger  *slog.Logger
	MaxBody int64 // request body limit in bytes; 0 means DefaultMaxBody
	// Guard, when set, rate-limits requests by their Bearer credential (or address) and caps
	// those in flight; /healthz, /readyz and /openapi.json pass unguarded.
	Guard *limits.Guard
	// Drainer, when set, makes /readyz answer 503 once the node starts shutting down.
	Drainer *limits.Drainer
}

// Server is the native API over an engine.
type Server struct {
	eng     *engine.Engine
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	guarded http.Handler
	guard   *limits.Guard
	drainer *limits.Drainer
}

// New returns the native API server.
func New(eng *engine.Engine, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	s := &Server{eng: eng, log: cfg.Logger, maxBody: cfg.MaxBody, mux: http.NewServeMux(), guard: cfg.Guard, drainer: cfg.Drainer}
	s.routes()
	s.guarded = cfg.Guard.Wrap(http.HandlerFunc(s.serve), limits.Door{Fail: s.writeError, Credential: limits.Bearer, Exempt: isSystem})
	return s
}

// routes is the native API's route table.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.HandleFunc("GET /openapi.json", s.handleOpenAPI)

	s.mux.HandleFunc("POST /v1/customers/{customer_id}/tokens", s.authed(s.handleTokenCreate))
	s.mux.HandleFunc("DELETE /v1/customers/{customer_id}/tokens/{token_id}", s.authed(s.handleTokenRevoke))

	s.mux.HandleFunc("PUT /v1/products/{id}", s.authed(s.handleProductPut))
	s.mux.HandleFunc("GET /v1/products/{id}", s.authed(s.handleProductGet))
	s.mux.HandleFunc("DELETE /v1/products/{id}", s.authed(s.handleProductDelete))
	s.mux.HandleFunc("PUT /v1/inventory/{sku}", s.authed(s.handleInventoryPut))
	s.mux.HandleFunc("PATCH /v1/inventory/{sku}", s.authed(s.handleInventoryPatch))
	s.mux.HandleFunc("GET /v1/inventory/{sku}", s.authed(s.handleInventoryGet))
	s.mux.HandleFunc("POST /v1/catalog/import", s.authed(s.handleCatalogImport))
	s.mux.HandleFunc("PUT /v1/sales/{id}", s.authed(s.handleSalePut))
	s.mux.HandleFunc("GET /v1/sales/{id}", s.authed(s.handleSaleGet))
	s.mux.HandleFunc("GET /v1/settings", s.authed(s.handleSettingsGet))
	s.mux.HandleFunc("PUT /v1/settings", s.authed(s.handleSettingsPut))
	s.mux.HandleFunc("PUT /v1/promotions/{code}", s.authed(s.handlePromotionPut))
	s.mux.HandleFunc("GET /v1/promotions/{code}", s.authed(s.handlePromotionGet))
	s.mux.HandleFunc("DELETE /v1/promotions/{code}", s.authed(s.handlePromotionDelete))

	s.mux.HandleFunc("POST /v1/carts", s.authed(s.handleCartCreate))
	s.mux.HandleFunc("GET /v1/carts/{id}", s.authed(s.handleCartGet))
	s.mux.HandleFunc("PATCH /v1/carts/{id}", s.authed(s.handleCartPatch))
	s.mux.HandleFunc("POST /v1/carts/{id}/merge", s.authed(s.handleCartMerge))
	s.mux.HandleFunc("POST /v1/carts/{id}/coupons", s.authed(s.handleCouponApply))
	s.mux.HandleFunc("DELETE /v1/carts/{id}/coupons/{code}", s.authed(s.handleCouponRemove))
	s.mux.HandleFunc("POST /v1/carts/{id}/items", s.authed(s.handleItemAdd))
	s.mux.HandleFunc("DELETE /v1/carts/{id}/items", s.authed(s.handleItemsClear))
	s.mux.HandleFunc("PATCH /v1/carts/{id}/items", s.authed(s.handleItemsPatch))
	s.mux.HandleFunc("PUT /v1/carts/{id}/items/{item_id}", s.authed(s.handleItemPut))
	s.mux.HandleFunc("PATCH /v1/carts/{id}/items/{item_id}", s.authed(s.handleItemPatch))
	s.mux.HandleFunc("DELETE /v1/carts/{id}/items/{item_id}", s.authed(s.handleItemDelete))
	s.mux.HandleFunc("POST /v1/carts/{id}/checkout", s.authed(s.handleCheckout))

	// Lists (docs/lists.md) and the operator's release of a cart's reservations.
	s.mux.HandleFunc("GET /v1/carts", s.authed(s.handleCartList))
	s.mux.HandleFunc("GET /v1/products", s.authed(s.handleProductList))
	s.mux.HandleFunc("GET /v1/inventory", s.authed(s.handleInventoryList))
	s.mux.HandleFunc("GET /v1/inventory/{sku}/reservations", s.authed(s.handleReservationList))
	s.mux.HandleFunc("GET /v1/promotions", s.authed(s.handlePromotionList))
	s.mux.HandleFunc("GET /v1/sales", s.authed(s.handleSaleList))
	s.mux.HandleFunc("POST /v1/carts/{id}/reservations/release", s.authed(s.handleReservationsRelease))
	s.mux.HandleFunc("GET /v1/events", s.authed(s.handleEvents))
	s.mux.HandleFunc("GET /v1/webhooks", s.authed(s.handleWebhookList))
	s.mux.HandleFunc("PUT /v1/webhooks/{id}", s.authed(s.handleWebhookPut))
	s.mux.HandleFunc("GET /v1/webhooks/{id}", s.authed(s.handleWebhookGet))
	s.mux.HandleFunc("DELETE /v1/webhooks/{id}", s.authed(s.handleWebhookDelete))
	s.mux.HandleFunc("GET /v1/webhooks/{id}/deliveries", s.authed(s.handleDeliveryList))
	s.mux.HandleFunc("POST /v1/webhooks/{id}/deliveries/{event_id}/retry", s.authed(s.handleDeliveryRetry))
}

// ServeHTTP serves the API through its guard (Config.Guard).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.guarded.ServeHTTP(w, r)
}

// serve serves the API. Requests no route matches get problem+json 404 or 405, and a
// panicking handler answers 500 instead of dropping the connection.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	httpx.Serve(s.mux, w, r, s.notMatched, s.writeError)
}

// isSystem names the routes no limit applies to: the probes a load balancer polls however
// busy the node is, and the static document.
func isSystem(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/openapi.json":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return false
}

// notMatched answers a request no route matches, given the status and headers the mux chose.
func (s *Server) notMatched(w http.ResponseWriter, r *http.Request, status int, header http.Header) {
	if status == http.StatusMethodNotAllowed {
		writeBody(w, status, "application/problem+json", problem{Type: problemTypeBase + "method_not_allowed",
			Title: http.StatusText(status), Status: status, Code: "method_not_allowed",
			Detail: r.Method + " is not allowed on " + r.URL.Path}, s.log)
		return
	}
	if status >= 300 && status < 400 { // path cleaning redirects
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		return
	}
	s.writeError(w, r, cart.Errorf(cart.NotFound, "route_not_found", "no resource at %s", r.URL.Path))
}

type principalHandler func(w http.ResponseWriter, r *http.Request, p auth.Principal)

// authed resolves the Bearer credential before h runs. Scopes are the engine's to check.
func (s *Server) authed(h principalHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := limits.Bearer(r)
		if secret == "" {
			s.writeError(w, r, cart.Errorf(cart.Unauthorized, "missing_credentials", "send Authorization: Bearer <API key or customer token>"))
			return
		}
		p, err := s.eng.Authenticate(r.Context(), secret)
		if err != nil {
			// No valid credential: the request counts against its address, as one without any.
			if cart.ErrorCode(err) == cart.Unauthorized {
				if lerr := s.guard.LimitUnrecognized(w, r, secret); lerr != nil {
					err = lerr
				}
			}
			s.writeError(w, r, err)
			return
		}
		reqinfo.SetPrincipal(r.Context(), p)
		h(w, r, p)
	}
}

// decodeBody reads the request body (readBody) and decodes it, answering the client itself when
// either fails: then ok is false and the handler has nothing left to do.
func decodeBody[T any](s *Server, w http.ResponseWriter, r *http.Request, decode func(body []byte) (T, error)) (body []byte, v T, ok bool) {
	body, err := s.readBody(w, r)
	if err == nil {
		v, err = decode(body)
	}
	if err != nil {
		s.writeError(w, r, err)
		return nil, v, false
	}
	return body, v, true
}

// readBody reads a request body up to the limit. A non-empty body must be JSON.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, cart.Errorf(cart.TooLarge, "body_too_large", "the request body is over %d bytes", s.maxBody)
	case err != nil:
		return nil, cart.Errorf(cart.Malformed, "malformed_body", "the request body could not be read")
	}
	if len(body) > 0 && !isJSON(r.Header.Get("Content-Type")) {
		return nil, cart.Errorf(cart.MediaType, "unsupported_media_type", "send the body as application/json")
	}
	return body, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// options reads the preconditions of a mutating call, and whether it prefers a minimal
// answer (every call answering with a cart renders it by changeResponse, which then shows
// no more than engine.Options.Minimal promises). An If-Match that names no version of ours
// can match nothing, so it fails the precondition (RFC 9110 §13.1.1).
func options(r *http.Request) engine.Options {
	opt := engine.Options{Minimal: preferredReturn(r.Header) == "minimal"}
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	if im == "" || im == "*" {
		return opt
	}
	v, err := strconv.ParseInt(strings.Trim(im, `"`), 10, 64)
	if err != nil || !strings.HasPrefix(im, `"`) || !strings.HasSuffix(im, `"`) {
		v = -1
	}
	opt.IfMatch = &v
	return opt
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.drainer.Draining() {
		s.writeError(w, r, cart.Errorf(cart.Unavailable, "shutting_down", "the node is shutting down"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.eng.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		s.writeError(w, r, cart.Errorf(cart.Unavailable, "not_ready", "the store is not reachable"))
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc)
}
