package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// contract checks exchanges with a server against openapi.json, and records which statuses
// each operation was seen to answer, so that a test can require every documented status to
// have been produced.
//
// kin-openapi (v0.152) needs no option for OpenAPI 3.1: (*openapi3.T).Validate applies 3.1
// rules from the document's "openapi" field, and openapi3filter turns on JSON Schema 2020-12
// validation for a 3.1 document. A schema that refers to #/components/schemas and uses no
// 2020-only keyword still runs through kin-openapi's own validator, which knows 3.1's type
// arrays ("type": ["string", "null"]); the others run through santhosh-tekuri/jsonschema.
// The document keeps to keywords both understand, and the TestOpenAPIRejects... tests prove
// each construct it relies on is enforced.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	seen   map[string]map[int]bool // operationId -> statuses seen
}

// mustContract loads and validates the document as a 3.1 document.
func mustContract(tb testing.TB) *contract {
	tb.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		tb.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		tb.Fatalf("load openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		tb.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableSchemaPatternValidation(), openapi3.EnableSchemaFormatValidation()); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return &contract{doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// requireBearer is the request validator's check of the bearer security scheme: the header is
// there. Whether the credential is good is the server's business.
func requireBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if in.SecuritySchemeName != "bearer" || !strings.HasPrefix(h, "Bearer ") {
		return fmt.Errorf("no bearer credential for scheme %q", in.SecuritySchemeName)
	}
	return nil
}

// validate checks one exchange against the document: the response always, the request as well
// when the server accepted it. It returns the operation's id.
func (c *contract) validate(req *http.Request, resp response) (string, error) {
	ctx := context.Background()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return "", fmt.Errorf("%s %s is not in the document: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireBearer, MultiError: true}}
	if resp.Status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return route.Operation.OperationID, fmt.Errorf("the server accepted a request the document does not allow: %w", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return route.Operation.OperationID, fmt.Errorf("response %d does not match the document: %w\nbody: %s", resp.Status, err, resp.Body)
	}
	return route.Operation.OperationID, nil
}

// call is testServer.do that also requires the status want and checks the exchange against
// the document.
func (c *contract) call(tb testing.TB, ts *testServer, want int, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	raw := encodeBody(tb, body)
	req := newRequest(tb, method, ts.URL+path, credential, raw, headers)
	resp, err := ts.Client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: got}
	if r.Status != want {
		tb.Fatalf("%s %s: status = %d, want %d; body: %s", method, path, r.Status, want, r.Body)
	}
	op, err := c.validate(newRequest(tb, method, ts.URL+path, credential, raw, headers), r)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][r.Status] = true
	return r
}

