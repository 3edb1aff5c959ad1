package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// The tests in this file drive the native API over HTTP against a real SQLite file. Every
// response goes through call, which holds the rules every response obeys: never a 500, every
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

func TestCarts(t *testing.T) {
	s := mustServer(t)

	t.Run("a new cart is 201 at version 1 with the default currency and no customer", func(t *testing.T) {
		r := s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, nil)
		c := cartOf(t, r)
		if r.Header.Get("ETag") != `"1"` || c.Version != 1 {
			t.Errorf("ETag %s version %d, want \"1\" and 1", r.Header.Get("ETag"), c.Version)
		}
		if loc := r.Header.Get("Location"); loc != "/v1/carts/"+c.ID {
			t.Errorf("Location = %q, want /v1/carts/%s", loc, c.ID)
		}
		if !strings.HasPrefix(c.ID, "cart_") || c.Currency != "USD" || c.CustomerID != nil || c.Status != "active" {
			t.Errorf("cart = %+v", c)
		}
		if !strings.Contains(string(r.Body), `"customer_id":null`) {
			t.Errorf("customer_id is not null: %s", r.Body)
		}
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Total != 0 {
			t.Errorf("a new cart is not empty: %s", r.Body)
		}
	})

	t.Run("an empty JSON object also opens a cart with the defaults", func(t *testing.T) {
		c := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{})
		if c.Currency != "USD" {
			t.Errorf("currency = %s", c.Currency)
		}
	})

	t.Run("a cart takes its currency, customer and metadata from the request", func(t *testing.T) {
		c := s.mustCartCall(t, 201, "POST", "/v1/carts", map[string]any{
			"currency": "EUR", "customer_id": "cust_42", "metadata": map[string]any{"channel": "app"}})
		if c.Currency != "EUR" || c.CustomerID == nil || *c.CustomerID != "cust_42" {
			t.Errorf("cart = %+v", c)
		}
		var md map[string]any
		if err := json.Unmarshal(c.Metadata, &md); err != nil || md["channel"] != "app" {
			t.Errorf("metadata = %s", c.Metadata)
		}
		got := s.getCart(t, c.ID)
		if got.Currency != "EUR" || *got.CustomerID != "cust_42" || string(got.Metadata) != string(c.Metadata) {
			t.Errorf("stored cart = %+v", got)
		}
	})

	t.Run("the default currency follows the settings", func(t *testing.T) {
		s2 := mustServer(t)
		s2.putSettings(t, map[string]any{"default_currency": "JPY"})
		if c := s2.mustCartCall(t, 201, "POST", "/v1/carts", nil); c.Currency != "JPY" {
			t.Errorf("currency = %s, want JPY", c.Currency)
		}
	})

	invalid := []struct {
		name, body, field string
	}{
		{"an unknown currency is 422", `{"currency": "ZZZ"}`, "currency"},
		{"a lower-case currency is 422", `{"currency": "usd"}`, "currency"},
		{"an empty currency is 422", `{"currency": ""}`, "currency"},
		{"an empty customer_id is 422", `{"customer_id": ""}`, "customer_id"},
		{"metadata that is not an object is 422", `{"metadata": [1, 2]}`, "metadata"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			p := s.mustReject(t, "", nil, 422, "", "POST", "/v1/carts", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("a cart reads back as it was created", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.getCart(t, id)
		if c.ID != id || c.Version != 1 {
			t.Errorf("cart = %+v", c)
		}
	})

	for _, id := range []string{"cart_999999", "cart_abc", "cart_0", "cart_01", "cart_-1", "42", "ci_1", "cart_99999999999999999999"} {
		t.Run("getting cart "+id+" is 404", func(t *testing.T) {
			s.mustReject(t, "", nil, 404, "cart_not_found", "GET", "/v1/carts/"+id, s.Admin, nil)
		})
	}
}

func TestItems(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 1000, 100, "A", "A2")
	s.mustProduct(t, "prod_b", 250, 100, "B")

	t.Run("adding an item answers the cart holding it", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "A", "quantity": 2, "notes": "gift", "metadata": map[string]any{"k": "v"}})
		it := c.item("A")
		if it == nil || it.Quantity != 2 || it.UnitPrice != 1000 || it.Subtotal != 2000 || it.Notes != "gift" ||
			it.VariantID != "var_A" || it.ProductID != "prod_a" || !strings.HasPrefix(it.ID, "ci_") || it.InventoryStatus != "in_stock" {
			t.Fatalf("item = %+v", it)
		}
		if m := c.message("item_added"); m == nil || m.Type != "info" || m.ItemID != it.ID {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Version != 2 {
			t.Errorf("version = %d, want 2", c.Version)
		}
	})

	t.Run("adding a variant already in the cart adds to its line", func(t *testing.T) {
		id := s.mustCart(t)
		first := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "A", "quantity": 3})
		if len(c.Items) != 1 || c.Items[0].ID != first || c.Items[0].Quantity != 5 || c.UniqueItemCount != 1 || c.ItemCount != 5 {
			t.Errorf("after the second add: %+v", c.Items)
		}
		c = s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"variant_id": "var_A"})
		if len(c.Items) != 1 || c.Items[0].Quantity != 6 {
			t.Errorf("an add by variant_id without quantity adds 1 to the same line: %+v", c.Items)
		}
	})

	t.Run("an item can be added by variant_id", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"variant_id": "var_B", "quantity": 4})
		if it := c.item("B"); it == nil || it.Quantity != 4 || it.Subtotal != 1000 {
			t.Errorf("items = %+v", c.Items)
		}
	})

	addInvalid := []struct {
		name, body, field, code string
	}{
		{"an unknown SKU", `{"sku": "NOPE", "quantity": 1}`, "sku", "unknown_variant"},
		{"an unknown variant_id", `{"variant_id": "var_nope", "quantity": 1}`, "variant_id", "unknown_variant"},
		{"no sku nor variant_id", `{"quantity": 1}`, "sku", "missing_item"},
		{"an empty sku", `{"sku": "", "quantity": 1}`, "sku", "missing_item"},
		{"both sku and variant_id", `{"sku": "A", "variant_id": "var_A", "quantity": 1}`, "variant_id", "conflicting_item"},
		{"quantity 0", `{"sku": "A", "quantity": 0}`, "quantity", "invalid_quantity"},
		{"a negative quantity", `{"sku": "A", "quantity": -2}`, "quantity", "invalid_quantity"},
		{"quantity_delta, which add does not take", `{"sku": "A", "quantity_delta": 1}`, "quantity_delta", "unknown_field"},
		{"notes over 1000 bytes", `{"sku": "A", "notes": "` + strings.Repeat("n", 1001) + `"}`, "notes", "notes_too_long"},
		{"metadata that is not an object", `{"sku": "A", "metadata": "x"}`, "metadata", "invalid_metadata"},
	}
	for _, tt := range addInvalid {
		t.Run("adding with "+tt.name+" is 422 and changes nothing", func(t *testing.T) {
			id := s.mustCart(t)
			s.mustAdd(t, id, "A", 1)
			p := s.mustReject(t, id, []string{"A"}, 422, tt.code, "POST", "/v1/carts/"+id+"/items", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("PUT sets the quantity and notes as in the Stateset seed", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		s.mustAdd(t, id, "B", 1)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, `{
    "quantity": 3,
    "notes": "Updated quantity"
}`)
		it := c.item("A")
		if it == nil || it.ID != item || it.Quantity != 3 || it.Notes != "Updated quantity" || it.Subtotal != 3000 {
			t.Fatalf("item = %+v", it)
		}
		if len(c.Messages) != 1 || c.Messages[0].Type != "info" || c.Messages[0].Message != "Item quantity updated" {
			t.Errorf("messages = %+v, want the seed's one info message", c.Messages)
		}
		if c.ItemCount != 4 || c.UniqueItemCount != 2 || c.Subtotal != 3250 {
			t.Errorf("item_count %d unique %d subtotal %d", c.ItemCount, c.UniqueItemCount, c.Subtotal)
		}
		if got := s.getCart(t, id).item("A"); got.Quantity != 3 || got.Notes != "Updated quantity" {
			t.Errorf("stored item = %+v", got)
		}
	})

	t.Run("PUT quantity 0 removes the item", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 0})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("item_removed"); m == nil || m.ItemID != item {
			t.Errorf("messages = %+v", c.Messages)
		}
		s.mustReject(t, id, nil, 404, "item_not_found", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 1})
	})

	t.Run("PUT with only notes or metadata leaves the quantity alone", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"notes": "blue ribbon"})
		if it := c.item("A"); it.Quantity != 2 || it.Notes != "blue ribbon" {
			t.Errorf("item = %+v", it)
		}
		c = s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"metadata": map[string]any{"gift": true}})
		it := c.item("A")
		if it.Quantity != 2 || it.Notes != "blue ribbon" || !strings.Contains(string(it.Metadata), `"gift":true`) {
			t.Errorf("item = %+v", it)
		}
		if c.Version != 4 {
			t.Errorf("version = %d, want 4 (create, add, notes, metadata)", c.Version)
		}
		if st := s.stock(t, "A"); st.Reserved < 2 {
			t.Errorf("a notes edit dropped the reservation: %+v", st)
		}
	})

	t.Run("PATCH quantity_delta adds to the quantity", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 2)
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 3})
		if it := c.item("A"); it.Quantity != 5 {
			t.Errorf("quantity = %d, want 5", it.Quantity)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": -1})
		if it := c.item("A"); it.Quantity != 4 {
			t.Errorf("quantity = %d, want 4", it.Quantity)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 7})
		if it := c.item("A"); it.Quantity != 7 {
			t.Errorf("PATCH quantity sets: %d, want 7", it.Quantity)
		}
	})

	for _, delta := range []int64{-7, -8} {
		t.Run(fmt.Sprintf("PATCH quantity_delta %d down to %d removes the item", delta, 7+delta), func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 7)
			c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": delta})
			if len(c.Items) != 0 || c.message("item_removed") == nil {
				t.Errorf("cart = %+v", c)
			}
		})
	}

	changeInvalid := []struct {
		name, method, body, field string
	}{
		{"PUT with quantity_delta", "PUT", `{"quantity_delta": 1}`, "quantity_delta"},
		{"PATCH with both quantity and quantity_delta", "PATCH", `{"quantity": 2, "quantity_delta": 1}`, "quantity_delta"},
		{"PATCH with quantity_delta 0", "PATCH", `{"quantity_delta": 0}`, "quantity_delta"},
		{"PUT with a negative quantity", "PUT", `{"quantity": -1}`, "quantity"},
		{"PUT with nothing to change", "PUT", `{}`, "quantity"},
		{"PATCH with a delta that overflows", "PATCH", `{"quantity_delta": 9223372036854775807}`, "quantity_delta"},
		{"PUT with validate_inventory and stock_policy", "PUT", `{"quantity": 2, "validate_inventory": true, "stock_policy": "clamp"}`, "validate_inventory"},
		{"PATCH with an unknown stock_policy", "PATCH", `{"quantity": 2, "stock_policy": "sometimes"}`, "stock_policy"},
	}
	for _, tt := range changeInvalid {
		t.Run(tt.name+" is 422 and changes nothing", func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 3)
			p := s.mustReject(t, id, []string{"A"}, 422, "", tt.method, "/v1/carts/"+id+"/items/"+item, s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("DELETE removes one item and releases its stock", func(t *testing.T) {
		id := s.mustCart(t)
		a := s.mustAdd(t, id, "A", 2)
		s.mustAdd(t, id, "B", 1)
		before := s.stock(t, "A")
		c := s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+a, nil)
		if len(c.Items) != 1 || c.item("B") == nil || c.message("item_removed") == nil {
			t.Errorf("cart = %+v", c)
		}
		if after := s.stock(t, "A"); after.Reserved != before.Reserved-2 {
			t.Errorf("reserved %d -> %d, want 2 released", before.Reserved, after.Reserved)
		}
	})

	t.Run("DELETE of all items empties the cart and releases its stock", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_a", 1000, 100, "A")
		s2.mustProduct(t, "prod_b", 250, 100, "B")
		id := s2.mustCart(t)
		s2.mustAdd(t, id, "A", 2)
		s2.mustAdd(t, id, "B", 3)
		c := s2.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Subtotal != 0 || c.Total != 0 || c.Version != 4 {
			t.Errorf("cart = %+v", c)
		}
		s2.checkReservations(t, []string{"A", "B"}, id)
		s2.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil) // emptying an empty cart is fine
	})

	t.Run("an unknown item is 404 for PUT, PATCH and DELETE", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "A", 1)
		other := s.mustCart(t)
		otherItem := s.mustAdd(t, other, "B", 1)
		for _, item := range []string{"ci_999999", "ci_abc", "ci_0", "A", otherItem} {
			for _, m := range []string{"PUT", "PATCH", "DELETE"} {
				var body any
				if m != "DELETE" {
					body = map[string]any{"quantity": 2}
				}
				s.mustReject(t, id, []string{"A", "B"}, 404, "item_not_found", m, "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			}
		}
	})

	t.Run("a change to an unknown cart is 404", func(t *testing.T) {
		s.mustReject(t, "", nil, 404, "cart_not_found", "POST", "/v1/carts/cart_999999/items", s.Admin, map[string]any{"sku": "A"})
		s.mustReject(t, "", nil, 404, "cart_not_found", "DELETE", "/v1/carts/cart_999999/items", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "cart_not_found", "PUT", "/v1/carts/cart_x/items/ci_1", s.Admin, map[string]any{"quantity": 1})
	})
}

