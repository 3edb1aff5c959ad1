package jackthreads_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// testServer is cartd as it serves: the native API with the JackThreads dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct {
	URL    string
	Admin  string // an admin API key
	Engine *engine.Engine
	Clock  *testClock // the store's clock
	admin  auth.Principal
	client *http.Client
	dbPath string
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

// mustServer starts a server with reservations of 15 minutes, on a clock that starts at now
// and moves only when a test advances it.
func mustServer(tb testing.TB, now time.Time) *testServer {
	tb.Helper()
	ctx := context.Background()
	clock := &testClock{now: now}
	path := filepath.Join(tb.TempDir(), "cartd.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Now: clock.Now})
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
	mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{}))
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &testServer{URL: hs.URL, Admin: secret, Engine: eng, Clock: clock, admin: admin, client: hs.Client(), dbPath: path}
}

// nextNum makes the next number cartd gives in table (carts, products, variants, sales,
// promotions) num, by moving SQLite's AUTOINCREMENT counter: how a test arranges the ids of a
// seed's example.
func (s *testServer) nextNum(tb testing.TB, table string, num int64) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+s.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM sqlite_sequence WHERE name = ?`, table); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, table, num-1); err != nil {
		tb.Fatal(err)
	}
}

// mustProduct stores a product and sets the on-hand stock of each SKU (stock maps SKU to
// units; SKUs it omits get none); it returns the product with its numbers.
func (s *testServer) mustProduct(tb testing.TB, p cart.Product, stock map[string]int64) cart.Product {
	tb.Helper()
	ctx := context.Background()
	p, err := s.Engine.PutProduct(ctx, s.admin, p, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range p.Variants {
		n := stock[v.SKU]
		if _, err := s.Engine.PutInventory(ctx, s.admin, v.SKU, engine.StockChange{OnHand: &n}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// simpleProduct is a product with one active, returnable variant per SKU at a price in USD.
func simpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := cart.Product{ID: id, Name: "Product " + id, Brand: "Acme", ImageURL: "https://img.example/" + id + ".jpg"}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": usd}, Active: true, Returnable: true})
	}
	return p
}

// token issues a customer token.
func (s *testServer) token(tb testing.TB, customer string) string {
	tb.Helper()
	secret, _, err := s.Engine.IssueToken(context.Background(), s.admin, customer, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return secret
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

// post sends a raw form body to a path, as the seed's curl -d does.
func (s *testServer) post(tb testing.TB, path, form string, headers ...string) response {
	tb.Helper()
	req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(form))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.send(tb, req)
}

func (s *testServer) send(tb testing.TB, req *http.Request) response {
	tb.Helper()
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

// setQty calls set_qty with the parameters given in pairs.
func (s *testServer) setQty(tb testing.TB, params ...string) response {
	tb.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	return s.post(tb, "/services/v1/cart/set_qty", form.Encode())
}

// nativeCart reads a cart through the native API.
func (s *testServer) nativeCart(tb testing.TB, num json.Number) map[string]any {
	tb.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/v1/carts/cart_"+num.String(), nil)
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	return s.send(tb, req).mustStatus(tb, http.StatusOK).JSON(tb)
}

// items are a set_qty response's items by SKU.
func items(tb testing.TB, body map[string]any) map[string]map[string]any {
	tb.Helper()
	out := map[string]map[string]any{}
	for _, it := range body["cart"].(map[string]any)["items"].([]any) {
		item := it.(map[string]any)
		out[item["sku"].(string)] = item
	}
	return out
}

// qtys are a set_qty response's items' quantities by SKU.
func qtys(tb testing.TB, body map[string]any) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for sku, it := range items(tb, body) {
		out[sku] = it["qty"].(json.Number).String()
	}
	return out
}
