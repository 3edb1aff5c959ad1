package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// The list endpoints (docs/lists.md): GET /v1/carts, /v1/products, /v1/inventory,
// /v1/inventory/{sku}/reservations, /v1/promotions and /v1/sales all answer one shape, a page
// of entries in a stable order with has_more, and take limit and starting_after (the id of
// the last entry of the previous page) besides their own filters.

// listJSON is every list's shape.
type listJSON[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func listOf[T, J any](page engine.Page[T], render func(T) J) listJSON[J] {
	out := listJSON[J]{Object: "list", Data: make([]J, 0, len(page.Data)), HasMore: page.HasMore}
	for _, v := range page.Data {
		out.Data = append(out.Data, render(v))
	}
	return out
}

// listQuery reads a list's query string: each parameter at most once, none but those the list
// takes (a misspelt filter must not silently list everything).
type listQuery struct {
	values url.Values
	errs   []cart.FieldError
}

func newListQuery(r *http.Request, allowed ...string) *listQuery {
	q := &listQuery{values: r.URL.Query()}
	allowed = append(allowed, "limit", "starting_after")
	for name, vs := range q.values {
		switch {
		case !contains(allowed, name):
			q.fail(name, "unknown parameter; this list takes "+strings.Join(allowed, ", "))
		case len(vs) > 1:
			q.fail(name, "give "+name+" once")
		}
	}
	return q
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (q *listQuery) fail(field, msg string) {
	q.errs = append(q.errs, cart.FieldError{Field: field, Message: msg})
}

// str returns a parameter and whether it was given.
func (q *listQuery) str(name string) (string, bool) {
	vs, ok := q.values[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func (q *listQuery) limit() int {
	s, ok := q.str("limit")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > engine.MaxListLimit {
		q.fail("limit", "limit must be an integer from 1 to "+strconv.Itoa(engine.MaxListLimit))
		return 0
	}
	return n
}

func (q *listQuery) boolean(name string) *bool {
	s, ok := q.str(name)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		q.fail(name, name+" must be true or false")
		return nil
	}
	return &b
}

func (q *listQuery) integer(name string, min int64) *int64 {
	s, ok := q.str(name)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min {
		q.fail(name, name+" must be an integer of at least "+strconv.FormatInt(min, 10))
		return nil
	}
	return &n
}

func (q *listQuery) instant(name string) time.Time {
	s, ok := q.str(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(name, name+" must be an RFC 3339 instant, such as 2026-12-01T09:00:00Z")
	}
	return t
}

// cursor reads starting_after as an id of a numbered kind (cart_..., ci_...).
func (q *listQuery) cursor(prefix string) int64 {
	s, ok := q.str("starting_after")
	if !ok {
		return 0
	}
	n, ok := parseID(s, prefix)
	if !ok || n <= 0 {
		q.fail("starting_after", "starting_after must be an id such as "+prefix+"42")
		return 0
	}
	return n
}

// err is the 422 naming every bad parameter, or nil.
func (q *listQuery) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	first := q.errs[0]
	return &cart.Error{Code: cart.Invalid, Reason: "invalid_parameter", Message: first.Field + ": " + first.Message, Fields: q.errs}
}

// cartSummaryJSON is a cart as lists show it: without its lines and figures (GET the cart for
// those), with how many lines and units it has.
type cartSummaryJSON struct {
	ID              string      `json:"id"`
	Object          string      `json:"object"`
	CustomerID      *string     `json:"customer_id"`
	Status          cart.Status `json:"status"`
	Currency        string      `json:"currency"`
	Version         int64       `json:"version"`
	ItemCount       int64       `json:"item_count"`
	UniqueItemCount int64       `json:"unique_item_count"`
	MergedInto      *string     `json:"merged_into"`
	CreatedAt       string      `json:"created_at"`
	UpdatedAt       string      `json:"updated_at"`
	LastActivity    string      `json:"last_activity"`
}

func renderCartSummary(s engine.CartSummary) cartSummaryJSON {
	c := s.Cart
	out := cartSummaryJSON{ID: cartID(c.Num), Object: "cart_summary", Status: c.Status, Currency: c.Currency,
		Version: c.Version, ItemCount: s.Units, UniqueItemCount: s.Lines, CreatedAt: timeJSON(c.CreatedAt),
		UpdatedAt: timeJSON(c.UpdatedAt), LastActivity: timeJSON(c.LastActivity)}
	if c.CustomerID != "" {
		out.CustomerID = &c.CustomerID
	}
	if c.MergedInto != 0 {
		into := cartID(c.MergedInto)
		out.MergedInto = &into
	}
	return out
}

// reservationJSON is a cart line holding a SKU's stock.
type reservationJSON struct {
	Object           string  `json:"object"`
	SKU              string  `json:"sku"`
	CartID           string  `json:"cart_id"`
	ItemID           string  `json:"item_id"`
	CustomerID       *string `json:"customer_id"`
	Quantity         int64   `json:"quantity"`
	ReservedQuantity int64   `json:"reserved_quantity"`
	ReservedUntil    *string `json:"reserved_until"`
	Expired          bool    `json:"expired"`
}

func renderHold(sku string, now time.Time) func(engine.Hold) reservationJSON {
	return func(h engine.Hold) reservationJSON {
		out := reservationJSON{Object: "reservation", SKU: sku, CartID: cartID(h.Item.CartNum), ItemID: itemID(h.Item.Num),
			Quantity: h.Item.Quantity, ReservedQuantity: h.Item.ReservedQuantity, ReservedUntil: optTime(h.Item.ReservedUntil),
			Expired: h.Item.Expired(now)}
		if h.CustomerID != "" {
			out.CustomerID = &h.CustomerID
		}
		return out
	}
}

// handleCartList answers GET /v1/carts?customer_id=&status=&updated_after=&has_items=.
func (s *Server) handleCartList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r, "customer_id", "status", "updated_after", "has_items")
	f := engine.CartFilter{Limit: q.limit(), Before: q.cursor(cartPrefix), UpdatedAfter: q.instant("updated_after"), HasItems: q.boolean("has_items")}
	if v, ok := q.str("customer_id"); ok {
		f.CustomerID = &v
	}
	if v, ok := q.str("status"); ok {
		st := cart.Status(v)
		f.Status = &st
	}
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListCarts(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, renderCartSummary))
}