func encodeBody(tb testing.TB, body any) []byte {
	tb.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	raw, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// newRequest builds a request as testServer.do does: JSON unless a Content-Type header pair
// says otherwise.
func newRequest(tb testing.TB, method, url, credential string, body []byte, headers []string) *http.Request {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// operation is one operation of the document.
type operation struct {
	Method, Path string
	Op           *openapi3.Operation
}

func (c *contract) operations() []operation {
	var ops []operation
	for _, path := range slices.Sorted(func(yield func(string) bool) {
		for p := range c.doc.Paths.Map() {
			if !yield(p) {
				return
			}
		}
	}) {
		item := c.doc.Paths.Value(path)
		for _, method := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
			if op := item.GetOperation(method); op != nil {
				ops = append(ops, operation{Method: method, Path: path, Op: op})
			}
		}
	}
	return ops
}

func (o operation) secured(doc *openapi3.T) bool {
	if o.Op.Security != nil {
		return len(*o.Op.Security) > 0
	}
	return len(doc.Security) > 0
}

func (o operation) hasParam(name string) bool {
	for _, p := range o.Op.Parameters {
		if p.Value != nil && p.Value.Name == name {
			return true
		}
	}
	return false
}

// problemCode returns a problem response's code.
func problemCode(tb testing.TB, r response) string {
	tb.Helper()
	code, _ := r.JSON(tb)["code"].(string)
	return code
}

func itemIDOf(tb testing.TB, r response, sku string) string {
	tb.Helper()
	for _, it := range r.JSON(tb)["items"].([]any) {
		if item := it.(map[string]any); item["sku"] == sku {
			return item["id"].(string)
		}
	}
	tb.Fatalf("no item %s in %s", sku, r.Body)
	return ""
}

func messageCodes(tb testing.TB, r response) []string {
	tb.Helper()
	var codes []string
	for _, m := range r.JSON(tb)["messages"].([]any) {
		codes = append(codes, m.(map[string]any)["code"].(string))
	}
	return codes
}

func wantMessage(tb testing.TB, r response, code string) {
	tb.Helper()
	if got := messageCodes(tb, r); !slices.Contains(got, code) {
		tb.Fatalf("messages = %v, want %s; body: %s", got, code, r.Body)
	}
}

// wantProblemBody is wantProblem returning the problem's members.
func wantProblemBody(tb testing.TB, r response, code string) map[string]any {
	tb.Helper()
	wantProblem(tb, r, code)
	return r.JSON(tb)
}

func wantProblem(tb testing.TB, r response, code string) {
	tb.Helper()
	if got := problemCode(tb, r); got != code {
		tb.Fatalf("problem code = %q, want %q; body: %s", got, code, r.Body)
	}
}

var teeProduct = map[string]any{
	"name": "Tee", "brand": "Acme", "category": "apparel", "description": "A tee", "image_url": "https://img.example/tee.png",
	"tax_code": "6109",
	"variants": []any{
		map[string]any{"id": "var_tee_s", "sku": "TEE-S", "name": "Small", "options": []any{map[string]any{"name": "size", "value": "S"}},
			"price": map[string]any{"USD": 2000, "EUR": 1800}, "retail_price": map[string]any{"USD": 2500},
			"tiers": []any{map[string]any{"min_quantity": 3, "price": map[string]any{"USD": 1800}}}, "tax_rate": 500,
			"weight_grams": 200, "active": true, "returnable": true, "sale_id": "sale_summer"},
		map[string]any{"id": "var_tee_m", "sku": "TEE-M", "options": []any{map[string]any{"name": "size", "value": "M"}},
			"price": map[string]any{"USD": 2000}},
	},
}

// TestOpenAPIContract drives a real server through every route and checks every exchange
// against openapi.json; at the end every status the document gives an operation must have been
// produced, save a few named below that a test cannot provoke through the API.
func TestOpenAPIContract(t *testing.T) {
	c := mustContract(t)
	ts := mustServer(t)
	admin := ts.Admin
	catalogKey := ts.mustKey(t, auth.CatalogRead, auth.CatalogWrite)
	call := func(t *testing.T, want int, method, path, credential string, body any, headers ...string) response {
		t.Helper()
		return c.call(t, ts, want, method, path, credential, body, headers...)
	}

	var (
		cartID, custCart, teeS, teeM, mug  string
		custToken, custTokenID, otherToken string
	)

	// The subtests tell one story on one server: each builds on what those before it left
	// (products, stock, carts, tokens, the statuses seen). So that each still runs alone
	// (go test -run 'TestOpenAPIContract/<name>'), a subtest first runs, as its setup, those
	// before it that have not run; each runs once.
	var story []func(*testing.T)
	ran := 0
	step := func(name string, fn func(t *testing.T)) {
		i := len(story)
		story = append(story, fn)
		t.Run(name, func(t *testing.T) {
			for ran < i {
				ran++
				story[ran-1](t)
			}
			ran = i + 1
			fn(t)
		})
	}

	step("system routes answer without credentials", func(t *testing.T) {
		call(t, 200, "GET", "/healthz", "", nil)
		call(t, 200, "GET", "/readyz", "", nil)
		call(t, 200, "GET", "/openapi.json", "", nil)
	})

	step("settings are read and changed", func(t *testing.T) {
		call(t, 200, "GET", "/v1/settings", admin, nil)
		r := call(t, 200, "PUT", "/v1/settings", admin, map[string]any{"default_currency": "USD", "prices_include_tax": false,
			"max_quantity_per_item": 50, "max_lines_per_cart": 100,
			"shipping": map[string]any{"USD": map[string]any{"flat": 500, "free_over": 100000}, "EUR": map[string]any{"flat": 400}}})
		if r.JSON(t)["max_quantity_per_item"] != 50.0 {
			t.Fatalf("settings not changed: %s", r.Body)
		}
		call(t, 422, "PUT", "/v1/settings", admin, map[string]any{"default_currency": "usd"})
		call(t, 403, "PUT", "/v1/settings", catalogKey, map[string]any{"prices_include_tax": false})
	})

	step("products are written, read and refused", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_tee", admin, teeProduct)
		call(t, 200, "GET", "/v1/products/prod_tee", catalogKey, nil)
		call(t, 200, "PUT", "/v1/products/prod_mug", admin, map[string]any{"name": "Mug",
			"variants": []any{map[string]any{"id": "var_mug", "sku": "MUG", "price": map[string]any{"USD": 1000}}}})
		wantProblem(t, call(t, 422, "PUT", "/v1/products/prod_x", admin, map[string]any{"id": "prod_y", "name": "X",
			"variants": []any{map[string]any{"id": "var_x", "sku": "X", "price": map[string]any{"USD": 1}}}}), "id_mismatch")
		wantProblem(t, call(t, 422, "PUT", "/v1/products/prod_x", admin, map[string]any{"name": "X"}), "invalid_product")
		wantProblem(t, call(t, 404, "GET", "/v1/products/prod_nope", admin, nil), "product_not_found")
		wantProblem(t, call(t, 404, "DELETE", "/v1/products/prod_nope", admin, nil), "product_not_found")
	})

	step("stock is set, changed and read", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/inventory/TEE-S", admin, map[string]any{"on_hand": 5})
		r := call(t, 200, "PATCH", "/v1/inventory/TEE-S", admin, map[string]any{"on_hand_delta": 2})
		if r.JSON(t)["on_hand"] != 7.0 {
			t.Fatalf("on_hand after +2: %s", r.Body)
		}
		call(t, 200, "PUT", "/v1/inventory/TEE-M", admin, map[string]any{"on_hand": 1})
		call(t, 200, "PUT", "/v1/inventory/MUG", admin, map[string]any{"on_hand": 10})
		call(t, 200, "GET", "/v1/inventory/TEE-S", catalogKey, nil)
		if r := call(t, 200, "GET", "/v1/inventory/NEVER-STOCKED", admin, nil); r.JSON(t)["updated_at"] != nil {
			t.Fatalf("a SKU never stocked has updated_at: %s", r.Body)
		}
		wantProblem(t, call(t, 422, "PUT", "/v1/inventory/TEE-S", admin, map[string]any{}), "missing_field")
		wantProblem(t, call(t, 422, "PATCH", "/v1/inventory/TEE-S", admin, map[string]any{"on_hand": 3}), "field_not_allowed")
		wantProblem(t, call(t, 422, "PATCH", "/v1/inventory/TEE-S", admin, map[string]any{"on_hand_delta": -100}), "invalid_on_hand")
	})

	step("customer tokens are issued", func(t *testing.T) {
		r := call(t, 201, "POST", "/v1/customers/cust_1/tokens", admin, map[string]any{"ttl_seconds": 3600})
		custToken, custTokenID = r.JSON(t)["token"].(string), r.JSON(t)["id"].(string)
		otherToken = call(t, 201, "POST", "/v1/customers/cust_2/tokens", admin, nil).JSON(t)["token"].(string)
		wantProblem(t, call(t, 422, "POST", "/v1/customers/cust_1/tokens", admin, map[string]any{"ttl_seconds": 0}), "invalid_ttl")
	})

	step("carts are opened and read", func(t *testing.T) {
		r := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD", "metadata": map[string]any{"channel": "web"}})
		cartID = r.JSON(t)["id"].(string)
		if r.Header.Get("Location") != "/v1/carts/"+cartID || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("Location %q, ETag %q", r.Header.Get("Location"), r.Header.Get("ETag"))
		}
		if r := call(t, 201, "POST", "/v1/carts", admin, nil); r.JSON(t)["customer_id"] != nil {
			t.Fatalf("a cart opened without a body has a customer: %s", r.Body)
		}
		r = call(t, 201, "POST", "/v1/carts", custToken, map[string]any{})
		if custCart = r.JSON(t)["id"].(string); r.JSON(t)["customer_id"] != "cust_1" {
			t.Fatalf("a customer token's cart: %s", r.Body)
		}
		wantProblem(t, call(t, 403, "POST", "/v1/carts", custToken, map[string]any{"customer_id": "cust_2"}), "customer_mismatch")
		wantProblem(t, call(t, 422, "POST", "/v1/carts", admin, map[string]any{"currency": "usd"}), "unknown_currency")
		wantProblem(t, call(t, 422, "POST", "/v1/carts", admin, map[string]any{"currency": "USD", "colour": "red"}), "unknown_field")
		call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil)
		call(t, 200, "GET", "/v1/carts/"+custCart, custToken, nil)
		wantProblem(t, call(t, 404, "GET", "/v1/carts/"+cartID, custToken, nil), "cart_not_found")
		wantProblem(t, call(t, 404, "GET", "/v1/carts/cart_999999", admin, nil), "cart_not_found")
		wantProblem(t, call(t, 404, "GET", "/v1/carts/basket_1", admin, nil), "cart_not_found")
	})

	itemsOf := func(cart string) string { return "/v1/carts/" + cart + "/items" }
	item := func(id string) string { return itemsOf(cartID) + "/" + id }

	step("items are added, changed and removed", func(t *testing.T) {
		r := call(t, 200, "POST", itemsOf(cartID), admin,
			map[string]any{"sku": "TEE-S", "quantity": 2, "notes": "gift", "metadata": map[string]any{"engraving": "A"}})
		teeS = itemIDOf(t, r, "TEE-S")
		wantMessage(t, r, "item_added")
		wantMessage(t, call(t, 200, "POST", itemsOf(cartID), admin, map[string]any{"variant_id": "var_tee_s"}), "quantity_updated")
		call(t, 200, "PUT", item(teeS), admin, map[string]any{"quantity": 4, "validate_inventory": true})
		call(t, 200, "PATCH", item(teeS), admin, map[string]any{"quantity_delta": 1})
		wantMessage(t, call(t, 200, "PATCH", item(teeS), admin, map[string]any{"notes": "no wrapping"}), "item_updated")
		wantMessage(t, call(t, 200, "PATCH", item(teeS), admin, map[string]any{"quantity": 20, "stock_policy": "clamp"}), "quantity_clamped")

		r = call(t, 409, "PUT", item(teeS), admin, map[string]any{"quantity": 9})
		wantProblem(t, r, "insufficient_stock")
		if p := r.JSON(t); p["cart"] == nil || p["available"] != 7.0 || r.Header.Get("ETag") == "" {
			t.Fatalf("a stock problem without the cart, available or ETag: %v %s", r.Header, r.Body)
		}

		wantProblem(t, call(t, 409, "POST", itemsOf(cartID), admin, map[string]any{"variant_id": "var_tee_s", "quantity": 1}), "insufficient_stock")
		r = call(t, 200, "POST", itemsOf(cartID), admin, map[string]any{"sku": "TEE-M", "quantity": 3, "validate_inventory": false})
		teeM = itemIDOf(t, r, "TEE-M")
		wantMessage(t, r, "backordered")
		mug = itemIDOf(t, call(t, 200, "POST", itemsOf(cartID), admin, map[string]any{"sku": "MUG"}), "MUG")

		wantProblem(t, call(t, 422, "POST", itemsOf(cartID), admin, map[string]any{"sku": "TEE-S", "quantity": 0}), "invalid_quantity")
		wantProblem(t, call(t, 422, "POST", itemsOf(cartID), admin, map[string]any{"sku": "NOPE"}), "unknown_variant")
		wantProblem(t, call(t, 422, "PUT", item(teeS), admin, map[string]any{"quantity": 51}), "quantity_limit")
		wantProblem(t, call(t, 422, "PUT", item(teeS), admin, map[string]any{"quantity_delta": 1}), "field_not_allowed")
		wantProblem(t, call(t, 422, "PATCH", item(teeS), admin, map[string]any{"quantity": 1, "quantity_delta": 1}), "conflicting_quantity")
		wantProblem(t, call(t, 422, "PATCH", item(teeS), admin, map[string]any{"quantity": "1"}), "invalid_type")
		wantProblem(t, call(t, 400, "POST", itemsOf(cartID), admin, `{"sku": "TEE-S"`), "malformed_body")
		wantProblem(t, call(t, 404, "PATCH", item("ci_999999"), admin, map[string]any{"quantity": 1}), "item_not_found")
		wantProblem(t, call(t, 404, "PUT", item("ci_999999"), admin, map[string]any{"quantity": 1}), "item_not_found")
		wantProblem(t, call(t, 404, "DELETE", item("ci_999999"), admin, nil), "item_not_found")
		wantProblem(t, call(t, 404, "POST", "/v1/carts/cart_999999/items", admin, map[string]any{"sku": "MUG"}), "cart_not_found")
		wantProblem(t, call(t, 404, "DELETE", "/v1/carts/cart_999999/items", admin, nil), "cart_not_found")
	})

	step("If-Match guards cart changes", func(t *testing.T) {
		etag := call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil).Header.Get("ETag")
		r := call(t, 412, "PATCH", item(mug), admin, map[string]any{"quantity_delta": 1}, "If-Match", `"1"`)
		wantProblem(t, r, "version_mismatch")
		if r.Header.Get("ETag") != etag {
			t.Fatalf("412 ETag = %q, want %q", r.Header.Get("ETag"), etag)
		}
		call(t, 200, "PATCH", item(mug), admin, map[string]any{"quantity_delta": 1}, "If-Match", etag)
	})

	step("If-None-Match answers 304 while the cart is at that version", func(t *testing.T) {
		first := call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil)
		etag := first.Header.Get("ETag")
		for _, inm := range []string{etag, `"0", ` + etag, "W/" + etag, "*"} {
			r := call(t, 304, "GET", "/v1/carts/"+cartID, admin, nil, "If-None-Match", inm)
			if len(r.Body) != 0 || r.Header.Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: 304 with ETag %q and body %q, want ETag %q and no body", inm, r.Header.Get("ETag"), r.Body, etag)
			}
		}
		if r := call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil, "If-None-Match", `"0"`); !bytes.Equal(r.Body, first.Body) {
			t.Fatalf("an If-None-Match naming another version: %s, want the cart %s", r.Body, first.Body)
		}
		wantProblem(t, call(t, 404, "GET", "/v1/carts/"+cartID, custToken, nil, "If-None-Match", "*"), "cart_not_found")
		call(t, 200, "PATCH", item(mug), admin, map[string]any{"quantity_delta": -1})
		r := call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil, "If-None-Match", etag)
		if r.Header.Get("ETag") == etag {
			t.Fatalf("a changed cart kept its ETag %s", etag)
		}
		call(t, 304, "GET", "/v1/carts/"+cartID, admin, nil, "If-None-Match", r.Header.Get("ETag"))
	})

	step("a deleted product's line becomes unavailable", func(t *testing.T) {
		call(t, 204, "DELETE", "/v1/products/prod_mug", admin, nil)
		r := call(t, 200, "GET", "/v1/carts/"+cartID, admin, nil)
		if len(r.JSON(t)["unavailable_items"].([]any)) != 1 {
			t.Fatalf("no unavailable item: %s", r.Body)
		}
		wantProblem(t, call(t, 409, "PATCH", item(mug), admin, map[string]any{"quantity": 3}), "item_unavailable")
		wantMessage(t, call(t, 200, "DELETE", item(mug), admin, nil), "item_removed")
		wantMessage(t, call(t, 200, "PATCH", item(teeM), admin, map[string]any{"quantity_delta": -3}), "item_removed")
		wantMessage(t, call(t, 200, "DELETE", itemsOf(cartID), admin, nil), "item_removed")
	})

	step("a customer token works on its own carts until revoked", func(t *testing.T) {
		call(t, 200, "POST", itemsOf(custCart), custToken, map[string]any{"sku": "TEE-S"})
		wantProblem(t, call(t, 404, "POST", itemsOf(cartID), custToken, map[string]any{"sku": "TEE-S"}), "cart_not_found")
		wantProblem(t, call(t, 403, "GET", "/v1/products/prod_tee", custToken, nil), "missing_scope")
		call(t, 204, "DELETE", "/v1/customers/cust_1/tokens/"+custTokenID, admin, nil)
		wantProblem(t, call(t, 401, "GET", "/v1/carts/"+custCart, custToken, nil), "invalid_credentials")
		wantProblem(t, call(t, 404, "DELETE", "/v1/customers/cust_1/tokens/tok_999999", admin, nil), "token_not_found")
		wantProblem(t, call(t, 404, "DELETE", "/v1/customers/cust_1/tokens/ct_1", admin, nil), "token_not_found")
	})

	step("a cart whose figures overflow at prices stored before they were bounded is 422", func(t *testing.T) {
		big := func(price int64) map[string]any {
			var vs []any
			for _, sku := range []string{"BIG-1", "BIG-2", "BIG-3"} {
				vs = append(vs, map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]any{"USD": price}})
			}
			return map[string]any{"name": "Big", "variants": vs}
		}
		call(t, 200, "PUT", "/v1/products/prod_big", admin, big(1))
		ov := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		var first string
		for _, sku := range []string{"BIG-1", "BIG-2", "BIG-3"} {
			call(t, 200, "PUT", "/v1/inventory/"+sku, admin, map[string]any{"on_hand": 1})
			r := call(t, 200, "POST", itemsOf(ov), admin, map[string]any{"sku": sku})
			if first == "" {
				first = itemIDOf(t, r, sku)
			}
		}
		// The API takes no price above 10^12 any more (docs/limits-and-ranges.md); a
		// database written before may hold one, as written here through the store.
		wantProblem(t, call(t, 422, "PUT", "/v1/products/prod_big", admin, big(1<<62)), "invalid_product")
		if err := ts.Store.Write(t.Context(), func(tx store.Tx) error {
			p, err := tx.Product(t.Context(), "prod_big")
			if err != nil {
				return err
			}
			for i := range p.Variants {
				p.Variants[i].Prices = map[string]int64{"USD": 1 << 62}
			}
			return tx.PutProduct(t.Context(), &p)
		}); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, call(t, 422, "GET", "/v1/carts/"+ov, admin, nil), "amount_out_of_range")
		wantProblem(t, call(t, 422, "DELETE", itemsOf(ov)+"/"+first, admin, nil), "amount_out_of_range")
	})

	var batchCart string
	step("a batch changes several lines at once, all or none", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_pen", admin, map[string]any{"name": "Pen", "variants": []any{
			map[string]any{"id": "var_pen", "sku": "PEN", "price": map[string]any{"USD": 300}},
			map[string]any{"id": "var_ink", "sku": "INK", "price": map[string]any{"USD": 100}}}})
		call(t, 200, "PUT", "/v1/inventory/PEN", admin, map[string]any{"on_hand": 10})
		call(t, 200, "PUT", "/v1/inventory/INK", admin, map[string]any{"on_hand": 10})
		batchCart = call(t, 201, "POST", "/v1/carts", admin, nil).JSON(t)["id"].(string)
		r := call(t, 200, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"sku": "PEN", "quantity": 2, "notes": "blue", "metadata": map[string]any{"k": "v"}},
			map[string]any{"variant_id": "var_ink", "quantity_delta": 3, "stock_policy": "clamp"},
		}})
		wantMessage(t, r, "item_added")
		pen := itemIDOf(t, r, "PEN")
		r = call(t, 200, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"item_id": pen, "quantity_delta": 1, "validate_inventory": true},
			map[string]any{"sku": "INK", "quantity": 0},
		}}, "Prefer", "return=minimal")
		wantMessage(t, r, "item_removed")
		if r.Header.Get("Preference-Applied") != "return=minimal" || len(r.JSON(t)["removed_item_ids"].([]any)) != 1 {
			t.Fatalf("a minimal batch answer: %v %s", r.Header, r.Body)
		}

		r = call(t, 409, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"sku": "INK", "quantity": 1}, map[string]any{"item_id": pen, "quantity": 11}}})
		wantProblem(t, r, "insufficient_stock")
		if p := r.JSON(t); p["cart"] == nil || p["available"] != 10.0 || !strings.Contains(string(r.Body), `"field":"changes[1].quantity"`) {
			t.Fatalf("a stock problem without the cart, available or the change's field: %s", r.Body)
		}
		wantProblem(t, call(t, 404, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"item_id": "ci_999999", "quantity": 1}}}), "item_not_found")
		wantProblem(t, call(t, 404, "PATCH", "/v1/carts/cart_999999/items", admin, map[string]any{"changes": []any{
			map[string]any{"sku": "PEN", "quantity": 1}}}), "cart_not_found")
		wantProblem(t, call(t, 422, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{}}), "empty_batch")
		wantProblem(t, call(t, 422, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"sku": "PEN", "quantity": 1, "quantity_delta": 1}}}), "conflicting_quantity")
		wantProblem(t, call(t, 422, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"sku": "PEN", "quantity": 51}}}), "quantity_limit")
	})

	step("every mutating cart call answers only what changed when the client prefers return=minimal", func(t *testing.T) {
		minimal := func(t *testing.T, want int, method, path string, body any) response {
			t.Helper()
			r := call(t, want, method, path, admin, body, "Prefer", "return=minimal")
			if r.Header.Get("Preference-Applied") != "return=minimal" {
				t.Fatalf("%s %s: the whole cart for return=minimal: %s", method, path, r.Body)
			}
			return r
		}
		mc := minimal(t, 201, "POST", "/v1/carts", map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		pen := itemIDOf(t, minimal(t, 200, "POST", itemsOf(mc), map[string]any{"sku": "PEN"}), "PEN")
		minimal(t, 200, "PUT", itemsOf(mc)+"/"+pen, map[string]any{"quantity": 2})
		minimal(t, 200, "PATCH", itemsOf(mc)+"/"+pen, map[string]any{"quantity_delta": 1})
		minimal(t, 200, "DELETE", itemsOf(mc)+"/"+pen, nil)
		minimal(t, 200, "POST", itemsOf(mc), map[string]any{"sku": "INK"})
		r := minimal(t, 200, "DELETE", itemsOf(mc), nil)
		if len(r.JSON(t)["removed_item_ids"].([]any)) != 1 || len(r.JSON(t)["items"].([]any)) != 0 {
			t.Fatalf("emptying the cart: %s", r.Body)
		}
	})

	step("reads and writes report catalog price changes and lines left short", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_pen", admin, map[string]any{"name": "Pen", "variants": []any{
			map[string]any{"id": "var_pen", "sku": "PEN", "price": map[string]any{"USD": 320}},
			map[string]any{"id": "var_ink", "sku": "INK", "price": map[string]any{"USD": 100}}}})
		call(t, 200, "PUT", "/v1/inventory/PEN", admin, map[string]any{"on_hand": 1})
		r := call(t, 200, "GET", "/v1/carts/"+batchCart, admin, nil)
		wantMessage(t, r, "price_changed")
		wantMessage(t, r, "insufficient_stock")
		r = call(t, 200, "PATCH", itemsOf(batchCart), admin, map[string]any{"changes": []any{
			map[string]any{"sku": "PEN", "notes": "red"}}})
		wantMessage(t, r, "price_changed")
		wantMessage(t, r, "insufficient_stock")
		if got := messageCodes(t, call(t, 200, "GET", "/v1/carts/"+batchCart, admin, nil)); slices.Contains(got, "price_changed") {
			t.Fatalf("a write did not store the new price: %v", got)
		}
	})

	var mergeInto string // an active cart, to merge into
	step("carts are merged, and follow their shopper to a customer", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_merge", admin, map[string]any{"name": "Merge",
			"variants": []any{map[string]any{"id": "var_mrg", "sku": "MRG", "price": map[string]any{"USD": 500}}}})
		call(t, 200, "PUT", "/v1/inventory/MRG", admin, map[string]any{"on_hand": 6})
		open := func(credential string, body any) string {
			t.Helper()
			return call(t, 201, "POST", "/v1/carts", credential, body).JSON(t)["id"].(string)
		}
		// cust_2 holds 3; a guest backordered 4 of which 3 exist, and signs in as cust_2.
		customers := open(otherToken, nil)
		call(t, 200, "POST", itemsOf(customers), otherToken, map[string]any{"sku": "MRG", "quantity": 3})
		guest := open(admin, nil)
		call(t, 200, "POST", itemsOf(guest), admin, map[string]any{"sku": "MRG", "quantity": 4, "validate_inventory": false})
		r := call(t, 200, "PATCH", "/v1/carts/"+guest, admin, map[string]any{"customer_id": "cust_2", "metadata": map[string]any{"signed_in": true}})
		if r.JSON(t)["id"] != customers || r.Header.Get("ETag") != fmt.Sprintf(`"%v"`, r.JSON(t)["version"]) {
			t.Fatalf("the guest cart did not go into the customer's cart: %v %s", r.Header, r.Body)
		}
		wantMessage(t, r, "cart_merged")
		wantMessage(t, r, "quantity_clamped")
		merged := call(t, 200, "GET", "/v1/carts/"+guest, admin, nil).JSON(t)
		if merged["status"] != "merged" || merged["merged_into"] != customers || len(merged["items"].([]any)) != 0 {
			t.Fatalf("the merged cart: %v", merged)
		}

		// A merged cart refuses every change.
		wantProblem(t, call(t, 409, "POST", itemsOf(guest), admin, map[string]any{"sku": "MRG"}), "cart_not_active")
		wantProblem(t, call(t, 409, "DELETE", itemsOf(guest), admin, nil), "cart_not_active")
		wantProblem(t, call(t, 409, "DELETE", itemsOf(guest)+"/ci_999999", admin, nil), "cart_not_active")
		wantProblem(t, call(t, 409, "PATCH", "/v1/carts/"+guest, admin, map[string]any{"metadata": map[string]any{}}), "cart_not_active")
		wantProblem(t, call(t, 409, "POST", "/v1/carts/"+guest+"/merge", admin, map[string]any{"into": customers}), "cart_not_active")
		wantProblem(t, call(t, 409, "POST", "/v1/carts/"+customers+"/merge", admin, map[string]any{"into": guest}), "cart_not_active")

		// A guest cart of a customer without a cart becomes theirs.
		newcomer := open(admin, nil)
		r = call(t, 200, "PATCH", "/v1/carts/"+newcomer, admin, map[string]any{"customer_id": "cust_new"})
		if r.JSON(t)["id"] != newcomer || r.JSON(t)["customer_id"] != "cust_new" {
			t.Fatalf("the guest cart was not assigned: %s", r.Body)
		}
		wantMessage(t, r, "customer_assigned")
		mergeInto = newcomer

		wantProblem(t, call(t, 409, "PATCH", "/v1/carts/"+customers, admin, map[string]any{"customer_id": "cust_3"}), "customer_already_set")
		wantProblem(t, call(t, 403, "PATCH", "/v1/carts/"+customers, otherToken, map[string]any{"customer_id": "cust_3"}), "customer_mismatch")
		wantProblem(t, call(t, 404, "PATCH", "/v1/carts/cart_999999", admin, map[string]any{"customer_id": "cust_3"}), "cart_not_found")
		wantProblem(t, call(t, 422, "PATCH", "/v1/carts/"+newcomer, admin, map[string]any{}), "empty_update")

		// An explicit merge moves lines between a caller's carts.
		source := open(admin, nil)
		r = call(t, 200, "POST", itemsOf(source), admin, map[string]any{"sku": "TEE-S"})
		r = call(t, 200, "POST", "/v1/carts/"+source+"/merge", admin, map[string]any{"into": newcomer},
			"If-Match", r.Header.Get("ETag"))
		if r.JSON(t)["id"] != newcomer {
			t.Fatalf("a merge answered another cart than its target: %s", r.Body)
		}
		wantMessage(t, r, "item_merged")
		source = open(admin, nil)
		call(t, 200, "POST", itemsOf(source), admin, map[string]any{"sku": "TEE-S"})
		r = call(t, 200, "POST", "/v1/carts/"+source+"/merge", admin, map[string]any{"into": newcomer}, "Prefer", "return=minimal")
		if r.Header.Get("Preference-Applied") != "return=minimal" || r.JSON(t)["id"] != newcomer {
			t.Fatalf("a merge preferring return=minimal: %v %s", r.Header, r.Body)
		}
		euro := open(admin, map[string]any{"currency": "EUR"})
		wantProblem(t, call(t, 422, "POST", "/v1/carts/"+euro+"/merge", admin, map[string]any{"into": newcomer}), "currency_mismatch")
		wantProblem(t, call(t, 422, "POST", "/v1/carts/"+euro+"/merge", admin, map[string]any{"into": euro}), "merge_into_self")
		wantProblem(t, call(t, 422, "POST", "/v1/carts/"+euro+"/merge", admin, map[string]any{"into": "basket_1"}), "invalid_cart_id")
		wantProblem(t, call(t, 404, "POST", "/v1/carts/"+euro+"/merge", admin, map[string]any{"into": "cart_999999"}), "cart_not_found")
		wantProblem(t, call(t, 404, "POST", "/v1/carts/"+customers+"/merge", otherToken, map[string]any{"into": newcomer}), "cart_not_found")
	})

	step("stock writes carry the stock's version and honour If-Match", func(t *testing.T) {
		r := call(t, 200, "GET", "/v1/inventory/MRG", admin, nil)
		etag := r.Header.Get("ETag")
		if etag != fmt.Sprintf(`"%v"`, r.JSON(t)["version"]) {
			t.Fatalf("ETag %q for stock %s", etag, r.Body)
		}
		r = call(t, 412, "PUT", "/v1/inventory/MRG", admin, map[string]any{"on_hand": 9}, "If-Match", `"1"`)
		wantProblem(t, r, "version_mismatch")
		if r.Header.Get("ETag") != etag || r.JSON(t)["stock"] == nil {
			t.Fatalf("a stale stock write's 412 without the current stock: %v %s", r.Header, r.Body)
		}
		r = call(t, 200, "PUT", "/v1/inventory/MRG", admin, map[string]any{"on_hand": 9}, "If-Match", etag)
		r = call(t, 200, "PATCH", "/v1/inventory/MRG", admin, map[string]any{"on_hand_delta": 1}, "If-Match", r.Header.Get("ETag"))
		if r.JSON(t)["on_hand"] != 10.0 {
			t.Fatalf("stock after the guarded writes: %s", r.Body)
		}
	})

	step("sales, expiry, unavailable lines and checkout", func(t *testing.T) {
		// A server of its own on a clock the test moves: nothing here sleeps.
		clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
		cs := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Now: clock.Now})
		ccall := func(t *testing.T, want int, method, path string, body any, headers ...string) response {
			t.Helper()
			return c.call(t, cs, want, method, path, cs.Admin, body, headers...)
		}
		at := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }

		r := ccall(t, 200, "PUT", "/v1/sales/sale_flash", map[string]any{"name": "Flash", "starts_at": at(time.Hour), "ends_at": at(3 * time.Hour)})
		if r.JSON(t)["status"] != "scheduled" {
			t.Fatalf("a sale starting in an hour: %s", r.Body)
		}
		ccall(t, 200, "GET", "/v1/sales/sale_flash", nil)
		wantProblem(t, ccall(t, 404, "GET", "/v1/sales/sale_nope", nil), "sale_not_found")
		wantProblem(t, ccall(t, 422, "PUT", "/v1/sales/sale_x", map[string]any{"name": "X", "starts_at": at(time.Hour), "ends_at": at(time.Hour)}), "invalid_sale")
		wantProblem(t, ccall(t, 422, "PUT", "/v1/sales/sale_x", map[string]any{"name": "X", "starts_at": "tomorrow", "ends_at": at(time.Hour)}), "invalid_time")
		wantProblem(t, ccall(t, 422, "PUT", "/v1/sales/sale_x", map[string]any{"name": "X", "starts_at": at(0)}), "missing_field")

		ccall(t, 200, "PUT", "/v1/products/prod_flash", map[string]any{"name": "Flash", "variants": []any{
			map[string]any{"id": "var_fl", "sku": "FL", "price": map[string]any{"USD": 5000}, "sale_id": "sale_flash"},
			map[string]any{"id": "var_pl", "sku": "PL", "price": map[string]any{"USD": 700}}}})
		ccall(t, 200, "PUT", "/v1/inventory/FL", map[string]any{"on_hand": 5})
		ccall(t, 200, "PUT", "/v1/inventory/PL", map[string]any{"on_hand": 50})
		open := func() string { return ccall(t, 201, "POST", "/v1/carts", nil).JSON(t)["id"].(string) }
		items := func(id string) string { return "/v1/carts/" + id + "/items" }

		early := open()
		wantProblem(t, ccall(t, 409, "POST", items(early), map[string]any{"sku": "FL"}), "sale_not_started")
		wantProblem(t, ccall(t, 409, "POST", "/v1/carts/"+early+"/checkout", nil), "cart_empty")
		wantProblem(t, ccall(t, 404, "POST", "/v1/carts/cart_999999/checkout", nil), "cart_not_found")
		// Checkout and emptying a cart take no arguments: no body or a JSON object.
		for _, call := range [][2]string{{"POST", "/v1/carts/" + early + "/checkout"}, {"DELETE", items(early)}} {
			wantProblem(t, ccall(t, 415, call[0], call[1], "x", "Content-Type", "text/plain"), "unsupported_media_type")
			wantProblem(t, ccall(t, 422, call[0], call[1], "{not json"), "invalid_body")
		}

		clock.Advance(time.Hour)
		r = ccall(t, 200, "POST", items(early), map[string]any{"sku": "FL", "quantity": 2})
		fl := itemIDOf(t, r, "FL")
		if got := r.JSON(t)["items"].([]any)[0].(map[string]any)["reserved_until"]; got != at(15*time.Minute) {
			t.Fatalf("reserved_until = %v, want now + 15m", got)
		}
		pl := itemIDOf(t, ccall(t, 200, "POST", items(early), map[string]any{"sku": "PL"}), "PL")

		// The reservations lapse: the items stay, expired and out of the totals.
		clock.Advance(16 * time.Minute)
		r = ccall(t, 200, "GET", "/v1/carts/"+early, nil)
		if m := r.JSON(t); m["expired"] != 3.0 || m["item_count"] != 0.0 || m["total"] != 0.0 {
			t.Fatalf("a cart whose reservations lapsed: %s", r.Body)
		}
		wantMessage(t, r, "reservation_expired")
		wantProblem(t, ccall(t, 409, "POST", "/v1/carts/"+early+"/checkout", nil), "checkout_items_expired")
		if _, err := cs.Engine.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st := ccall(t, 200, "GET", "/v1/inventory/FL", nil).JSON(t); st["reserved"] != 0.0 {
			t.Fatalf("the sweep left FL reserved: %v", st)
		}
		// Touching an expired item reserves it again.
		r = ccall(t, 200, "PATCH", items(early)+"/"+fl, map[string]any{"quantity_delta": 1})
		ccall(t, 200, "PUT", items(early)+"/"+pl, map[string]any{"quantity": 1})
		if m := r.JSON(t); m["expired"] != 1.0 || m["item_count"] != 3.0 {
			t.Fatalf("after touching one expired item: %s", r.Body)
		}

		// The sale ends: its item becomes unavailable, and blocks the checkout until removed.
		clock.Advance(2 * time.Hour)
		r = ccall(t, 200, "GET", "/v1/carts/"+early, nil)
		un := r.JSON(t)["unavailable_items"].([]any)
		if len(un) != 1 || un[0].(map[string]any)["unavailable_reason"] != "sale_ended" {
			t.Fatalf("the item of an ended sale: %s", r.Body)
		}
		wantMessage(t, r, "item_unavailable")
		wantProblem(t, ccall(t, 409, "POST", items(early), map[string]any{"sku": "FL"}), "item_unavailable")
		wantProblem(t, ccall(t, 409, "POST", "/v1/carts/"+early+"/checkout", nil), "checkout_items_unavailable")
		ccall(t, 200, "DELETE", items(early)+"/"+fl, nil)
		late := open()
		wantProblem(t, ccall(t, 409, "POST", items(late), map[string]any{"sku": "FL"}), "sale_ended")

		// Checkout commits the stock and closes the cart.
		ccall(t, 200, "PATCH", items(early)+"/"+pl, map[string]any{"quantity": 4})
		r = ccall(t, 200, "POST", "/v1/carts/"+early+"/checkout", nil, "Idempotency-Key", "checkout-1")
		if m := r.JSON(t); m["status"] != "completed" || m["total"] != 2800.0 {
			t.Fatalf("the checked-out cart: %s", r.Body)
		}
		wantMessage(t, r, "checked_out")
		again := ccall(t, 200, "POST", "/v1/carts/"+early+"/checkout", nil, "Idempotency-Key", "checkout-1")
		if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, r.Body) {
			t.Fatalf("a retried checkout was not replayed: %v %s", again.Header, again.Body)
		}
		if st := ccall(t, 200, "GET", "/v1/inventory/PL", nil).JSON(t); st["on_hand"] != 46.0 || st["reserved"] != 0.0 {
			t.Fatalf("stock after checking out 4 of 50: %v", st)
		}
		wantProblem(t, ccall(t, 409, "POST", "/v1/carts/"+early+"/checkout", nil), "cart_not_active")
		wantProblem(t, ccall(t, 409, "PATCH", items(early)+"/"+pl, map[string]any{"quantity": 1}), "cart_not_active")

		// A line the shop took stock away from is short; a backordered one is not.
		short := itemIDOf(t, ccall(t, 200, "POST", items(late), map[string]any{"sku": "PL", "quantity": 40}), "PL")
		ccall(t, 200, "PUT", "/v1/inventory/PL", map[string]any{"on_hand": 30})
		r = ccall(t, 409, "POST", "/v1/carts/"+late+"/checkout", nil)
		if wantProblem(t, r, "insufficient_stock"); r.JSON(t)["available"] != 30.0 {
			t.Fatalf("a short checkout: %s", r.Body)
		}
		ccall(t, 200, "PUT", items(late)+"/"+short, map[string]any{"quantity": 41, "stock_policy": "ignore"})
		r = ccall(t, 200, "POST", "/v1/carts/"+late+"/checkout", nil, "Prefer", "return=minimal")
		wantMessage(t, r, "backordered")
		if st := ccall(t, 200, "GET", "/v1/inventory/PL", nil).JSON(t); st["on_hand"] != 0.0 || st["backordered"] != 11.0 {
			t.Fatalf("stock after checking out 41 of 30 under ignore: %v", st)
		}
	})

	step("promotions are written, applied to carts as coupons and withdrawn", func(t *testing.T) {
		call(t, 200, "PUT", "/v1/products/prod_promo", admin, map[string]any{"name": "Promo", "brand": "Acme",
			"variants": []any{map[string]any{"id": "var_promo", "sku": "PROMO", "price": map[string]any{"USD": 2500}, "tax_rate": 1000}}})
		call(t, 200, "PUT", "/v1/inventory/PROMO", admin, map[string]any{"on_hand": 20})
		r := call(t, 200, "PUT", "/v1/promotions/summer10", admin, map[string]any{"name": "Summer", "description": "10% off PROMO",
			"type": "percent", "rate": 1000, "conditions": map[string]any{"min_subtotal": map[string]any{"USD": 5000}, "skus": []any{"PROMO"}},
			"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z"})
		if p := r.JSON(t); p["code"] != "SUMMER10" || p["rate"] != 1000.0 || p["method"] != "manual" || p["active"] != true {
			t.Fatalf("the promotion as stored: %s", r.Body)
		}
		call(t, 200, "GET", "/v1/promotions/Summer10", catalogKey, nil)
		call(t, 200, "PUT", "/v1/promotions/SHIPFREE", admin, map[string]any{"type": "freeship", "method": "auto",
			"conditions": map[string]any{"min_subtotal": map[string]any{"USD": 10000}}})
		call(t, 200, "PUT", "/v1/promotions/FIVEOFF", admin, map[string]any{"type": "cash", "amount": map[string]any{"USD": 500}, "ends_at": nil})
		call(t, 200, "PUT", "/v1/promotions/OLD", admin, map[string]any{"type": "cash", "amount": map[string]any{"USD": 500}, "ends_at": "2020-01-01T00:00:00Z"})
		wantProblem(t, call(t, 422, "PUT", "/v1/promotions/BAD", admin, map[string]any{"type": "percent"}), "invalid_promotion")
		wantProblem(t, call(t, 422, "PUT", "/v1/promotions/BAD", admin, map[string]any{"code": "OTHER", "type": "freeship"}), "code_mismatch")
		wantProblem(t, call(t, 404, "GET", "/v1/promotions/NOPE", admin, nil), "promotion_not_found")

		pc := call(t, 201, "POST", "/v1/carts", admin, nil).JSON(t)["id"].(string)
		coupons := "/v1/carts/" + pc + "/coupons"
		promo := itemIDOf(t, call(t, 200, "POST", itemsOf(pc), admin, map[string]any{"sku": "PROMO"}), "PROMO")
		wantProblem(t, call(t, 422, "POST", coupons, admin, map[string]any{"code": "summer10"}), "coupon_not_applicable")
		wantProblem(t, call(t, 422, "POST", coupons, admin, map[string]any{"code": "NOPE"}), "unknown_coupon")
		wantProblem(t, call(t, 422, "POST", coupons, admin, map[string]any{"code": "OLD"}), "coupon_expired")
		wantProblem(t, call(t, 422, "POST", coupons, admin, map[string]any{"code": "SHIPFREE"}), "coupon_is_automatic")
		call(t, 200, "PATCH", itemsOf(pc)+"/"+promo, admin, map[string]any{"quantity": 2})
		r = call(t, 200, "POST", coupons, admin, map[string]any{"code": "summer10"})
		wantMessage(t, r, "coupon_applied")
		if c := r.JSON(t); c["discount"] != 500.0 || len(c["coupons"].([]any)) != 1 {
			t.Fatalf("SUMMER10 on 50.00: %s", r.Body)
		}
		r = call(t, 200, "POST", coupons, admin, map[string]any{"code": "FIVEOFF"}, "Prefer", "return=minimal")
		if r.Header.Get("Preference-Applied") != "return=minimal" || len(r.JSON(t)["coupons"].([]any)) != 2 {
			t.Fatalf("a minimal answer to a coupon: %v %s", r.Header, r.Body)
		}
		r = call(t, 200, "PATCH", itemsOf(pc)+"/"+promo, admin, map[string]any{"quantity": 1})
		wantMessage(t, r, "promotion_lost")
		if cp := r.JSON(t)["coupons"].([]any)[0].(map[string]any); cp["applied"] != false || cp["reason"] != "minimum_subtotal" {
			t.Fatalf("SUMMER10 under its minimum: %s", r.Body)
		}
		r = call(t, 200, "PATCH", itemsOf(pc)+"/"+promo, admin, map[string]any{"quantity": 4})
		wantMessage(t, r, "promotion_applied")
		if c := r.JSON(t); c["discount"] != 1500.0 || c["shipping"] != 0.0 || len(c["coupons"].([]any)) != 3 {
			t.Fatalf("SUMMER10, FIVEOFF and SHIPFREE on 100.00: %s", r.Body)
		}
		wantMessage(t, call(t, 200, "DELETE", coupons+"/fiveoff", admin, nil), "coupon_removed")
		wantProblem(t, call(t, 404, "DELETE", coupons+"/FIVEOFF", admin, nil), "coupon_not_found")
		wantProblem(t, call(t, 404, "POST", "/v1/carts/cart_999999/coupons", admin, map[string]any{"code": "FIVEOFF"}), "cart_not_found")
		wantProblem(t, call(t, 422, "DELETE", coupons+"/SUMMER10", admin, nil, "Idempotency-Key", strings.Repeat("k", 300)), "invalid_idempotency_key")

		call(t, 204, "DELETE", "/v1/promotions/SUMMER10", admin, nil)
		wantProblem(t, call(t, 404, "DELETE", "/v1/promotions/SUMMER10", admin, nil), "promotion_not_found")
		wantProblem(t, call(t, 404, "GET", "/v1/promotions/SUMMER10", admin, nil), "promotion_not_found")
		if cp := call(t, 200, "GET", "/v1/carts/"+pc, admin, nil).JSON(t)["coupons"].([]any)[0].(map[string]any); cp["reason"] != "inactive" {
			t.Fatalf("a withdrawn promotion's coupon: %v", cp)
		}
		call(t, 200, "PUT", "/v1/promotions/SUMMER10", admin, map[string]any{"type": "percent", "rate": 1000})

		merged := call(t, 201, "POST", "/v1/carts", admin, nil).JSON(t)["id"].(string)
		call(t, 200, "POST", "/v1/carts/"+merged+"/merge", admin, map[string]any{"into": pc})
		wantProblem(t, call(t, 409, "POST", "/v1/carts/"+merged+"/coupons", admin, map[string]any{"code": "FIVEOFF"}), "cart_not_active")
		wantProblem(t, call(t, 409, "DELETE", "/v1/carts/"+merged+"/coupons/FIVEOFF", admin, nil), "cart_not_active")
	})

	eventsContract(step, c, ts, call)
	importContract(step, call, admin, catalogKey)
	listsContract(step, call, admin)

	// Every operation's generic errors, driven by the document itself. The bodies are made
	// when used, after the subtests they name carts of.
	validBodies := func() map[string]any {
		return map[string]any{
			"createCustomerToken": map[string]any{},
			"putProduct":          teeProduct,
			"putInventory":        map[string]any{"on_hand": 5},
			"patchInventory":      map[string]any{"on_hand_delta": 1},
			"putSettings":         map[string]any{"prices_include_tax": false},
			"createCart":          map[string]any{},
			"updateCart":          map[string]any{"metadata": map[string]any{"k": "v"}},
			"mergeCart":           map[string]any{"into": mergeInto},
			"addItem":             map[string]any{"sku": "TEE-S"},
			"putItem":             map[string]any{"quantity": 1},
			"patchItem":           map[string]any{"quantity_delta": 1},
			"patchItems":          map[string]any{"changes": []any{map[string]any{"sku": "TEE-S", "quantity": 1}}},
			"putSale":             map[string]any{"name": "Sale", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"},
			"putPromotion":        map[string]any{"type": "freeship"},
			"applyCoupon":         map[string]any{"code": "SUMMER10"},
			"putWebhook":          map[string]any{"url": "http://127.0.0.1:9/hook"},
		}
	}
	validBody := func(id string) any { return validBodies()[id] }
	fill := func(path string) string {
		p := strings.NewReplacer("/v1/products/{id}", "/v1/products/prod_tee", "/v1/sales/{id}", "/v1/sales/sale_summer",
			"/v1/webhooks/{id}", "/v1/webhooks/wh_contract", "{event_id}", "evt_1").Replace(path)
		p = strings.NewReplacer("{id}", cartID, "{item_id}", "ci_999999", "{customer_id}", "cust_2",
			"{token_id}", "tok_999999", "{sku}", "TEE-S", "{code}", "SUMMER10").Replace(p)
		if strings.Contains(p, "{") {
			t.Fatalf("no value for a parameter of %s", path)
		}
		return p
	}
	for _, o := range c.operations() {
		step(o.Op.OperationID+" answers its documented errors", func(t *testing.T) {
			path, body := fill(o.Path), validBody(o.Op.OperationID)
			if o.secured(c.doc) {
				wantProblem(t, call(t, 401, o.Method, path, "", body), "missing_credentials")
				wantProblem(t, call(t, 401, o.Method, path, "sk_not_a_key", body), "invalid_credentials")
				lacking := otherToken // a customer token has only the cart scopes
				if slices.Contains(o.Op.Tags, "carts") {
					lacking = catalogKey
				}
				wantProblem(t, call(t, 403, o.Method, path, lacking, body), "missing_scope")
			}
			if o.Op.RequestBody != nil && o.Op.OperationID != "importCatalog" { // importContract: not JSON
				wantProblem(t, call(t, 400, o.Method, path, admin, `{"a":`), "malformed_body")
				wantProblem(t, call(t, 400, o.Method, path, admin, `[]`), "malformed_body")
				wantProblem(t, call(t, 415, o.Method, path, admin, "x", "Content-Type", "text/plain"), "unsupported_media_type")
				wantProblem(t, call(t, 413, o.Method, path, admin, bytes.Repeat([]byte(" "), api.DefaultMaxBody+1)), "body_too_large")
			}
			if o.hasParam("If-Match") {
				wantProblem(t, call(t, 412, o.Method, path, admin, body, "If-Match", `"999"`), "version_mismatch")
			}
		})
	}

	step("quantity rules are written, enforced in the problem and shown on every item", func(t *testing.T) {
		pairs := map[string]any{"name": "Socks", "quantity_rule": map[string]any{"increment": 2, "max": 10},
			"variants": []any{map[string]any{"id": "var_socks_c", "sku": "SOCKS-C", "price": map[string]any{"USD": 500},
				"tiers": []any{map[string]any{"min_quantity": 6, "price": map[string]any{"USD": 450}}}},
				map[string]any{"id": "var_socks_l", "sku": "SOCKS-L", "price": map[string]any{"USD": 900},
					"quantity_rule": map[string]any{"min": 3, "max_per_customer": 6}}}}
		r := call(t, 200, "PUT", "/v1/products/prod_socks", admin, pairs)
		if rule := r.JSON(t)["quantity_rule"].(map[string]any); rule["increment"] != 2.0 {
			t.Fatalf("the product's rule: %s", r.Body)
		}
		call(t, 200, "GET", "/v1/products/prod_socks", catalogKey, nil)
		wantProblem(t, call(t, 422, "PUT", "/v1/products/prod_bad_rule", admin, map[string]any{"name": "Bad",
			"quantity_rule": map[string]any{"increment": 2, "min": 3},
			"variants":      []any{map[string]any{"id": "var_bad_rule", "sku": "BAD-RULE", "price": map[string]any{"USD": 1}}}}), "invalid_product")
		call(t, 200, "PUT", "/v1/inventory/SOCKS-C", admin, map[string]any{"on_hand": 100})
		call(t, 200, "PUT", "/v1/inventory/SOCKS-L", admin, map[string]any{"on_hand": 100})

		socks := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		p := wantProblemBody(t, call(t, 422, "POST", itemsOf(socks), admin, map[string]any{"sku": "SOCKS-C", "quantity": 3}), "quantity_not_allowed")
		if p["nearest_below"] != 2.0 || p["nearest_above"] != 4.0 || p["requested"] != 3.0 {
			t.Fatalf("the problem does not name the nearest quantities: %v", p)
		}
		r2 := call(t, 200, "POST", itemsOf(socks), admin, map[string]any{"sku": "SOCKS-C", "quantity": 3, "stock_policy": "clamp"})
		wantMessage(t, r2, "quantity_clamped")
		for _, it := range r2.JSON(t)["items"].([]any) {
			if rule := it.(map[string]any)["quantity_rule"].(map[string]any); rule["increment"] != 2.0 || rule["max"] != 10.0 {
				t.Fatalf("the item does not show its rule: %v", it)
			}
		}
		line := itemIDOf(t, r2, "SOCKS-C")
		wantProblem(t, call(t, 422, "PATCH", itemsOf(socks)+"/"+line, admin, map[string]any{"quantity_delta": 1}), "quantity_not_allowed")
		call(t, 200, "PUT", itemsOf(socks)+"/"+line, admin, map[string]any{"quantity": 12, "stock_policy": "clamp"})
		call(t, 200, "PATCH", itemsOf(socks), admin, map[string]any{"changes": []any{map[string]any{"item_id": line, "quantity": 6}}},
			"Prefer", "return=minimal")

		sockToken := call(t, 201, "POST", "/v1/customers/cust_socks/tokens", admin, map[string]any{"ttl_seconds": 3600}).JSON(t)["token"].(string)
		mine := call(t, 201, "POST", "/v1/carts", sockToken, nil).JSON(t)["id"].(string)
		call(t, 200, "POST", itemsOf(mine), sockToken, map[string]any{"sku": "SOCKS-L", "quantity": 4})
		other := call(t, 201, "POST", "/v1/carts", sockToken, nil).JSON(t)["id"].(string)
		p = wantProblemBody(t, call(t, 422, "POST", itemsOf(other), sockToken, map[string]any{"sku": "SOCKS-L", "quantity": 3}), "quantity_not_allowed")
		if p["held_elsewhere"] != 4.0 {
			t.Fatalf("the problem does not say what the customer's other carts hold: %v", p)
		}
	})

	step("measured quantities are decimals in products, stock, items, messages and problems", func(t *testing.T) {
		coffee := map[string]any{"name": "Coffee", "variants": []any{map[string]any{"id": "var_coffee_c", "sku": "COFFEE-C",
			"price": map[string]any{"USD": 1299}, "quantity_scale": 3, "unit": "kg", "quantity_rule": map[string]any{"min": 0.25, "increment": 0.05},
			"tiers": []any{map[string]any{"min_quantity": 5.5, "price": map[string]any{"USD": 1199}}}}}}
		call(t, 200, "PUT", "/v1/products/prod_coffee_c", admin, coffee)
		call(t, 200, "GET", "/v1/products/prod_coffee_c", catalogKey, nil)
		call(t, 200, "PUT", "/v1/inventory/COFFEE-C", admin, map[string]any{"on_hand": 10.5})
		call(t, 200, "PATCH", "/v1/inventory/COFFEE-C", admin, map[string]any{"on_hand_delta": -0.25})
		wantProblem(t, call(t, 422, "PATCH", "/v1/inventory/COFFEE-C", admin, map[string]any{"on_hand_delta": 0.0001}), "quantity_precision")
		kg := call(t, 201, "POST", "/v1/carts", admin, map[string]any{"currency": "USD"}).JSON(t)["id"].(string)
		r := call(t, 200, "POST", itemsOf(kg), admin, map[string]any{"sku": "COFFEE-C", "quantity": 1.25})
		if r.JSON(t)["subtotal"] != 1624.0 {
			t.Fatalf("1.25 kg at 1299: %s", r.Body)
		}
		line := itemIDOf(t, r, "COFFEE-C")
		wantProblem(t, call(t, 422, "PATCH", itemsOf(kg)+"/"+line, admin, map[string]any{"quantity": 1.2345}), "quantity_precision")
		p := wantProblemBody(t, call(t, 422, "PATCH", itemsOf(kg)+"/"+line, admin, map[string]any{"quantity": 1.26}), "quantity_not_allowed")
		if p["nearest_below"] != 1.25 || p["nearest_above"] != 1.3 {
			t.Fatalf("the problem's nearest quantities: %v", p)
		}
		wantMessage(t, call(t, 200, "PUT", itemsOf(kg)+"/"+line, admin, map[string]any{"quantity": 20.01, "stock_policy": "clamp"}), "quantity_clamped")
		wantProblem(t, call(t, 409, "PUT", "/v1/products/prod_coffee_c", admin, map[string]any{"name": "Coffee", "variants": []any{
			map[string]any{"id": "var_coffee_c", "sku": "COFFEE-C", "price": map[string]any{"USD": 1299}, "quantity_scale": 2}}}), "quantity_scale_in_use")
	})

	step("a retry while the first call with its Idempotency-Key is in flight is 409, on every operation taking one", func(t *testing.T) {
		// On SQLite whatever CARTD_TEST_STORE says: its single writer, held, stops every write,
		// and the in-flight check is the engine's, the same over any store.
		ts := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, SQLite: true})
		admin := ts.Admin
		call := func(t *testing.T, want int, method, path, credential string, body any) response {
			t.Helper()
			return c.call(t, ts, want, method, path, credential, body)
		}
		call(t, 200, "PUT", "/v1/products/prod_gone_later", admin, map[string]any{"name": "Gone",
			"variants": []any{map[string]any{"id": "var_gone_later", "sku": "GONE-LATER", "price": map[string]any{"USD": 100}}}})
		call(t, 200, "PUT", "/v1/promotions/WITHDRAWN", admin, map[string]any{"type": "freeship"})
		ops := []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/carts", map[string]any{"currency": "USD"}},
			{"PUT", "/v1/products/prod_inflight", map[string]any{"name": "In flight",
				"variants": []any{map[string]any{"id": "var_inflight", "sku": "INFLIGHT", "price": map[string]any{"USD": 100}}}}},
			{"DELETE", "/v1/products/prod_gone_later", nil},
			{"PUT", "/v1/inventory/INFLIGHT", map[string]any{"on_hand": 5}},
			{"PATCH", "/v1/inventory/GONE-LATER", map[string]any{"on_hand_delta": 1}},
			{"PUT", "/v1/sales/sale_inflight", map[string]any{"name": "In flight", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}},
			{"PUT", "/v1/settings", map[string]any{"default_currency": "USD", "max_quantity_per_item": 50, "max_lines_per_cart": 100}},
			{"PUT", "/v1/promotions/INFLIGHT", map[string]any{"type": "freeship"}},
			{"DELETE", "/v1/promotions/WITHDRAWN", nil},
			{"PUT", "/v1/webhooks/wh_inflight", map[string]any{"url": "http://127.0.0.1:9/hook"}},
		}

		// Hold SQLite's single writer, so that a call holding its key cannot finish.
		holding, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			held <- ts.Store.Write(context.Background(), func(store.Tx) error {
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		var releaseOnce sync.Once
		letGo := func() { releaseOnce.Do(func() { close(release) }) }
		defer letGo() // a failing test must not leave the writer held

		client := concurrentClient(t, 2*len(ops))
		type answer struct {
			req *http.Request
			r   response
		}
		waiting := make(chan answer, len(ops))
		for i, op := range ops {
			key := fmt.Sprintf("inflight-%d", i)
			answers := make(chan answer, 2)
			for range 2 {
				go func() {
					raw := encodeBody(t, op.body)
					req := newRequest(t, op.method, ts.URL+op.path, admin, raw, []string{"Idempotency-Key", key})
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						answers <- answer{}
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					answers <- answer{newRequest(t, op.method, ts.URL+op.path, admin, raw, []string{"Idempotency-Key", key}),
						response{Status: resp.StatusCode, Header: resp.Header, Body: body}}
				}()
			}
			// One of the two holds the key and waits for the writer; the other is told so.
			busy := <-answers
			if busy.req == nil {
				t.FailNow()
			}
			if busy.r.Status != http.StatusConflict {
				t.Fatalf("%s %s: with the writer held, the first answer is %d, want 409: %s", op.method, op.path, busy.r.Status, busy.r.Body)
			}
			wantProblem(t, busy.r, "idempotency_in_flight")
			id, err := c.validate(busy.req, busy.r)
			if err != nil {
				t.Fatalf("%s %s: %v", op.method, op.path, err)
			}
			if c.seen[id] == nil {
				c.seen[id] = map[int]bool{}
			}
			c.seen[id][busy.r.Status] = true
			go func() { waiting <- <-answers }()
		}
		letGo()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		for range ops {
			switch a := <-waiting; {
			case a.req == nil:
				t.Error("a call holding its key got no answer")
			case a.r.Status >= 300:
				t.Errorf("%s %s: the call holding the key answered %d once the writer was free: %s", a.req.Method, a.req.URL.Path, a.r.Status, a.r.Body)
			}
		}
	})

	step("a server whose database is gone answers 500 and 503", func(t *testing.T) {
		dead := mustDeadServer(t)
		for _, o := range c.operations() {
			if o.secured(c.doc) {
				wantProblem(t, c.call(t, dead, 500, o.Method, fill(o.Path), "sk_any", validBody(o.Op.OperationID)), "internal")
			}
		}
		wantProblem(t, c.call(t, dead, 503, "GET", "/readyz", "", nil), "not_ready")
	})

	step("a rate-limited key gets 429 from every operation", func(t *testing.T) {
		g := limits.New(limits.Config{Key: limits.Rate{PerSecond: 1.0 / 3600, Burst: 1}})
		limited := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Guard: g})
		c.call(t, limited, 200, "GET", "/v1/settings", limited.Admin, nil) // the key's one request
		for _, o := range c.operations() {
			if o.secured(c.doc) {
				wantProblem(t, c.call(t, limited, 429, o.Method, fill(o.Path), limited.Admin, validBody(o.Op.OperationID)), "rate_limited")
			}
		}
	})

	step("a node at its cap of requests in flight answers 503 from every operation", func(t *testing.T) {
		gt := newGate()
		g := limits.New(limits.Config{MaxInFlight: 1, Admitted: gt.admitted})
		busy := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Guard: g})
		held := holdInFlight(t, busy, g, gt, 1)
		for _, o := range c.operations() {
			if o.secured(c.doc) {
				wantProblem(t, c.call(t, busy, 503, o.Method, fill(o.Path), busy.Admin, validBody(o.Op.OperationID)), "overloaded")
			}
		}
		c.call(t, busy, 200, "GET", "/readyz", "", nil) // probes pass however busy
		if status := held[0].finish(t); status != 201 {
			t.Fatalf("held request: %d", status)
		}
	})

	// Statuses documented because the handlers can answer them, but which no request through
	// the API can provoke today ("*" for every operation).
	unreachable := map[string]string{}
	step("every documented status was produced", func(t *testing.T) {
		for _, o := range c.operations() {
			id := o.Op.OperationID
			for code := range o.Op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s documents response %q; list statuses, not ranges or default", id, code)
					continue
				}
				why, waived := unreachable[id+" "+code]
				_, waivedAll := unreachable["* "+code]
				switch {
				case c.seen[id][status] && waived:
					t.Errorf("%s %s was produced after all (%q): take it off the unreachable list", id, code, why)
				case !c.seen[id][status] && !waived && !waivedAll:
					t.Errorf("%s %s (%s) documents %s, which no request produced", o.Method, o.Path, id, code)
				}
			}
		}
	})
}

