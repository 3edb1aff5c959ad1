package limits_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/limits"
)

// clock is a settable clock for the buckets.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)} }

// request is a request from addr (host:port) presenting credential as a Bearer token.
func request(addr, credential string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/carts/cart_1", nil)
	r.RemoteAddr = addr
	if credential != "" {
		r.Header.Set("Authorization", "Bearer "+credential)
	}
	return r
}

// limit charges one request and returns its status: 200 allowed, 429 refused (with the
// refusal's headers checked).
func limit(t *testing.T, g *limits.Guard, r *http.Request, credential string) int {
	t.Helper()
	w := httptest.NewRecorder()
	err := g.Limit(w, r, credential)
	if err == nil {
		if h := w.Header().Get("Retry-After"); h != "" {
			t.Fatalf("allowed request got Retry-After %q", h)
		}
		return 200
	}
	var ce *cart.Error
	if !errors.As(err, &ce) || ce.Code != cart.RateLimited || ce.Reason != limits.RateLimited {
		t.Fatalf("refusal is %v, want a rate_limited *cart.Error", err)
	}
	if w.Header().Get("Retry-After") == "" || w.Header().Get("RateLimit") == "" || w.Header().Get("RateLimit-Policy") == "" {
		t.Fatalf("refusal lacks Retry-After, RateLimit or RateLimit-Policy: %v", w.Header())
	}
	return 429
}

func TestLimitChargesEachPrincipalItsOwnBucket(t *testing.T) {
	key1, key2 := auth.NewSecret(auth.KeyPrefix), auth.NewSecret(auth.KeyPrefix)
	tok1, tok2 := auth.NewSecret(auth.TokenPrefix), auth.NewSecret(auth.TokenPrefix)
	sess := auth.NewSecret(auth.SessionPrefix)
	two := limits.Rate{PerSecond: 1, Burst: 2}
	tests := []struct {
		name string
		cfg  limits.Config
		// first is charged until refused; then second must still pass.
		firstAddr, first, secondAddr, second string
		unlimited                            bool
	}{
		{name: "an API key exhausted leaves another key alone", cfg: limits.Config{Key: two},
			firstAddr: "10.0.0.1:1", first: key1, secondAddr: "10.0.0.1:2", second: key2},
		{name: "a customer token exhausted leaves another token from the same address alone", cfg: limits.Config{Customer: two},
			firstAddr: "10.0.0.1:1", first: tok1, secondAddr: "10.0.0.1:1", second: tok2},
		{name: "a session exhausted leaves a token alone", cfg: limits.Config{Customer: two},
			firstAddr: "10.0.0.1:1", first: sess, secondAddr: "10.0.0.1:1", second: tok1},
		{name: "an address exhausted leaves another address alone", cfg: limits.Config{Anonymous: two},
			firstAddr: "10.0.0.1:1", first: "", secondAddr: "10.0.0.2:1", second: ""},
		{name: "a made-up credential counts against its address", cfg: limits.Config{Anonymous: two},
			firstAddr: "10.0.0.1:1", first: "sk_short", secondAddr: "10.0.0.3:1", second: "sk_short"},
		{name: "an IPv6 /64 is one client", cfg: limits.Config{Anonymous: two},
			firstAddr: "[2001:db8:1:2::1]:1", first: "", secondAddr: "[2001:db8:1:3::1]:1", second: ""},
		{name: "an operator's own admin key (CARTD_ADMIN_KEY) is an API key", cfg: limits.Config{Key: two, Anonymous: limits.Rate{PerSecond: 1, Burst: 1}},
			firstAddr: "10.0.0.1:1", first: "sk_operator_chosen_16", secondAddr: "10.0.0.1:1", second: ""},
		{name: "API keys are not limited when their rate is 0", cfg: limits.Config{Customer: two, Anonymous: two},
			firstAddr: "10.0.0.1:1", first: key1, unlimited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			tt.cfg.Now = clk.Now
			g := limits.New(tt.cfg)
			for i := 0; i < 2; i++ {
				if got := limit(t, g, request(tt.firstAddr, tt.first), tt.first); got != 200 {
					t.Fatalf("request %d within the burst: %d", i+1, got)
				}
			}
			got := limit(t, g, request(tt.firstAddr, tt.first), tt.first)
			if tt.unlimited {
				if got != 200 {
					t.Fatalf("unlimited principal refused")
				}
				return
			}
			if got != 429 {
				t.Fatalf("request past the burst: %d, want 429", got)
			}
			if got := limit(t, g, request(tt.secondAddr, tt.second), tt.second); got != 200 {
				t.Fatalf("another principal: %d, want 200", got)
			}
			clk.Advance(time.Second) // one token back
			if got := limit(t, g, request(tt.firstAddr, tt.first), tt.first); got != 200 {
				t.Fatalf("after a second: %d, want 200", got)
			}
		})
	}
	t.Run("another address of the same /64 shares its bucket", func(t *testing.T) {
		g := limits.New(limits.Config{Anonymous: limits.Rate{PerSecond: 1, Burst: 1}, Now: newClock().Now})
		limit(t, g, request("[2001:db8:1:2::1]:1", ""), "")
		if got := limit(t, g, request("[2001:db8:1:2:ffff::9]:7", ""), ""); got != 429 {
			t.Fatalf("same /64: %d, want 429", got)
		}
	})
}