func TestQuantityRules(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_q", 500, 5, "Q")
	s.mustProduct(t, "prod_big", 100, 100000, "BIG")

	t.Run("above the per-item limit is 422 even under clamp", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_l", 100, 1000, "L")
		s2.putSettings(t, map[string]any{"max_quantity_per_item": 10})
		id := s2.mustCart(t)
		item := s2.mustAdd(t, id, "L", 10)
		for _, policy := range []string{"reject", "clamp", "ignore"} {
			p := s2.mustReject(t, id, []string{"L"}, 422, "quantity_limit", "PUT", "/v1/carts/"+id+"/items/"+item, s2.Admin, map[string]any{"quantity": 11, "stock_policy": policy})
			if !slices.Contains(p.fields(), "quantity") {
				t.Errorf("%s: errors name %v", policy, p.fields())
			}
			p = s2.mustReject(t, id, []string{"L"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s2.Admin, map[string]any{"sku": "L", "quantity": 1, "stock_policy": policy})
			if !slices.Equal(p.fields(), []string{"quantity"}) {
				t.Errorf("%s: an add's errors name %v, want the quantity it sent", policy, p.fields())
			}
		}
	})

	t.Run("the default limit is 999 per item", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"BIG"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "BIG", "quantity": 1000})
		s.mustReject(t, id, []string{"BIG"}, 422, "quantity_limit", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "BIG", "quantity": int64(9223372036854775807)})
		s.mustAdd(t, id, "BIG", 999)
	})

	t.Run("reject above stock is 409 with the available quantity and the unchanged cart", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "Q", 2)
		before := s.getCart(t, id)
		for _, body := range []map[string]any{{"quantity": 6}, {"quantity": 6, "stock_policy": "reject"}, {"quantity": 6, "validate_inventory": true}} {
			p := s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			if p.Available == nil || *p.Available != 5 {
				t.Errorf("%v: available = %v, want 5 (3 free + the 2 the item holds)", body, p.Available)
			}
			if p.Cart == nil || p.Cart.Version != before.Version || p.Cart.item("Q").Quantity != 2 || p.Cart.Total != before.Total {
				t.Errorf("%v: problem's cart = %+v, want the unchanged cart", body, p.Cart)
			}
		}
		p := s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "quantity": 4})
		if !slices.Equal(p.fields(), []string{"quantity"}) || p.Available == nil || *p.Available != 5 {
			t.Errorf("an add above stock: errors name %v, available %v; want quantity and 5", p.fields(), p.Available)
		}
		p = s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 4})
		if !slices.Equal(p.fields(), []string{"quantity_delta"}) {
			t.Errorf("a delta above stock: errors name %v, want quantity_delta", p.fields())
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("clamp applies what is available with a warning naming requested, applied and available", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Q", "quantity": 8, "stock_policy": "clamp"})
		it := c.item("Q")
		if it == nil || it.Quantity != 5 || it.ReservedQuantity != 5 {
			t.Fatalf("item = %+v", it)
		}
		m := c.message("quantity_clamped")
		if m == nil || m.Type != "warning" || m.ItemID != it.ID || *m.Requested != 8 || *m.Applied != 5 || *m.Available != 5 {
			t.Fatalf("messages = %+v", c.Messages)
		}
		for _, n := range []string{"8", "5"} {
			if !strings.Contains(m.Message, n) {
				t.Errorf("message %q does not name %s", m.Message, n)
			}
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("clamp with nothing available adds nothing, with a warning", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_z", 100, 0, "Z")
		id := s2.mustCart(t)
		c := s2.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Z", "quantity": 2, "stock_policy": "clamp"})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("out_of_stock"); m == nil || m.Type != "warning" || *m.Requested != 2 || *m.Applied != 0 || *m.Available != 0 {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Version != 1 {
			t.Errorf("version = %d after a call that stored nothing, want 1", c.Version)
		}
		s2.checkReservations(t, []string{"Z"}, id)
	})

	t.Run("clamp with nothing available removes an existing line, with a warning", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_z", 100, 2, "Z")
		id := s2.mustCart(t)
		item := s2.mustAdd(t, id, "Z", 2)
		s2.setStock(t, "Z", 0) // takes the line's reservation away
		c := s2.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 1, "stock_policy": "clamp"})
		if len(c.Items) != 0 {
			t.Errorf("items = %+v", c.Items)
		}
		if m := c.message("item_removed"); m == nil || m.Type != "warning" || *m.Requested != 3 || *m.Applied != 0 {
			t.Errorf("messages = %+v", c.Messages)
		}
		s2.checkReservations(t, []string{"Z"}, id)
	})

	t.Run("ignore backorders: the quantity stands and only what exists is reserved", func(t *testing.T) {
		id := s.mustCart(t)
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "Q", "quantity": 8, "stock_policy": "ignore"})
		it := c.item("Q")
		if it == nil || it.Quantity != 8 || it.ReservedQuantity != 5 || it.InventoryStatus != "backordered" {
			t.Fatalf("item = %+v", it)
		}
		if m := c.message("backordered"); m == nil || m.Type != "warning" {
			t.Errorf("messages = %+v", c.Messages)
		}
		if c.Subtotal != 8*500 {
			t.Errorf("subtotal = %d, want all 8 units", c.Subtotal)
		}
		if st := s.stock(t, "Q"); st.Reserved != 5 || st.Available != 0 || st.OnHand != 5 {
			t.Errorf("stock = %+v", st)
		}
		s.checkReservations(t, []string{"Q"}, id)
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
	})

	t.Run("validate_inventory false backorders and true rejects", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "Q", 1)
		s.mustReject(t, id, []string{"Q"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 7, "validate_inventory": true})
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 7, "validate_inventory": false})
		if it := c.item("Q"); it.Quantity != 7 || it.ReservedQuantity != 5 || it.InventoryStatus != "backordered" {
			t.Errorf("item = %+v", it)
		}
		s.checkReservations(t, []string{"Q"}, id)
		c = s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 6})
		if it := c.item("Q"); it.Quantity != 6 || it.ReservedQuantity != 5 {
			t.Errorf("lowering a backordered line under reject: %+v", it)
		}
		s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", nil)
		s.checkReservations(t, []string{"Q"}, id)
	})

	t.Run("validate_inventory together with stock_policy is 422", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"Q"}, 422, "conflicting_stock_policy", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "validate_inventory": false, "stock_policy": "ignore"})
	})

	t.Run("an unknown stock_policy is 422", func(t *testing.T) {
		id := s.mustCart(t)
		for _, p := range []string{"CLAMP", "backorder", " reject"} {
			s.mustReject(t, id, []string{"Q"}, 422, "invalid_stock_policy", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "Q", "stock_policy": p})
		}
	})
}

