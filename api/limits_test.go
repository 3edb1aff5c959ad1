package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/internal/limits"
)

// gate holds requests in flight: as its guard's Admitted hook, it keeps every request
// carrying the X-Hold header in its slot of the in-flight cap, before its handler, until
// opened. (A body that trickles no longer holds a slot: the guard reads bodies first.)
type gate struct {
	open chan struct{}
	once sync.Once
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) admitted(r *http.Request) {
	if r.Header.Get("X-Hold") != "" {
		<-g.open
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// heldRequest is a request the gate holds in flight.
type heldRequest struct {
	conn net.Conn
	gate *gate
}

// startHeld opens a cart with a request the gate holds.
func startHeld(tb testing.TB, ts *testServer, g *gate) *heldRequest {
	tb.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	tb.Cleanup(g.release)
	body := `{"currency": "USD"}`
	fmt.Fprintf(conn, "POST /v1/carts HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Hold: 1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		u.Host, ts.Admin, len(body), body)
	return &heldRequest{conn: conn, gate: g}
}

// finish lets the held requests go and returns this one's status.
func (s *heldRequest) finish(tb testing.TB) int {
	tb.Helper()
	s.gate.release()
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// holdInFlight fills the server's in-flight cap with n requests the gate holds (the gate
// must be the guard's Admitted hook), returned once the guard counts them all.
func holdInFlight(tb testing.TB, ts *testServer, g *limits.Guard, gt *gate, n int) []*heldRequest {
	tb.Helper()
	held := make([]*heldRequest, n)
	for i := range held {
		held[i] = startHeld(tb, ts, gt)
	}
	for g.InFlight() < int64(n) {
		time.Sleep(time.Millisecond) // waiting for a condition, not timing anything
	}
	return held
}

func TestRateLimitedKeyGets429AndOthersAreUnaffected(t *testing.T) {
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	g := limits.New(limits.Config{Key: hourly(3), Customer: hourly(2), Anonymous: hourly(2)})
	ts := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Guard: g})
	limited := ts.mustKey(t, auth.CartsRead, auth.CartsWrite) // keys made through the engine: no request
	other := ts.mustKey(t, auth.CartsRead, auth.CartsWrite)
	cartID := ts.mustCart(t) // the admin key's first request of three
	token := ts.do(t, "POST", "/v1/customers/c9/tokens", ts.Admin, nil).mustStatus(t, 201).JSON(t)["token"].(string)

	for range 3 {
		ts.do(t, "POST", "/v1/carts", limited, map[string]any{}).mustStatus(t, 201)
	}
	r := ts.do(t, "GET", "/v1/carts/"+cartID, limited, nil).mustStatus(t, 429)
	wantProblemCode(t, r, "rate_limited")
	retry := r.Header.Get("Retry-After")
	if retry != "3600" && retry != "3599" { // one request an hour; a second may pass meanwhile
		t.Errorf("Retry-After = %q, want about an hour", retry)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != `"key";q=3;w=10800` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got, want := r.Header.Get("RateLimit"), `"key";r=0;t=`+retry; got != want {
		t.Errorf("RateLimit = %q, want %q", got, want)
	}
	ts.do(t, "POST", "/v1/carts", limited, map[string]any{}).mustStatus(t, 429) // still refused

	t.Run("another key is unaffected", func(t *testing.T) {
		ts.do(t, "GET", "/v1/carts/"+cartID, other, nil).mustStatus(t, 200)
		ts.do(t, "GET", "/v1/carts/"+cartID, ts.Admin, nil).mustStatus(t, 200)
	})
	t.Run("a customer token has a bucket of its own", func(t *testing.T) {
		for range 2 {
			ts.do(t, "POST", "/v1/carts", token, map[string]any{}).mustStatus(t, 201)
		}
		r := ts.do(t, "POST", "/v1/carts", token, map[string]any{}).mustStatus(t, 429)
		if got := r.Header.Get("RateLimit-Policy"); !strings.HasPrefix(got, `"customer";q=2;`) {
			t.Errorf("RateLimit-Policy = %q", got)
		}
		ts.do(t, "GET", "/v1/carts/"+cartID, other, nil).mustStatus(t, 200)
	})
	t.Run("probes are never limited", func(t *testing.T) {
		for range 5 {
			ts.do(t, "GET", "/healthz", "", nil).mustStatus(t, 200)
			ts.do(t, "GET", "/readyz", "", nil).mustStatus(t, 200)
		}
	})
	t.Run("requests without a credential are limited by address", func(t *testing.T) {
		for range 2 {
			ts.do(t, "GET", "/v1/carts/"+cartID, "", nil).mustStatus(t, 401)
		}
		wantProblemCode(t, ts.do(t, "GET", "/v1/carts/"+cartID, "", nil).mustStatus(t, 429), "rate_limited")
		ts.do(t, "GET", "/v1/carts/"+cartID, other, nil).mustStatus(t, 200)
	})
}

// wantProblemCode fails unless r is a problem+json with code.
func wantProblemCode(tb testing.TB, r response, code string) {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	if got := r.JSON(tb)["code"]; got != code {
		tb.Fatalf("code = %v, want %s; body: %s", got, code, r.Body)
	}
}

func TestOverloadAnswers503AtOnce(t *testing.T) {
	const capacity = 2
	gt := newGate()
	g := limits.New(limits.Config{MaxInFlight: capacity, Admitted: gt.admitted})
	ts := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Guard: g})
	cartID := ts.mustCart(t)

	held := holdInFlight(t, ts, g, gt, capacity)
	// More concurrent requests than the cap: all answered while the held ones still hold
	// their slots, so none waited for one.
	const excess = 4 * capacity
	var wg sync.WaitGroup
	statuses := make([]response, excess)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = ts.do(t, "GET", "/v1/carts/"+cartID, ts.Admin, nil)
		})
	}
	wg.Wait()
	for i, r := range statuses {
		if r.Status != 503 {
			t.Fatalf("request %d beyond the cap: %d, want 503; body %s", i, r.Status, r.Body)
		}
		wantProblemCode(t, r, "overloaded")
		if got := r.Header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After = %q, want 1", got)
		}
	}
	ts.do(t, "GET", "/healthz", "", nil).mustStatus(t, 200)
	ts.do(t, "GET", "/readyz", "", nil).mustStatus(t, 200)

	for _, s := range held {
		if status := s.finish(t); status != 201 {
			t.Fatalf("held request: %d, want 201", status)
		}
	}
	for g.InFlight() != 0 {
		time.Sleep(time.Millisecond)
	}
	ts.do(t, "GET", "/v1/carts/"+cartID, ts.Admin, nil).mustStatus(t, 200)
}