// mustDeadServer starts a server whose database is closed under it.
func mustDeadServer(tb testing.TB) *testServer {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(api.New(engine.New(st, engine.Config{}), api.Config{}))
	tb.Cleanup(hs.Close)
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}
	return &testServer{URL: hs.URL, Client: hs.Client()}
}

// TestOpenAPIServed checks that GET /openapi.json serves the file byte for byte.
func TestOpenAPIServed(t *testing.T) {
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := mustServer(t)
	r := ts.do(t, "GET", "/openapi.json", "", nil).mustStatus(t, 200)
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("GET /openapi.json serves %d bytes that differ from openapi.json (%d bytes)", len(r.Body), len(want))
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

// routePattern matches the route table's registrations in server.go.
var (
	routePattern   = regexp.MustCompile(`s\.mux\.HandleFunc\("([A-Z]+) (/[^"]*)"`)
	handlerPattern = regexp.MustCompile(`s\.mux\.Handle(Func)?\(`)
)

// TestOpenAPIDocumentsEveryRoute checks the document against the route table in server.go,
// both ways, and against the running server: a documented path answers exactly the documented
// methods.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	c := mustContract(t)
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	matches := routePattern.FindAllStringSubmatch(string(src), -1)
	if n := len(handlerPattern.FindAllString(string(src), -1)); n != len(matches) || n == 0 {
		t.Fatalf("server.go registers %d handlers but %d read as \"METHOD /path\" routes; update this test", n, len(matches))
	}
	var served, documented []string
	for _, m := range matches {
		if strings.Contains(m[2], "...}") || strings.Contains(m[2], "{$}") {
			t.Fatalf("route %s %s uses a pattern this test does not translate", m[1], m[2])
		}
		served = append(served, m[1]+" "+m[2])
	}
	for _, o := range c.operations() {
		documented = append(documented, o.Method+" "+o.Path)
	}
	slices.Sort(served)
	slices.Sort(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.json documents %s, which server.go does not route", r)
		}
	}

	ts := mustServer(t)
	sample := strings.NewReplacer("{event_id}", "evt_1", "{id}", "x_1", "{item_id}", "ci_1", "{customer_id}", "c", "{token_id}", "tok_1", "{sku}", "S", "{code}", "C")
	for path, item := range c.doc.Paths.Map() {
		for _, method := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
			r := ts.do(t, method, sample.Replace(path), "", nil)
			notRouted := r.Status == http.StatusMethodNotAllowed || (r.Status == http.StatusNotFound && problemCode(t, r) == "route_not_found")
			if documented := item.GetOperation(method) != nil; documented == notRouted {
				t.Errorf("%s %s: documented %v, but the server answers %d %s", method, path, documented, r.Status, r.Body)
			}
		}
	}
}

