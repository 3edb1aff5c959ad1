package api_test

// Tests of Idempotency-Key (docs/api.md; ARCHITECTURE.md §Invariants 9): a mutating call with a key is applied at
// most once per principal, method, path and key; its first successful response is stored
// with the change and replayed byte for byte to a retry with the same raw body.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// replayedHeader is the header that marks a replayed response.
const replayedHeader = "Idempotent-Replayed"

// checkReplay holds a retry's response to the first one's: the same status, body and stored
// headers, marked as replayed where the first is not.
func checkReplay(tb testing.TB, first, retry response) {
	tb.Helper()
	if got := first.Header.Get(replayedHeader); got != "" {
		tb.Errorf("the first call has %s: %q", replayedHeader, got)
	}
	if got := retry.Header.Get(replayedHeader); got != "true" {
		tb.Errorf("the retry has %s: %q, want true", replayedHeader, got)
	}
	if retry.Status != first.Status {
		tb.Errorf("the retry is %d, the first call %d", retry.Status, first.Status)
	}
	if string(retry.Body) != string(first.Body) {
		tb.Errorf("the retry's body differs from the first call's\nfirst: %s\nretry: %s", first.Body, retry.Body)
	}
	for _, h := range []string{"Content-Type", "ETag", "Location"} {
		if got, want := retry.Header.Get(h), first.Header.Get(h); got != want {
			tb.Errorf("the retry's %s is %q, the first call's %q", h, got, want)
		}
	}
}

// checkApplied fails unless a response is a change applied now, not a replay.
func checkApplied(tb testing.TB, r response) {
	tb.Helper()
	if got := r.Header.Get(replayedHeader); got != "" {
		tb.Errorf("a call that should have been applied was replayed (%s: %q): %s", replayedHeader, got, r.Body)
	}
}

// cartNumber reads the number of a cart id ("cart_12" is 12).
func cartNumber(tb testing.TB, id string) int64 {
	tb.Helper()
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "cart_"), 10, 64)
	if err != nil {
		tb.Fatalf("cart id %q: %v", id, err)
	}
	return n
}

// idemCall is one mutating call of the replay table, with what to check around it.
type idemCall struct {
	method, path string
	body         any
	// between makes a change without a key that a retry applied a second time would undo or
	// repeat, so that the check tells a replay from a re-run.
	between func(t *testing.T)
	// check holds the state after the retry to the first call applied exactly once.
	check func(t *testing.T, first response)
}

