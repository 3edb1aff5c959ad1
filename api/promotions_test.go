package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cartd/cartd/auth"
)

// Promotions over HTTP: the promotion resource, coupons applied to and removed from carts,
// and how carts report them. Every response goes through call's checks, which recompute each
// cart's figures from its items and coupons (checkFigures).

// mustPromotion writes a promotion and fails the test unless it is accepted.
func (s *testServer) mustPromotion(tb testing.TB, code string, body map[string]any) {
	tb.Helper()
	s.mustCall(tb, 200, "PUT", "/v1/promotions/"+code, s.Admin, body)
}

// mustTaxedProduct creates a one-variant product with a tax rate and stock.
func (s *testServer) mustTaxedProduct(tb testing.TB, sku, brand string, usd, taxRate, stock int64) {
	tb.Helper()
	s.mustPutProduct(tb, "prod_"+strings.ToLower(sku), map[string]any{"name": sku, "brand": brand, "variants": []any{
		map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]any{"USD": usd}, "tax_rate": taxRate}}})
	s.setStock(tb, sku, stock)
}

func couponsPath(cartID string) string { return "/v1/carts/" + cartID + "/coupons" }

func TestPromotionResource(t *testing.T) {
	s := mustServer(t)

	t.Run("a promotion is written, read in any case, replaced and withdrawn", func(t *testing.T) {
		r := s.mustCall(t, 200, "PUT", "/v1/promotions/spring-20", s.Admin, map[string]any{
			"name": "Spring", "description": "20% off Acme", "type": "percent", "rate": 2000, "method": "auto",
			"conditions": map[string]any{"min_subtotal": map[string]any{"USD": 1000}, "min_quantity": 2, "brands": []any{"Acme"}},
			"starts_at":  "2020-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00.5Z", "active": true})
		p := r.JSON(t)
		if p["code"] != "SPRING-20" || p["object"] != "promotion" || p["type"] != "percent" || p["rate"] != 2000.0 ||
			p["ends_at"] != "2100-01-01T00:00:00.5Z" || p["number"] == 0.0 {
			t.Fatalf("as stored: %s", r.Body)
		}
		got := s.mustCall(t, 200, "GET", "/v1/promotions/Spring-20", s.Admin, nil)
		if string(got.Body) != string(r.Body) {
			t.Errorf("GET differs from PUT:\n%s\n%s", got.Body, r.Body)
		}
		r = s.mustCall(t, 200, "PUT", "/v1/promotions/SPRING-20", s.Admin, map[string]any{"code": "spring-20", "type": "cash", "amount": map[string]any{"USD": 300}})
		if p2 := r.JSON(t); p2["number"] != p["number"] || p2["created_at"] != p["created_at"] || p2["rate"] != nil ||
			p2["method"] != "manual" || p2["name"] != "SPRING-20" || p2["starts_at"] != nil {
			t.Errorf("a replacement keeps the number and creation time and resets the rest: %s", r.Body)
		}
		s.mustCall(t, 204, "DELETE", "/v1/promotions/spring-20", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "promotion_not_found", "GET", "/v1/promotions/SPRING-20", s.Admin, nil)
		s.mustReject(t, "", nil, 404, "promotion_not_found", "DELETE", "/v1/promotions/SPRING-20", s.Admin, nil)
		r = s.mustCall(t, 200, "PUT", "/v1/promotions/SPRING-20", s.Admin, map[string]any{"type": "freeship"})
		if r.JSON(t)["number"] != p["number"] {
			t.Errorf("a revived promotion has a new number: %s", r.Body)
		}
	})

	t.Run("invalid promotions are 422 naming the field", func(t *testing.T) {
		tests := []struct {
			name, code string
			body       any
			reason     string
			field      string
		}{
			{"no type", "P", map[string]any{"name": "x"}, "missing_field", "type"},
			{"an unknown type", "P", map[string]any{"type": "bogo"}, "invalid_promotion", "type"},
			{"an unknown method", "P", map[string]any{"type": "freeship", "method": "sometimes"}, "invalid_promotion", "method"},
			{"a percent without a rate", "P", map[string]any{"type": "percent"}, "invalid_promotion", "rate"},
			{"a percent over 100%", "P", map[string]any{"type": "percent", "rate": 10001}, "invalid_promotion", "rate"},
			{"a rate on cash", "P", map[string]any{"type": "cash", "rate": 10, "amount": map[string]any{"USD": 1}}, "invalid_promotion", "rate"},
			{"cash without an amount", "P", map[string]any{"type": "cash"}, "invalid_promotion", "amount"},
			{"cash of nothing", "P", map[string]any{"type": "cash", "amount": map[string]any{"USD": 0}}, "invalid_promotion", "amount.USD"},
			{"a negative fixed price", "P", map[string]any{"type": "fixedprice", "amount": map[string]any{"USD": -1}}, "invalid_promotion", "amount.USD"},
			{"an amount on freeship", "P", map[string]any{"type": "freeship", "amount": map[string]any{"USD": 1}}, "invalid_promotion", "amount"},
			{"an unknown currency", "P", map[string]any{"type": "cash", "amount": map[string]any{"usd": 1}}, "invalid_promotion", "amount"},
			{"a negative minimum", "P", map[string]any{"type": "freeship", "conditions": map[string]any{"min_subtotal": map[string]any{"USD": -1}}}, "invalid_promotion", "conditions.min_subtotal.USD"},
			{"an empty SKU", "P", map[string]any{"type": "freeship", "conditions": map[string]any{"skus": []any{""}}}, "invalid_promotion", "conditions.skus[0]"},
			{"an end before the start", "P", map[string]any{"type": "freeship", "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "invalid_promotion", "ends_at"},
			{"a time that is no time", "P", map[string]any{"type": "freeship", "starts_at": "tomorrow"}, "invalid_time", "starts_at"},
			{"an unknown field", "P", map[string]any{"type": "freeship", "stackable": true}, "unknown_field", "stackable"},
			{"an unknown condition", "P", map[string]any{"type": "freeship", "conditions": map[string]any{"colors": []any{"red"}}}, "unknown_field", "colors"},
			{"another code in the body", "P", map[string]any{"code": "Q", "type": "freeship"}, "code_mismatch", "code"},
			{"a code that cannot be one", "no%20way", map[string]any{"type": "freeship"}, "invalid_promotion", "code"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := s.mustReject(t, "", nil, 422, tt.reason, "PUT", "/v1/promotions/"+tt.code, s.Admin, tt.body)
				if !slices.Contains(p.fields(), tt.field) {
					t.Errorf("fields %v, want %s", p.fields(), tt.field)
				}
			})
		}
		s.mustReject(t, "", nil, 404, "promotion_not_found", "GET", "/v1/promotions/P", s.Admin, nil)
	})

	t.Run("scopes: catalog:write writes, catalog:read reads, cart credentials do neither", func(t *testing.T) {
		reader, carts := s.mustKey(t, auth.CatalogRead), s.mustKey(t, auth.CartsRead, auth.CartsWrite)
		s.mustPromotion(t, "SCOPED", map[string]any{"type": "freeship"})
		s.mustCall(t, 200, "GET", "/v1/promotions/SCOPED", reader, nil)
		s.mustReject(t, "", nil, 403, "missing_scope", "PUT", "/v1/promotions/SCOPED", reader, map[string]any{"type": "freeship"})
		s.mustReject(t, "", nil, 403, "missing_scope", "GET", "/v1/promotions/SCOPED", carts, nil)
		s.mustReject(t, "", nil, 403, "missing_scope", "DELETE", "/v1/promotions/SCOPED", carts, nil)
	})

	t.Run("a PUT with an Idempotency-Key is applied once", func(t *testing.T) {
		body := map[string]any{"type": "cash", "amount": map[string]any{"USD": 100}}
		first := s.mustCall(t, 200, "PUT", "/v1/promotions/ONCE", s.Admin, body, "Idempotency-Key", "k-once")
		again := s.mustCall(t, 200, "PUT", "/v1/promotions/ONCE", s.Admin, body, "Idempotency-Key", "k-once")
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Errorf("the retry was not replayed: %v %s", again.Header, again.Body)
		}
	})
}