// TestOpenAPIRejectsResponsesThatDoNotMatch proves the validator enforces what the document
// says, so that TestOpenAPIContract can fail: a real cart response passes, and each departure
// from the document is caught.
func TestOpenAPIRejectsResponsesThatDoNotMatch(t *testing.T) {
	c := mustContract(t)
	ts := mustServer(t)
	ts.mustProduct(t, "prod_1", 1500, 10, "SKU-1")
	cartID := ts.mustCart(t)
	path := "/v1/carts/" + cartID + "/items"
	body := `{"sku":"SKU-1","quantity":2}`
	got := ts.do(t, "POST", path, ts.Admin, body).mustStatus(t, 200)
	req := func() *http.Request { return newRequest(t, "POST", ts.URL+path, ts.Admin, []byte(body), nil) }
	minResp := ts.do(t, "POST", path, ts.Admin, body, "Prefer", "return=minimal").mustStatus(t, 200)
	editMin := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(minResp.Body, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	edit := func(f func(cart, item map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(got.Body, &m); err != nil {
			t.Fatal(err)
		}
		f(m, m["items"].([]any)[0].(map[string]any))
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	problem := func(p map[string]any) []byte {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	jsonHeader := header("Content-Type", "application/json", "ETag", `"2"`)
	problemHeader := header("Content-Type", "application/problem+json")
	notFound := map[string]any{"type": "https://cartd.dev/problems/cart_not_found", "title": "Not Found", "status": 404, "code": "cart_not_found"}

	tests := []struct {
		name   string
		status int
		header http.Header
		body   []byte
		ok     bool
	}{
		{"the real response passes", 200, got.Header, got.Body, true},
		{"a cart with nullable fields set passes", 200, jsonHeader, edit(func(c, it map[string]any) {
			c["customer_id"], it["retail_price"], it["reserved_until"] = "cust_9", 1900, "2030-01-02T03:04:05.123Z"
		}), true},
		{"a cart with an unknown field fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["surprise"] = 1 }), false},
		{"an item with an unknown field fails", 200, jsonHeader, edit(func(_, it map[string]any) { it["surprise"] = 1 }), false},
		{"a message with an unknown field fails", 200, jsonHeader, edit(func(c, _ map[string]any) {
			c["messages"].([]any)[0].(map[string]any)["surprise"] = 1
		}), false},
		{"a cart without its version fails", 200, jsonHeader, edit(func(c, _ map[string]any) { delete(c, "version") }), false},
		{"an item without reserved_until fails", 200, jsonHeader, edit(func(_, it map[string]any) { delete(it, "reserved_until") }), false},
		{"a version as a string fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["version"] = "2" }), false},
		{"a fractional amount fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["total"] = 30.5 }), false},
		{"an amount beyond int64 fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["total"] = 1e19 }), false},
		{"a null status fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["status"] = nil }), false},
		{"an unknown status fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["status"] = "open" }), false},
		{"a customer_id of the wrong type fails", 200, jsonHeader, edit(func(c, _ map[string]any) { c["customer_id"] = 9 }), false},
		{"a reserved_until that is no time fails", 200, jsonHeader, edit(func(_, it map[string]any) { it["reserved_until"] = "soon" }), false},
		{"a badly shaped item id fails", 200, jsonHeader, edit(func(_, it map[string]any) { it["id"] = "item_1" }), false},
		{"a cart without its ETag fails", 200, header("Content-Type", "application/json"), got.Body, false},
		{"a cart as text fails", 200, header("Content-Type", "text/plain", "ETag", `"2"`), got.Body, false},
		{"an undocumented status fails", 418, jsonHeader, got.Body, false},
		{"a real minimal response passes", 200, minResp.Header, minResp.Body, true},
		{"a minimal cart with a member of the whole cart fails", 200, jsonHeader, editMin(func(m map[string]any) { m["customer_id"] = nil }), false},
		{"a minimal cart without removed_item_ids fails", 200, jsonHeader, editMin(func(m map[string]any) { delete(m, "removed_item_ids") }), false},
		{"a minimal cart with a removed id of another shape fails", 200, jsonHeader, editMin(func(m map[string]any) { m["removed_item_ids"] = []any{"item_1"} }), false},
		{"a minimal cart without its ETag fails", 200, header("Content-Type", "application/json"), minResp.Body, false},
		{"a message with prices passes", 200, jsonHeader, edit(func(c, _ map[string]any) {
			c["messages"].([]any)[0].(map[string]any)["old_price"], c["messages"].([]any)[0].(map[string]any)["new_price"] = 100, 120
		}), true},
		{"a message with a negative price fails", 200, jsonHeader, edit(func(c, _ map[string]any) {
			c["messages"].([]any)[0].(map[string]any)["old_price"] = -1
		}), false},
		{"a problem passes", 404, problemHeader, problem(notFound), true},
		{"a problem with another status in its body fails", 404, problemHeader, problem(map[string]any{
			"type": notFound["type"], "title": "Not Found", "status": 400, "code": "cart_not_found"}), false},
		{"a problem with an unknown member fails", 404, problemHeader, problem(map[string]any{
			"type": notFound["type"], "title": "Not Found", "status": 404, "code": "cart_not_found", "hint": "x"}), false},
		{"a problem served as plain JSON fails", 404, header("Content-Type", "application/json"), problem(notFound), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.validate(req(), response{Status: tt.status, Header: tt.header, Body: tt.body})
			if tt.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("the validator accepted it")
			}
			if err != nil {
				t.Logf("rejected: %s", strings.SplitN(err.Error(), "\n", 2)[0])
			}
		})
	}
}

// TestOpenAPIRejectsRequestsThatDoNotMatch proves the request schemas' rules (one of sku and
// variant_id, not quantity with quantity_delta, ...) are enforced as the handlers enforce them.
func TestOpenAPIRejectsRequestsThatDoNotMatch(t *testing.T) {
	c := mustContract(t)
	tests := []struct {
		name         string
		method, path string
		body         string
		ok           bool
	}{
		{"an add by sku passes", "POST", "/v1/carts/cart_1/items", `{"sku":"A","quantity":2,"stock_policy":"clamp","metadata":null}`, true},
		{"an add by variant_id passes", "POST", "/v1/carts/cart_1/items", `{"variant_id":"var_a","validate_inventory":false}`, true},
		{"an add naming no variant fails", "POST", "/v1/carts/cart_1/items", `{"quantity":2}`, false},
		{"an add by sku and variant_id fails", "POST", "/v1/carts/cart_1/items", `{"sku":"A","variant_id":"var_a"}`, false},
		{"an add of 0 fails", "POST", "/v1/carts/cart_1/items", `{"sku":"A","quantity":0}`, false},
		{"an add with both policies fails", "POST", "/v1/carts/cart_1/items", `{"sku":"A","stock_policy":"clamp","validate_inventory":true}`, false},
		{"an add with an unknown policy fails", "POST", "/v1/carts/cart_1/items", `{"sku":"A","stock_policy":"maybe"}`, false},
		{"an add with an unknown field fails", "POST", "/v1/carts/cart_1/items", `{"sku":"A","colour":"red"}`, false},
		{"a PUT of quantity 0 passes", "PUT", "/v1/carts/cart_1/items/ci_1", `{"quantity":0}`, true},
		{"a PUT of notes passes", "PUT", "/v1/carts/cart_1/items/ci_1", `{"notes":"x"}`, true},
		{"an empty PUT fails", "PUT", "/v1/carts/cart_1/items/ci_1", `{}`, false},
		{"a PUT of a delta fails", "PUT", "/v1/carts/cart_1/items/ci_1", `{"quantity_delta":1}`, false},
		{"a PATCH of a negative delta passes", "PATCH", "/v1/carts/cart_1/items/ci_1", `{"quantity_delta":-2}`, true},
		{"a PATCH of a zero delta fails", "PATCH", "/v1/carts/cart_1/items/ci_1", `{"quantity_delta":0}`, false},
		{"a PATCH of quantity and delta fails", "PATCH", "/v1/carts/cart_1/items/ci_1", `{"quantity":1,"quantity_delta":1}`, false},
		{"a PATCH with a policy only fails", "PATCH", "/v1/carts/cart_1/items/ci_1", `{"stock_policy":"clamp"}`, false},
		{"a batch by item_id, sku and variant_id passes", "PATCH", "/v1/carts/cart_1/items",
			`{"changes":[{"item_id":"ci_1","quantity":0},{"sku":"A","quantity_delta":-1,"stock_policy":"clamp"},{"variant_id":"v","notes":"x","metadata":null}]}`, true},
		{"an empty batch fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[]}`, false},
		{"a batch without changes fails", "PATCH", "/v1/carts/cart_1/items", `{}`, false},
		{"a change naming no line fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[{"quantity":1}]}`, false},
		{"a change naming two lines fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[{"item_id":"ci_1","sku":"A","quantity":1}]}`, false},
		{"a change of quantity and delta fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[{"sku":"A","quantity":1,"quantity_delta":1}]}`, false},
		{"a change with nothing to change fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[{"sku":"A","stock_policy":"clamp"}]}`, false},
		{"a change with a malformed item_id fails", "PATCH", "/v1/carts/cart_1/items", `{"changes":[{"item_id":"1","quantity":1}]}`, false},
		{"a malformed cart id fails", "GET", "/v1/carts/basket_1", ``, false},
		{"negative stock fails", "PUT", "/v1/inventory/A", `{"on_hand":-1}`, false},
		{"a product without variants fails", "PUT", "/v1/products/p", `{"name":"P"}`, false},
		{"an empty settings change passes", "PUT", "/v1/settings", `{}`, true},
		{"a lower-case currency fails", "PUT", "/v1/settings", `{"default_currency":"usd"}`, false},
		{"a token for 91 days fails", "POST", "/v1/customers/c/tokens", `{"ttl_seconds":7862400}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			req := newRequest(t, tt.method, "http://cartd.test"+tt.path, "sk_x", body, nil)
			route, params, err := c.router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route, Options: &openapi3filter.Options{AuthenticationFunc: requireBearer}})
			if tt.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("the validator accepted it")
			}
			if err != nil {
				t.Logf("rejected: %s", strings.SplitN(err.Error(), "\n", 2)[0])
			}
			var re *openapi3filter.RequestError
			var se *openapi3filter.SecurityRequirementsError
			if err != nil && !errors.As(err, &re) && !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
		})
	}
}