func TestIdempotentRetryReplaysTheFirstResponse(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_idem", 1000, 50, "ID-ADD", "ID-PUT", "ID-PATCH", "ID-DEL", "ID-CLEAR")

	wantLine := func(t *testing.T, cartID, sku string, quantity, version int64) {
		t.Helper()
		c := s.getCart(t, cartID)
		it := c.item(sku)
		switch {
		case it == nil:
			t.Errorf("cart %s has no %s after the retry", cartID, sku)
		case it.Quantity != quantity || it.ReservedQuantity != quantity:
			t.Errorf("%s: quantity %d reserved %d after the retry, want %d", sku, it.Quantity, it.ReservedQuantity, quantity)
		}
		if c.Version != version {
			t.Errorf("cart %s at version %d after the retry, want %d", cartID, c.Version, version)
		}
		if st := s.stock(t, sku); st.Reserved != quantity {
			t.Errorf("%s: stock reserved %d after the retry, want %d", sku, st.Reserved, quantity)
		}
	}
	versionOf := func(t *testing.T, r response) int64 { t.Helper(); return cartOf(t, r).Version }

	tests := []struct {
		name    string
		status  int
		fixture func(t *testing.T) idemCall
	}{
		{"POST /v1/carts opens one cart", 201, func(t *testing.T) idemCall {
			return idemCall{method: "POST", path: "/v1/carts", body: map[string]any{"currency": "USD", "metadata": map[string]string{"ref": "idem"}},
				check: func(t *testing.T, first response) {
					opened := cartOf(t, first)
					if loc := first.Header.Get("Location"); loc != "/v1/carts/"+opened.ID {
						t.Errorf("Location %q for cart %s", loc, opened.ID)
					}
					next := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", s.Admin, nil))
					if got, want := cartNumber(t, next.ID), cartNumber(t, opened.ID)+1; got != want {
						t.Errorf("the next cart is %s: the retry opened a cart of its own", next.ID)
					}
				}}
		}},
		{"POST items adds once", 200, func(t *testing.T) idemCall {
			id := s.mustCart(t)
			return idemCall{method: "POST", path: "/v1/carts/" + id + "/items", body: map[string]any{"sku": "ID-ADD", "quantity": 2},
				check: func(t *testing.T, first response) { wantLine(t, id, "ID-ADD", 2, 2) }}
		}},
		{"PUT item sets once", 200, func(t *testing.T) idemCall {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "ID-PUT", 1)
			path := "/v1/carts/" + id + "/items/" + item
			return idemCall{method: "PUT", path: path, body: map[string]any{"quantity": 5},
				between: func(t *testing.T) { s.mustCall(t, 200, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}) },
				check:   func(t *testing.T, first response) { wantLine(t, id, "ID-PUT", 6, versionOf(t, first)+1) }}
		}},
		{"PATCH item moves once", 200, func(t *testing.T) idemCall {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "ID-PATCH", 1)
			return idemCall{method: "PATCH", path: "/v1/carts/" + id + "/items/" + item, body: map[string]any{"quantity_delta": 3},
				check: func(t *testing.T, first response) { wantLine(t, id, "ID-PATCH", 4, versionOf(t, first)) }}
		}},
		{"DELETE item removes once", 200, func(t *testing.T) idemCall {
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "ID-DEL", 2)
			return idemCall{method: "DELETE", path: "/v1/carts/" + id + "/items/" + item,
				// A new line of the SKU: a second removal would 404 on the old one.
				between: func(t *testing.T) { s.mustAdd(t, id, "ID-DEL", 1) },
				check:   func(t *testing.T, first response) { wantLine(t, id, "ID-DEL", 1, versionOf(t, first)+1) }}
		}},
		{"DELETE items empties once", 200, func(t *testing.T) idemCall {
			id := s.mustCart(t)
			s.mustAdd(t, id, "ID-CLEAR", 2)
			return idemCall{method: "DELETE", path: "/v1/carts/" + id + "/items",
				between: func(t *testing.T) { s.mustAdd(t, id, "ID-CLEAR", 1) },
				check:   func(t *testing.T, first response) { wantLine(t, id, "ID-CLEAR", 1, versionOf(t, first)+1) }}
		}},
		{"PUT product writes once", 200, func(t *testing.T) idemCall {
			product := func(name string) map[string]any {
				return map[string]any{"name": name, "variants": []map[string]any{{"id": "var_ID-PROD", "sku": "ID-PROD", "price": map[string]int64{"USD": 700}}}}
			}
			return idemCall{method: "PUT", path: "/v1/products/prod_idem_put", body: product("First name"),
				between: func(t *testing.T) { s.mustPutProduct(t, "prod_idem_put", product("Second name")) },
				check: func(t *testing.T, first response) {
					if name := s.mustCall(t, 200, "GET", "/v1/products/prod_idem_put", s.Admin, nil).JSON(t)["name"]; name != "Second name" {
						t.Errorf("the product is named %q after the retry: the retry wrote it again", name)
					}
				}}
		}},
		{"DELETE product withdraws once", 204, func(t *testing.T) idemCall {
			s.mustProduct(t, "prod_idem_del", 500, 5, "ID-GONE")
			return idemCall{method: "DELETE", path: "/v1/products/prod_idem_del",
				between: func(t *testing.T) { s.mustProduct(t, "prod_idem_del", 500, 5, "ID-GONE") },
				check: func(t *testing.T, first response) {
					s.mustCall(t, 200, "GET", "/v1/products/prod_idem_del", s.Admin, nil)
				}}
		}},
		{"PUT settings writes once", 200, func(t *testing.T) idemCall {
			return idemCall{method: "PUT", path: "/v1/settings", body: map[string]any{"max_quantity_per_item": 77},
				between: func(t *testing.T) { s.putSettings(t, map[string]any{"max_quantity_per_item": 88}) },
				check: func(t *testing.T, first response) {
					if got := s.mustCall(t, 200, "GET", "/v1/settings", s.Admin, nil).JSON(t)["max_quantity_per_item"]; got != 88.0 {
						t.Errorf("max_quantity_per_item is %v after the retry, want 88", got)
					}
				}}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.fixture(t)
			key := "replay-" + strconv.Itoa(i)
			first := s.mustCall(t, tc.status, c.method, c.path, s.Admin, c.body, "Idempotency-Key", key)
			if c.between != nil {
				c.between(t)
			}
			retry := s.mustCall(t, tc.status, c.method, c.path, s.Admin, c.body, "Idempotency-Key", key)
			checkReplay(t, first, retry)
			c.check(t, first)
			// And again: every retry gets the same answer.
			checkReplay(t, first, s.mustCall(t, tc.status, c.method, c.path, s.Admin, c.body, "Idempotency-Key", key))
		})
	}
}