func TestStockMoves(t *testing.T) {
	t.Run("every change moves stock between available and reserved", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_a", 100, 10, "A")
		s.mustProduct(t, "prod_b", 100, 10, "B")
		skus := []string{"A", "B"}
		id, other := s.mustCart(t), s.mustCart(t)
		a := s.mustAdd(t, id, "A", 3)
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity": 5})
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity_delta": -2})
		s.checkReservations(t, skus, id, other)
		s.mustAdd(t, other, "A", 7)
		s.mustAdd(t, id, "B", 4)
		s.checkReservations(t, skus, id, other)
		if st := s.stock(t, "A"); st.Reserved != 10 || st.Available != 0 {
			t.Errorf("A = %+v, want all 10 reserved", st)
		}
		s.mustReject(t, id, skus, 409, "insufficient_stock", "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity_delta": 1})
		s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+a, s.Admin, nil)
		s.checkReservations(t, skus, id, other)
		s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items", s.Admin, nil)
		s.checkReservations(t, skus, id, other)
		if st := s.stock(t, "B"); st.Reserved != 0 || st.Available != 10 {
			t.Errorf("B = %+v, want everything released", st)
		}
	})

	t.Run("reserved_until is about now plus the reservation TTL", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_a", 100, 10, "A")
		id := s.mustCart(t)
		start := time.Now()
		s.mustAdd(t, id, "A", 1)
		it := s.getCart(t, id).item("A")
		if it.ReservedUntil == nil {
			t.Fatal("reserved_until is null with reservations on")
		}
		until, err := time.Parse(time.RFC3339Nano, *it.ReservedUntil)
		if err != nil {
			t.Fatal(err)
		}
		if d := until.Sub(start); d < 15*time.Minute-time.Minute || d > 15*time.Minute+time.Minute {
			t.Errorf("reserved_until = %s, %s after the add, want about 15m", *it.ReservedUntil, d)
		}
	})

	t.Run("with a reservation TTL of 0 nothing is reserved but stock is still checked", func(t *testing.T) {
		s := mustServer(t, serverOptions{ReservationTTL: 0})
		s.mustProduct(t, "prod_a", 100, 5, "A")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 3)
		it := s.getCart(t, id).item("A")
		if it.ReservedQuantity != 0 || it.ReservedUntil != nil || it.InventoryStatus != "in_stock" || it.AvailableQuantity != 5 {
			t.Errorf("item = %+v", it)
		}
		if st := s.stock(t, "A"); st.Reserved != 0 || st.Available != 5 {
			t.Errorf("stock = %+v", st)
		}
		p := s.mustReject(t, id, []string{"A"}, 409, "insufficient_stock", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 6})
		if p.Available == nil || *p.Available != 5 {
			t.Errorf("available = %v, want 5", p.Available)
		}
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 5})
		other := s.mustCart(t)
		s.mustAdd(t, other, "A", 5) // nothing is held, so another cart may take the same units
	})
}

