package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkItemPatch measures one PATCH quantity_delta through the whole stack (HTTP over
// loopback, auth, engine, SQLite, pricing, JSON). Figures of a loaded server are cartbench's.
func BenchmarkItemPatch(b *testing.B) {
	s := mustServer(b)
	s.mustProduct(b, "prod_bench", 1000, 1_000_000, "BENCH-1")
	id := s.mustCart(b)
	item := s.mustAdd(b, id, "BENCH-1", 10)
	path := s.URL + "/v1/carts/" + id + "/items/" + item
	delta := []string{`{"quantity_delta": 1}`, `{"quantity_delta": -1}`}
	i := 0
	for b.Loop() {
		req, _ := http.NewRequest("PATCH", path, strings.NewReader(delta[i%2]))
		req.Header.Set("Authorization", "Bearer "+s.Admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read to the end, so the connection is reused
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		i++
	}
}
