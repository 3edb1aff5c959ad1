package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// versionedStock is a stock response with its version and ETag.
type versionedStock struct {
	stockBody
	Version int64 `json:"version"`
	ETag    string
}

func stockOf(tb testing.TB, r response) versionedStock {
	tb.Helper()
	var st versionedStock
	if err := json.Unmarshal(r.Body, &st); err != nil {
		tb.Fatalf("stock body: %v: %s", err, r.Body)
	}
	st.ETag = r.Header.Get("ETag")
	if want := strconv.Quote(strconv.FormatInt(st.Version, 10)); st.ETag != want {
		tb.Errorf("stock ETag = %s, want %s (its version)", st.ETag, want)
	}
	return st
}

func (s *testServer) stockAt(tb testing.TB, sku string) versionedStock {
	tb.Helper()
	return stockOf(tb, s.mustCall(tb, 200, "GET", "/v1/inventory/"+sku, s.Admin, nil))
}

func TestInventoryVersions(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_v", 100, 10, "V")

	t.Run("every write of the stock bumps its version, shown as ETag", func(t *testing.T) {
		if st := s.stockAt(t, "NEVER"); st.Version != 0 || st.ETag != `"0"` {
			t.Errorf("a SKU never stocked = %+v, want version 0", st)
		}
		st := stockOf(t, s.mustCall(t, 200, "PUT", "/v1/inventory/VV", s.Admin, map[string]int64{"on_hand": 5}))
		if st.Version != 1 || st.OnHand != 5 {
			t.Errorf("after PUT: %+v", st)
		}
		st = stockOf(t, s.mustCall(t, 200, "PATCH", "/v1/inventory/VV", s.Admin, map[string]int64{"on_hand_delta": 2}))
		if st.Version != 2 || st.OnHand != 7 {
			t.Errorf("after PATCH: %+v", st)
		}
		if got := s.stockAt(t, "VV"); got.Version != 2 {
			t.Errorf("GET: %+v", got)
		}
	})

	t.Run("reservations and their release bump the version; changes that hold the same do not", func(t *testing.T) {
		v0 := s.stockAt(t, "V").Version
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "V", 2)
		if v := s.stockAt(t, "V").Version; v != v0+1 {
			t.Errorf("version %d -> %d after a reservation, want one up", v0, v)
		}
		s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+item, s.Admin, map[string]any{"notes": "no stock moves"})
		if v := s.stockAt(t, "V").Version; v != v0+1 {
			t.Errorf("version %d after a notes edit, want %d", v, v0+1)
		}
		s.mustCall(t, 200, "DELETE", "/v1/carts/"+id+"/items/"+item, s.Admin, nil)
		if v := s.stockAt(t, "V").Version; v != v0+2 {
			t.Errorf("version %d after a release, want %d", v, v0+2)
		}
	})

	t.Run("a merge that moves reservations without changing their sum leaves the stock row alone", func(t *testing.T) {
		into, from := s.mustCustomerCart(t, "cust_v"), s.mustCart(t)
		s.mustAdd(t, into, "V", 1)
		s.mustAdd(t, from, "V", 2)
		before := s.stockAt(t, "V")
		s.merge(t, from, into)
		if after := s.stockAt(t, "V"); after != before {
			t.Errorf("stock %+v -> %+v after a merge releasing and taking 2 units", before, after)
		}
		s.checkReservations(t, []string{"V"}, into, from)
	})

	t.Run("a PUT with a stale If-Match is 412 with the current stock and changes nothing", func(t *testing.T) {
		st := s.stockAt(t, "V")
		for _, stale := range []string{fmt.Sprintf(`"%d"`, st.Version-1), fmt.Sprintf(`"%d"`, st.Version+1), "W/" + st.ETag, "garbage"} {
			for _, tt := range []struct {
				method string
				body   map[string]int64
			}{{"PUT", map[string]int64{"on_hand": 99}}, {"PATCH", map[string]int64{"on_hand_delta": 1}}} {
				r := s.call(t, tt.method, "/v1/inventory/V", s.Admin, tt.body, "If-Match", stale).mustStatus(t, 412)
				var p struct {
					problemBody
					Stock *versionedStock `json:"stock"`
				}
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Code != "version_mismatch" || p.Stock == nil || p.Stock.Version != st.Version || p.Stock.OnHand != st.OnHand || r.Header.Get("ETag") != st.ETag {
					t.Errorf("%s with If-Match %s: %v %s", tt.method, stale, r.Header, r.Body)
				}
			}
		}
		if now := s.stockAt(t, "V"); now != st {
			t.Errorf("stock %+v -> %+v after refused writes", st, now)
		}
		s.mustReject(t, "", []string{"V"}, 412, "version_mismatch", "PUT", "/v1/inventory/V", s.Admin, map[string]int64{"on_hand": 1}, "If-Match", `"0"`)
	})

	t.Run("a PUT with the current version or * applies", func(t *testing.T) {
		st := s.stockAt(t, "V")
		got := stockOf(t, s.mustCall(t, 200, "PUT", "/v1/inventory/V", s.Admin, map[string]int64{"on_hand": st.OnHand + 1}, "If-Match", st.ETag))
		if got.Version != st.Version+1 || got.OnHand != st.OnHand+1 {
			t.Errorf("after a matching PUT: %+v", got)
		}
		got = stockOf(t, s.mustCall(t, 200, "PUT", "/v1/inventory/V", s.Admin, map[string]int64{"on_hand": st.OnHand}, "If-Match", "*"))
		if got.Version != st.Version+2 {
			t.Errorf("after PUT If-Match *: %+v", got)
		}
		// "0" is the version of a SKU never stocked: a create that fails if another got there first.
		stockOf(t, s.mustCall(t, 200, "PUT", "/v1/inventory/FRESH", s.Admin, map[string]int64{"on_hand": 4}, "If-Match", `"0"`))
		s.mustReject(t, "", []string{"FRESH"}, 412, "version_mismatch", "PUT", "/v1/inventory/FRESH", s.Admin, map[string]int64{"on_hand": 9}, "If-Match", `"0"`)
	})

	t.Run("a reservation between the read and the write fails the write instead of being undone", func(t *testing.T) {
		s.mustProduct(t, "prod_w", 100, 10, "W")
		read := s.stockAt(t, "W")
		id := s.mustCart(t)
		s.mustAdd(t, id, "W", 3) // a shopper reserves after the read
		// The operator counted 2 units sold elsewhere: on_hand - 2, computed from the read.
		s.mustReject(t, "", []string{"W"}, 412, "version_mismatch", "PUT", "/v1/inventory/W", s.Admin,
			map[string]int64{"on_hand": read.OnHand - 2}, "If-Match", read.ETag)
		again := s.stockAt(t, "W")
		got := stockOf(t, s.mustCall(t, 200, "PUT", "/v1/inventory/W", s.Admin, map[string]int64{"on_hand": again.OnHand - 2}, "If-Match", again.ETag))
		if got.Reserved != 3 || got.OnHand != 8 || got.Version != again.Version+1 {
			t.Errorf("after the retried write: %+v", got)
		}
		s.checkReservations(t, []string{"W"}, id)
	})

	t.Run("stock responses are refused to a key without catalog scopes", func(t *testing.T) {
		s.mustReject(t, "", []string{"V"}, 403, "missing_scope", "PUT", "/v1/inventory/V", s.mustKey(t, "carts:write"), map[string]int64{"on_hand": 1}, "If-Match", "*")
	})
}

