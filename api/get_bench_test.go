package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

// BenchmarkCartGet measures GET /v1/carts/{id} of a ten-line cart through the whole stack,
// served from the engine's snapshot ("snapshot", SQLite), read afresh every time ("fresh":
// the same store behind a plain store.Store, which keeps no snapshots), and answered 304 to
// If-None-Match ("not-modified"). BenchmarkItemPatch is a change through the same stack.
func BenchmarkCartGet(b *testing.B) {
	s := mustServer(b)
	var skus []string
	for i := range 10 {
		skus = append(skus, fmt.Sprintf("GET-%d", i))
	}
	s.mustProduct(b, "prod_get", 1000, 1_000_000, skus...)
	id := s.mustCart(b)
	for _, sku := range skus {
		s.mustAdd(b, id, sku, 2)
	}
	fresh := httptest.NewServer(api.New(engine.New(struct{ store.Store }{s.Store}, engine.Config{ReservationTTL: 15 * time.Minute}), api.Config{}))
	b.Cleanup(fresh.Close)
	etag := s.do(b, "GET", "/v1/carts/"+id, s.Admin, nil).Header.Get("ETag")
	for _, c := range []struct {
		name, base, inm string
		client          *http.Client
		status          int
	}{
		{"snapshot", s.URL, "", s.Client, 200},
		{"fresh", fresh.URL, "", fresh.Client(), 200},
		{"not-modified", s.URL, etag, s.Client, 304},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("GET", c.base+"/v1/carts/"+id, nil)
				req.Header.Set("Authorization", "Bearer "+s.Admin)
				if c.inm != "" {
					req.Header.Set("If-None-Match", c.inm)
				}
				resp, err := c.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					b.Fatalf("status %d, want %d", resp.StatusCode, c.status)
				}
			}
		})
	}
}