func TestIdempotentRetryStorm(t *testing.T) {
	const clients = 40
	tests := []struct {
		name string
		// call returns the path and body of the call the clients repeat, on a cart holding
		// one unit of SKU "STORM" as item.
		call func(cartID, item string) (method, path string, body any)
	}{
		{"a quantity_delta +1", func(cartID, item string) (string, string, any) {
			return "PATCH", "/v1/carts/" + cartID + "/items/" + item, map[string]any{"quantity_delta": 1}
		}},
		{"an add of one unit", func(cartID, item string) (string, string, any) {
			return "POST", "/v1/carts/" + cartID + "/items", map[string]any{"sku": "STORM", "quantity": 1}
		}},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(clients)+" concurrent retries of "+tc.name+" apply it once", func(t *testing.T) {
			s := mustServer(t)
			s.mustProduct(t, "prod_storm", 300, 1000, "STORM")
			id := s.mustCart(t)
			item := s.mustAdd(t, id, "STORM", 1)
			before := s.mustCartDoc(t, id)
			method, path, body := tc.call(id, item)

			client := concurrentClient(t, clients)
			results := make([]response, clients)
			errs := make([]error, clients)
			runClients(clients, func(i int) {
				results[i], errs[i] = concurrentDo(client, s, method, path, body, "Idempotency-Key", "storm")
			})

			var applied, replayed, inFlight int
			var body200 []byte
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("client %d: %v", i, errs[i])
				}
				switch r.Status {
				case http.StatusOK:
					if body200 == nil {
						body200 = r.Body
					} else if string(r.Body) != string(body200) {
						t.Errorf("client %d got another body than the others\n%s\n%s", i, r.Body, body200)
					}
					if r.Header.Get(replayedHeader) == "true" {
						replayed++
					} else {
						applied++
					}
				case http.StatusConflict:
					if p, err := decodeProblem(t, r); err != nil || p.Code != "idempotency_in_flight" {
						t.Errorf("client %d: 409 that is not idempotency_in_flight (%v): %s", i, err, r.Body)
					}
					inFlight++
				default:
					t.Errorf("client %d: status %d: %s", i, r.Status, r.Body)
				}
			}
			t.Logf("%d applied, %d replayed, %d in flight", applied, replayed, inFlight)
			if applied != 1 {
				t.Errorf("%d responses were not replays, want exactly 1", applied)
			}

			after := s.mustCartDoc(t, id)
			was, _ := before.item("STORM")
			now, _ := after.item("STORM")
			if now.Quantity != was.Quantity+1 || after.Version != before.Version+1 {
				t.Errorf("quantity %d -> %d, version %d -> %d; want each one higher", was.Quantity, now.Quantity, before.Version, after.Version)
			}
			if st := s.mustStock(t, "STORM"); st.Reserved != now.Quantity {
				t.Errorf("STORM reserved %d, the item holds %d", st.Reserved, now.Quantity)
			}
			var answered cartDoc
			if err := json.Unmarshal(body200, &answered); err != nil || answered.Version != after.Version {
				t.Errorf("the answered cart is at version %d, the stored one at %d (%v)", answered.Version, after.Version, err)
			}

			last := s.do(t, method, path, s.Admin, body, "Idempotency-Key", "storm").mustStatus(t, 200)
			if last.Header.Get(replayedHeader) != "true" || string(last.Body) != string(body200) {
				t.Errorf("a retry after the storm is not the replay of its answer (%s: %q)\n%s", replayedHeader, last.Header.Get(replayedHeader), last.Body)
			}
		})
	}
}