func TestReadyzAnswers503WhileDraining(t *testing.T) {
	d := &limits.Drainer{}
	ts := mustServer(t, serverOptions{ReservationTTL: 15 * time.Minute, Drainer: d})
	ts.do(t, "GET", "/readyz", "", nil).mustStatus(t, 200)
	d.Drain()
	wantProblemCode(t, ts.do(t, "GET", "/readyz", "", nil).mustStatus(t, 503), "shutting_down")
	ts.do(t, "GET", "/healthz", "", nil).mustStatus(t, 200)
	// Draining is not refusing: requests are still served until the listener closes.
	ts.do(t, "POST", "/v1/carts", ts.Admin, map[string]any{}).mustStatus(t, 201)
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s", ts.URL)
	}
}

func TestGuestQuantityLimitSetting(t *testing.T) {
	ts := mustServer(t)
	ts.mustProduct(t, "prod_flash", 1000, 100, "FLASH")
	r := ts.do(t, "PUT", "/v1/settings", ts.Admin, map[string]any{"max_guest_quantity_per_item": 2}).mustStatus(t, 200)
	if got := r.JSON(t)["max_guest_quantity_per_item"]; got != 2.0 {
		t.Fatalf("max_guest_quantity_per_item = %v", got)
	}
	for _, bad := range []any{-1, 1_000_001, "2"} {
		ts.do(t, "PUT", "/v1/settings", ts.Admin, map[string]any{"max_guest_quantity_per_item": bad}).mustStatus(t, 422)
	}

	guest := ts.mustCart(t)
	ts.do(t, "POST", "/v1/carts/"+guest+"/items", ts.Admin, map[string]any{"sku": "FLASH", "quantity": 2}).mustStatus(t, 200)
	for _, policy := range []string{"reject", "clamp", "ignore"} {
		r := ts.do(t, "POST", "/v1/carts/"+guest+"/items", ts.Admin, map[string]any{"sku": "FLASH", "quantity": 1, "stock_policy": policy}).mustStatus(t, 422)
		wantProblemCode(t, r, "guest_quantity_limit")
		if errs := r.JSON(t)["errors"].([]any); errs[0].(map[string]any)["field"] != "quantity" {
			t.Fatalf("errors %v, want the quantity field named", errs)
		}
	}

	customer := ts.do(t, "POST", "/v1/carts", ts.Admin, map[string]any{"customer_id": "c1"}).mustStatus(t, 201).JSON(t)["id"].(string)
	ts.do(t, "POST", "/v1/carts/"+customer+"/items", ts.Admin, map[string]any{"sku": "FLASH", "quantity": 10}).mustStatus(t, 200)

	// Signing in lifts the cap: the guest cart merges into the customer's, which holds 12.
	r = ts.do(t, "PATCH", "/v1/carts/"+guest, ts.Admin, map[string]any{"customer_id": "c1"}).mustStatus(t, 200)
	if items := r.JSON(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["quantity"] != 12.0 {
		t.Fatalf("items after signing in: %v", items)
	}
}

// TestMadeUpCredentialsAreLimitedByAddress sends requests each with a credential cartd never
// issued, shaped like its secrets: the guard gives each a bucket of its own before
// authentication, so each must then be charged to its address as a request without a
// credential is. Many made-up credentials from one address are limited as that address, and
// real credentials from it keep being served.
func TestMadeUpCredentialsAreLimitedByAddress(t *testing.T) {
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	for _, prefix := range []string{auth.TokenPrefix, auth.KeyPrefix, auth.SessionPrefix} {
		t.Run(prefix, func(t *testing.T) {
			g := limits.New(limits.Config{Key: hourly(100), Customer: hourly(100), Anonymous: hourly(3)})
			ts := mustServer(t, serverOptions{Guard: g})
			token := ts.do(t, "POST", "/v1/customers/c9/tokens", ts.Admin, nil).mustStatus(t, 201).JSON(t)["token"].(string)
			for range 3 {
				wantProblemCode(t, ts.do(t, "GET", "/v1/carts", auth.NewSecret(prefix), nil).mustStatus(t, 401), "invalid_credentials")
			}
			wantProblemCode(t, ts.do(t, "GET", "/v1/carts", auth.NewSecret(prefix), nil).mustStatus(t, 429), "rate_limited")
			// The address's bucket is the one emptied: a request without a credential finds it so.
			wantProblemCode(t, ts.do(t, "GET", "/v1/carts", "", nil).mustStatus(t, 429), "rate_limited")
			ts.do(t, "GET", "/v1/carts", token, nil).mustStatus(t, 200)
			ts.do(t, "GET", "/v1/carts", ts.Admin, nil).mustStatus(t, 200)
		})
	}
}
