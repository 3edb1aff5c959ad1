package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/store/sqlite"
)

// guardedNode is every front door of cartd, as serve mounts them, configured by flags, over a
// real SQLite file and loopback HTTP.
type guardedNode struct {
	url     string
	eng     *engine.Engine
	drainer *limits.Drainer
	admin   string
}

func startGuardedNode(t *testing.T, args ...string) *guardedNode {
	t.Helper()
	return startGuardedNodeWith(t, nil, args...)
}

// startGuardedNodeWith is startGuardedNode with the parsed configuration changed by edit.
func startGuardedNodeWith(t *testing.T, edit func(c *config), args ...string) *guardedNode {
	t.Helper()
	c, _, err := parseConfig("serve", args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&c)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	admin, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		t.Fatal(err)
	}
	d := &limits.Drainer{}
	srv := httptest.NewServer(handler(eng, c, slog.New(slog.DiscardHandler), d))
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &guardedNode{url: srv.URL, eng: eng, drainer: d, admin: admin}
}

// customerToken issues a customer token for customer 9.
func customerToken(t *testing.T, n *guardedNode) string {
	t.Helper()
	p, err := n.eng.Authenticate(context.Background(), n.admin)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := n.eng.IssueToken(context.Background(), p, "9", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// door is one front door's request and how it words a refusal.
type door struct {
	name string
	// request is a call of the door presenting credential.
	request func(base, credential string) *http.Request
	// credential makes a credential the door takes.
	credential func(t *testing.T, n *guardedNode) string
	// refusal checks that a body is the door's own shape of an error with this status.
	refusal func(t *testing.T, status int, body []byte)
}

func jsonBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	return m
}

func newRequest(method, url, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		panic(err)
	}
	return r
}