func TestIdempotencyKeyScope(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_scope", 400, 100, "SC-1", "SC-2")

	t.Run("the same key with another body is 422 idempotency_key_reused and changes nothing", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "SC-1", 1)
		path := "/v1/carts/" + id + "/items/" + item
		first := s.mustCall(t, 200, "PATCH", path, s.Admin, `{"quantity_delta":1}`, "Idempotency-Key", "reused")
		s.mustReject(t, id, []string{"SC-1"}, 422, "idempotency_key_reused", "PATCH", path, s.Admin, `{"quantity_delta":2}`, "Idempotency-Key", "reused")
		// The request is its raw body: the same JSON spelled otherwise is another request.
		s.mustReject(t, id, []string{"SC-1"}, 422, "idempotency_key_reused", "PATCH", path, s.Admin, `{"quantity_delta": 1}`, "Idempotency-Key", "reused")
		// The rejections left the record alone: the first body still replays.
		checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, `{"quantity_delta":1}`, "Idempotency-Key", "reused"))
	})

	t.Run("the same key on another path or method is another call", func(t *testing.T) {
		id := s.mustCart(t)
		a := s.mustAdd(t, id, "SC-1", 1)
		b := s.mustAdd(t, id, "SC-2", 1)
		const key = "shared"
		delta := map[string]any{"quantity_delta": 1}
		checkApplied(t, s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+a, s.Admin, delta, "Idempotency-Key", key))
		checkApplied(t, s.mustCall(t, 200, "PATCH", "/v1/carts/"+id+"/items/"+b, s.Admin, delta, "Idempotency-Key", key))
		checkApplied(t, s.mustCall(t, 200, "PUT", "/v1/carts/"+id+"/items/"+a, s.Admin, map[string]any{"quantity": 5}, "Idempotency-Key", key))
		checkApplied(t, s.mustCall(t, 200, "POST", "/v1/carts/"+id+"/items", s.Admin, map[string]any{"sku": "SC-2", "quantity": 1}, "Idempotency-Key", key))
		c := s.getCart(t, id)
		if c.item("SC-1").Quantity != 5 || c.item("SC-2").Quantity != 3 || c.Version != 7 {
			t.Errorf("SC-1 %d, SC-2 %d, version %d; want 5, 3 and 7: every call applied", c.item("SC-1").Quantity, c.item("SC-2").Quantity, c.Version)
		}
	})

	t.Run("the same key from another API key is another call", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "SC-1", 1)
		path := "/v1/carts/" + id + "/items/" + item
		other := s.mustKey(t, auth.CartsRead, auth.CartsWrite)
		first := s.mustCall(t, 200, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", "mine")
		checkApplied(t, first)
		checkApplied(t, s.mustCall(t, 200, "PATCH", path, other, map[string]any{"quantity_delta": 1}, "Idempotency-Key", "mine"))
		checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", "mine"))
		if q := s.getCart(t, id).item("SC-1").Quantity; q != 3 {
			t.Errorf("quantity %d, want 3: each key's call applied once", q)
		}
	})

	t.Run("the same key from two customers is two calls", func(t *testing.T) {
		alice := issueToken(t, s, "idem-alice")
		bob := issueToken(t, s, "idem-bob")
		a := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", alice, nil, "Idempotency-Key", "open"))
		b := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", bob, nil, "Idempotency-Key", "open"))
		if a.ID == b.ID || b.CustomerID == nil || *b.CustomerID != "idem-bob" {
			t.Errorf("bob's cart %s (customer %v) after alice's %s with the same key", b.ID, b.CustomerID, a.ID)
		}
	})
}

// issueToken issues a customer token and returns its secret.
func issueToken(tb testing.TB, s *testServer, customer string) string {
	tb.Helper()
	tok, _ := s.mustCall(tb, 201, "POST", "/v1/customers/"+customer+"/tokens", s.Admin, nil).JSON(tb)["token"].(string)
	if !strings.HasPrefix(tok, "ct_") {
		tb.Fatalf("customer token %q", tok)
	}
	return tok
}

