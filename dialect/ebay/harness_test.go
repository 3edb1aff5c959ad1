package ebay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// testServer is cartd as it serves: the native API with the eBay dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct {
	URL    string
	Admin  string // an admin API key
	Engine *engine.Engine
	Clock  *testClock // the store's clock
	admin  auth.Principal
	client *http.Client
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
	mux.Handle(ebay.Prefix, ebay.New(eng, ebay.Config{PublicURL: "https://shop.example"}))
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &testServer{URL: hs.URL, Admin: secret, Engine: eng, Clock: clock, admin: admin, client: hs.Client()}
}

// mustKey creates an API key with the given scopes.
func (s *testServer) mustKey(tb testing.TB, scopes ...auth.Scope) string {
	tb.Helper()
	secret, _, err := s.Engine.CreateKey(context.Background(), scopes, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// mustProduct stores a product and sets the on-hand stock of each of its SKUs.
func (s *testServer) mustProduct(tb testing.TB, p cart.Product, onHand int64) {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.Engine.PutProduct(ctx, s.admin, p, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	for _, v := range p.Variants {
		if _, err := s.Engine.PutInventory(ctx, s.admin, v.SKU, engine.StockChange{OnHand: &onHand}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// simpleProduct is a product with one active variant per SKU at a price in USD.
func simpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := cart.Product{ID: id, Name: "Product " + id}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": usd}, Active: true})
	}
	return p
}

// mustCart opens a cart for a customer ("" for a guest) in a currency and adds each SKU with
// its quantity, in order; it returns the cart's number and its lines' numbers.
func (s *testServer) mustCart(tb testing.TB, customer, currency string, skuQuantities ...any) (int64, []int64) {
	tb.Helper()
	ctx := context.Background()
	v, err := s.Engine.CreateCart(ctx, s.admin, engine.NewCart{CustomerID: customer, Currency: currency}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var items []int64
	for i := 0; i+1 < len(skuQuantities); i += 2 {
		ch := cart.AddDelta(int64(skuQuantities[i+1].(int)))
		v, err = s.Engine.Update(ctx, s.admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: skuQuantities[i].(string)}, Change: &ch, Add: true}}, engine.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, v.Lines[len(v.Lines)-1].Item.Num)
	}
	return v.Cart.Num, items
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
	d := json.NewDecoder(strings.NewReader(string(b)))
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

// do sends a request with a Bearer credential ("" for none) and a JSON body (nil for none; a
// string is sent as is, anything else is marshalled). Extra headers come in pairs.
func (s *testServer) do(tb testing.TB, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
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

// mustToken issues a customer token.
func (s *testServer) mustToken(tb testing.TB, customer string) string {
	tb.Helper()
	secret, _, err := s.Engine.IssueToken(context.Background(), s.admin, customer, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// version is a cart's version as the engine reads it.
func (s *testServer) version(tb testing.TB, cartNum int64) int64 {
	tb.Helper()
	v, err := s.Engine.Cart(context.Background(), s.admin, cartNum)
	if err != nil {
		tb.Fatal(err)
	}
	return v.Cart.Version
}
