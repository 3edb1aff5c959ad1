package api_test

// Tests of ARCHITECTURE.md §Invariants under real concurrent HTTP clients: goroutines sending
// requests over loopback TCP to one server on one SQLite file, with the invariants checked
// afterwards from what the clients were told and from what the server then reports. Nothing
// here depends on timing: the amount of work is bounded, not the time it takes.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// cartDoc is the part of a cart response the invariant checks read.
type cartDoc struct {
	ID              string    `json:"id"`
	Version         int64     `json:"version"`
	Items           []itemDoc `json:"items"`
	ItemCount       int64     `json:"item_count"`
	UniqueItemCount int64     `json:"unique_item_count"`
	Expired         int64     `json:"expired"`
	Subtotal        int64     `json:"subtotal"`
	Discount        int64     `json:"discount"`
	Tax             int64     `json:"tax"`
	Shipping        int64     `json:"shipping"`
	Total           int64     `json:"total"`
}

type itemDoc struct {
	ID               string `json:"id"`
	SKU              string `json:"sku"`
	Quantity         int64  `json:"quantity"`
	ReservedQuantity int64  `json:"reserved_quantity"`
	UnitPrice        int64  `json:"unit_price"`
	Subtotal         int64  `json:"subtotal"`
	Discount         int64  `json:"discount"`
	Tax              int64  `json:"tax"`
	Total            int64  `json:"total"`
	InventoryStatus  string `json:"inventory_status"`
	Expired          bool   `json:"expired"`
}

// item returns the line of sku, if the cart holds one.
func (c cartDoc) item(sku string) (itemDoc, bool) {
	for _, it := range c.Items {
		if it.SKU == sku {
			return it, true
		}
	}
	return itemDoc{}, false
}

// problemDoc is the part of a problem+json body the checks read.
type problemDoc struct {
	Status    int      `json:"status"`
	Code      string   `json:"code"`
	Available *int64   `json:"available"`
	Version   *int64   `json:"version"`
	Cart      *cartDoc `json:"cart"`
}

