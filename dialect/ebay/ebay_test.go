package ebay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

const updatePath = "/buy/browse/v1/shopping_cart/update_quantity"

// marketplace is the header every call of the seed sends.
var marketplace = []string{"X-EBAY-C-MARKETPLACE-ID", "EBAY_US"}

// member is a field of the seed's response table: its JSON type and whether it occurs always.
type member struct {
	kind   string // object, array, string, number
	always bool
}

// seedFields is the seed's table of response fields (RemoteShopcartResponse), with the
// Occurrence it gives each; unavailableCartItems[] has the fields of cartItems[].
var seedFields = func() map[string]member {
	item := map[string]member{
		"cartItemId": {"string", true}, "cartItemSubtotal": {"object", false},
		"cartItemSubtotal.currency": {"string", false}, "cartItemSubtotal.value": {"string", false},
		"image": {"object", true}, "image.height": {"number", false}, "image.imageUrl": {"string", true},
		"image.width": {"number", false}, "itemId": {"string", true}, "itemWebUrl": {"string", false},
		"price": {"object", true}, "price.convertedFromCurrency": {"string", false},
		"price.convertedFromValue": {"string", false}, "price.currency": {"string", true},
		"price.value": {"string", true}, "quantity": {"number", false}, "title": {"string", true},
	}
	m := map[string]member{
		"cartItems": {"array", true}, "cartSubtotal": {"object", true},
		"cartSubtotal.currency": {"string", false}, "cartSubtotal.value": {"string", false},
		"cartWebUrl": {"string", true}, "unavailableCartItems": {"array", false},
		"warnings": {"array", true}, "warnings[].category": {"string", true},
		"warnings[].domain": {"string", true}, "warnings[].errorId": {"number", true},
		"warnings[].inputRefIds": {"array", false}, "warnings[].inputRefIds[]": {"string", false},
		"warnings[].longMessage": {"string", false}, "warnings[].message": {"string", true},
		"warnings[].outputRefIds": {"array", false}, "warnings[].outputRefIds[]": {"string", false},
		"warnings[].parameters": {"array", false}, "warnings[].parameters[].name": {"string", false},
		"warnings[].parameters[].value": {"string", false}, "warnings[].subdomain": {"string", false},
	}
	for k, v := range item {
		m["cartItems[]."+k] = v
		m["unavailableCartItems[]."+k] = v
	}
	return m
}()