func TestIdempotencyInFlight(t *testing.T) {
	t.Run("a retry while the first call waits for the writer is 409 idempotency_in_flight, and the first completes once", func(t *testing.T) {
		s := mustServer(t)
		s.mustProduct(t, "prod_wait", 200, 100, "WAIT")
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "WAIT", 1)
		path := "/v1/carts/" + id + "/items/" + item
		before := s.mustCartDoc(t, id)

		// Hold the cart's row (and with it SQLite's single writer), so that the first call with
		// the key cannot finish.
		num, err := strconv.ParseInt(strings.TrimPrefix(id, "cart_"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		holding, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			held <- s.Store.Write(context.Background(), func(tx store.Tx) error {
				if _, err := tx.Cart(context.Background(), num); err != nil {
					close(holding)
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		var releaseOnce sync.Once
		letGo := func() { releaseOnce.Do(func() { close(release) }) }
		defer letGo() // a failing test must not leave the writer held

		client := concurrentClient(t, 2)
		answers := make(chan response, 2)
		for range 2 {
			go func() {
				r, err := concurrentDo(client, s, "PATCH", path, map[string]any{"quantity_delta": 1}, "Idempotency-Key", "wait")
				if err != nil {
					t.Error(err)
				}
				answers <- r
			}()
		}
		// One of the two holds the key and waits for the writer; the other is told so.
		busy := <-answers
		if busy.Status != http.StatusConflict {
			t.Fatalf("with the writer held, the first answer is %d, want 409: %s", busy.Status, busy.Body)
		}
		if p, err := decodeProblem(t, busy); err != nil || p.Code != "idempotency_in_flight" {
			t.Errorf("409 code %q (%v), want idempotency_in_flight: %s", p.Code, err, busy.Body)
		}
		select {
		case r := <-answers:
			t.Fatalf("the call holding the key answered %d while the writer was held: %s", r.Status, r.Body)
		case <-time.After(50 * time.Millisecond):
		}

		letGo()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		done := (<-answers).mustStatus(t, 200)
		checkApplied(t, done)
		after := s.mustCartDoc(t, id)
		if it, _ := after.item("WAIT"); it.Quantity != 2 || after.Version != before.Version+1 {
			t.Errorf("quantity %d at version %d, want 2 at %d: the change applied once", it.Quantity, after.Version, before.Version+1)
		}
		if st := s.mustStock(t, "WAIT"); st.Reserved != 2 {
			t.Errorf("WAIT reserved %d, want 2", st.Reserved)
		}
		// The key is no longer in flight: a retry now replays.
		checkReplay(t, done, s.do(t, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", "wait"))
	})
}

func TestFailedCallRecordsNothing(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_fail", 250, 3, "FAIL-1", "FAIL-2")

	t.Run("a call rejected for stock can be retried with its key once stock is added", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "FAIL-1", 1)
		path := "/v1/carts/" + id + "/items/" + item
		body := map[string]any{"quantity_delta": 5}
		s.mustReject(t, id, []string{"FAIL-1"}, 409, "insufficient_stock", "PATCH", path, s.Admin, body, "Idempotency-Key", "short")
		s.setStock(t, "FAIL-1", 10)
		first := s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "short")
		checkApplied(t, first)
		if q := cartOf(t, first).item("FAIL-1").Quantity; q != 6 {
			t.Errorf("quantity %d after the retry, want 6", q)
		}
		checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "short"))
		if st := s.stock(t, "FAIL-1"); st.Reserved != 6 {
			t.Errorf("FAIL-1 reserved %d, want 6", st.Reserved)
		}
	})

	t.Run("a call rejected by If-Match can be retried with its key and the current version", func(t *testing.T) {
		id := s.mustCart(t)
		item := s.mustAdd(t, id, "FAIL-2", 1)
		path := "/v1/carts/" + id + "/items/" + item
		body := map[string]any{"quantity_delta": 1}
		s.mustReject(t, id, []string{"FAIL-2"}, 412, "version_mismatch", "PATCH", path, s.Admin, body, "Idempotency-Key", "stale", "If-Match", `"1"`)
		first := s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "stale", "If-Match", `"2"`)
		checkApplied(t, first)
		// The cart is now at version 3, but a retry of the call that made it so gets its
		// answer, not a 412.
		checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "stale", "If-Match", `"2"`))
		if c := s.getCart(t, id); c.Version != 3 || c.item("FAIL-2").Quantity != 2 {
			t.Errorf("version %d quantity %d, want 3 and 2", c.Version, c.item("FAIL-2").Quantity)
		}
	})
}

func TestIdempotencyKeysOfACustomer(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_cust", 900, 20, "CUST-1")
	phone, laptop := issueToken(t, s, "cora"), issueToken(t, s, "cora")

	t.Run("a retry from another token of the customer replays a new cart", func(t *testing.T) {
		body := map[string]any{"currency": "USD"}
		first := s.mustCall(t, 201, "POST", "/v1/carts", phone, body, "Idempotency-Key", "open")
		checkReplay(t, first, s.mustCall(t, 201, "POST", "/v1/carts", laptop, body, "Idempotency-Key", "open"))
	})

	t.Run("a retry from another token of the customer replays an add", func(t *testing.T) {
		id := cartOf(t, s.mustCall(t, 201, "POST", "/v1/carts", phone, nil)).ID
		path, body := "/v1/carts/"+id+"/items", map[string]any{"sku": "CUST-1", "quantity": 2}
		first := s.mustCall(t, 200, "POST", path, phone, body, "Idempotency-Key", "add")
		checkReplay(t, first, s.mustCall(t, 200, "POST", path, laptop, body, "Idempotency-Key", "add"))
		if it := s.getCart(t, id).item("CUST-1"); it == nil || it.Quantity != 2 {
			t.Errorf("CUST-1 line %+v, want 2 units", it)
		}
		// The shop's API key is another caller: its call with the same key is its own.
		checkApplied(t, s.mustCall(t, 200, "POST", path, s.Admin, body, "Idempotency-Key", "add"))
		if q := s.getCart(t, id).item("CUST-1").Quantity; q != 4 {
			t.Errorf("CUST-1 quantity %d, want 4", q)
		}
		if st := s.stock(t, "CUST-1"); st.Reserved != 4 {
			t.Errorf("CUST-1 reserved %d, want 4", st.Reserved)
		}
	})
}

