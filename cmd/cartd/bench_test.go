package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/store/sqlite"
)

// benchStack is cartd's whole request path as serve builds it (observe middleware, every
// front door, the engine, a SQLite file), with the engine config's Tracer left as configure
// sets it; it returns the handler, an admin key, and a cart line to change.
func benchStack(b *testing.B, configure func(*config, *engine.Config)) (http.Handler, string, string) {
	b.Helper()
	ctx := context.Background()
	c, _, err := parseConfig("serve", nil, env(nil), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ecfg := engine.Config{}
	if configure != nil {
		configure(&c, &ecfg)
	}
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := newLogger("json", io.Discard)
	ecfg.Logger = log
	eng := engine.New(st, ecfg)
	key, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	reg, metrics := newMetrics()
	h := observed(handler(eng, c, log, &limits.Drainer{}), c, reg, metrics, log)
	do := func(method, path, body string) string {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 300 {
			b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	do("PUT", "/v1/products/prod_b", `{"name":"B","variants":[{"id":"var_b","sku":"B","price":{"USD":100}}]}`)
	do("PUT", "/v1/inventory/B", `{"on_hand":1000000}`)
	cartBody := do("POST", "/v1/carts", `{"currency":"USD"}`)
	id := between(cartBody, `"id":"`, `"`)
	itemBody := do("POST", "/v1/carts/"+id+"/items", `{"sku":"B","quantity":1}`)
	item := between(itemBody[strings.Index(itemBody, `"items":[`):], `"id":"`, `"`)
	return h, key, "/v1/carts/" + id + "/items/" + item
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// benchPatch changes the line's quantity b.N times through h, alternating 1 and 2.
func benchPatch(b *testing.B, h http.Handler, key, path string) {
	bodies := []string{`{"quantity":2}`, `{"quantity":1}`}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest("PATCH", path, strings.NewReader(bodies[i%2]))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("PATCH: %d %s", w.Code, w.Body)
		}
		i++
	}
}

// BenchmarkRequestPath is one quantity change through the whole request path, tracing off
// (no OTEL_* variables): BENCHMARKS.md compares it with the same benchmark on a build without
// the tracing code.
func BenchmarkRequestPath(b *testing.B) {
	h, key, path := benchStack(b, nil)
	benchPatch(b, h, key, path)
}
