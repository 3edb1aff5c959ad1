package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests of the native API (carts_test.go, quantity_test.go, prices_test.go,
// catalog_test.go, auth_test.go, http_test.go, and the files of each feature) drive it over
// HTTP against a real SQLite file; this file holds what they share. Every response goes
// through call, which holds the rules every response obeys: never a 500, every
// error a complete problem+json, every cart's ETag its version and its totals a recomputation
// from the items it lists.

// itemBody is an item as the API renders it.
type itemBody struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	ProductID         string          `json:"product_id"`
	VariantID         string          `json:"variant_id"`
	SKU               string          `json:"sku"`
	Quantity          int64           `json:"quantity"`
	ReservedQuantity  int64           `json:"reserved_quantity"`
	UnitPrice         int64           `json:"unit_price"`
	PriceWhenAdded    int64           `json:"price_when_added"`
	RetailPrice       *int64          `json:"retail_price"`
	Subtotal          int64           `json:"subtotal"`
	Discount          int64           `json:"discount"`
	Tax               int64           `json:"tax"`
	Total             int64           `json:"total"`
	Notes             string          `json:"notes"`
	Metadata          json.RawMessage `json:"metadata"`
	InventoryStatus   string          `json:"inventory_status"`
	AvailableQuantity int64           `json:"available_quantity"`
	ReservedUntil     *string         `json:"reserved_until"`
	Expired           bool            `json:"expired"`
}

type messageBody struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	ItemID    string `json:"item_id"`
	Requested *int64 `json:"requested"`
	Applied   *int64 `json:"applied"`
	Available *int64 `json:"available"`
	OldPrice  *int64 `json:"old_price"`
	NewPrice  *int64 `json:"new_price"`
}

// cartBody is a cart as the API renders it.
type cartBody struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	CustomerID       *string         `json:"customer_id"`
	Status           string          `json:"status"`
	Currency         string          `json:"currency"`
	Version          int64           `json:"version"`
	Items            []itemBody      `json:"items"`
	UnavailableItems []itemBody      `json:"unavailable_items"`
	ItemCount        int64           `json:"item_count"`
	UniqueItemCount  int64           `json:"unique_item_count"`
	Expired          int64           `json:"expired"`
	Subtotal         int64           `json:"subtotal"`
	Discount         int64           `json:"discount"`
	Tax              int64           `json:"tax"`
	Shipping         int64           `json:"shipping"`
	Total            int64           `json:"total"`
	RetailTotal      int64           `json:"retail_total"`
	Saved            int64           `json:"saved"`
	PricesIncludeTax bool            `json:"prices_include_tax"`
	Coupons          []couponBody    `json:"coupons"`
	Metadata         json.RawMessage `json:"metadata"`
	Messages         []messageBody   `json:"messages"`
}