var doors = []door{
	{
		name: "native API",
		request: func(base, credential string) *http.Request {
			r := newRequest("GET", base+"/v1/carts/cart_1", "")
			r.Header.Set("Authorization", "Bearer "+credential)
			return r
		},
		credential: customerToken,
		refusal: func(t *testing.T, status int, body []byte) {
			m := jsonBody(t, body)
			want := map[int]string{429: "rate_limited", 503: "overloaded"}[status]
			if m["code"] != want || m["status"] != float64(status) {
				t.Fatalf("problem %s, want code %s status %d", body, want, status)
			}
		},
	},
	{
		name: "SourceHub",
		request: func(base, credential string) *http.Request {
			r := newRequest("POST", base+"/api/cart/update-item?quantity=1&customer_id=9&cart_id=1", "")
			r.Header.Set("Authorization", "Bearer "+credential)
			return r
		},
		credential: func(t *testing.T, n *guardedNode) string {
			k, _, err := n.eng.CreateKey(context.Background(), []auth.Scope{auth.CartsWrite}, "sourcehub")
			if err != nil {
				t.Fatal(err)
			}
			return k
		},
		refusal: func(t *testing.T, status int, body []byte) {
			e, _ := jsonBody(t, body)["error"].(map[string]any)
			want := map[int]string{429: "RATE_LIMIT_ERROR", 503: "SERVICE_UNAVAILABLE"}[status]
			if e["code"] != want || e["status_code"] != float64(status) || e["description"] == "" {
				t.Fatalf("envelope %s, want code %s status_code %d", body, want, status)
			}
		},
	},
	{
		name: "eBay",
		request: func(base, credential string) *http.Request {
			r := newRequest("POST", base+"/buy/browse/v1/shopping_cart/update_quantity", `{"cartItemId":"ci_1","quantity":2}`)
			r.Header.Set("Authorization", "Bearer "+credential)
			r.Header.Set("X-EBAY-C-MARKETPLACE-ID", "EBAY_US")
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		credential: customerToken,
		refusal: func(t *testing.T, status int, body []byte) {
			errs, _ := jsonBody(t, body)["errors"].([]any)
			want := map[int]float64{429: 2001, 503: 10000}[status]
			if len(errs) != 1 || errs[0].(map[string]any)["errorId"] != want {
				t.Fatalf("errors %s, want errorId %v", body, want)
			}
		},
	},
	{
		name: "JackThreads",
		request: func(base, credential string) *http.Request {
			r := newRequest("POST", base+"/services/v1/cart/set_qty", url.Values{"qty": {"1"}, "sku": {"NONE"}, "oauth_token": {credential}}.Encode())
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
		credential: customerToken,
		refusal: func(t *testing.T, status int, body []byte) {
			m := jsonBody(t, body)
			want := map[int]string{429: "rate_limited", 503: "overloaded"}[status]
			if m["success"] != false || m["code"] != want {
				t.Fatalf("failure %s, want code %s", body, want)
			}
		},
	},
	{
		name: "storefront",
		request: func(base, credential string) *http.Request {
			r := newRequest("GET", base+"/api/v1/cart/", "")
			r.AddCookie(&http.Cookie{Name: "sessionid", Value: credential})
			return r
		},
		// The limit reads the cookie's shape, not the store: any session secret has a bucket.
		credential: func(*testing.T, *guardedNode) string { return auth.NewSecret(auth.SessionPrefix) },
		refusal: func(t *testing.T, status int, body []byte) {
			if d, _ := jsonBody(t, body)["detail"].(string); d == "" {
				t.Fatalf("body %s, want REST framework's {\"detail\": ...}", body)
			}
		},
	},
}

func send(t *testing.T, r *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// TestEveryFrontDoorAnswers429InItsOwnShape exhausts one credential's bucket at each front
// door: the next request is 429 in the door's error shape with Retry-After, and another
// credential at the same door is unaffected.
func TestEveryFrontDoorAnswers429InItsOwnShape(t *testing.T) {
	n := startGuardedNode(t, "--rate-limit", "0.001", "--rate-burst", "1", "--rate-limit-key", "0.001", "--rate-burst-key", "1")
	for _, d := range doors {
		t.Run(d.name, func(t *testing.T) {
			limited, other := d.credential(t, n), d.credential(t, n)
			if status, _, body := send(t, d.request(n.url, limited)); status == 429 {
				t.Fatalf("first request refused: %s", body)
			}
			status, h, body := send(t, d.request(n.url, limited))
			if status != 429 {
				t.Fatalf("second request: %d, want 429: %s", status, body)
			}
			if ra := h.Get("Retry-After"); (ra != "1000" && ra != "999") || h.Get("RateLimit") == "" || h.Get("RateLimit-Policy") == "" {
				t.Fatalf("429 headers: %v", h)
			}
			d.refusal(t, status, body)
			if status, _, body := send(t, d.request(n.url, other)); status == 429 {
				t.Fatalf("another credential refused: %s", body)
			}
		})
	}
}

// TestEveryFrontDoorAnswers503AtCapacity holds the node's one slot with a request held
// before its handler (the guard's Admitted hook; a body that trickles holds no slot, since
// bodies are read first), and sends each door's request: each is refused at once with 503 in
// the door's shape, and the held request completes afterwards.
func TestEveryFrontDoorAnswers503AtCapacity(t *testing.T) {
	open := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(open) }) }
	defer release()
	n := startGuardedNodeWith(t, func(c *config) {
		c.limits.admitted = func(r *http.Request) {
			if r.Header.Get("X-Hold") != "" {
				<-open
			}
		}
	}, "--max-in-flight", "1", "--rate-limit", "0", "--rate-limit-anon", "0")
	u, _ := url.Parse(n.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"currency": "USD"}`
	fmt.Fprintf(conn, "POST /v1/carts HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Hold: 1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		u.Host, n.admin, len(body), body)
	// Wait until the held request has its slot: a probe of a guarded route answers 503.
	for {
		status, _, _ := send(t, newRequest("GET", n.url+"/v1/settings", ""))
		if status == 503 {
			break
		}
		time.Sleep(time.Millisecond) // waiting for a condition, not timing anything
	}
	var wg sync.WaitGroup
	for _, d := range doors {
		wg.Go(func() {
			t.Run(d.name, func(t *testing.T) {
				status, h, body := send(t, d.request(n.url, d.credential(t, n)))
				if status != 503 || h.Get("Retry-After") != "1" {
					t.Fatalf("status %d Retry-After %q, want 503 and 1: %s", status, h.Get("Retry-After"), body)
				}
				d.refusal(t, status, body)
			})
		})
	}
	wg.Wait()
	if status, _, _ := send(t, newRequest("GET", n.url+"/readyz", "")); status != 200 {
		t.Fatalf("readiness probe at capacity: %d", status)
	}
	release()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("held request: %d, want 201", resp.StatusCode)
	}
}

func TestLimitFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		ok   bool
		want func(c config) bool
	}{
		{"defaults", nil, nil, true, func(c config) bool {
			l := c.limits
			return l.rate == 20 && l.burst == 40 && l.rateKey == 0 && l.rateAnon == 20 && l.maxInFlight == 512 &&
				l.maxBody == 1<<20 && l.readTimeout == 30*time.Second && l.writeTimeout == 30*time.Second &&
				l.idleTimeout == 120*time.Second && l.readHeaderTimeout == 5*time.Second && l.shutdownDrain == 0
		}},
		{"environment twins", nil, map[string]string{"CARTD_RATE_LIMIT": "5", "CARTD_RATE_BURST_KEY": "7", "CARTD_MAX_IN_FLIGHT": "3",
			"CARTD_MAX_BODY": "4096", "CARTD_WRITE_TIMEOUT": "1m", "CARTD_SHUTDOWN_DRAIN": "5s", "CARTD_CLIENT_IP_HEADER": "X-Real-IP"}, true,
			func(c config) bool {
				l := c.limits
				return l.rate == 5 && l.burstKey == 7 && l.maxInFlight == 3 && l.maxBody == 4096 && l.writeTimeout == time.Minute &&
					l.shutdownDrain == 5*time.Second && l.clientIPHeader == "X-Real-IP"
			}},
		{"flags win over the environment", []string{"--rate-limit-anon", "0"}, map[string]string{"CARTD_RATE_LIMIT_ANON": "9"}, true,
			func(c config) bool { return c.limits.rateAnon == 0 }},
		{"a negative rate", []string{"--rate-limit", "-1"}, nil, false, nil},
		{"a negative in-flight cap", []string{"--max-in-flight", "-1"}, nil, false, nil},
		{"a zero body cap", []string{"--max-body", "0"}, nil, false, nil},
		{"a negative timeout", []string{"--idle-timeout", "-1s"}, nil, false, nil},
		{"a bad environment value", nil, map[string]string{"CARTD_READ_TIMEOUT": "soon"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseConfig("serve", tt.args, env(tt.env), io.Discard)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !tt.want(c) {
				t.Fatalf("config %+v", c.limits)
			}
		})
	}
}
