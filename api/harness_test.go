package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/client"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// testServer is a real cartd API on a real SQLite file (or PostgreSQL schema: mustStore),
// served over loopback TCP.
type testServer struct {
	URL    string
	Admin  string // an admin API key
	Engine *engine.Engine
	Store  store.Store // the engine's store, for tests that hold its writer
	Client *http.Client
}

// api calls the server with the admin key through the Go client package, without retries:
// what the set-up helpers use.
func (s *testServer) api() *client.Client {
	hc := s.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	return client.New(s.URL, s.Admin, client.WithHTTPClient(hc), client.WithRetries(0))
}

type serverOptions struct {
	ReservationTTL time.Duration
	MaxBody        int64
	// Now, when set, is the store's clock (reservation expiry, sales).
	Now func() time.Time
	// SweepEvery, when set, runs the engine's sweeper at that interval while the server runs.
	SweepEvery time.Duration
	// Guard and Drainer, when set, guard the server and drain it (api.Config).
	Guard   *limits.Guard
	Drainer *limits.Drainer
	// SQLite runs the server on SQLite whatever CARTD_TEST_STORE says: for tests that hold
	// its single writer to keep calls in flight.
	SQLite bool
}

// mustServer starts a server with reservations of 15 minutes unless opts say otherwise.
func mustServer(tb testing.TB, opts ...serverOptions) *testServer {
	tb.Helper()
	o := serverOptions{ReservationTTL: 15 * time.Minute}
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	var st store.Store
	if o.SQLite {
		sq, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: o.Now})
		if err != nil {
			tb.Fatal(err)
		}
		st = sq
	} else {
		st = mustStore(tb, o.Now)
	}
	eng := engine.New(st, engine.Config{ReservationTTL: o.ReservationTTL, CompletedCart: api.CompletedCart})
	stopSweeper := func() {}
	if o.SweepEvery > 0 {
		sweeping, cancel := context.WithCancel(ctx)
		swept := make(chan struct{})
		go func() {
			defer close(swept)
			eng.Sweeper(sweeping, o.SweepEvery)
		}()
		stopSweeper = func() { cancel(); <-swept }
	}
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(api.New(eng, api.Config{MaxBody: o.MaxBody, Guard: o.Guard, Drainer: o.Drainer}))
	tb.Cleanup(func() {
		hs.Close()
		stopSweeper()
		st.Close()
	})
	return &testServer{URL: hs.URL, Admin: secret, Engine: eng, Store: st, Client: hs.Client()}
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

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request with a bearer credential ("" for none) and a JSON body (nil for none; a
// string or []byte is sent as is, anything else is marshalled). Extra headers come in pairs.
func (s *testServer) do(tb testing.TB, method, path, credential string, body any, headers ...string) response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
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
	resp, err := s.Client.Do(req)
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

// mustStatus fails the test unless the response has the wanted status.
func (r response) mustStatus(tb testing.TB, want int) response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// mustProduct creates a product with one variant per SKU, priced in USD (and EUR), with the
// given on-hand stock for each SKU.
func (s *testServer) mustProduct(tb testing.TB, id string, usd int64, stock int64, skus ...string) {
	tb.Helper()
	ctx := context.Background()
	p := client.Product{ID: id, Name: "Product " + id}
	for _, sku := range skus {
		p.Variants = append(p.Variants, client.Variant{ID: "var_" + sku, SKU: sku, Price: map[string]int64{"USD": usd, "EUR": usd - 100}})
	}
	if _, err := s.api().PutProduct(ctx, p); err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		if _, err := s.api().SetStock(ctx, sku, stock); err != nil {
			tb.Fatal(err)
		}
	}
}

// mustCart opens a USD cart and returns its id.
func (s *testServer) mustCart(tb testing.TB) string {
	tb.Helper()
	c, err := s.api().CreateCart(context.Background(), client.NewCart{Currency: "USD"})
	if err != nil {
		tb.Fatal(err)
	}
	return c.ID
}

// mustAdd adds quantity of sku to a cart and returns the new item's id.
func (s *testServer) mustAdd(tb testing.TB, cartID, sku string, quantity int64) string {
	tb.Helper()
	c, err := s.api().AddItem(context.Background(), cartID, client.NewItem{SKU: sku, Quantity: quantity})
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range c.Items {
		if it.SKU == sku {
			return it.ID
		}
	}
	tb.Fatalf("item %s not in cart after add: %+v", sku, c.Items)
	return ""
}