func TestCoupons(t *testing.T) {
	s := mustServer(t)
	s.putSettings(t, map[string]any{"shipping": map[string]any{"USD": map[string]any{"flat": 500, "free_over": 20000}}})
	s.mustTaxedProduct(t, "TEE", "Acme", 2000, 1000, 100)
	s.mustTaxedProduct(t, "MUG", "Other", 1250, 500, 100)
	s.mustPromotion(t, "TEN", map[string]any{"name": "Ten percent", "type": "percent", "rate": 1000,
		"conditions": map[string]any{"min_subtotal": map[string]any{"USD": 5000}}})
	s.mustPromotion(t, "FIVE", map[string]any{"type": "cash", "amount": map[string]any{"USD": 500}})
	s.mustPromotion(t, "SHIP", map[string]any{"type": "freeship"})
	s.mustPromotion(t, "TEEFIX", map[string]any{"type": "fixedprice", "amount": map[string]any{"USD": 1500}, "conditions": map[string]any{"skus": []any{"TEE"}}})
	s.mustPromotion(t, "3FOR2", map[string]any{"type": "lowestcost", "conditions": map[string]any{"min_quantity": 3}})
	s.mustPromotion(t, "ACME", map[string]any{"type": "percent", "rate": 500, "method": "auto", "conditions": map[string]any{"brands": []any{"Acme"}}})
	s.mustPromotion(t, "LATER", map[string]any{"type": "freeship", "starts_at": "2099-01-01T00:00:00Z"})
	s.mustPromotion(t, "PAST", map[string]any{"type": "freeship", "ends_at": "2020-01-01T00:00:00Z"})
	s.mustPromotion(t, "OFF", map[string]any{"type": "freeship", "active": false})
	s.mustPromotion(t, "EUROS", map[string]any{"type": "cash", "amount": map[string]any{"EUR": 500}})

	t.Run("each type takes off what it should, and the figures add up", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "TEE", 2) // 40.00; ACME 5% applies by itself
		s.mustAdd(t, id, "MUG", 2) // 25.00
		c := s.getCart(t, id)
		if acme := c.coupon("ACME"); acme == nil || !acme.Applied || acme.Amount != 200 || acme.Method != "auto" || c.Discount != 200 {
			t.Fatalf("ACME on 40.00 of Acme: %+v", c.Coupons)
		}
		for _, code := range []string{"TEN", "FIVE", "SHIP", "TEEFIX", "3FOR2"} {
			c = s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": strings.ToLower(code)})
			if m := c.message("coupon_applied"); m == nil || !strings.Contains(m.Message, code) {
				t.Fatalf("applying %s: %+v", code, c.Messages)
			}
		}
		// Subtotal 65.00. TEEFIX: TEE at 15.00, 2 x 5.00 off; 3FOR2: one MUG, the cheapest unit,
		// free: 12.50 off. Percent on what is left, TEE 30.00 and MUG 12.50: TEN 10% of both,
		// 3.00 + 1.25, and ACME 5% of TEE, 1.50. FIVE: 5.00 off the 36.75 left. SHIP waives
		// the 5.00 shipping.
		want := map[string]int64{"TEEFIX": 1000, "3FOR2": 1250, "TEN": 425, "ACME": 150, "FIVE": 500, "SHIP": 500}
		for code, amount := range want {
			if cp := c.coupon(code); cp == nil || !cp.Applied || cp.Amount != amount {
				t.Errorf("%s: %+v, want applied, amount %d", code, cp, amount)
			}
		}
		if c.Subtotal != 6500 || c.Discount != 1000+1250+425+150+500 || c.Shipping != 0 {
			t.Errorf("subtotal %d discount %d shipping %d", c.Subtotal, c.Discount, c.Shipping)
		}
		if got := []string{c.Coupons[0].Code, c.Coupons[len(c.Coupons)-1].Code}; got[0] != "TEN" || got[1] != "ACME" {
			t.Errorf("coupons in the order applied, then automatic ones: %v", got)
		}
		if tee := c.item("TEE"); tee.Discount+c.item("MUG").Discount != c.Discount || tee.Tax != (tee.Subtotal-tee.Discount+5)/10 {
			t.Errorf("items: %+v %+v", tee, c.item("MUG"))
		}
	})

	t.Run("applying a code that cannot apply is 422 with its reason, and changes nothing", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 1)
		tests := []struct{ code, reason, detail string }{
			{"NOPE", "unknown_coupon", "NOPE"},
			{"no way", "unknown_coupon", "not a coupon code"},
			{"ACME", "coupon_is_automatic", "by itself"},
			{"LATER", "coupon_not_started", "starts at 2099-01-01T00:00:00Z"},
			{"PAST", "coupon_expired", "expired at 2020-01-01T00:00:00Z"},
			{"OFF", "coupon_inactive", "not active"},
			{"TEN", "coupon_not_applicable", "at least 50.00 USD; the cart's is 12.50 USD"},
			{"EUROS", "coupon_not_applicable", "not offered in USD"},
			{"TEEFIX", "coupon_not_applicable", "no item in the cart qualifies"},
			{"3FOR2", "coupon_not_applicable", "at least 3 qualifying items"},
		}
		for _, tt := range tests {
			t.Run(tt.code, func(t *testing.T) {
				p := s.mustReject(t, id, []string{"MUG"}, 422, tt.reason, "POST", couponsPath(id), s.Admin, map[string]any{"code": tt.code})
				if !strings.Contains(p.Detail, tt.detail) || !slices.Equal(p.fields(), []string{"code"}) {
					t.Errorf("detail %q fields %v, want %q about code", p.Detail, p.fields(), tt.detail)
				}
			})
		}
		s.mustReject(t, id, nil, 422, "missing_field", "POST", couponsPath(id), s.Admin, map[string]any{})
		s.mustReject(t, id, nil, 422, "missing_field", "POST", couponsPath(id), s.Admin, map[string]any{"code": ""})
		s.mustReject(t, id, nil, 422, "invalid_type", "POST", couponsPath(id), s.Admin, map[string]any{"code": 10})
		s.mustReject(t, id, nil, 404, "coupon_not_found", "DELETE", couponsPath(id)+"/FIVE", s.Admin, nil)
		s.mustReject(t, id, nil, 404, "cart_not_found", "POST", "/v1/carts/cart_999999/coupons", s.Admin, map[string]any{"code": "FIVE"})
	})

	t.Run("a code applied twice is applied once, and the cart's version stays", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 1)
		first := s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": "FIVE"})
		again := s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": "five"})
		if again.Version != first.Version || again.message("coupon_already_applied") == nil || len(again.Coupons) != 1 {
			t.Errorf("second application: version %d (first %d), %+v", again.Version, first.Version, again.Messages)
		}
	})

	t.Run("a code whose conditions stop holding stays on the cart, not applied, and comes back", func(t *testing.T) {
		id := s.mustCart(t)
		tee := s.mustAdd(t, id, "TEE", 3) // 60.00, over TEN's 50.00
		s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": "TEN"})
		c := s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+tee, map[string]any{"quantity": 2})
		ten := c.coupon("TEN")
		if ten == nil || ten.Applied || ten.Amount != 0 || ten.Reason == nil || *ten.Reason != "minimum_subtotal" ||
			!strings.Contains(*ten.Message, "at least 50.00 USD") {
			t.Fatalf("TEN under its minimum: %+v", ten)
		}
		if m := c.message("promotion_lost"); m == nil || m.Type != "warning" || !strings.Contains(m.Message, "TEN no longer applies") {
			t.Errorf("no promotion_lost message: %+v", c.Messages)
		}
		if got := s.getCart(t, id).coupon("TEN"); got == nil || got.Applied {
			t.Errorf("a read shows TEN as %+v", got)
		}
		c = s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+tee, map[string]any{"quantity_delta": 1})
		if ten := c.coupon("TEN"); ten == nil || !ten.Applied || c.message("promotion_applied") == nil {
			t.Errorf("TEN back over its minimum: %+v %+v", ten, c.Messages)
		}
		c = s.mustCartCall(t, 200, "DELETE", couponsPath(id)+"/ten", nil)
		if c.coupon("TEN") != nil || c.message("coupon_removed") == nil || c.Discount != 300 {
			t.Errorf("after removing TEN: %+v", c)
		}
	})

	t.Run("a withdrawn promotion's code stays on carts as inactive until removed", func(t *testing.T) {
		s.mustPromotion(t, "BRIEF", map[string]any{"type": "cash", "amount": map[string]any{"USD": 100}})
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 1)
		s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": "BRIEF"})
		s.mustCall(t, 204, "DELETE", "/v1/promotions/BRIEF", s.Admin, nil)
		c := s.getCart(t, id)
		if b := c.coupon("BRIEF"); b == nil || b.Applied || *b.Reason != "inactive" || c.Discount != 0 {
			t.Fatalf("a withdrawn coupon: %+v", c.Coupons)
		}
		s.mustCartCall(t, 200, "DELETE", couponsPath(id)+"/BRIEF", nil)
	})

	t.Run("an automatic promotion is listed only while it applies", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 1)
		if c := s.getCart(t, id); len(c.Coupons) != 0 {
			t.Errorf("ACME on a cart without Acme items: %+v", c.Coupons)
		}
		c := s.mustCartCall(t, 200, "POST", "/v1/carts/"+id+"/items", map[string]any{"sku": "TEE"})
		if acme := c.coupon("ACME"); acme == nil || !acme.Applied || c.message("promotion_applied") == nil {
			t.Errorf("ACME after adding a TEE: %+v %+v", c.Coupons, c.Messages)
		}
		c = s.mustCartCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+c.item("TEE").ID, nil)
		if c.coupon("ACME") != nil || c.message("promotion_lost") == nil {
			t.Errorf("ACME after removing the TEE: %+v %+v", c.Coupons, c.Messages)
		}
	})

	t.Run("coupon calls honour If-Match, Idempotency-Key and Prefer: return=minimal", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 2)
		s.mustReject(t, id, nil, 412, "version_mismatch", "POST", couponsPath(id), s.Admin, map[string]any{"code": "FIVE"}, "If-Match", `"1"`)
		etag := s.mustCall(t, 200, "GET", "/v1/carts/"+id, s.Admin, nil).Header.Get("ETag")
		first := s.mustCall(t, 200, "POST", couponsPath(id), s.Admin, map[string]any{"code": "FIVE"}, "If-Match", etag, "Idempotency-Key", "apply-five")
		again := s.mustCall(t, 200, "POST", couponsPath(id), s.Admin, map[string]any{"code": "FIVE"}, "Idempotency-Key", "apply-five")
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Errorf("the retry was not replayed: %v", again.Header)
		}
		s.mustReject(t, id, nil, 422, "idempotency_key_reused", "POST", couponsPath(id), s.Admin, map[string]any{"code": "SHIP"}, "Idempotency-Key", "apply-five")
		// A minimal answer carries the lines whose discount the coupon moved, though the call
		// wrote none of them.
		tee := s.mustAdd(t, id, "TEE", 1)
		m := s.mustMinimal(t, 200, "DELETE", couponsPath(id)+"/FIVE", nil)
		if len(m.Items) != 2 || len(m.Coupons) != 1 || m.Coupons[0].Code != "ACME" {
			t.Errorf("minimal answer to removing FIVE: items %+v coupons %+v", m.Items, m.Coupons)
		}
		if m.Items[0].ID != tee && m.Items[1].ID != tee {
			t.Errorf("the TEE line is not among the changed: %+v", m.Items)
		}
		s.mustReject(t, id, nil, 412, "version_mismatch", "DELETE", couponsPath(id)+"/ACME", s.Admin, nil, "If-Match", `"1"`)
	})

	t.Run("a customer applies codes to its own carts only", func(t *testing.T) {
		r := s.mustCall(t, 201, "POST", "/v1/customers/cust_c/tokens", s.Admin, nil)
		token := r.JSON(t)["token"].(string)
		own := s.mustCall(t, 201, "POST", "/v1/carts", token, map[string]any{}).JSON(t)["id"].(string)
		s.mustCall(t, 200, "POST", "/v1/carts/"+own+"/items", token, map[string]any{"sku": "MUG"})
		s.mustCall(t, 200, "POST", couponsPath(own), token, map[string]any{"code": "FIVE"})
		other := s.mustCart(t)
		s.mustAdd(t, other, "MUG", 1)
		s.mustReject(t, other, nil, 404, "cart_not_found", "POST", couponsPath(other), token, map[string]any{"code": "FIVE"})
	})

	t.Run("a guest's codes follow its lines into the customer's cart", func(t *testing.T) {
		into, guest := s.mustCustomerCart(t, "cust_merge"), s.mustCart(t)
		s.mustAdd(t, into, "MUG", 1)
		s.mustCartCall(t, 200, "POST", couponsPath(into), map[string]any{"code": "SHIP"})
		s.mustAdd(t, guest, "TEE", 3)
		s.mustCartCall(t, 200, "POST", couponsPath(guest), map[string]any{"code": "TEN"})
		s.mustCartCall(t, 200, "POST", couponsPath(guest), map[string]any{"code": "SHIP"})
		c := s.merge(t, guest, into)
		if ten := c.coupon("TEN"); ten == nil || !ten.Applied || len(c.messages("coupon_merged")) != 1 || len(c.Coupons) != 3 {
			t.Errorf("after the merge: coupons %+v, messages %+v", c.Coupons, c.Messages)
		}
	})

	t.Run("a cart holds at most 20 coupons", func(t *testing.T) {
		id := s.mustCart(t)
		s.mustAdd(t, id, "MUG", 1)
		for i := range 20 {
			code := fmt.Sprintf("MANY%d", i)
			s.mustPromotion(t, code, map[string]any{"type": "freeship"})
			s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": code})
		}
		s.mustPromotion(t, "MANY20", map[string]any{"type": "freeship"})
		s.mustReject(t, id, nil, 422, "too_many_coupons", "POST", couponsPath(id), s.Admin, map[string]any{"code": "MANY20"})
	})
}