func TestLimitHeaders(t *testing.T) {
	clk := newClock()
	g := limits.New(limits.Config{Customer: limits.Rate{PerSecond: 0.25, Burst: 3}, Now: clk.Now})
	tok := auth.NewSecret(auth.TokenPrefix)
	for range 3 {
		limit(t, g, request("10.0.0.1:1", tok), tok)
	}
	w := httptest.NewRecorder()
	if g.Limit(w, request("10.0.0.1:1", tok), tok) == nil {
		t.Fatal("fourth request allowed")
	}
	want := map[string]string{
		"Retry-After":      "4", // a token every 4 s
		"RateLimit-Policy": `"customer";q=3;w=12`,
		"RateLimit":        `"customer";r=0;t=4`,
	}
	for h, v := range want {
		if got := w.Header().Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	clk.Advance(3 * time.Second)
	w = httptest.NewRecorder()
	g.Limit(w, request("10.0.0.1:1", tok), tok)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After a second before the next token = %q, want 1", got)
	}
}

func TestClientIPHeader(t *testing.T) {
	g := limits.New(limits.Config{Anonymous: limits.Rate{PerSecond: 1, Burst: 1}, ClientIPHeader: "X-Forwarded-For", Now: newClock().Now})
	from := func(xff string) *http.Request {
		r := request("192.0.2.1:1", "") // the proxy
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	if got := limit(t, g, from("203.0.113.9, 198.51.100.1"), ""); got != 200 {
		t.Fatal(got)
	}
	if got := limit(t, g, from("203.0.113.7, 198.51.100.2"), ""); got != 200 {
		t.Fatalf("another client behind the same proxy: %d, want 200", got)
	}
	if got := limit(t, g, from("198.51.100.1"), ""); got != 429 {
		t.Fatalf("the first client again: %d, want 429", got)
	}
	if got := limit(t, g, from("not an address"), ""); got != 200 {
		t.Fatalf("an unreadable header falls back to the connection's address: %d", got)
	}
}

func TestBucketsStayBounded(t *testing.T) {
	clk := newClock()
	const maxBuckets = 64 * 16
	g := limits.New(limits.Config{Key: limits.Rate{PerSecond: 1, Burst: 5}, MaxBuckets: maxBuckets, Now: clk.Now})
	for i := range 20 * maxBuckets {
		k := auth.NewSecret(auth.KeyPrefix)
		limit(t, g, request("10.0.0.1:1", k), k)
		if i%1000 == 0 {
			clk.Advance(time.Millisecond)
		}
	}
	if n := g.Len(); n > maxBuckets {
		t.Fatalf("%d buckets held after a flood of credentials, want at most %d", n, maxBuckets)
	}
	// Buckets that filled up again are dropped first, and the bound holds.
	clk.Advance(10 * time.Second)
	for range maxBuckets {
		k := auth.NewSecret(auth.KeyPrefix)
		limit(t, g, request("10.0.0.1:1", k), k)
	}
	if n := g.Len(); n > maxBuckets {
		t.Fatalf("%d buckets, want at most %d", n, maxBuckets)
	}
}

// failWith answers a Guard's refusal as a test front door would: the code and reason.
func failWith(w http.ResponseWriter, r *http.Request, err error) {
	e := cart.AsError(err)
	status := map[cart.Code]int{cart.RateLimited: 429, cart.Unavailable: 503, cart.TooLarge: 413, cart.Malformed: 400}[e.Code]
	w.WriteHeader(status)
	fmt.Fprint(w, e.Reason)
}

func TestWrapCapsRequestsInFlight(t *testing.T) {
	const capacity = 2
	g := limits.New(limits.Config{MaxInFlight: capacity})
	entered := make(chan struct{}, capacity)
	release := make(chan struct{})
	var served atomic.Int64
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		served.Add(1)
		io.WriteString(w, "ok")
	})
	h := g.Wrap(slow, limits.Door{Fail: failWith, Exempt: func(r *http.Request) bool { return r.URL.Path == "/healthz" }})
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(path string) (int, string, http.Header) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Error(err)
			return 0, "", nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	var wg sync.WaitGroup
	for range capacity {
		wg.Go(func() {
			if status, _, _ := get("/slow"); status != 200 {
				t.Errorf("held request: %d", status)
			}
		})
	}
	for range capacity {
		<-entered
	}
	if n := g.InFlight(); n != capacity {
		t.Fatalf("in flight = %d, want %d", n, capacity)
	}
	// Every slot is held: more requests than the cap are refused at once, not queued.
	for i := range 2 * capacity {
		status, body, h := get(fmt.Sprintf("/other/%d", i))
		if status != 503 || body != limits.Overloaded || h.Get("Retry-After") != "1" {
			t.Fatalf("request beyond the cap: %d %q Retry-After %q, want 503 overloaded 1", status, body, h.Get("Retry-After"))
		}
	}
	if status, _, _ := get("/healthz"); status != 200 {
		t.Fatalf("exempt probe while at capacity: %d", status)
	}
	close(release)
	wg.Wait()
	if n := g.InFlight(); n != 0 {
		t.Fatalf("in flight after the held requests finished = %d", n)
	}
	if status, _, _ := get("/other"); status != 200 {
		t.Fatalf("after the load: %d", status)
	}
	if n := served.Load(); n != capacity+2 {
		t.Fatalf("served %d requests, want %d (the refused ones never reach the handler)", n, capacity+2)
	}
}

