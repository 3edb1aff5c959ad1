package storefront_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
)

// testServer is cartd as it serves: the native API with the storefront dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct{ *testserver.Server }

type response = testserver.Response

// mustServer starts a server with reservations of 15 minutes, on a clock that moves only when
// a test advances it.
func mustServer(tb testing.TB) *testServer {
	tb.Helper()
	return &testServer{testserver.MustStart(tb, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
		mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{}))
	}})}
}

// simpleProduct is a product with an image and one active variant per SKU at a price in USD,
// taxed at 5%.
func simpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := testserver.SimpleProduct(id, usd, skus...)
	p.ImageURL = "https://img.example/" + id + ".jpg"
	for i := range p.Variants {
		p.Variants[i].TaxRate = 500
	}
	return p
}

// shopper is a browser: it keeps the cookies the server sets.
type shopper struct {
	s      *testServer
	client *http.Client
}

func (s *testServer) shopper(tb testing.TB) *shopper {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := *s.Client
	c.Jar = jar
	return &shopper{s: s, client: &c}
}

// session is the shopper's sessionid cookie, "" without one.
func (b *shopper) session(tb testing.TB) string {
	tb.Helper()
	req, _ := http.NewRequest("GET", b.s.URL+storefront.Prefix, nil)
	for _, c := range b.client.Jar.Cookies(req.URL) {
		if c.Name == storefront.CookieName {
			return c.Value
		}
	}
	return ""
}

// do sends a request as the seed's examples do: a JSON body (a string is sent as is, nil
// sends none) with Content-Type: application/json. Extra headers come in pairs.
func (b *shopper) do(tb testing.TB, method, path string, body any, headers ...string) response {
	tb.Helper()
	req, err := http.NewRequest(method, b.s.URL+path, testserver.Body(tb, body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return testserver.Send(tb, b.client, req)
}

// add is the storefront's add to cart.
func (b *shopper) add(tb testing.TB, key string, quantity int64) response {
	tb.Helper()
	return b.do(tb, "POST", "/api/v1/cart/", map[string]any{"item_key": key, "quantity": quantity})
}

// update is the seed's PUT.
func (b *shopper) update(tb testing.TB, key string, quantity int64) response {
	tb.Helper()
	return b.do(tb, "PUT", "/api/v1/cart/items/", map[string]any{"item_key": key, "quantity": quantity})
}

// view is GET /api/v1/cart/, which must answer 200.
func (b *shopper) view(tb testing.TB) map[string]any {
	tb.Helper()
	return b.do(tb, "GET", "/api/v1/cart/", nil).MustStatus(tb, http.StatusOK).JSON(tb)
}

// quantities are the cart's items of a view body, item_key to quantity.
func quantities(tb testing.TB, body map[string]any) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, it := range body["cart"].(map[string]any)["items"].([]any) {
		item := it.(map[string]any)
		n, err := item["quantity"].(json.Number).Int64()
		if err != nil {
			tb.Fatal(err)
		}
		out[item["item_key"].(string)] = n
	}
	return out
}