func TestInvalidIdempotencyKey(t *testing.T) {
	s := mustServer(t)
	s.mustProduct(t, "prod_badkey", 100, 10, "BADKEY")
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "BADKEY", 1)
	path := "/v1/carts/" + id + "/items/" + item

	for _, tc := range []struct{ name, key string }{
		{"an empty key", ""},
		{"a key of 256 characters", strings.Repeat("k", 256)},
	} {
		t.Run(tc.name+" is 422 invalid_idempotency_key", func(t *testing.T) {
			p := s.mustReject(t, id, []string{"BADKEY"}, 422, "invalid_idempotency_key", "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", tc.key)
			if fields := p.fields(); len(fields) != 1 || fields[0] != "Idempotency-Key" {
				t.Errorf("problem names fields %v, want Idempotency-Key", fields)
			}
			s.mustReject(t, "", nil, 422, "invalid_idempotency_key", "PUT", "/v1/settings", s.Admin, map[string]any{"max_lines_per_cart": 9}, "Idempotency-Key", tc.key)
		})
	}

	t.Run("a key of 255 characters is accepted", func(t *testing.T) {
		key := strings.Repeat("k", 255)
		first := s.mustCall(t, 200, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", key)
		checkApplied(t, first)
		checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, map[string]any{"quantity_delta": 1}, "Idempotency-Key", key))
	})
}

// testClock is a settable clock for a store's transactions.
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

// mustClockedServer starts a server whose store reads the returned clock. Reservations are
// off, so that moving the clock by a day expires nothing but idempotency records.
func mustClockedServer(tb testing.TB) (*testServer, *testClock) {
	tb.Helper()
	clock := &testClock{now: time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	eng := engine.New(st, engine.Config{})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(api.New(eng, api.Config{}))
	tb.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &testServer{URL: hs.URL, Admin: secret, Engine: eng, Store: st, Client: hs.Client()}, clock
}

func TestIdempotencyRecordsExpire(t *testing.T) {
	s, clock := mustClockedServer(t)
	s.mustProduct(t, "prod_day", 100, 100, "DAY")
	id := s.mustCart(t)
	item := s.mustAdd(t, id, "DAY", 1)
	path, body := "/v1/carts/"+id+"/items/"+item, map[string]any{"quantity_delta": 1}

	first := s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "day")
	checkApplied(t, first)

	clock.Advance(engine.IdempotencyTTL - time.Second)
	checkReplay(t, first, s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "day"))

	clock.Advance(2 * time.Second)
	again := s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "day")
	checkApplied(t, again)
	if c := cartOf(t, again); c.item("DAY").Quantity != 3 || c.Version != cartOf(t, first).Version+1 {
		t.Errorf("after the record expired, the key's call left quantity %d at version %d; want 3 at %d",
			c.item("DAY").Quantity, c.Version, cartOf(t, first).Version+1)
	}
	// The key now holds the second call's outcome.
	checkReplay(t, again, s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "day"))

	if n, err := s.Engine.PurgeIdempotency(context.Background()); err != nil || n != 0 {
		t.Errorf("PurgeIdempotency = %d, %v; want 0 (the live record stays)", n, err)
	}
	clock.Advance(engine.IdempotencyTTL + time.Second)
	if n, err := s.Engine.PurgeIdempotency(context.Background()); err != nil || n != 1 {
		t.Errorf("PurgeIdempotency = %d, %v; want 1", n, err)
	}
	checkApplied(t, s.mustCall(t, 200, "PATCH", path, s.Admin, body, "Idempotency-Key", "day"))
	if q := s.getCart(t, id).item("DAY").Quantity; q != 4 {
		t.Errorf("quantity %d, want 4", q)
	}
}
