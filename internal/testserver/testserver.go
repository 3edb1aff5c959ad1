// Package testserver starts a real cartd for a front door's tests: a SQLite file in a
// temporary directory, an engine, an admin key, and an HTTP server on loopback TCP, with
// helpers to arrange a catalog, stock and carts and to send requests.
package testserver

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

	"github.com/google/go-cmp/cmp"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// Server is cartd as it serves: the native API at "/" and whatever Options.Mount adds, on a
// real SQLite file.
type Server struct {
	URL       string
	Admin     string // an admin API key
	Principal auth.Principal
	Engine    *engine.Engine
	Clock     *Clock       // the store's clock
	DBPath    string       // the SQLite file
	Client    *http.Client // a client for the server
	HTTP      *httptest.Server
}

// Clock is a settable clock for the store's transactions.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Options say what a test server serves besides the native API.
type Options struct {
	// Now is where the clock starts; zero means 2030-06-01 09:00 UTC.
	Now time.Time
	// Mount registers the front door under test (a dialect at its prefix) on the server's mux.
	Mount func(mux *http.ServeMux, eng *engine.Engine)
}

// MustStart starts a server with reservations of 15 minutes, on a clock that moves only when
// a test advances it. The server and its store close when the test ends.
func MustStart(tb testing.TB, o Options) *Server {
	tb.Helper()
	ctx := context.Background()
	if o.Now.IsZero() {
		o.Now = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	}
	clock := &Clock{now: o.Now}
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
	if o.Mount != nil {
		o.Mount(mux, eng)
	}
	hs := httptest.NewServer(mux)
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &Server{URL: hs.URL, Admin: secret, Principal: admin, Engine: eng, Clock: clock,
		DBPath: path, Client: hs.Client(), HTTP: hs}
}

// MustKey creates an API key with the given scopes.
func (s *Server) MustKey(tb testing.TB, scopes ...auth.Scope) string {
	tb.Helper()
	secret, _, err := s.Engine.CreateKey(context.Background(), scopes, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// MustToken issues a customer token.
func (s *Server) MustToken(tb testing.TB, customer string) string {
	tb.Helper()
	secret, _, err := s.Engine.IssueToken(context.Background(), s.Principal, customer, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// MustProduct stores a product and sets the on-hand stock of each of its SKUs to onHand; it
// returns the product with its numbers.
func (s *Server) MustProduct(tb testing.TB, p cart.Product, onHand int64) cart.Product {
	tb.Helper()
	stock := map[string]int64{}
	for _, v := range p.Variants {
		stock[v.SKU] = onHand
	}
	return s.MustProductStock(tb, p, stock)
}

// MustProductStock stores a product and sets the on-hand stock of each SKU (stock maps SKU to
// units; SKUs it omits get none); it returns the product with its numbers.
func (s *Server) MustProductStock(tb testing.TB, p cart.Product, stock map[string]int64) cart.Product {
	tb.Helper()
	ctx := context.Background()
	p, err := s.Engine.PutProduct(ctx, s.Principal, p, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range p.Variants {
		n := stock[v.SKU]
		if _, err := s.Engine.PutInventory(ctx, s.Principal, v.SKU, engine.StockChange{OnHand: &cart.Decimal{N: n}}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// SimpleProduct is a product with one active variant per SKU at a price in USD.
func SimpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := cart.Product{ID: id, Name: "Product " + id}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": usd}, Active: true})
	}
	return p
}

// MustCart opens a cart for a customer ("" for a guest) in a currency and adds each SKU with
// its quantity (an int), in order; it returns the cart's number and its lines' numbers.
func (s *Server) MustCart(tb testing.TB, customer, currency string, skuQuantities ...any) (int64, []int64) {
	tb.Helper()
	ctx := context.Background()
	v, err := s.Engine.CreateCart(ctx, s.Principal, engine.NewCart{CustomerID: customer, Currency: currency}, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var items []int64
	for i := 0; i+1 < len(skuQuantities); i += 2 {
		ch := cart.AddDelta(int64(skuQuantities[i+1].(int)))
		v, err = s.Engine.Update(ctx, s.Principal, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: skuQuantities[i].(string)}, Change: &ch, Add: true}}, engine.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, v.Lines[len(v.Lines)-1].Item.Num)
	}
	return v.Cart.Num, items
}

// Version is a cart's version as the engine reads it.
func (s *Server) Version(tb testing.TB, cartNum int64) int64 {
	tb.Helper()
	v, err := s.Engine.Cart(context.Background(), s.Principal, cartNum)
	if err != nil {
		tb.Fatal(err)
	}
	return v.Cart.Version
}

// Response is a received HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body, numbers kept as json.Number so that their text can be compared.
func (r Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	return DecodeJSON(tb, r.Body)
}

// MustStatus fails the test unless the response has the wanted status.
func (r Response) MustStatus(tb testing.TB, want int) Response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// MustBody fails the test unless the response has the status and a body equal, as JSON
// (names, types, nesting and values), to want.
func (r Response) MustBody(tb testing.TB, status int, want string) {
	tb.Helper()
	r.MustStatus(tb, status)
	if diff := cmp.Diff(DecodeJSON(tb, []byte(want)), r.JSON(tb)); diff != "" {
		tb.Errorf("body (-seed +got):\n%s", diff)
	}
}

// DecodeJSON decodes a JSON object, numbers kept as json.Number.
func DecodeJSON(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

// Body is a request body: nil for none, a string as is, anything else marshalled as JSON.
func Body(tb testing.TB, body any) io.Reader {
	tb.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		return bytes.NewReader(raw)
	}
}

// Send sends a request with the server's client and reads the whole response.
func (s *Server) Send(tb testing.TB, req *http.Request) Response {
	tb.Helper()
	return Send(tb, s.Client, req)
}

// Send sends a request with c and reads the whole response.
func Send(tb testing.TB, c *http.Client, req *http.Request) Response {
	tb.Helper()
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}