func TestPricesIncludingTax(t *testing.T) {
	s := mustServer(t)
	s.putSettings(t, map[string]any{"prices_include_tax": true})
	s.mustTaxedProduct(t, "GST", "Acme", 1050, 500, 10)
	s.mustPromotion(t, "TEN", map[string]any{"type": "percent", "rate": 1000})
	id := s.mustCart(t)
	s.mustAdd(t, id, "GST", 2)
	c := s.mustCartCall(t, 200, "POST", couponsPath(id), map[string]any{"code": "TEN"})
	// 21.00 - 2.10 = 18.90 includes 5%: net 18.00, tax 0.90; the total does not add it.
	if !c.PricesIncludeTax || c.Discount != 210 || c.Tax != 90 || c.Total != 1890 {
		t.Errorf("discount %d tax %d total %d (prices_include_tax %v)", c.Discount, c.Tax, c.Total, c.PricesIncludeTax)
	}
}

func TestAmountBounds(t *testing.T) {
	s := mustServer(t)
	const maxPrice = 1_000_000_000_000
	s.putSettings(t, map[string]any{"max_quantity_per_item": 1_000_000})

	t.Run("prices up to 10^12 are priced exactly, and a change taking a figure past 2^53-1 is 422", func(t *testing.T) {
		s.mustTaxedProduct(t, "DEAR", "Acme", maxPrice, 10000, 2_000_000)
		s.mustPromotion(t, "ONEPCT", map[string]any{"type": "percent", "rate": 1, "method": "auto"})
		id := s.mustCart(t)
		r := s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "DEAR", "quantity": 4000})
		c := cartOf(t, r)
		if c.Subtotal != maxPrice*4000 || c.Discount != c.Subtotal/10_000 || c.Total != 2*(c.Subtotal-c.Discount) {
			t.Errorf("subtotal %d discount %d total %d", c.Subtotal, c.Discount, c.Total)
		}
		// 10^12 x 10^6 units is far above what every client reads exactly (docs/limits-and-ranges.md).
		wantProblem(t, s.mustCall(t, 422, "PATCH", "/v1/carts/"+id+"/items/"+c.Items[0].ID, s.Admin, map[string]any{"quantity": 1_000_000}), "amount_out_of_range")
		if got := cartOf(t, s.mustCall(t, 200, "GET", "/v1/carts/"+id, s.Admin, nil)); got.Version != c.Version || got.Subtotal != c.Subtotal {
			t.Errorf("a refused change moved the cart: version %d subtotal %d, was %d %d", got.Version, got.Subtotal, c.Version, c.Subtotal)
		}
	})

	t.Run("a change taking a cart above 4,000,000 units is 422", func(t *testing.T) {
		id := s.mustCart(t)
		var skus []string
		for i := range 5 {
			sku := fmt.Sprintf("BULK%d", i)
			skus = append(skus, sku)
			s.mustTaxedProduct(t, sku, "Acme", 1, 0, 2_000_000)
		}
		for _, sku := range skus[:4] {
			s.mustAdd(t, id, sku, 1_000_000)
		}
		p := s.mustReject(t, id, skus, 422, "too_many_units", "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": skus[4], "quantity": 1})
		if !slices.Equal(p.fields(), []string{"quantity"}) {
			t.Errorf("fields %v", p.fields())
		}
		s.mustCartCall(t, 200, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": []any{
			map[string]any{"sku": skus[0], "quantity_delta": -1}, map[string]any{"sku": skus[4], "quantity": 1}}})
	})
}