// checkShape holds a response to the seed's table: every member it has is in the table with
// the table's JSON type, and every member the table says occurs always is there.
func checkShape(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			p := join(path, k)
			f, ok := seedFields[p]
			if !ok {
				t.Errorf("%s is not a field of the seed's response", p)
				continue
			}
			if typeOf(child) != f.kind {
				t.Errorf("%s is a JSON %s, the seed's is %s", p, typeOf(child), f.kind)
				continue
			}
			checkShape(t, p, child)
		}
		for p, f := range seedFields {
			parent, name := splitPath(p)
			if f.always && parent == path {
				if _, ok := x[name]; !ok {
					t.Errorf("%s is missing; the seed's occurs always", p)
				}
			}
		}
	case []any:
		for _, el := range x {
			if f, ok := seedFields[path+"[]"]; ok && typeOf(el) != f.kind {
				t.Errorf("%s[] is a JSON %s, the seed's is %s", path, typeOf(el), f.kind)
			}
			checkShape(t, path+"[]", el)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func splitPath(p string) (string, string) {
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func num(tb testing.TB, v any) int64 {
	tb.Helper()
	n, err := strconv.ParseInt(string(v.(json.Number)), 10, 64)
	if err != nil {
		tb.Fatalf("%v is not an integer", v)
	}
	return n
}

func ci(num int64) string { return fmt.Sprintf("ci_%d", num) }

// seedShop arranges the seed's story: 15 baseballs available, and a member's cart holding
// some of them and an item that became unavailable.
func seedShop(t *testing.T) (s *testServer, token string, cartNum, ball, glove int64) {
	t.Helper()
	s = mustServer(t)
	s.MustProduct(t, cart.Product{ID: "prod_baseball", Name: "Rawlings Official League Baseball",
		ImageURL: "https://img.example/baseball.jpg",
		Variants: []cart.Variant{{ID: "var_baseball", SKU: "BALL", Prices: map[string]int64{"USD": 1625}, Active: true}}}, 15)
	glovep := cart.Product{ID: "prod_glove", Name: "Fielding Glove", ImageURL: "https://img.example/glove.jpg",
		Variants: []cart.Variant{{ID: "var_glove", SKU: "GLOVE", Prices: map[string]int64{"USD": 4999}, Active: true}}}
	s.MustProduct(t, glovep, 3)
	cartNum, items := s.MustCart(t, "buyer1", "USD", "BALL", 2, "GLOVE", 1)
	glovep.Variants[0].Active = false // the listing ended
	if _, err := s.Engine.PutProduct(context.Background(), s.Principal, glovep, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	return s, s.MustToken(t, "buyer1"), cartNum, items[0], items[1]
}

func TestSeedSample(t *testing.T) {
	s, token, cartNum, ball, glove := seedShop(t)
	// Sample 1: update the quantity of one item; "the quantity value is now 6", and "one of
	// the items in the cart is unavailable".
	r := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 6}, marketplace...).MustStatus(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	got := r.JSON(t)
	checkShape(t, "", got)

	items := got["cartItems"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d cartItems, want the baseballs", len(items))
	}
	it := items[0].(map[string]any)
	want := map[string]any{
		"cartItemId": ci(ball), "quantity": json.Number("6"), "title": "Rawlings Official League Baseball",
		"price":            map[string]any{"currency": "USD", "value": "16.25"},
		"cartItemSubtotal": map[string]any{"currency": "USD", "value": "97.50"},
		"image":            map[string]any{"imageUrl": "https://img.example/baseball.jpg"},
		"itemWebUrl":       "https://shop.example/item/prod_baseball?variant=var_baseball",
	}
	for k, w := range want {
		if g, _ := json.Marshal(it[k]); string(g) != mustJSON(t, w) {
			t.Errorf("cartItems[0].%s = %s, want %s", k, g, mustJSON(t, w))
		}
	}
	if id, _ := it["itemId"].(string); !regexp.MustCompile(`^v1\|[1-9][0-9]*\|[1-9][0-9]*$`).MatchString(id) {
		t.Errorf("itemId = %q, want the v1|#|# form", id)
	}
	if sub := mustJSON(t, got["cartSubtotal"]); sub != `{"currency":"USD","value":"97.50"}` {
		t.Errorf("cartSubtotal = %s", sub)
	}
	if u := got["cartWebUrl"]; u != fmt.Sprintf("https://shop.example/cart/cart_%d", cartNum) {
		t.Errorf("cartWebUrl = %v", u)
	}
	unavailable, _ := got["unavailableCartItems"].([]any)
	if len(unavailable) != 1 || at(unavailable[0], "cartItemId") != ci(glove) || at(unavailable[0], "quantity") != json.Number("1") {
		t.Fatalf("unavailableCartItems = %v, want the glove", unavailable)
	}
	if _, has := unavailable[0].(map[string]any)["cartItemSubtotal"]; has {
		t.Error("an unavailable item has a subtotal, but counts in no subtotal")
	}
	warnings := got["warnings"].([]any)
	if len(warnings) != 1 || at(warnings[0], "errorId") != json.Number("10004") || at(warnings[0], "category") != "BUSINESS" ||
		at(warnings[0], "domain") != "API_BROWSE" || !strings.Contains(at(warnings[0], "message").(string), at(unavailable[0], "itemId").(string)) {
		t.Errorf("warnings = %v, want 10004 naming the glove", warnings)
	}
}

// The seed's own story: 15 baseballs available, the quantity set to 50, changed to 15 with a
// warning.
func TestClampToAvailable(t *testing.T) {
	s, token, _, ball, _ := seedShop(t)
	got := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 50}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
	checkShape(t, "", got)
	if q := at(got, "cartItems", 0, "quantity"); q != json.Number("15") {
		t.Fatalf("quantity = %v, want 15", q)
	}
	var w map[string]any
	for _, x := range got["warnings"].([]any) {
		if at(x, "errorId") == json.Number("10006") {
			w = x.(map[string]any)
		}
	}
	if w == nil {
		t.Fatalf("no warning 10006 in %v", got["warnings"])
	}
	params := map[string]string{}
	for _, p := range w["parameters"].([]any) {
		params[at(p, "name").(string)] = at(p, "value").(string)
	}
	if params["requestedQuantity"] != "50" || params["availableQuantity"] != "15" || params["cartItemId"] != ci(ball) ||
		params["itemId"] != at(got, "cartItems", 0, "itemId") || w["category"] != "BUSINESS" {
		t.Errorf("warning 10006 = %v", w)
	}
}

// With nothing available at all, the item stays in the cart, among the unavailable items,
// at its quantity ("a cart never expires").
func TestNothingAvailableKeepsTheItem(t *testing.T) {
	s, token, _, ball, _ := seedShop(t)
	s.Clock.Advance(16 * time.Minute) // the member's reservation lapses
	s.MustCart(t, "", "USD", "BALL", 15)
	got := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 3}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
	checkShape(t, "", got)
	if n := len(got["cartItems"].([]any)); n != 0 {
		t.Errorf("%d cartItems, want none", n)
	}
	if sub := at(got, "cartSubtotal", "value"); sub != "0.00" {
		t.Errorf("cartSubtotal = %v", sub)
	}
	var kept map[string]any
	for _, x := range got["unavailableCartItems"].([]any) {
		if at(x, "cartItemId") == ci(ball) {
			kept = x.(map[string]any)
		}
	}
	if kept == nil || kept["quantity"] != json.Number("2") {
		t.Fatalf("unavailableCartItems = %v, want the baseballs at 2", got["unavailableCartItems"])
	}
	found := false
	for _, x := range got["warnings"].([]any) {
		found = found || at(x, "errorId") == json.Number("10004") && strings.Contains(at(x, "message").(string), kept["itemId"].(string))
	}
	if !found {
		t.Errorf("no 10004 for the baseballs in %v", got["warnings"])
	}
	// Stock back, the same call moves them back.
	s.Clock.Advance(16 * time.Minute)
	got = s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 3}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
	if q := at(got, "cartItems", 0, "quantity"); q != json.Number("3") {
		t.Errorf("quantity %v once stock is free again, want 3", q)
	}
}