type stockDoc struct {
	SKU       string `json:"sku"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// checkTotals holds a cart response to invariant 3 (prices exclude tax, the default): every
// figure equals a recomputation from the items the response lists, expired items being out of
// the totals. It reports with Errorf, so client goroutines may call it.
func checkTotals(tb testing.TB, c cartDoc) {
	tb.Helper()
	var subtotal, discount, tax, units, lines, expired int64
	for _, it := range c.Items {
		if it.Expired {
			if it.Subtotal != 0 || it.Tax != 0 || it.Total != 0 {
				tb.Errorf("cart %s v%d: expired item %s has subtotal %d, tax %d, total %d", c.ID, c.Version, it.ID, it.Subtotal, it.Tax, it.Total)
			}
			expired += it.Quantity
			continue
		}
		lines++
		if it.Subtotal != it.UnitPrice*it.Quantity {
			tb.Errorf("cart %s v%d: item %s subtotal %d != unit_price %d * quantity %d", c.ID, c.Version, it.ID, it.Subtotal, it.UnitPrice, it.Quantity)
		}
		if it.Total != it.Subtotal-it.Discount+it.Tax {
			tb.Errorf("cart %s v%d: item %s total %d != %d - %d + %d", c.ID, c.Version, it.ID, it.Total, it.Subtotal, it.Discount, it.Tax)
		}
		subtotal += it.Subtotal
		discount += it.Discount
		tax += it.Tax
		units += it.Quantity
	}
	switch {
	case c.Subtotal != subtotal:
		tb.Errorf("cart %s v%d: subtotal %d != sum of item subtotals %d", c.ID, c.Version, c.Subtotal, subtotal)
	case c.Tax != tax:
		tb.Errorf("cart %s v%d: tax %d != sum of item taxes %d", c.ID, c.Version, c.Tax, tax)
	case c.Discount < discount:
		tb.Errorf("cart %s v%d: discount %d < sum of item discounts %d", c.ID, c.Version, c.Discount, discount)
	case c.ItemCount != units:
		tb.Errorf("cart %s v%d: item_count %d != sum of quantities %d", c.ID, c.Version, c.ItemCount, units)
	case c.UniqueItemCount != lines:
		tb.Errorf("cart %s v%d: unique_item_count %d != %d items not expired", c.ID, c.Version, c.UniqueItemCount, lines)
	case c.Expired != expired:
		tb.Errorf("cart %s v%d: expired %d != %d units of expired items", c.ID, c.Version, c.Expired, expired)
	case c.Total != c.Subtotal-c.Discount+c.Tax+c.Shipping:
		tb.Errorf("cart %s v%d: total %d != %d - %d + %d + %d", c.ID, c.Version, c.Total, c.Subtotal, c.Discount, c.Tax, c.Shipping)
	}
}

// concurrentClient returns an HTTP client whose connection pool fits n concurrent callers, so
// that each keeps its own loopback connection instead of dialling per request.
func concurrentClient(tb testing.TB, n int) *http.Client {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// concurrentDo is testServer.do for client goroutines: it returns errors instead of stopping
// the test, since only the test's own goroutine may call FailNow.
func concurrentDo(c *http.Client, s *testServer, method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Admin)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// decodeCart reads a 200 cart response and holds it to invariant 3.
func decodeCart(tb testing.TB, r response) (cartDoc, error) {
	var c cartDoc
	if err := json.Unmarshal(r.Body, &c); err != nil {
		return c, fmt.Errorf("cart body: %v: %s", err, r.Body)
	}
	if got, want := r.Header.Get("ETag"), fmt.Sprintf(`"%d"`, c.Version); got != want {
		tb.Errorf("ETag %s for a cart at version %d", got, c.Version)
	}
	checkTotals(tb, c)
	return c, nil
}

// decodeProblem reads a problem+json response and holds any cart it carries to invariant 3.
func decodeProblem(tb testing.TB, r response) (problemDoc, error) {
	var p problemDoc
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return p, fmt.Errorf("problem body: %v: %s", err, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("status %d with Content-Type %q", r.Status, ct)
	}
	if p.Cart != nil {
		checkTotals(tb, *p.Cart)
	}
	return p, nil
}

// mustCartDoc reads a cart from the test goroutine.
func (s *testServer) mustCartDoc(tb testing.TB, id string) cartDoc {
	tb.Helper()
	c, err := decodeCart(tb, s.do(tb, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(tb, 200))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (s *testServer) mustStock(tb testing.TB, sku string) stockDoc {
	tb.Helper()
	var st stockDoc
	if err := json.Unmarshal(s.do(tb, "GET", "/v1/inventory/"+sku, s.Admin, nil).mustStatus(tb, 200).Body, &st); err != nil {
		tb.Fatal(err)
	}
	return st
}

// runClients runs fn(i) on n goroutines released together and waits for all of them.
func runClients(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// Invariant 2: N concurrent quantity_delta +1 calls on one item, all acknowledged, leave the
// quantity, the cart's version and the SKU's reservation exactly N higher.
func TestConcurrentDeltasLoseNoUpdate(t *testing.T) {
	t.Run("fifty concurrent +1 deltas on one item add exactly fifty", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_lu", 1250, 10000, "LU-1")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "LU-1", 1)
		before, stockBefore := s.mustCartDoc(t, id), s.mustStock(t, "LU-1")
		q0, _ := before.item("LU-1")

		const n = 50
		client := concurrentClient(t, n)
		versions := make([]int64, n)
		runClients(n, func(i int) {
			r, err := concurrentDo(client, s, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]int64{"quantity_delta": 1})
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			if r.Status != 200 {
				t.Errorf("client %d: status %d: %s", i, r.Status, r.Body)
				return
			}
			c, err := decodeCart(t, r)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			// Each acknowledged change is one step of a serial history: the quantity it
			// reports is the starting one plus the number of changes up to its version.
			it, _ := c.item("LU-1")
			if it.Quantity != q0.Quantity+c.Version-before.Version {
				t.Errorf("client %d: quantity %d at version %d; started at %d at version %d", i, it.Quantity, c.Version, q0.Quantity, before.Version)
			}
			versions[i] = c.Version
		})
		if t.Failed() {
			t.FailNow()
		}
		seen := map[int64]bool{}
		for _, v := range versions {
			if seen[v] {
				t.Errorf("version %d acknowledged twice", v)
			}
			seen[v] = true
		}

		after, stockAfter := s.mustCartDoc(t, id), s.mustStock(t, "LU-1")
		q1, _ := after.item("LU-1")
		if q1.Quantity != q0.Quantity+n {
			t.Errorf("quantity %d -> %d, want +%d", q0.Quantity, q1.Quantity, n)
		}
		if after.Version != before.Version+n {
			t.Errorf("version %d -> %d, want +%d", before.Version, after.Version, n)
		}
		if stockAfter.Reserved != stockBefore.Reserved+n {
			t.Errorf("reserved %d -> %d, want +%d", stockBefore.Reserved, stockAfter.Reserved, n)
		}
		if q1.ReservedQuantity != q1.Quantity {
			t.Errorf("item holds %d of its %d units", q1.ReservedQuantity, q1.Quantity)
		}
	})

	t.Run("concurrent +1 and -1 deltas cancel out", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_mx", 899, 10000, "MX-1")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "MX-1", 100)
		before, stockBefore := s.mustCartDoc(t, id), s.mustStock(t, "MX-1")

		const each = 40
		client := concurrentClient(t, 2*each)
		runClients(2*each, func(i int) {
			delta := int64(1)
			if i%2 == 1 {
				delta = -1
			}
			r, err := concurrentDo(client, s, "PATCH", "/v1/carts/"+id+"/items/"+item, map[string]int64{"quantity_delta": delta})
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			if r.Status != 200 {
				t.Errorf("client %d (delta %+d): status %d: %s", i, delta, r.Status, r.Body)
				return
			}
			if _, err := decodeCart(t, r); err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		})

		after, stockAfter := s.mustCartDoc(t, id), s.mustStock(t, "MX-1")
		it, _ := after.item("MX-1")
		if it.Quantity != 100 {
			t.Errorf("quantity = %d after %d +1s and %d -1s from 100, want 100", it.Quantity, each, each)
		}
		if after.Version != before.Version+2*each {
			t.Errorf("version %d -> %d, want +%d", before.Version, after.Version, 2*each)
		}
		if stockAfter.Reserved != stockBefore.Reserved {
			t.Errorf("reserved %d -> %d, want unchanged", stockBefore.Reserved, stockAfter.Reserved)
		}
	})
}

// Invariant 1: clients competing for one SKU, each with its own cart, never reserve more than
// is on hand, and the SKU's reserved figure always equals what the items hold.
func TestConcurrentClientsNeverOversell(t *testing.T) {
	const (
		sku     = "SCARCE-1"
		onHand  = 100
		clients = 64
	)
	ops := 30 // per client
	if underRace {
		ops = 8 // still over 500 changes, with demand (up to 5 units an add) well above stock
	}
	s := mustServer(t)
	s.mustProduct(t, "prod_scarce", 4999, onHand, sku)
	carts := make([]string, clients)
	for i := range carts {
		carts[i] = s.mustCart(t)
	}
	client := concurrentClient(t, clients+1)

	// A sampler reads the stock while the clients run: no reading may show an oversell. It
	// reads again only after some client got an answer, so that it samples every stretch of
	// the run without crowding the clients out of the CPU.
	stop := make(chan struct{})
	progress := make(chan struct{}, 1)
	var samples atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-progress:
			}
			r, err := concurrentDo(client, s, "GET", "/v1/inventory/"+sku, nil)
			if err != nil || r.Status != 200 {
				t.Errorf("sampling stock: %v %d %s", err, r.Status, r.Body)
				return
			}
			var st stockDoc
			if err := json.Unmarshal(r.Body, &st); err != nil {
				t.Errorf("stock body: %v", err)
				return
			}
			samples.Add(1)
			if st.Reserved < 0 || st.Reserved > st.OnHand || st.Available < 0 || st.Available != st.OnHand-st.Reserved {
				t.Errorf("stock sample: on_hand %d reserved %d available %d", st.OnHand, st.Reserved, st.Available)
			}
		}
	}()

	var ok, short, clamped atomic.Int64
	runClients(clients, func(i int) {
		rng := rand.New(rand.NewPCG(uint64(i), 0xca27d))
		id, item := carts[i], ""
		base := "/v1/carts/" + id + "/items"
		for op := range ops {
			policy := "reject"
			if rng.IntN(2) == 0 {
				policy = "clamp"
			}
			var (
				method, path = "POST", base
				body         any
			)
			switch k := rng.IntN(10); {
			case item == "" || k < 2: // add (merges into the line when there is one)
				body = map[string]any{"sku": sku, "quantity": 1 + rng.IntN(5), "stock_policy": policy}
			case k < 5: // set
				method, path = "PATCH", base+"/"+item
				if rng.IntN(2) == 0 {
					method = "PUT"
				}
				body = map[string]any{"quantity": rng.IntN(9), "stock_policy": policy}
			case k < 9: // delta
				d := rng.IntN(8) - 3
				if d >= 0 {
					d++
				}
				method, path = "PATCH", base+"/"+item
				body = map[string]any{"quantity_delta": d, "stock_policy": policy}
			default: // remove
				method, path = "DELETE", base+"/"+item
			}
			r, err := concurrentDo(client, s, method, path, body)
			if err != nil {
				t.Errorf("client %d op %d: %v", i, op, err)
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
			var c cartDoc
			switch r.Status {
			case 200:
				if c, err = decodeCart(t, r); err != nil {
					t.Errorf("client %d op %d: %v", i, op, err)
					return
				}
				ok.Add(1)
				if bytes.Contains(r.Body, []byte(`"quantity_clamped"`)) || bytes.Contains(r.Body, []byte(`"out_of_stock"`)) {
					clamped.Add(1)
				}
			case 409:
				p, err := decodeProblem(t, r)
				if err != nil {
					t.Errorf("client %d op %d: %v", i, op, err)
					return
				}
				if p.Code != "insufficient_stock" || p.Available == nil || *p.Available < 0 || p.Cart == nil {
					t.Errorf("client %d op %d: %s %s: 409 without code insufficient_stock, available and cart: %s", i, op, method, path, r.Body)
					return
				}
				if policy != "reject" {
					t.Errorf("client %d op %d: 409 under stock_policy %s: %s", i, op, policy, r.Body)
				}
				short.Add(1)
				c = *p.Cart
			default:
				t.Errorf("client %d op %d: %s %s %v: status %d: %s", i, op, method, path, body, r.Status, r.Body)
				return
			}
			item = ""
			if it, found := c.item(sku); found {
				item = it.ID
			}
		}
	})
	close(stop)
	<-sampled
	t.Logf("%d changes applied (%d clamped), %d refused for stock, %d stock samples", ok.Load(), clamped.Load(), short.Load(), samples.Load())

	st := s.mustStock(t, sku)
	var held, units int64
	for _, id := range carts {
		c := s.mustCartDoc(t, id)
		for _, it := range c.Items {
			if it.SKU != sku {
				continue
			}
			held += it.ReservedQuantity
			if it.InventoryStatus != "backordered" {
				units += it.Quantity
			}
			// Nobody asked for a backorder, so every line holds exactly its quantity.
			if it.ReservedQuantity != it.Quantity {
				t.Errorf("cart %s item %s: quantity %d, reserved %d", id, it.ID, it.Quantity, it.ReservedQuantity)
			}
		}
	}
	if st.OnHand != onHand {
		t.Errorf("on_hand = %d, want %d", st.OnHand, onHand)
	}
	if st.Reserved < 0 || st.Reserved > st.OnHand {
		t.Errorf("reserved = %d outside [0, on_hand %d]", st.Reserved, st.OnHand)
	}
	if st.Reserved != held {
		t.Errorf("reserved = %d, but the items hold %d", st.Reserved, held)
	}
	if units > onHand {
		t.Errorf("carts hold %d units of %s, only %d exist", units, sku, onHand)
	}
}

// Invariant 4: calls refused while other clients change the cart change nothing, so the final
// quantity is the sum of the acknowledged deltas alone.
func TestRejectedCallsChangeNothingUnderConcurrency(t *testing.T) {
	const (
		sku     = "REJ-1"
		start   = 200
		writers = 8
		writes  = 20 // per writer: the quantity stays within [40, 360], never removed or over the limit
		rounds  = 15 // per rejector, each sending every kind of refused call once
	)
	s := mustServer(t)
	s.mustProduct(t, "prod_rej", 1999, 10000, sku)
	id := s.mustCart(t)
	item := s.mustAdd(t, id, sku, start)
	before, stockBefore := s.mustCartDoc(t, id), s.mustStock(t, sku)
	path := "/v1/carts/" + id + "/items/" + item

	// The cart was created at version 1 and the add moved it on, so "1" is stale for good.
	refused := []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		code    string
	}{
		{"a stale If-Match", "PATCH", path, map[string]int64{"quantity_delta": 1}, []string{"If-Match", `"1"`}, 412, "version_mismatch"},
		{"a stale If-Match on a removal", "DELETE", path, nil, []string{"If-Match", `"1"`}, 412, "version_mismatch"},
		{"a quantity above the limit", "PATCH", path, map[string]int64{"quantity": 1000}, nil, 422, "quantity_limit"},
		{"a delta above the limit", "PATCH", path, map[string]int64{"quantity_delta": 5000}, nil, 422, "quantity_limit"},
		{"an unknown item", "PATCH", "/v1/carts/" + id + "/items/ci_999999999", map[string]int64{"quantity_delta": 1}, nil, 404, "item_not_found"},
		{"a removal of an unknown item", "DELETE", "/v1/carts/" + id + "/items/ci_999999999", nil, nil, 404, "item_not_found"},
	}

	client := concurrentClient(t, writers+2)
	var (
		mu      sync.Mutex
		acked   int64 // sum of acknowledged deltas
		ackN    int64 // number of acknowledged changes
		refusal atomic.Int64
	)
	runClients(writers+2, func(i int) {
		if i >= writers { // a rejector
			for range rounds {
				for _, rc := range refused {
					r, err := concurrentDo(client, s, rc.method, rc.path, rc.body, rc.headers...)
					if err != nil {
						t.Errorf("%s: %v", rc.name, err)
						return
					}
					if r.Status != rc.status {
						t.Errorf("%s: status %d, want %d: %s", rc.name, r.Status, rc.status, r.Body)
						return
					}
					p, err := decodeProblem(t, r)
					if err != nil {
						t.Errorf("%s: %v", rc.name, err)
						return
					}
					if p.Code != rc.code {
						t.Errorf("%s: code %q, want %q", rc.name, p.Code, rc.code)
					}
					if rc.status == 412 && (p.Version == nil || p.Cart == nil || *p.Version != p.Cart.Version) {
						t.Errorf("%s: 412 without the current cart and version: %s", rc.name, r.Body)
					}
					refusal.Add(1)
				}
			}
			return
		}
		rng := rand.New(rand.NewPCG(uint64(i), 0x4e7))
		for range writes {
			d := int64(1)
			if rng.IntN(2) == 0 {
				d = -1
			}
			r, err := concurrentDo(client, s, "PATCH", path, map[string]int64{"quantity_delta": d})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
				return
			}
			if r.Status != 200 {
				t.Errorf("writer %d: status %d: %s", i, r.Status, r.Body)
				continue
			}
			if _, err := decodeCart(t, r); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
			mu.Lock()
			acked += d
			ackN++
			mu.Unlock()
		}
	})
	t.Logf("%d changes acknowledged (net %+d), %d calls refused", ackN, acked, refusal.Load())

	after, stockAfter := s.mustCartDoc(t, id), s.mustStock(t, sku)
	it, _ := after.item(sku)
	if it.Quantity != start+acked {
		t.Errorf("quantity = %d, want %d + %d acknowledged", it.Quantity, start, acked)
	}
	if after.Version != before.Version+ackN {
		t.Errorf("version %d -> %d after %d acknowledged changes", before.Version, after.Version, ackN)
	}
	if stockAfter.Reserved != stockBefore.Reserved+acked || stockAfter.OnHand != stockBefore.OnHand {
		t.Errorf("stock %+v -> %+v, want reserved %+d and on_hand unchanged", stockBefore, stockAfter, acked)
	}
	if len(after.Items) != 1 {
		t.Errorf("cart holds %d items, want 1", len(after.Items))
	}
}