// handleProductList answers GET /v1/products?q=.
func (s *Server) handleProductList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r, "q")
	f := engine.ProductFilter{Limit: q.limit()}
	f.Prefix, _ = q.str("q")
	f.After, _ = q.str("starting_after")
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListProducts(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, renderProduct))
}

// handleInventoryList answers GET /v1/inventory?sku_prefix=&low_stock=.
func (s *Server) handleInventoryList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r, "sku_prefix", "low_stock")
	f := engine.StockFilter{Limit: q.limit(), MaxAvailable: q.integer("low_stock", 0)}
	f.SKUPrefix, _ = q.str("sku_prefix")
	f.After, _ = q.str("starting_after")
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListStock(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, renderStock))
}

// handleReservationList answers GET /v1/inventory/{sku}/reservations.
func (s *Server) handleReservationList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r)
	sku := r.PathValue("sku")
	f := engine.HoldFilter{SKU: sku, Limit: q.limit(), Before: q.cursor(itemPrefix)}
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListHolds(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, renderHold(sku, page.Now)))
}

// handlePromotionList answers GET /v1/promotions.
func (s *Server) handlePromotionList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r)
	f := engine.PromotionFilter{Limit: q.limit()}
	f.After, _ = q.str("starting_after")
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListPromotions(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, renderPromotion))
}

// handleSaleList answers GET /v1/sales.
func (s *Server) handleSaleList(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := newListQuery(r)
	f := engine.SaleFilter{Limit: q.limit()}
	f.After, _ = q.str("starting_after")
	if err := q.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.eng.ListSales(r.Context(), p, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, listOf(page, func(sale cart.Sale) saleJSON { return renderSale(sale, page.Now) }))
}

// handleReservationsRelease answers POST /v1/carts/{id}/reservations/release: every unit the
// cart's lines hold goes back to the stock (scope admin), honouring If-Match.
func (s *Server) handleReservationsRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(body) > 0 {
		if err := decodeJSON(body, &struct{}{}); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.ReleaseReservations(r.Context(), p, num, opt)
	})
}