// The eBay row of docs/dialects.md: quantity sets, below 1 is error 10009, above the stock clamps.
func TestQuantityRules(t *testing.T) {
	s, token, cartNum, ball, _ := seedShop(t)
	for _, q := range []int{5, 1, 15} {
		got := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": q}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
		if g := at(got, "cartItems", 0, "quantity"); g != json.Number(strconv.Itoa(q)) {
			t.Fatalf("quantity %v after setting %d", g, q)
		}
		if n := len(got["warnings"].([]any)); n != 1 { // the glove's 10004 only
			t.Errorf("setting %d within stock: warnings %v", q, got["warnings"])
		}
	}
	before := s.Version(t, cartNum)
	for _, q := range []any{0, -1} {
		r := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": q}, marketplace...).MustStatus(t, http.StatusBadRequest)
		if id := at(r.JSON(t), "errors", 0, "errorId"); id != json.Number("10009") {
			t.Errorf("quantity %v: errorId %v, want 10009", q, id)
		}
	}
	if v := s.Version(t, cartNum); v != before {
		t.Errorf("version %d -> %d after refused calls", before, v)
	}
}

func TestErrors(t *testing.T) {
	s, token, cartNum, ball, glove := seedShop(t)
	_, others := s.MustCart(t, "buyer2", "USD", "BALL", 1)
	key := s.MustKey(t, auth.CartsWrite)
	lonely := s.MustToken(t, "nobody")
	before := s.Version(t, cartNum)
	body := func(id any, q any) map[string]any { return map[string]any{"cartItemId": id, "quantity": q} }
	type errWant struct {
		id       int64
		category string
	}
	for _, tc := range []struct {
		name       string
		credential string
		body       any
		headers    []string
		status     int
		want       []errWant
	}{
		{"no token", "", body(ci(ball), 3), marketplace, 401, []errWant{{1001, "REQUEST"}}},
		{"an unknown token", "ct_unknown", body(ci(ball), 3), marketplace, 401, []errWant{{1001, "REQUEST"}}},
		{"an API key, which is no member", key, body(ci(ball), 3), marketplace, 403, []errWant{{10002, "REQUEST"}}},
		{"no marketplace header", token, body(ci(ball), 3), nil, 400, []errWant{{10025, "REQUEST"}}},
		{"an unknown marketplace", token, body(ci(ball), 3), []string{"X-EBAY-C-MARKETPLACE-ID", "EBAY_MARS"}, 400, []errWant{{10001, "REQUEST"}}},
		{"quantity 0", token, body(ci(ball), 0), marketplace, 400, []errWant{{10009, "REQUEST"}}},
		{"a negative quantity", token, body(ci(ball), -2), marketplace, 400, []errWant{{10009, "REQUEST"}}},
		{"a fractional quantity", token, body(ci(ball), 1.5), marketplace, 400, []errWant{{10009, "REQUEST"}}},
		{"a quantity that is no number", token, body(ci(ball), "six"), marketplace, 400, []errWant{{10009, "REQUEST"}}},
		{"a quantity above the limit per item", token, body(ci(ball), 1000), marketplace, 400, []errWant{{10009, "REQUEST"}}},
		{"no cartItemId", token, map[string]any{"quantity": 3}, marketplace, 400, []errWant{{10007, "REQUEST"}}},
		{"no quantity", token, map[string]any{"cartItemId": ci(ball)}, marketplace, 400, []errWant{{10007, "REQUEST"}}},
		{"an empty object", token, map[string]any{}, marketplace, 400, []errWant{{10007, "REQUEST"}, {10007, "REQUEST"}}},
		{"a bare number as cartItemId", token, body(strconv.FormatInt(ball, 10), 3), marketplace, 400, []errWant{{10012, "REQUEST"}}},
		{"a cartItemId that is no item id", token, body("ci_0x1", 3), marketplace, 400, []errWant{{10012, "REQUEST"}}},
		{"a cartItemId that is a number", token, body(ball, 3), marketplace, 400, []errWant{{10012, "REQUEST"}}},
		{"a bad cartItemId and quantity", token, body("x", 0), marketplace, 400, []errWant{{10012, "REQUEST"}, {10009, "REQUEST"}}},
		{"another member's item", token, body(ci(others[0]), 3), marketplace, 409, []errWant{{10013, "BUSINESS"}}},
		{"an item that does not exist", token, body("ci_99999", 3), marketplace, 409, []errWant{{10013, "BUSINESS"}}},
		{"a member without a cart", lonely, body(ci(ball), 3), marketplace, 409, []errWant{{10013, "BUSINESS"}}},
		{"a change to an unavailable item", token, body(ci(glove), 2), marketplace, 409, []errWant{{10004, "BUSINESS"}}},
		{"a body that is not JSON", token, `{"cartItemId": `, marketplace, 400, []errWant{{2004, "REQUEST"}}},
		{"a body that is no object", token, `[1, 2]`, marketplace, 400, []errWant{{2004, "REQUEST"}}},
		{"two objects", token, `{"cartItemId": "ci_1", "quantity": 1} {}`, marketplace, 400, []errWant{{2004, "REQUEST"}}},
		{"a body that is not JSON by its type", token, body(ci(ball), 3), append([]string{"Content-Type", "text/plain"}, marketplace...), 415, []errWant{{2004, "REQUEST"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "POST", updatePath, tc.credential, tc.body, tc.headers...).MustStatus(t, tc.status)
			got := r.JSON(t)
			if _, has := got["warnings"]; has || len(got) != 1 {
				t.Errorf("an error response holds errors only: %s", r.Body)
			}
			errs := got["errors"].([]any)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %s, want %v", r.Body, tc.want)
			}
			for i, w := range tc.want {
				e := errs[i].(map[string]any)
				if num(t, e["errorId"]) != w.id || e["category"] != w.category || e["domain"] == "" || e["message"] == "" {
					t.Errorf("errors[%d] = %v, want %d %s", i, e, w.id, w.category)
				}
			}
		})
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", updatePath, 405},
		{"POST", "/buy/browse/v1/shopping_cart/remove_item", 404},
	} {
		r := s.do(t, tc.method, tc.path, token, nil, marketplace...).MustStatus(t, tc.status)
		if id := at(r.JSON(t), "errors", 0, "errorId"); id != json.Number("2004") {
			t.Errorf("%s %s: errorId %v", tc.method, tc.path, id)
		}
	}
	if v := s.Version(t, cartNum); v != before {
		t.Errorf("the cart went from version %d to %d through calls that all failed", before, v)
	}
}

