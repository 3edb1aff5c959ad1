package api_test

import (
	"fmt"
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

// BenchmarkBigCartPatch measures a quantity change on carts of 1 and 1,000 lines, with the
// whole cart in the answer and with Prefer: return=minimal: the store work of a change should
// not grow with the cart (cartbench's bigcart scenario measures the same under load).
func BenchmarkBigCartPatch(b *testing.B) {
	for _, lines := range []int{1, 1000} {
		s := mustServer(b)
		skus := make([]string, lines)
		for i := range skus {
			skus[i] = fmt.Sprintf("BIG-%04d", i)
		}
		for i := 0; i < lines; i += 100 {
			s.mustProduct(b, fmt.Sprintf("prod_big_%d", i), 1000, 1_000_000, skus[i:min(i+100, lines)]...)
		}
		id := s.mustCart(b)
		changes := make([]map[string]any, lines)
		for i, sku := range skus {
			changes[i] = map[string]any{"sku": sku, "quantity": 1}
		}
		s.mustCartCall(b, 200, "PATCH", "/v1/carts/"+id+"/items", map[string]any{"changes": changes})
		doc := s.mustCartDoc(b, id)
		path := s.URL + "/v1/carts/" + id + "/items/" + doc.Items[len(doc.Items)/2].ID
		for _, prefer := range []string{"", "return=minimal"} {
			name := fmt.Sprintf("lines=%d/full", lines)
			if prefer != "" {
				name = fmt.Sprintf("lines=%d/minimal", lines)
			}
			b.Run(name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					req, _ := http.NewRequest("PATCH", path, strings.NewReader(fmt.Sprintf(`{"quantity": %d}`, 1+i%5)))
					req.Header.Set("Authorization", "Bearer "+s.Admin)
					req.Header.Set("Content-Type", "application/json")
					if prefer != "" {
						req.Header.Set("Prefer", prefer)
					}
					resp, err := s.Client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
					i++
				}
			})
		}
	}
}