// Concurrent relative stock writes all count, and with carts reserving the SKU meanwhile the
// stock never oversells (invariant 1).
func TestConcurrentInventoryDeltas(t *testing.T) {
	t.Run("fifty concurrent +1 deltas add exactly fifty", func(t *testing.T) {
		const n = 50
		s := mustServer(t)
		s.setStock(t, "INC", 10)
		before := s.stockAt(t, "INC")
		client := concurrentClient(t, n)
		runClients(n, func(i int) {
			r, err := concurrentDo(client, s, "PATCH", "/v1/inventory/INC", map[string]int64{"on_hand_delta": 1})
			if err != nil || r.Status != 200 {
				t.Errorf("client %d: %v %d %s", i, err, r.Status, r.Body)
			}
		})
		after := s.stockAt(t, "INC")
		if after.OnHand != before.OnHand+n || after.Version != before.Version+n {
			t.Errorf("stock %+v -> %+v, want on_hand and version +%d", before, after, n)
		}
	})

	t.Run("deltas while carts reserve keep reserved within on_hand and lose nothing", func(t *testing.T) {
		const (
			sku      = "HOT-1"
			start    = 40
			stockers = 6
			shoppers = 24
		)
		ops := 20
		if underRace {
			ops = 6
		}
		s := mustServer(t)
		s.mustProduct(t, "prod_hot", 1000, start, sku)
		carts := make([]string, shoppers)
		for i := range carts {
			carts[i] = s.mustCart(t)
		}
		client := concurrentClient(t, stockers+shoppers+1)

		// A sampler reads the stock whenever a client got an answer: every reading must be
		// within bounds.
		stop, sampled, progress := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
		signal := func() {
			select {
			case progress <- struct{}{}:
			default:
			}
		}
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
					t.Errorf("sampling: %v %d", err, r.Status)
					return
				}
				var st stockDoc
				if err := json.Unmarshal(r.Body, &st); err != nil {
					t.Error(err)
					return
				}
				if st.Reserved < 0 || st.Reserved > st.OnHand || st.Available != st.OnHand-st.Reserved {
					t.Errorf("stock sample: %+v", st)
				}
			}
		}()

		var (
			mu     sync.Mutex
			acked  int64 // sum of acknowledged on_hand deltas
			refuse atomic.Int64
		)
		runClients(stockers+shoppers, func(i int) {
			rng := rand.New(rand.NewPCG(uint64(i), 0x57c))
			if i < stockers {
				for range ops {
					d := int64(rng.IntN(9) - 4) // -4..4: receipts and write-offs
					if d == 0 {
						d = 1
					}
					r, err := concurrentDo(client, s, "PATCH", "/v1/inventory/"+sku, map[string]int64{"on_hand_delta": d})
					signal()
					switch {
					case err != nil:
						t.Errorf("stocker %d: %v", i, err)
						return
					case r.Status == 200:
						mu.Lock()
						acked += d
						mu.Unlock()
					case r.Status == 422: // a write-off below zero
						refuse.Add(1)
					default:
						t.Errorf("stocker %d: status %d: %s", i, r.Status, r.Body)
					}
				}
				return
			}
			id, item := carts[i-stockers], ""
			for range ops {
				method, path := "POST", "/v1/carts/"+id+"/items"
				body := map[string]any{"sku": sku, "quantity": 1 + rng.IntN(3), "stock_policy": "clamp"}
				if item != "" && rng.IntN(3) == 0 {
					method, path, body = "PATCH", path+"/"+item, map[string]any{"quantity_delta": -1 - rng.IntN(2), "stock_policy": "clamp"}
				}
				r, err := concurrentDo(client, s, method, path, body)
				signal()
				if err != nil {
					t.Errorf("shopper %d: %v", i, err)
					return
				}
				if r.Status != 200 {
					t.Errorf("shopper %d: %s %s: status %d: %s", i, method, path, r.Status, r.Body)
					return
				}
				c, err := decodeCart(t, r)
				if err != nil {
					t.Error(err)
					return
				}
				it, _ := c.item(sku)
				item = it.ID
			}
		})
		close(stop)
		<-sampled
		t.Logf("on_hand %+d acknowledged, %d write-offs refused", acked, refuse.Load())

		st := s.stockAt(t, sku)
		if st.OnHand != start+acked {
			t.Errorf("on_hand = %d, want %d%+d acknowledged", st.OnHand, start, acked)
		}
		s.checkReservations(t, []string{sku}, carts...)
	})
}