// The same cart read through the native API agrees with the dialect's response.
func TestAgreesWithNativeAPI(t *testing.T) {
	s, token, cartNum, ball, _ := seedShop(t)
	s.MustProduct(t, cart.Product{ID: "prod_bat", Name: "Bat", Variants: []cart.Variant{{
		ID: "var_bat", SKU: "BAT", Prices: map[string]int64{"USD": 5000}, Active: true,
		Tiers: []cart.Tier{{MinQuantity: 3, Prices: map[string]int64{"USD": 4500}}},
	}}}, 10)
	ch := cart.AddDelta(1)
	v, err := s.Engine.Update(context.Background(), s.Principal, cartNum, []engine.Update{{Item: engine.ItemRef{SKU: "BAT"}, Change: &ch, Add: true}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bat := v.Lines[len(v.Lines)-1].Item.Num
	s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 7}, marketplace...).MustStatus(t, http.StatusOK)
	dialect := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(bat), "quantity": 4}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
	native := s.do(t, "GET", fmt.Sprintf("/v1/carts/cart_%d", cartNum), s.Admin, nil).MustStatus(t, http.StatusOK).JSON(t)

	decimal := func(v any) string { return fmt.Sprintf("%d.%02d", num(t, v)/100, num(t, v)%100) }
	if got, want := at(dialect, "cartSubtotal", "value"), decimal(native["subtotal"]); got != want {
		t.Errorf("cartSubtotal %v, native subtotal %s", got, want)
	}
	lists := [][2]string{{"cartItems", "items"}, {"unavailableCartItems", "unavailable_items"}}
	for _, l := range lists {
		d, _ := dialect[l[0]].([]any)
		n, _ := native[l[1]].([]any)
		if len(d) != len(n) {
			t.Fatalf("%d %s, %d native %s", len(d), l[0], len(n), l[1])
		}
		for i := range d {
			if at(d[i], "cartItemId") != at(n[i], "id") || at(d[i], "quantity") != at(n[i], "quantity") ||
				at(d[i], "price", "value") != decimal(at(n[i], "unit_price")) {
				t.Errorf("%s[%d] %v ×%v at %v, native %v ×%v at %v", l[0], i, at(d[i], "cartItemId"), at(d[i], "quantity"),
					at(d[i], "price", "value"), at(n[i], "id"), at(n[i], "quantity"), at(n[i], "unit_price"))
			}
			if l[0] == "cartItems" && at(d[i], "cartItemSubtotal", "value") != decimal(at(n[i], "subtotal")) {
				t.Errorf("cartItems[%d] subtotal %v, native %v", i, at(d[i], "cartItemSubtotal", "value"), at(n[i], "subtotal"))
			}
		}
	}
	if at(dialect, "cartItems", 1, "price", "value") != "45.00" {
		t.Errorf("the bat's price at 4 is %v, want the tier's 45.00", at(dialect, "cartItems", 1, "price", "value"))
	}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// An item whose catalog price changed since it was stored is "revised": warning 10005, and
