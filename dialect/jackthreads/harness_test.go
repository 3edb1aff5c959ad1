package jackthreads_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/testserver"
)

// testServer is cartd as it serves: the native API with the JackThreads dialect mounted at its
// prefix, on a real SQLite file, over loopback TCP.
type testServer struct{ *testserver.Server }

type response = testserver.Response

// mustServer starts a server with reservations of 15 minutes, on a clock that starts at now
// and moves only when a test advances it.
func mustServer(tb testing.TB, now time.Time) *testServer {
	tb.Helper()
	return &testServer{testserver.MustStart(tb, testserver.Options{Now: now, Mount: func(mux *http.ServeMux, eng *engine.Engine) {
		mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{}))
	}})}
}

// nextNum makes the next number cartd gives in table (carts, products, variants, sales,
// promotions) num, by moving SQLite's AUTOINCREMENT counter: how a test arranges the ids of a
// seed's example.
func (s *testServer) nextNum(tb testing.TB, table string, num int64) {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+s.DBPath+"?_pragma=busy_timeout(5000)")
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

// simpleProduct is a product with one active, returnable variant per SKU at a price in USD.
func simpleProduct(id string, usd int64, skus ...string) cart.Product {
	p := testserver.SimpleProduct(id, usd, skus...)
	p.Brand = "Acme"
	p.ImageURL = "https://img.example/" + id + ".jpg"
	for i := range p.Variants {
		p.Variants[i].Returnable = true
	}
	return p
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
	return s.Send(tb, req)
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
	return s.Send(tb, req).MustStatus(tb, http.StatusOK).JSON(tb)
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
