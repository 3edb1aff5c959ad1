package storefront_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// testServer is cartd as it serves: the native API with the storefront dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct {
	URL    string
	Admin  string // an admin API key
	Engine *engine.Engine
	Clock  *testClock // the store's clock
	admin  auth.Principal
	hs     *httptest.Server
}

// testClock is a settable clock for the store's transactions.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// mustServer starts a server with reservations of 15 minutes, on a clock that moves only when
// a test advances it.
func mustServer(tb testing.TB) *testServer {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := eng.Authenticate(ctx, secret)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api.New(eng, api.Config{}))
	mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{}))
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &testServer{URL: hs.URL, Admin: secret, Engine: eng, Clock: clock, admin: admin, hs: hs}
}

// mustProduct stores a product and sets the on-hand stock of each of its SKUs; it returns the
// product with its numbers.
func (s *testServer) mustProduct(tb testing.TB, p cart.Product, onHand int64) cart.Product {
	tb.Helper()
	ctx := context.Background()
	p, err := s.Engine.PutProduct(ctx, s.admin, p, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range p.Variants {
		n := onHand
		if _, err := s.Engine.PutInventory(ctx, s.admin, v.SKU, engine.StockChange{OnHand: &n}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// simpleProduct is a product with one active variant per SKU at a price in USD.
func simpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := cart.Product{ID: id, Name: "Product " + id, ImageURL: "https://img.example/" + id + ".jpg"}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": usd}, Active: true, TaxRate: 500})
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
	c := *s.hs.Client()
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

// response is a received HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body, numbers kept as json.Number so that their text can be compared.
func (r response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	return decodeJSON(tb, r.Body)
}

func decodeJSON(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

func (r response) mustStatus(tb testing.TB, want int) response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// do sends a request as the seed's examples do: a JSON body (a string is sent as is, nil
// sends none) with Content-Type: application/json. Extra headers come in pairs.
func (b *shopper) do(tb testing.TB, method, path string, body any, headers ...string) response {
	tb.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
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
	return b.do(tb, "GET", "/api/v1/cart/", nil).mustStatus(tb, http.StatusOK).JSON(tb)
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