// the response shows the new price.
func TestRevisedItem(t *testing.T) {
	s, token, _, ball, _ := seedShop(t)
	s.MustProduct(t, cart.Product{ID: "prod_baseball", Name: "Rawlings Official League Baseball",
		ImageURL: "https://img.example/baseball.jpg",
		Variants: []cart.Variant{{ID: "var_baseball", SKU: "BALL", Prices: map[string]int64{"USD": 1700}, Active: true}}}, 15)
	got := s.do(t, "POST", updatePath, token, map[string]any{"cartItemId": ci(ball), "quantity": 2}, marketplace...).MustStatus(t, http.StatusOK).JSON(t)
	checkShape(t, "", got)
	if p := at(got, "cartItems", 0, "price", "value"); p != "17.00" {
		t.Errorf("price = %v, want the new 17.00", p)
	}
	var ids []string
	for _, w := range got["warnings"].([]any) {
		ids = append(ids, string(at(w, "errorId").(json.Number)))
		if at(w, "errorId") == json.Number("10005") && !strings.Contains(at(w, "message").(string), at(got, "cartItems", 0, "itemId").(string)) {
			t.Errorf("10005 does not name the item: %v", w)
		}
	}
	if !strings.Contains(strings.Join(ids, ","), "10005") {
		t.Errorf("warnings %v, want 10005 for the revised price", ids)
	}
}