// couponBody is an entry of a cart's coupons.
type couponBody struct {
	Code        string  `json:"code"`
	Number      int64   `json:"number"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Method      string  `json:"method"`
	Amount      int64   `json:"amount"`
	Description string  `json:"description"`
	Applied     bool    `json:"applied"`
	Reason      *string `json:"reason"`
	Message     *string `json:"message"`
}

// coupon returns the cart's coupon entry of a code, or nil.
func (c cartBody) coupon(code string) *couponBody {
	for i := range c.Coupons {
		if c.Coupons[i].Code == code {
			return &c.Coupons[i]
		}
	}
	return nil
}

// item returns the cart's (available) item of a SKU, or nil.
func (c cartBody) item(sku string) *itemBody {
	for i := range c.Items {
		if c.Items[i].SKU == sku {
			return &c.Items[i]
		}
	}
	return nil
}

// message returns the first message with the code, or nil.
func (c cartBody) message(code string) *messageBody {
	for i := range c.Messages {
		if c.Messages[i].Code == code {
			return &c.Messages[i]
		}
	}
	return nil
}

type fieldErrorBody struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problemBody is an RFC 9457 problem document with cartd's members.
type problemBody struct {
	Type      string           `json:"type"`
	Title     string           `json:"title"`
	Status    int              `json:"status"`
	Detail    string           `json:"detail"`
	Code      string           `json:"code"`
	Errors    []fieldErrorBody `json:"errors"`
	Available *int64           `json:"available"`
	Version   *int64           `json:"version"`
	Cart      *cartBody        `json:"cart"`
}

// names the fields of the problem's errors.
func (p problemBody) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

type stockBody struct {
	SKU         string `json:"sku"`
	OnHand      int64  `json:"on_hand"`
	Reserved    int64  `json:"reserved"`
	Available   int64  `json:"available"`
	Backordered int64  `json:"backordered"`
}

// call is do plus the checks every response must pass.
func (s *testServer) call(tb testing.TB, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	r := s.do(tb, method, path, credential, body, headers...)
	checkResponse(tb, method+" "+path, r)
	return r
}

// checkResponse holds a response to the rules of every response of the native API.
func checkResponse(tb testing.TB, what string, r response) {
	tb.Helper()
	if r.Status >= 500 {
		tb.Fatalf("%s: status %d (never a 500 for what a client sent): %s", what, r.Status, r.Body)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			tb.Errorf("%s: error Content-Type = %q, want application/problem+json", what, ct)
		}
		var p problemBody
		if err := json.Unmarshal(r.Body, &p); err != nil {
			tb.Fatalf("%s: problem body: %v\n%s", what, err, r.Body)
		}
		if p.Type == "" || p.Title == "" || p.Status != r.Status || p.Code == "" {
			tb.Errorf("%s: incomplete problem (want type, title, status %d, code): %s", what, r.Status, r.Body)
		}
		if r.Status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
			tb.Errorf("%s: 401 without WWW-Authenticate", what)
		}
		if p.Cart != nil {
			checkFigures(tb, what+" (problem's cart)", *p.Cart)
			if p.Version == nil || *p.Version != p.Cart.Version {
				tb.Errorf("%s: problem version %v, its cart's %d", what, p.Version, p.Cart.Version)
			}
		}
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || len(r.Body) == 0 {
		return
	}
	var probe struct {
		Object string `json:"object"`
	}
	if json.Unmarshal(r.Body, &probe) != nil || probe.Object != "cart" {
		return
	}
	if r.Header.Get("Preference-Applied") != "" {
		checkMinimal(tb, what, r) // lists only some items: its totals are checked against a GET
		return
	}
	var c cartBody
	if err := json.Unmarshal(r.Body, &c); err != nil {
		tb.Fatalf("%s: cart body: %v", what, err)
	}
	if got, want := r.Header.Get("ETag"), strconv.Quote(strconv.FormatInt(c.Version, 10)); got != want {
		tb.Errorf("%s: ETag = %s, want %s (the cart's version)", what, got, want)
	}
	checkFigures(tb, what, c)
}

// checkFigures recomputes a cart's figures from the items and coupons it lists and fails on
// any difference: total = subtotal - discount + tax + shipping (tax left out when prices
// include it), saved = retail_total - (subtotal - discount), the items' discounts and taxes
// add up to the cart's, and the applied coupons' amounts to its discount.
func checkFigures(tb testing.TB, what string, c cartBody) {
	tb.Helper()
	addTax := int64(1)
	if c.PricesIncludeTax {
		addTax = 0
	}
	var sub, disc, tax, units, retail int64
	for _, it := range c.Items {
		if it.Subtotal != it.UnitPrice*it.Quantity {
			tb.Errorf("%s: item %s subtotal %d, want %d x %d", what, it.ID, it.Subtotal, it.UnitPrice, it.Quantity)
		}
		if it.Total != it.Subtotal-it.Discount+addTax*it.Tax {
			tb.Errorf("%s: item %s total %d, want %d - %d (+ %d)", what, it.ID, it.Total, it.Subtotal, it.Discount, it.Tax)
		}
		if it.Discount < 0 || it.Discount > it.Subtotal || it.Tax < 0 {
			tb.Errorf("%s: item %s discount %d of %d, tax %d", what, it.ID, it.Discount, it.Subtotal, it.Tax)
		}
		if it.Quantity < 1 || it.ReservedQuantity < 0 || it.ReservedQuantity > it.Quantity {
			tb.Errorf("%s: item %s quantity %d reserved %d", what, it.ID, it.Quantity, it.ReservedQuantity)
		}
		sub += it.Subtotal
		disc += it.Discount
		tax += it.Tax
		units += it.Quantity
		unitRetail := it.UnitPrice
		if it.RetailPrice != nil && *it.RetailPrice > unitRetail {
			unitRetail = *it.RetailPrice
		}
		retail += unitRetail * it.Quantity
	}
	checks := []struct {
		name      string
		got, want int64
	}{
		{"subtotal", c.Subtotal, sub},
		{"discount", c.Discount, disc},
		{"tax", c.Tax, tax},
		{"item_count", c.ItemCount, units},
		{"unique_item_count", c.UniqueItemCount, int64(len(c.Items))},
		{"total", c.Total, sub - disc + addTax*tax + c.Shipping},
		{"retail_total", c.RetailTotal, retail},
		{"saved", c.Saved, retail - (sub - disc)},
		{"the applied coupons' amounts", couponsOff(c), disc},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			tb.Errorf("%s: cart %s %s = %d, a recomputation from its items gives %d", what, c.ID, ch.name, ch.got, ch.want)
		}
	}
	if len(c.Items) == 0 && c.Shipping != 0 {
		tb.Errorf("%s: an empty cart charges shipping %d", what, c.Shipping)
	}
	for _, cp := range c.Coupons {
		if cp.Applied != (cp.Reason == nil) || cp.Applied != (cp.Message == nil) || (!cp.Applied && cp.Amount != 0) {
			tb.Errorf("%s: coupon %s applied %v, amount %d, reason %v", what, cp.Code, cp.Applied, cp.Amount, cp.Reason)
		}
		if cp.Applied && cp.Type == "freeship" && c.Shipping != 0 {
			tb.Errorf("%s: %s waives shipping, but the cart charges %d", what, cp.Code, c.Shipping)
		}
	}
}

// couponsOff is what a cart's applied coupons take off its items (freeship lowers shipping
// instead).
func couponsOff(c cartBody) int64 {
	var off int64
	for _, cp := range c.Coupons {
		if cp.Applied && cp.Type != "freeship" {
			off += cp.Amount
		}
	}
	return off
}

func cartOf(tb testing.TB, r response) cartBody {
	tb.Helper()
	var c cartBody
	if err := json.Unmarshal(r.Body, &c); err != nil || c.Object != "cart" {
		tb.Fatalf("not a cart (%v): %s", err, r.Body)
	}
	return c
}

func problemOf(tb testing.TB, r response) problemBody {
	tb.Helper()
	var p problemBody
	if err := json.Unmarshal(r.Body, &p); err != nil {
		tb.Fatalf("not a problem (%v): %s", err, r.Body)
	}
	return p
}

// mustCall is call that requires a status and returns the response.
func (s *testServer) mustCall(tb testing.TB, status int, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	return s.call(tb, method, path, credential, body, headers...).mustStatus(tb, status)
}

// mustCartCall is mustCall for a call answering with a cart.
func (s *testServer) mustCartCall(tb testing.TB, status int, method, path string, body any, headers ...string) cartBody {
	tb.Helper()
	return cartOf(tb, s.mustCall(tb, status, method, path, s.Admin, body, headers...))
}

func (s *testServer) getCart(tb testing.TB, id string) cartBody {
	tb.Helper()
	return s.mustCartCall(tb, 200, "GET", "/v1/carts/"+id, nil)
}

func (s *testServer) stock(tb testing.TB, sku string) stockBody {
	tb.Helper()
	var st stockBody
	if err := json.Unmarshal(s.mustCall(tb, 200, "GET", "/v1/inventory/"+sku, s.Admin, nil).Body, &st); err != nil {
		tb.Fatal(err)
	}
	return st
}

func (s *testServer) putSettings(tb testing.TB, body any) {
	tb.Helper()
	s.mustCall(tb, 200, "PUT", "/v1/settings", s.Admin, body)
}

// mustPutProduct writes a product from a literal body.
func (s *testServer) mustPutProduct(tb testing.TB, id string, body map[string]any) {
	tb.Helper()
	s.mustCall(tb, 200, "PUT", "/v1/products/"+id, s.Admin, body)
}

func (s *testServer) setStock(tb testing.TB, sku string, onHand int64) {
	tb.Helper()
	s.mustCall(tb, 200, "PUT", "/v1/inventory/"+sku, s.Admin, map[string]int64{"on_hand": onHand})
}

// snapshot is what a rejected call must leave exactly as it was: a cart as GET shows it and
// the stock of some SKUs.
type snapshot struct {
	s      *testServer
	cartID string
	cart   []byte
	stock  map[string][]byte
}

func (s *testServer) snapshot(tb testing.TB, cartID string, skus ...string) snapshot {
	tb.Helper()
	sn := snapshot{s: s, cartID: cartID, stock: map[string][]byte{}}
	if cartID != "" {
		sn.cart = s.mustCall(tb, 200, "GET", "/v1/carts/"+cartID, s.Admin, nil).Body
	}
	for _, sku := range skus {
		sn.stock[sku] = s.mustCall(tb, 200, "GET", "/v1/inventory/"+sku, s.Admin, nil).Body
	}
	return sn
}

// unchanged fails unless the cart (version, items, figures) and the stock are as snapshotted.
func (sn snapshot) unchanged(tb testing.TB) {
	tb.Helper()
	if sn.cartID != "" {
		now := sn.s.mustCall(tb, 200, "GET", "/v1/carts/"+sn.cartID, sn.s.Admin, nil).Body
		if string(now) != string(sn.cart) {
			tb.Errorf("a rejected call changed the cart\nbefore: %s\nafter:  %s", sn.cart, now)
		}
	}
	for sku, before := range sn.stock {
		now := sn.s.mustCall(tb, 200, "GET", "/v1/inventory/"+sku, sn.s.Admin, nil).Body
		if string(now) != string(before) {
			tb.Errorf("a rejected call changed the stock of %s\nbefore: %s\nafter:  %s", sku, before, now)
		}
	}
}

// mustReject sends a call that must fail with status and code, and holds it to invariant 4:
// the cart and the SKUs' stock are unchanged.
func (s *testServer) mustReject(tb testing.TB, cartID string, skus []string, status int, code, method, path, credential string, body any, headers ...string) problemBody {
	tb.Helper()
	sn := s.snapshot(tb, cartID, skus...)
	r := s.call(tb, method, path, credential, body, headers...).mustStatus(tb, status)
	p := problemOf(tb, r)
	if code != "" && p.Code != code {
		tb.Errorf("problem code = %q, want %q: %s", p.Code, code, r.Body)
	}
	sn.unchanged(tb)
	return p
}

// checkReservations holds the carts and the SKUs' stock to invariant 1: reserved equals the
// sum of the items' reserved_quantity, and 0 <= reserved <= on_hand.
func (s *testServer) checkReservations(tb testing.TB, skus []string, cartIDs ...string) {
	tb.Helper()
	held := map[string]int64{}
	for _, id := range cartIDs {
		c := s.getCart(tb, id)
		for _, it := range slices.Concat(c.Items, c.UnavailableItems) {
			held[it.SKU] += it.ReservedQuantity
		}
	}
	for _, sku := range skus {
		st := s.stock(tb, sku)
		if st.Reserved != held[sku] {
			tb.Errorf("%s: reserved %d, items hold %d", sku, st.Reserved, held[sku])
		}
		if st.Reserved < 0 || st.Reserved > st.OnHand || st.Available != st.OnHand-st.Reserved {
			tb.Errorf("%s: on_hand %d reserved %d available %d", sku, st.OnHand, st.Reserved, st.Available)
		}
	}
}