func TestWrapCapsBodies(t *testing.T) {
	g := limits.New(limits.Config{MaxBody: 10})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			failWith(w, r, cart.Errorf(cart.TooLarge, limits.TooLarge, "too large"))
			return
		}
		io.WriteString(w, "ok")
	})
	h := g.Wrap(echo, limits.Door{Fail: failWith})
	tests := []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"a body within the cap passes", "0123456789", false, 200},
		{"a declared length over the cap is refused before reading", "0123456789a", false, 413},
		{"a chunked body over the cap is cut off while read", strings.Repeat("x", 100), true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestWrapLimitsByCredential(t *testing.T) {
	g := limits.New(limits.Config{Key: limits.Rate{PerSecond: 1, Burst: 1}, Now: newClock().Now})
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		limits.Door{Fail: failWith, Credential: limits.Bearer})
	k1, k2 := auth.NewSecret(auth.KeyPrefix), auth.NewSecret(auth.KeyPrefix)
	for i, tt := range []struct {
		key  string
		want int
	}{{k1, 200}, {k1, 429}, {k2, 200}, {k1, 429}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("10.0.0.1:1", tt.key))
		if w.Code != tt.want {
			t.Fatalf("request %d: %d, want %d", i, w.Code, tt.want)
		}
	}
}