func TestPrices(t *testing.T) {
	s := mustServer(t)

	t.Run("the unit price switches to a tier at its min_quantity", func(t *testing.T) {
		s.mustPutProduct(t, "prod_t", map[string]any{"name": "Tiered", "variants": []any{map[string]any{
			"id": "var_t", "sku": "T", "price": map[string]int64{"USD": 1000},
			"tiers": []any{
				map[string]any{"min_quantity": 10, "price": map[string]int64{"USD": 700}},
				map[string]any{"min_quantity": 5, "price": map[string]int64{"USD": 800}},
			}}}})
		s.setStock(t, "T", 100)
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "T", 4)
		steps := []struct {
			body      map[string]any
			qty, unit int64
		}{
			{map[string]any{"quantity_delta": 1}, 5, 800},
			{map[string]any{"quantity": 9}, 9, 800},
			{map[string]any{"quantity": 10}, 10, 700},
			{map[string]any{"quantity": 4}, 4, 1000},
		}
		for _, st := range steps {
			it := cartOf(t, s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, st.body)).item("T")
			if it.Quantity != st.qty || it.UnitPrice != st.unit || it.Subtotal != st.qty*st.unit || it.PriceWhenAdded != 1000 {
				t.Errorf("after %v: item = %+v, want %d at %d", st.body, it, st.qty, st.unit)
			}
		}
	})

	t.Run("a retail price gives retail_total and saved", func(t *testing.T) {
		s.mustPutProduct(t, "prod_r", map[string]any{"name": "Discounted", "variants": []any{map[string]any{
			"id": "var_r", "sku": "R", "price": map[string]int64{"USD": 1000}, "retail_price": map[string]int64{"USD": 1500}}}})
		s.setStock(t, "R", 100)
		s.mustProduct(t, "prod_plain", 300, 100, "P")
		id := s.mustCart(t)
		s.mustAdd(t, id, "R", 2)
		s.mustAdd(t, id, "P", 3)
		c := s.getCart(t, id)
		if it := c.item("R"); it.RetailPrice == nil || *it.RetailPrice != 1500 {
			t.Errorf("retail_price = %v", it.RetailPrice)
		}
		if it := c.item("P"); it.RetailPrice != nil {
			t.Errorf("a variant without retail price shows %d", *it.RetailPrice)
		}
		if c.Subtotal != 2900 || c.RetailTotal != 3900 || c.Saved != 1000 || c.ItemCount != 5 || c.UniqueItemCount != 2 {
			t.Errorf("subtotal %d retail_total %d saved %d item_count %d unique %d", c.Subtotal, c.RetailTotal, c.Saved, c.ItemCount, c.UniqueItemCount)
		}
	})

	t.Run("a variant with no price in the cart's currency cannot be added", func(t *testing.T) {
		s.mustPutProduct(t, "prod_usd", map[string]any{"name": "Dollars only", "variants": []any{map[string]any{
			"id": "var_usd", "sku": "USDONLY", "price": map[string]int64{"USD": 1000}}}})
		s.setStock(t, "USDONLY", 10)
		id := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, map[string]any{"currency": "JPY"})).ID
		p := s.mustReject(t, id, []string{"USDONLY"}, 422, "currency_unavailable", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "USDONLY"})
		if !slices.Contains(p.fields(), "sku") {
			t.Errorf("errors name %v", p.fields())
		}
	})

	t.Run("tax per line rounds half up and shipping is waived over its threshold", func(t *testing.T) {
		s2 := mustServer(t)
		s2.putSettings(t, map[string]any{"shipping": map[string]any{"USD": map[string]int64{"flat": 500, "free_over": 10000}}})
		s2.mustPutProduct(t, "prod_tax", map[string]any{"name": "Taxed", "variants": []any{
			map[string]any{"id": "var_g", "sku": "G", "price": map[string]int64{"USD": 505}, "tax_rate": 500},
			map[string]any{"id": "var_h", "sku": "H", "price": map[string]int64{"USD": 1000}, "tax_rate": 825},
			map[string]any{"id": "var_n", "sku": "N", "price": map[string]int64{"USD": 333}},
		}})
		for _, sku := range []string{"G", "H", "N"} {
			s2.setStock(t, sku, 100)
		}
		id := s2.mustCart(t)
		if c := s2.getCart(t, id); c.Shipping != 0 {
			t.Errorf("an empty cart has shipping %d", c.Shipping)
		}
		s2.mustAdd(t, id, "G", 2) // 1010 at 5% = 50.5 -> 51
		h := s2.mustAdd(t, id, "H", 1)
		s2.mustAdd(t, id, "N", 1)
		c := s2.getCart(t, id)
		if g := c.item("G"); g.Tax != 51 || g.Total != 1061 {
			t.Errorf("G tax %d total %d, want 51 and 1061", g.Tax, g.Total)
		}
		if hh := c.item("H"); hh.Tax != 83 { // 1000 at 8.25% = 82.5 -> 83
			t.Errorf("H tax %d, want 83", hh.Tax)
		}
		if n := c.item("N"); n.Tax != 0 {
			t.Errorf("N tax %d, want 0", n.Tax)
		}
		if c.Subtotal != 2343 || c.Tax != 134 || c.Shipping != 500 || c.Total != 2343+134+500 {
			t.Errorf("subtotal %d tax %d shipping %d total %d", c.Subtotal, c.Tax, c.Shipping, c.Total)
		}
		c = cartOf(t, s2.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+h, s2.Admin, map[string]any{"quantity": 9}))
		// H: 9000 at 8.25% = 742.5 -> 743; subtotal 1010 + 9000 + 333 = 10343, over 10000.
		if c.Subtotal != 10343 || c.Tax != 51+743 || c.Shipping != 0 || c.Total != 10343+794 {
			t.Errorf("subtotal %d tax %d shipping %d total %d", c.Subtotal, c.Tax, c.Shipping, c.Total)
		}
	})
}