func TestNilGuardLimitsNothing(t *testing.T) {
	var g *limits.Guard
	if err := g.Limit(httptest.NewRecorder(), request("10.0.0.1:1", ""), ""); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if h := g.Wrap(next, limits.Door{}); h == nil {
		t.Fatal("nil handler")
	}
	var d *limits.Drainer
	if d.Draining() {
		t.Fatal("a nil Drainer drains")
	}
}

// BenchmarkGuard is the cost the Guard adds to every request: a Bearer credential among
// 1,024, through Wrap with the in-flight cap, from parallel clients ("on"), against the same
// handler unguarded ("off") in the same run.
func BenchmarkGuard(b *testing.B) {
	const principals = 1024
	reqs := make([]*http.Request, principals)
	for i := range reqs {
		prefix := auth.KeyPrefix
		if i%2 == 1 {
			prefix = auth.TokenPrefix
		}
		reqs[i] = request(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256), auth.NewSecret(prefix))
	}
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, bb := range []struct {
		name string
		g    *limits.Guard
	}{
		{"off", nil},
		{"on", limits.New(limits.Config{
			Key:         limits.Rate{PerSecond: 1e9, Burst: 1e9},
			Customer:    limits.Rate{PerSecond: 1e9, Burst: 1e9},
			MaxInFlight: 1 << 20,
		})},
	} {
		b.Run(bb.name, func(b *testing.B) {
			h := bb.g.Wrap(next, limits.Door{Fail: failWith, Credential: limits.Bearer})
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				i := int(n.Add(1))
				for pb.Next() {
					h.ServeHTTP(w, reqs[i%principals])
					i++
				}
			})
		})
	}
}

// TestLimitUnrecognizedChargesTheAddress: a credential found to be no valid one is charged to
// its address's bucket after its own, once, whatever its shape; a nil Guard allows it.
func TestLimitUnrecognizedChargesTheAddress(t *testing.T) {
	two := limits.Rate{PerSecond: 1.0 / 3600, Burst: 2}
	tests := []struct {
		name       string
		credential func() string
		served     int // requests from one address, each charged as the guard and then a front door would
	}{
		{"made-up secrets, one per request, share the address's two", func() string { return auth.NewSecret(auth.TokenPrefix) }, 2},
		{"made-up keys likewise", func() string { return auth.NewSecret(auth.KeyPrefix) }, 2},
		{"made-up sessions likewise", func() string { return auth.NewSecret(auth.SessionPrefix) }, 2},
		{"a credential of no cartd shape was charged to the address once, not twice", func() string { return "not-a-cartd-secret" }, 2},
		{"no credential at all", func() string { return "" }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := limits.New(limits.Config{Key: limits.Rate{PerSecond: 1, Burst: 100}, Customer: limits.Rate{PerSecond: 1, Burst: 100}, Anonymous: two, Now: newClock().Now})
			served := 0
			for range 10 {
				c := tt.credential()
				r := request("192.0.2.7:4000", c)
				if limit(t, g, r, c) != 200 {
					continue
				}
				if err := g.LimitUnrecognized(httptest.NewRecorder(), r, c); err != nil {
					continue
				}
				served++
			}
			if served != tt.served {
				t.Fatalf("%d requests served, want %d", served, tt.served)
			}
			if limit(t, g, request("192.0.2.8:4000", ""), "") != 200 {
				t.Fatalf("another address was charged")
			}
		})
	}
	var nilGuard *limits.Guard
	if err := nilGuard.LimitUnrecognized(httptest.NewRecorder(), request("192.0.2.7:4000", ""), auth.NewSecret(auth.TokenPrefix)); err != nil {
		t.Fatalf("a nil Guard refused: %v", err)
	}
}