func TestCatalog(t *testing.T) {
	s := mustServer(t)

	t.Run("a product reads back as written, with its variants", func(t *testing.T) {
		body := map[string]any{"name": "Wireless Headphones", "brand": "Acme", "variants": []any{
			map[string]any{"id": "var_blue_large", "sku": "WH-BL", "price": map[string]int64{"USD": 9999},
				"options": []any{map[string]any{"name": "color", "value": "Blue"}, map[string]any{"name": "size", "value": "Large"}}},
			map[string]any{"id": "var_red", "sku": "WH-R", "price": map[string]int64{"USD": 9999, "EUR": 8999}, "active": false},
		}}
		s.mustPutProduct(t, "prod_123", body)
		start := time.Now().Add(-time.Minute)
		var p struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			Brand     string    `json:"brand"`
			CreatedAt time.Time `json:"created_at"`
			UpdatedAt time.Time `json:"updated_at"`
			Variants  []struct {
				ID     string           `json:"id"`
				SKU    string           `json:"sku"`
				Name   string           `json:"name"`
				Price  map[string]int64 `json:"price"`
				Active bool             `json:"active"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/v1/products/prod_123", s.Admin, nil).Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != "prod_123" || p.Name != "Wireless Headphones" || p.Brand != "Acme" || len(p.Variants) != 2 {
			t.Fatalf("product = %+v", p)
		}
		if v := p.Variants[0]; v.SKU != "WH-BL" || v.Name != "Blue - Large" || v.Price["USD"] != 9999 || !v.Active {
			t.Errorf("variant 0 = %+v", v)
		}
		if v := p.Variants[1]; v.SKU != "WH-R" || v.Active || v.Price["EUR"] != 8999 {
			t.Errorf("variant 1 = %+v", v)
		}
		if p.CreatedAt.Before(start) || p.UpdatedAt.Before(start) {
			t.Errorf("created_at %s, updated_at %s: want the time of the PUT", p.CreatedAt, p.UpdatedAt)
		}
		created := p.CreatedAt
		body["name"] = "Wireless Headphones 2"
		s.mustPutProduct(t, "prod_123", body)
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/v1/products/prod_123", s.Admin, nil).Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Name != "Wireless Headphones 2" || !p.CreatedAt.Equal(created) || p.UpdatedAt.Before(created) {
			t.Errorf("after a second PUT: name %q created_at %s (was %s) updated_at %s", p.Name, p.CreatedAt, created, p.UpdatedAt)
		}
	})

	t.Run("an inactive variant cannot be added", func(t *testing.T) {
		s.setStock(t, "WH-R", 10)
		id := s.mustCart(t)
		s.mustReject(t, id, []string{"WH-R"}, 422, "variant_unavailable", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "WH-R"})
		s.setStock(t, "WH-BL", 10)
		s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "WH-BL"})
	})

	t.Run("a variant left out of a product's PUT becomes unavailable in carts", func(t *testing.T) {
		s.mustProduct(t, "prod_two", 100, 10, "TWO-1", "TWO-2")
		id := s.mustCart(t)
		s.mustAdd(t, id, "TWO-1", 1)
		s.mustAdd(t, id, "TWO-2", 2)
		s.mustPutProduct(t, "prod_two", map[string]any{"name": "Two", "variants": []any{
			map[string]any{"id": "var_TWO-1", "sku": "TWO-1", "price": map[string]int64{"USD": 100}}}})
		c := s.getCart(t, id)
		if len(c.Items) != 1 || c.Items[0].SKU != "TWO-1" || len(c.UnavailableItems) != 1 || c.UnavailableItems[0].SKU != "TWO-2" {
			t.Errorf("items %+v unavailable %+v", c.Items, c.UnavailableItems)
		}
		s.checkReservations(t, []string{"TWO-1", "TWO-2"}, id)
	})

	t.Run("an unknown product is 404", func(t *testing.T) {
		s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/prod_nope", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "", "DELETE", "/v1/products/prod_nope", s.Admin, nil)
	})

	t.Run("a deleted product is 404 and its items become unavailable", func(t *testing.T) {
		s.mustProduct(t, "prod_gone", 700, 10, "GONE")
		s.mustProduct(t, "prod_stays", 100, 10, "STAYS")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "GONE", 2)
		s.mustAdd(t, id, "STAYS", 1)
		s.mustCall(t, 204, "DELETE", "/v1/products/prod_gone", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/prod_gone", s.Admin, nil)
		c := s.getCart(t, id)
		if len(c.Items) != 1 || len(c.UnavailableItems) != 1 || c.UnavailableItems[0].ID != item {
			t.Fatalf("items %+v unavailable %+v", c.Items, c.UnavailableItems)
		}
		if c.Subtotal != 100 || c.ItemCount != 1 || c.UniqueItemCount != 1 {
			t.Errorf("the unavailable item counts: subtotal %d item_count %d", c.Subtotal, c.ItemCount)
		}
		s.mustReject(t, id, []string{"GONE"}, 422, "unknown_variant", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "GONE"})
		for _, body := range []map[string]any{{"quantity": 3}, {"quantity": 1}, {"quantity_delta": 1}} {
			p := s.mustReject(t, id, []string{"GONE"}, 409, "item_unavailable", "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, body)
			if p.Cart == nil {
				t.Errorf("%v: the 409 carries no cart", body)
			}
		}
		c = s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+item, nil)
		if len(c.UnavailableItems) != 0 || len(c.Items) != 1 {
			t.Errorf("after removal: %+v", c)
		}
		s.checkReservations(t, []string{"GONE", "STAYS"}, id)
	})

	invalid := []struct {
		name, id string
		body     string
		field    string
	}{
		{"a bad id", "bad.id", `{"name": "x", "variants": [{"id": "v_bad", "sku": "BAD1", "price": {"USD": 1}}]}`, "id"},
		{"no variants", "prod_nov", `{"name": "x", "variants": []}`, "variants"},
		{"no name", "prod_non", `{"variants": [{"id": "v_non", "sku": "NON", "price": {"USD": 1}}]}`, "name"},
		{"a duplicate SKU within the product", "prod_dup", `{"name": "x", "variants": [{"id": "v1", "sku": "DUP", "price": {"USD": 1}}, {"id": "v2", "sku": "DUP", "price": {"USD": 1}}]}`, "variants[1].sku"},
		{"a duplicate variant id", "prod_dupv", `{"name": "x", "variants": [{"id": "v1", "sku": "DV1", "price": {"USD": 1}}, {"id": "v1", "sku": "DV2", "price": {"USD": 1}}]}`, "variants[1].id"},
		{"a negative price", "prod_neg", `{"name": "x", "variants": [{"id": "v_neg", "sku": "NEG", "price": {"USD": -1}}]}`, "variants[0].price"},
		{"no price", "prod_nop", `{"name": "x", "variants": [{"id": "v_nop", "sku": "NOP"}]}`, "variants[0].price"},
		{"a bad currency", "prod_cur", `{"name": "x", "variants": [{"id": "v_cur", "sku": "CUR", "price": {"usd": 100}}]}`, "variants[0].price"},
		{"a tier below 2", "prod_tier", `{"name": "x", "variants": [{"id": "v_tier", "sku": "TIER", "price": {"USD": 100}, "tiers": [{"min_quantity": 1, "price": {"USD": 90}}]}]}`, "variants[0].tiers[0].min_quantity"},
		{"a tax rate over 100%", "prod_tax", `{"name": "x", "variants": [{"id": "v_tax", "sku": "TAX", "price": {"USD": 100}, "tax_rate": 10001}]}`, "variants[0].tax_rate"},
		{"a SKU with a space", "prod_sp", `{"name": "x", "variants": [{"id": "v_sp", "sku": "A B", "price": {"USD": 100}}]}`, "variants[0].sku"},
		{"a body id differing from the path", "prod_mis", `{"id": "prod_other", "name": "x", "variants": [{"id": "v_mis", "sku": "MIS", "price": {"USD": 1}}]}`, "id"},
	}
	for _, tt := range invalid {
		t.Run("a product with "+tt.name+" is 422 naming "+tt.field, func(t *testing.T) {
			p := s.mustReject(t, "", nil, 422, "", "PUT", "/v1/products/"+tt.id, s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
			s.mustReject(t, "", nil, 404, "", "GET", "/v1/products/"+tt.id, s.Admin, nil)
		})
	}

	t.Run("a SKU of another product is 422", func(t *testing.T) {
		s.mustProduct(t, "prod_owner", 100, 1, "OWNED")
		p := s.mustReject(t, "", []string{"OWNED"}, 422, "duplicate_sku", "PUT", "/v1/products/prod_thief", s.Admin,
			`{"name": "x", "variants": [{"id": "v_thief", "sku": "OWNED", "price": {"USD": 1}}]}`)
		if !slices.Contains(p.fields(), "variants[0].sku") {
			t.Errorf("errors name %v", p.fields())
		}
	})

	t.Run("inventory takes absolute and relative changes", func(t *testing.T) {
		var st stockBody
		json.Unmarshal(s.mustCall(t, 200, "PUT", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand": 10}).Body, &st)
		if st.SKU != "INV" || st.OnHand != 10 || st.Reserved != 0 || st.Available != 10 {
			t.Errorf("after PUT: %+v", st)
		}
		json.Unmarshal(s.mustCall(t, 200, "PATCH", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand_delta": 5}).Body, &st)
		if st.OnHand != 15 || st.Available != 15 {
			t.Errorf("after PATCH +5: %+v", st)
		}
		json.Unmarshal(s.mustCall(t, 200, "PATCH", "/v1/inventory/INV", s.Admin, map[string]int64{"on_hand_delta": -3}).Body, &st)
		if st.OnHand != 12 {
			t.Errorf("after PATCH -3: %+v", st)
		}
		if got := s.stock(t, "INV"); got.OnHand != 12 || got.Available != 12 {
			t.Errorf("GET: %+v", got)
		}
	})

	inventoryInvalid := []struct {
		name, method, body, field string
	}{
		{"a negative on_hand", "PUT", `{"on_hand": -1}`, "on_hand"},
		{"a delta below zero stock", "PATCH", `{"on_hand_delta": -13}`, "on_hand"},
		{"on_hand_delta in a PUT", "PUT", `{"on_hand_delta": 1}`, "on_hand_delta"},
		{"on_hand in a PATCH", "PATCH", `{"on_hand": 1}`, "on_hand"},
		{"no on_hand", "PUT", `{}`, "on_hand"},
		{"an on_hand that overflows", "PUT", `{"on_hand": 99999999999999999999}`, "on_hand"},
		{"a delta that overflows the stock", "PATCH", `{"on_hand_delta": 9223372036854775807}`, "on_hand_delta"},
	}
	for _, tt := range inventoryInvalid {
		t.Run("inventory "+tt.method+" with "+tt.name+" is 422", func(t *testing.T) {
			p := s.mustReject(t, "", []string{"INV"}, 422, "", tt.method, "/v1/inventory/INV", s.Admin, tt.body)
			if !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	t.Run("lowering on_hand below reserved releases the newest reservations first", func(t *testing.T) {
		s.mustProduct(t, "prod_shrink", 100, 10, "SHRINK")
		older, newer := s.mustCart(t), s.mustCart(t)
		s.mustAdd(t, older, "SHRINK", 3)
		item := s.mustAdd(t, newer, "SHRINK", 4)
		olderV, newerV := s.getCart(t, older).Version, s.getCart(t, newer).Version
		var st stockBody
		json.Unmarshal(s.mustCall(t, 200, "PUT", "/v1/inventory/SHRINK", s.Admin, map[string]int64{"on_hand": 5}).Body, &st)
		if st.OnHand != 5 || st.Reserved != 5 || st.Available != 0 {
			t.Errorf("stock = %+v, want reserved cut to on_hand", st)
		}
		o, n := s.getCart(t, older), s.getCart(t, newer)
		if it := o.item("SHRINK"); it.ReservedQuantity != 3 || it.InventoryStatus != "in_stock" || o.Version != olderV {
			t.Errorf("the older cart lost stock: %+v (version %d -> %d)", it, olderV, o.Version)
		}
		it := n.item("SHRINK")
		if it.ID != item || it.Quantity != 4 || it.ReservedQuantity != 2 || it.InventoryStatus != "insufficient" {
			t.Errorf("the newer line = %+v, want quantity 4, reserved 2, insufficient", it)
		}
		if n.Version != newerV+1 {
			t.Errorf("the newer cart's version %d -> %d, want one up", newerV, n.Version)
		}
		s.checkReservations(t, []string{"SHRINK"}, older, newer)
		// Raising the line again is a stock check like any other.
		s.mustReject(t, newer, []string{"SHRINK"}, 409, "insufficient_stock", "PATCH", "/v1/carts/"+newer+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 1})
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+newer+"/items/"+item, map[string]any{"quantity": 2})
		if it := c.item("SHRINK"); it.ReservedQuantity != 2 || it.InventoryStatus != "in_stock" {
			t.Errorf("after lowering to what it holds: %+v", it)
		}
		s.checkReservations(t, []string{"SHRINK"}, older, newer)
	})

	t.Run("stock taken from a line entirely leaves it holding nothing and with no reservation time", func(t *testing.T) {
		s.mustProduct(t, "prod_vanish", 100, 3, "VANISH")
		id := s.mustCart(t)
		s.mustAdd(t, id, "VANISH", 3)
		before := s.getCart(t, id)
		s.mustCall(t, 200, "PUT", "/v1/inventory/VANISH", s.Admin, map[string]int64{"on_hand": 0})
		c := s.getCart(t, id)
		it := c.item("VANISH")
		if it == nil || it.Quantity != 3 || it.ReservedQuantity != 0 || it.InventoryStatus == "in_stock" {
			t.Fatalf("item = %+v", it)
		}
		if it.ReservedUntil != nil {
			t.Errorf("reserved_until = %s on a line that holds nothing, want null", *it.ReservedUntil)
		}
		if c.Version != before.Version+1 {
			t.Errorf("version %d -> %d, want one up", before.Version, c.Version)
		}
		s.checkReservations(t, []string{"VANISH"}, id)
	})

	t.Run("settings read back as written", func(t *testing.T) {
		s2 := mustServer(t)
		var st struct {
			DefaultCurrency    string                      `json:"default_currency"`
			PricesIncludeTax   bool                        `json:"prices_include_tax"`
			MaxQuantityPerItem int64                       `json:"max_quantity_per_item"`
			MaxLinesPerCart    int64                       `json:"max_lines_per_cart"`
			Shipping           map[string]map[string]int64 `json:"shipping"`
		}
		json.Unmarshal(s2.mustCall(t, 200, "GET", "/v1/settings", s2.Admin, nil).Body, &st)
		if st.DefaultCurrency != "USD" || st.MaxQuantityPerItem != 999 || st.MaxLinesPerCart != 1000 || st.PricesIncludeTax {
			t.Errorf("defaults = %+v", st)
		}
		s2.putSettings(t, map[string]any{"default_currency": "EUR", "max_quantity_per_item": 50, "shipping": map[string]any{"EUR": map[string]int64{"flat": 400}}})
		json.Unmarshal(s2.mustCall(t, 200, "GET", "/v1/settings", s2.Admin, nil).Body, &st)
		if st.DefaultCurrency != "EUR" || st.MaxQuantityPerItem != 50 || st.MaxLinesPerCart != 1000 || st.Shipping["EUR"]["flat"] != 400 {
			t.Errorf("after PUT = %+v", st)
		}
		for _, body := range []string{`{"default_currency": "ZZZ"}`, `{"max_quantity_per_item": 0}`, `{"max_lines_per_cart": -1}`,
			`{"shipping": {"usd": {"flat": 1}}}`, `{"shipping": {"USD": {"flat": -1}}}`, `{"prices_include_tax": "yes"}`} {
			s2.mustReject(t, "", nil, 422, "", "PUT", "/v1/settings", s2.Admin, body)
		}
	})

	t.Run("the per-cart line limit holds", func(t *testing.T) {
		s2 := mustServer(t)
		s2.mustProduct(t, "prod_l", 100, 10, "L1", "L2")
		s2.putSettings(t, map[string]any{"max_lines_per_cart": 1})
		id := s2.mustCart(t)
		s2.mustAdd(t, id, "L1", 1)
		s2.mustReject(t, id, []string{"L2"}, 422, "too_many_lines", "POST", "/v1/carts/"+id+"/items", s2.Admin, map[string]any{"sku": "L2"})
		s2.mustAdd(t, id, "L1", 1)
	})
}

func TestAuth(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 100, "A")
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "A", 1)

	t.Run("no or bad credentials are 401 with WWW-Authenticate", func(t *testing.T) {
		for _, tt := range []struct{ name, header string }{
			{"no Authorization", ""},
			{"an unknown key", "Bearer sk_unknown"},
			{"an unknown token", "Bearer ct_unknown"},
			{"a secret of no known kind", "Bearer hello"},
			{"Basic auth", "Basic dXNlcjpwYXNz"},
			{"an empty Bearer", "Bearer "},
		} {
			var headers []string
			if tt.header != "" {
				headers = []string{"Authorization", tt.header}
			}
			r := s.call(t, "GET", "/v1/carts/"+id, "", nil, headers...).mustStatus(t, 401)
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: no WWW-Authenticate", tt.name)
			}
			s.mustReject(t, id, []string{"A"}, 401, "", "PUT", "/v1/carts/"+id+"/items/"+item, "", map[string]any{"quantity": 5}, headers...)
		}
	})

	t.Run("a key without the scope is 403", func(t *testing.T) {
		cartsRead := s.mustKey(t, auth.CartsRead)
		catalogRead := s.mustKey(t, auth.CatalogRead)
		cartsWrite := s.mustKey(t, auth.CartsWrite)
		s.mustCall(t, 200, "GET", "/v1/carts/"+id, cartsRead, nil)
		s.mustCall(t, 200, "GET", "/v1/products/prod_a", catalogRead, nil)
		calls := []struct {
			name, key, method, path string
			body                    any
		}{
			{"a carts:read key adding an item", cartsRead, "POST", "/v1/carts/" + id + "/items", map[string]any{"sku": "A"}},
			{"a carts:read key changing an item", cartsRead, "PUT", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity": 3}},
			{"a carts:read key opening a cart", cartsRead, "POST", "/v1/carts", nil},
			{"a catalog:read key putting a product", catalogRead, "PUT", "/v1/products/prod_new", map[string]any{"name": "n", "variants": []any{map[string]any{"id": "v_new", "sku": "NEW", "price": map[string]int64{"USD": 1}}}}},
			{"a catalog:read key setting stock", catalogRead, "PUT", "/v1/inventory/A", map[string]int64{"on_hand": 1}},
			{"a catalog:read key reading a cart", catalogRead, "GET", "/v1/carts/" + id, nil},
			{"a carts:write key reading the catalog", cartsWrite, "GET", "/v1/products/prod_a", nil},
			{"a catalog:write key changing settings", s.mustKey(t, auth.CatalogWrite), "PUT", "/v1/settings", map[string]any{"max_quantity_per_item": 5}},
			{"a carts:write key issuing a customer token", cartsWrite, "POST", "/v1/customers/cust_1/tokens", nil},
		}
		for _, c := range calls {
			t.Run(c.name+" is 403", func(t *testing.T) {
				s.mustReject(t, id, []string{"A"}, 403, "missing_scope", c.method, c.path, c.key, c.body)
			})
		}
	})

	type tokenBody struct {
		ID         string `json:"id"`
		Token      string `json:"token"`
		CustomerID string `json:"customer_id"`
		ExpiresAt  string `json:"expires_at"`
	}
	issue := func(t *testing.T, customer string, body any) tokenBody {
		t.Helper()
		var tok tokenBody
		json.Unmarshal(s.mustCall(t, 201, "POST", "/v1/customers/"+customer+"/tokens", s.Admin, body).Body, &tok)
		if !strings.HasPrefix(tok.Token, "ct_") || !strings.HasPrefix(tok.ID, "tok_") || tok.CustomerID != customer {
			t.Fatalf("token = %+v", tok)
		}
		return tok
	}

	t.Run("a customer token reaches only its customer's carts", func(t *testing.T) {
		alice, bob := issue(t, "alice", nil), issue(t, "bob", map[string]any{"ttl_seconds": 3600})
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", alice.Token, nil))
		if c.CustomerID == nil || *c.CustomerID != "alice" {
			t.Errorf("a cart opened with alice's token belongs to %v", c.CustomerID)
		}
		c = cartOf(t, s.mustCall(t, 200, "POST", "/v1/carts/"+c.ID+"/items", alice.Token, map[string]any{"sku": "A", "quantity": 2}))
		aliceItem := c.item("A").ID
		s.mustCall(t, 200, "GET", "/v1/carts/"+c.ID, alice.Token, nil)
		s.mustCall(t, 200, "PATCH", "/v1/carts/"+c.ID+"/items/"+aliceItem, alice.Token, map[string]any{"quantity_delta": 1})

		// Bob gets 404 for alice's cart, and so does anyone for a guest cart.
		for _, target := range []struct{ cart, item string }{{c.ID, aliceItem}, {id, item}} {
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "GET", "/v1/carts/"+target.cart, bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "PATCH", "/v1/carts/"+target.cart+"/items/"+target.item, bob.Token, map[string]any{"quantity": 9})
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "DELETE", "/v1/carts/"+target.cart+"/items/"+target.item, bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "DELETE", "/v1/carts/"+target.cart+"/items", bob.Token, nil)
			s.mustReject(t, target.cart, []string{"A"}, 404, "cart_not_found", "POST", "/v1/carts/"+target.cart+"/items", bob.Token, map[string]any{"sku": "A"})
		}
		s.mustReject(t, "", nil, 403, "customer_mismatch", "POST", "/v1/carts", bob.Token, map[string]any{"customer_id": "alice"})
	})

	t.Run("a customer token cannot use the catalog or issue tokens", func(t *testing.T) {
		tok := issue(t, "carol", nil)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/products/prod_a", nil},
			{"PUT", "/v1/products/prod_a", map[string]any{"name": "n", "variants": []any{map[string]any{"id": "var_A", "sku": "A", "price": map[string]int64{"USD": 1}}}}},
			{"DELETE", "/v1/products/prod_a", nil},
			{"GET", "/v1/inventory/A", nil},
			{"PUT", "/v1/inventory/A", map[string]int64{"on_hand": 0}},
			{"GET", "/v1/settings", nil},
			{"POST", "/v1/customers/carol/tokens", nil},
		} {
			s.mustReject(t, "", []string{"A"}, 403, "missing_scope", c.method, c.path, tok.Token, c.body)
		}
		s.mustCall(t, 200, "GET", "/v1/products/prod_a", s.Admin, nil)
	})

	t.Run("a revoked token is 401", func(t *testing.T) {
		tok := issue(t, "dave", nil)
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", tok.Token, nil))
		s.mustReject(t, "", nil, 404, "token_not_found", "DELETE", "/v1/customers/erin/tokens/"+tok.ID, s.Admin, nil)
		s.mustReject(t, "", nil, 403, "missing_scope", "DELETE", "/v1/customers/dave/tokens/"+tok.ID, s.mustKey(t, auth.CartsWrite), nil)
		s.mustCall(t, 204, "DELETE", "/v1/customers/dave/tokens/"+tok.ID, s.Admin, nil)
		s.mustReject(t, c.ID, nil, 401, "invalid_credentials", "GET", "/v1/carts/"+c.ID, tok.Token, nil)
		s.mustReject(t, c.ID, []string{"A"}, 401, "invalid_credentials", "POST", "/v1/carts/"+c.ID+"/items", tok.Token, map[string]any{"sku": "A"})
	})

	t.Run("an expired token is 401", func(t *testing.T) {
		tok := issue(t, "frank", map[string]any{"ttl_seconds": 1})
		c := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", tok.Token, nil))
		time.Sleep(1100 * time.Millisecond)
		s.mustReject(t, c.ID, nil, 401, "invalid_credentials", "GET", "/v1/carts/"+c.ID, tok.Token, nil)
	})

	t.Run("a token request with a bad ttl is 422", func(t *testing.T) {
		for _, body := range []string{`{"ttl_seconds": 0}`, `{"ttl_seconds": -5}`, `{"ttl_seconds": 99999999999}`} {
			s.mustReject(t, "", nil, 422, "invalid_ttl", "POST", "/v1/customers/gina/tokens", s.Admin, body)
		}
	})
}

func TestHTTP(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 100, "A")

	t.Run("the version goes up by one with every change and is the ETag", func(t *testing.T) {
		id := s.mustCart(t)
		want := int64(1)
		step := func(r response) {
			t.Helper()
			want++
			if c := cartOf(t, r); c.Version != want {
				t.Errorf("version = %d, want %d", c.Version, want)
			}
		}
		step(s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "A"}))
		item := s.getCart(t, id).Items[0].ID
		step(s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity": 4}))
		step(s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"quantity_delta": 2}))
		step(s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"notes": "n"}))
		step(s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+item, s.Admin, nil))
		r := s.mustCall(t, 200, "GET", "/v1/carts/"+id, s.Admin, nil)
		if c := cartOf(t, r); c.Version != want || r.Header.Get("ETag") != strconv.Quote(strconv.FormatInt(want, 10)) {
			t.Errorf("a read changed the version: %d, ETag %s", c.Version, r.Header.Get("ETag"))
		}
	})

	t.Run("If-Match with the current version applies the change", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		c := s.mustCartCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity": 2}, "If-Match", `"2"`)
		if c.Version != 3 || c.item("A").Quantity != 2 {
			t.Errorf("cart = %+v", c)
		}
		s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 1}, "If-Match", "*")
	})

	for _, im := range []string{`"1"`, `"99"`, `2`, `W/"2"`, `"abc"`} {
		t.Run("If-Match "+im+" not matching is 412 with the current cart", func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 1)
			calls := []struct {
				method, path string
				body         any
			}{
				{"PUT", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity": 5}},
				{"PATCH", "/v1/carts/" + id + "/items/" + item, map[string]any{"quantity_delta": 1}},
				{"POST", "/v1/carts/" + id + "/items", map[string]any{"sku": "A"}},
				{"DELETE", "/v1/carts/" + id + "/items/" + item, nil},
				{"DELETE", "/v1/carts/" + id + "/items", nil},
			}
			for _, c := range calls {
				r := s.call(t, c.method, c.path, s.Admin, c.body, "If-Match", im)
				p := s.mustReject(t, id, []string{"A"}, 412, "version_mismatch", c.method, c.path, s.Admin, c.body, "If-Match", im)
				if p.Version == nil || *p.Version != 2 || p.Cart == nil || p.Cart.Version != 2 || p.Cart.item("A").Quantity != 1 {
					t.Errorf("%s %s: problem = %+v", c.method, c.path, p)
				}
				if r.Header.Get("ETag") != `"2"` {
					t.Errorf("%s %s: ETag = %s, want the current \"2\"", c.method, c.path, r.Header.Get("ETag"))
				}
			}
		})
	}

	bodies := []struct {
		name        string
		body        string
		status      int
		code, field string
	}{
		{"malformed JSON", `{"quantity": `, 400, "malformed_body", ""},
		{"JSON with a syntax error", `{"quantity": 2,}`, 400, "malformed_body", ""},
		{"an empty body", ``, 400, "malformed_body", ""},
		{"two JSON values", `{"quantity": 2} {"quantity": 3}`, 400, "malformed_body", ""},
		{"a JSON array", `[{"quantity": 2}]`, 400, "malformed_body", ""},
		{"a JSON string", `"quantity"`, 400, "malformed_body", ""},
		{"a JSON number", `2`, 400, "malformed_body", ""},
		{"JSON null", `null`, 400, "malformed_body", ""},
		{"an unknown field", `{"quantity": 2, "colour": "red"}`, 422, "unknown_field", "colour"},
		{"a quantity as a string", `{"quantity": "2"}`, 422, "invalid_type", "quantity"},
		{"a fractional quantity", `{"quantity": 2.5}`, 422, "invalid_type", "quantity"},
		{"a quantity in exponent form", `{"quantity": 1e3}`, 422, "invalid_type", "quantity"},
		{"notes as a number", `{"notes": 5}`, 422, "invalid_type", "notes"},
		{"validate_inventory as a string", `{"quantity": 2, "validate_inventory": "yes"}`, 422, "invalid_type", "validate_inventory"},
		{"a quantity that overflows int64", `{"quantity": 99999999999999999999}`, 422, "invalid_type", "quantity"},
		{"a negative quantity that overflows int64", `{"quantity": -99999999999999999999}`, 422, "invalid_type", "quantity"},
		{"a quantity_delta that overflows int64", `{"quantity_delta": 99999999999999999999}`, 422, "invalid_type", "quantity_delta"},
	}
	for _, tt := range bodies {
		t.Run(fmt.Sprintf("a PATCH with %s is %d", tt.name, tt.status), func(t *testing.T) {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "A", 1)
			p := s.mustReject(t, id, []string{"A"}, tt.status, tt.code, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, tt.body)
			if tt.field != "" && !slices.Contains(p.fields(), tt.field) {
				t.Errorf("errors name %v, want %s", p.fields(), tt.field)
			}
		})
	}

	for _, path := range []string{"/v1/carts", "/v1/carts/{cart}/items", "/v1/products/prod_x", "/v1/inventory/A", "/v1/settings"} {
		t.Run("a body that is not an object is 400 at "+path, func(t *testing.T) {
			id := s.mustCart(t)
			p := strings.ReplaceAll(path, "{cart}", id)
			method := "PUT"
			if strings.HasPrefix(path, "/v1/carts") {
				method = "POST"
			}
			for _, body := range []string{`[]`, `null`, `"x"`, `true`, `{"a":1`} {
				s.mustReject(t, id, []string{"A"}, 400, "malformed_body", method, p, s.Admin, body)
			}
		})
	}

	t.Run("a body that is not JSON is 415", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "A", 1)
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/xml"} {
			s.mustReject(t, id, []string{"A"}, 415, "unsupported_media_type", "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, `{"quantity": 3}`, "Content-Type", ct)
		}
		s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, s.Admin, `{"quantity": 3}`, "Content-Type", "application/json; charset=utf-8")
	})

	t.Run("a body over the limit is 413", func(t *testing.T) {
		small := mustServer(t, serverOptions{MaxBody: 1024, ReservationTTL: 15 * time.Minute})
		small.mustProduct(t, "prod_a", 100, 100, "A")
		id := small.mustCart(t)
		item := small.mustAdd(t, id, "A", 1)
		big := `{"quantity": 2, "notes": "` + strings.Repeat("x", 2000) + `"}`
		small.mustReject(t, id, []string{"A"}, 413, "body_too_large", "PUT", "/v1/carts/"+id+"/items/"+item, small.Admin, big)
		small.mustReject(t, id, []string{"A"}, 413, "body_too_large", "POST", "/v1/carts", small.Admin, big)
		small.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+item, small.Admin, `{"quantity": 2, "notes": "fits"}`)
	})

	t.Run("an unknown route is a 404 problem", func(t *testing.T) {
		for _, p := range []string{"/v1/nope", "/v2/carts", "/v1/carts/cart_1/coupons/x/y", "/"} {
			s.mustReject(t, "", nil, 404, "route_not_found", "GET", p, s.Admin, nil)
		}
		s.mustReject(t, "", nil, 404, "route_not_found", "GET", "/v1/nope", "", nil)
	})

	t.Run("a wrong method is a 405 problem with Allow", func(t *testing.T) {
		for _, c := range []struct{ method, path, allow string }{
			{"PUT", "/v1/carts", "POST"},
			{"GET", "/v1/carts/cart_1/items", "POST"},
			{"POST", "/v1/carts/cart_1", "GET"},
			{"POST", "/v1/settings", "PUT"},
		} {
			r := s.call(t, c.method, c.path, s.Admin, nil).mustStatus(t, 405)
			if !strings.Contains(r.Header.Get("Allow"), c.allow) {
				t.Errorf("%s %s: Allow = %q, want it to name %s", c.method, c.path, r.Header.Get("Allow"), c.allow)
			}
			if p := problemOf(t, r); p.Code != "method_not_allowed" {
				t.Errorf("%s %s: code = %s", c.method, c.path, p.Code)
			}
		}
	})

	t.Run("health and the OpenAPI document answer without credentials", func(t *testing.T) {
		s.mustCall(t, 200, "GET", "/healthz", "", nil)
		s.mustCall(t, 200, "GET", "/readyz", "", nil)
		var doc map[string]any
		if err := json.Unmarshal(s.mustCall(t, 200, "GET", "/openapi.json", "", nil).Body, &doc); err != nil {
			t.Errorf("openapi.json: %v", err)
		}
	})
}

// TestRejectedCallsChangeNothing drives a battery of rejected calls at one cart holding
// stock and holds each to invariant 4: the cart, its version and the stock stay as they were.
func TestRejectedCallsChangeNothing(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_a", 100, 5, "A")
	s.mustProduct(t, "prod_b", 100, 5, "B")
	s.putSettings(t, map[string]any{"max_quantity_per_item": 20})
	id := s.mustCart(t)
	a := s.mustAdd(t, id, "A", 2)
	s.mustAdd(t, id, "B", 1)
	readOnly := s.mustKey(t, auth.CartsRead)
	items := "/v1/carts/" + id + "/items"
	calls := []struct {
		name, method, path, cred string
		body                     any
		status                   int
		headers                  []string
	}{
		{"an add above stock", "POST", items, s.Admin, map[string]any{"sku": "A", "quantity": 4}, 409, nil},
		{"a set above stock", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 6}, 409, nil},
		{"a delta above stock", "PATCH", items + "/" + a, s.Admin, map[string]any{"quantity_delta": 4}, 409, nil},
		{"a set above the limit under clamp", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 21, "stock_policy": "clamp"}, 422, nil},
		{"a set above the limit under ignore", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 21, "validate_inventory": false}, 422, nil},
		{"an unknown SKU", "POST", items, s.Admin, map[string]any{"sku": "NOPE"}, 422, nil},
		{"a stale If-Match", "PUT", items + "/" + a, s.Admin, map[string]any{"quantity": 1}, 412, []string{"If-Match", `"1"`}},
		{"a stale If-Match on clear", "DELETE", items, s.Admin, nil, 412, []string{"If-Match", `"1"`}},
		{"a read-only key", "DELETE", items, readOnly, nil, 403, nil},
		{"no credentials", "DELETE", items + "/" + a, "", nil, 401, nil},
		{"malformed JSON", "PUT", items + "/" + a, s.Admin, `{`, 400, nil},
		{"an overflowing quantity", "PUT", items + "/" + a, s.Admin, `{"quantity": 99999999999999999999}`, 422, nil},
		{"a text/plain body", "PUT", items + "/" + a, s.Admin, `{"quantity": 1}`, 415, []string{"Content-Type", "text/plain"}},
		{"an unknown item", "DELETE", items + "/ci_999999", s.Admin, nil, 404, nil},
		{"both quantity and delta", "PATCH", items + "/" + a, s.Admin, map[string]any{"quantity": 1, "quantity_delta": 1}, 422, nil},
	}
	for _, c := range calls {
		t.Run(c.name+" changes nothing", func(t *testing.T) {
			s.mustReject(t, id, []string{"A", "B"}, c.status, "", c.method, c.path, c.cred, c.body, c.headers...)
		})
	}
	s.checkReservations(t, []string{"A", "B"}, id)
}
