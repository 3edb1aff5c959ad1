package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cartd/cartd/auth"
)

// served is a cartd started by run on a free loopback port with a temporary SQLite file.
type served struct {
	base   string
	key    string
	stderr *syncBuffer
	client *http.Client
}

// startServed runs cartd serve with args until the test ends, and waits until it answers.
func startServed(t *testing.T, vars map[string]string, args ...string) *served {
	t.Helper()
	return startServedOn(t, "sqlite:"+filepath.Join(t.TempDir(), "cartd.db"), auth.NewSecret(auth.KeyPrefix), vars, args...)
}

// startServedOn is startServed on the database db, with the admin key key.
func startServedOn(t *testing.T, db, key string, vars map[string]string, args ...string) *served {
	t.Helper()
	addr := freeAddr(t)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["CARTD_ADMIN_KEY"] = key
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	exited := make(chan int, 1)
	args = append([]string{"serve", "--addr", addr, "--db", db}, args...)
	go func() { exited <- run(ctx, args, env(vars), &syncBuffer{}, stderr) }()
	client := &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Error("cartd did not stop within 30s of its context ending")
		}
	})
	s := &served{base: "http://" + addr, key: key, stderr: stderr, client: client}
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := client.Get(s.base + "/healthz"); err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd exited %d before serving\n%s", code, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cartd did not serve within a minute\n%s", stderr)
		}
	}
}

// do sends a request with the given headers (and the admin key unless the headers set
// Authorization to "") and returns the response with its body read.
func (s *served) do(t *testing.T, method, path string, header map[string]string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

func (s *served) must(t *testing.T, want int, method, path string, header map[string]string, body any) (*http.Response, []byte) {
	t.Helper()
	resp, raw := s.do(t, method, path, header, body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	return resp, raw
}

// scrape reads and parses a /metrics answer.
func scrape(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value is the value of the sample of family name with exactly the given labels (a
// histogram's count), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func route(route, door, class string) map[string]string {
	return map[string]string{"route": route, "front_door": door, "status_class": class}
}

// TestMetricsAndLogsOfRealRequests sends requests through every front door of a running
// cartd, then scrapes /metrics and reads the access log.
func TestMetricsAndLogsOfRealRequests(t *testing.T) {
	s := startServed(t, nil)
	s.must(t, 200, "PUT", "/v1/products/prod_obs", nil, map[string]any{"name": "Obs",
		"variants": []map[string]any{{"id": "var_obs", "sku": "OBS", "price": map[string]int64{"USD": 500}}}})
	s.must(t, 200, "PUT", "/v1/inventory/OBS", nil, map[string]int64{"on_hand": 5})
	_, raw := s.must(t, 201, "POST", "/v1/carts", nil, map[string]string{"currency": "USD"})
	c := decodeCartBody(t, raw)

	// Quantity outcomes: set, clamped, rejected; then stock lowered under the line, and the
	// line removed.
	resp, raw := s.must(t, 200, "POST", "/v1/carts/"+c.ID+"/items", map[string]string{"X-Request-Id": "test-req-1"},
		map[string]any{"sku": "OBS", "quantity": 2})
	if got := resp.Header.Get("X-Request-Id"); got != "test-req-1" {
		t.Errorf("X-Request-Id echoed %q, want the client's test-req-1", got)
	}
	item := decodeCartBody(t, raw).Items[0].ID
	s.must(t, 200, "PUT", "/v1/carts/"+c.ID+"/items/"+item, nil, map[string]any{"quantity": 9, "stock_policy": "clamp"})
	s.must(t, 409, "PUT", "/v1/carts/"+c.ID+"/items/"+item, nil, map[string]any{"quantity": 20})
	s.must(t, 200, "PUT", "/v1/inventory/OBS", nil, map[string]int64{"on_hand": 2}) // the line held 5
	before := scrape(t, s.client, s.base+"/metrics")
	s.must(t, 200, "DELETE", "/v1/carts/"+c.ID+"/items/"+item, nil, nil)

	// An idempotent replay.
	for range 2 {
		s.must(t, 201, "POST", "/v1/carts", map[string]string{"Idempotency-Key": "obs-1"}, map[string]string{"currency": "USD"})
	}
	// Unmatched paths, under the native API and under a dialect, and each dialect's route.
	s.must(t, 404, "GET", "/v1/nope-12345", nil, nil)
	s.must(t, 404, "GET", "/api/cart/nope-67890", nil, nil)
	s.must(t, 401, "POST", "/api/cart/update-item", map[string]string{"Authorization": ""}, nil)
	s.must(t, 401, "POST", "/buy/browse/v1/shopping_cart/update_quantity", map[string]string{"Authorization": ""}, nil)
	s.must(t, 401, "POST", "/services/v1/cart/set_qty", map[string]string{"Authorization": ""}, nil)
	s.must(t, 200, "GET", "/api/v1/cart/", map[string]string{"Authorization": ""}, nil)
	// A request id unfit to log is replaced.
	resp, _ = s.must(t, 200, "GET", "/healthz", map[string]string{"X-Request-Id": "two words"}, nil)
	if got := resp.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
		t.Errorf("a bad client X-Request-Id came back as %q, want a generated 32-hex-digit id", got)
	}

	after := scrape(t, s.client, s.base+"/metrics")
	for _, tt := range []struct {
		name   string
		fams   map[string]*dto.MetricFamily
		metric string
		labels map[string]string
		want   float64
	}{
		{"an add", after, "cartd_http_requests_total", route("POST /v1/carts/{id}/items", "native", "2xx"), 1},
		{"an add's latency", after, "cartd_http_request_duration_seconds", route("POST /v1/carts/{id}/items", "native", "2xx"), 1},
		{"a clamped set", after, "cartd_http_requests_total", route("PUT /v1/carts/{id}/items/{item_id}", "native", "2xx"), 1},
		{"a rejected set", after, "cartd_http_requests_total", route("PUT /v1/carts/{id}/items/{item_id}", "native", "4xx"), 1},
		{"the cart creations, a replay among them", after, "cartd_http_requests_total", route("POST /v1/carts", "native", "2xx"), 3},
		{"an unknown native path", after, "cartd_http_requests_total", route("unmatched", "native", "4xx"), 1},
		{"an unknown SourceHub path", after, "cartd_http_requests_total", route("unmatched", "sourcehub", "4xx"), 1},
		{"SourceHub", after, "cartd_http_requests_total", route("POST /api/cart/update-item", "sourcehub", "4xx"), 1},
		{"eBay", after, "cartd_http_requests_total", route("POST /buy/browse/v1/shopping_cart/update_quantity", "ebay", "4xx"), 1},
		{"JackThreads", after, "cartd_http_requests_total", route("POST /services/v1/cart/set_qty", "jackthreads", "4xx"), 1},
		{"the storefront", after, "cartd_http_requests_total", route("GET /api/v1/cart/{$}", "storefront", "2xx"), 1},
		{"quantities set", after, "cartd_quantity_changes_total", map[string]string{"outcome": "set"}, 1},
		{"quantities clamped", after, "cartd_quantity_changes_total", map[string]string{"outcome": "clamped"}, 1},
		{"quantities rejected", after, "cartd_quantity_changes_total", map[string]string{"outcome": "rejected"}, 1},
		{"quantities removed", after, "cartd_quantity_changes_total", map[string]string{"outcome": "removed"}, 1},
		{"quantities backordered", after, "cartd_quantity_changes_total", map[string]string{"outcome": "backordered"}, 0},
		{"units released by the stock decrease", after, "cartd_reservations_released_units_total", map[string]string{"reason": "stock_lowered"}, 3},
		{"units released by expiry", after, "cartd_reservations_released_units_total", map[string]string{"reason": "expired"}, 0},
		{"units held before the removal", before, "cartd_reservations_held_units", nil, 2},
		{"units held after it", after, "cartd_reservations_held_units", nil, 0},
		{"replays", after, "cartd_idempotent_replays_total", nil, 1},
		{"SQLite's retries", after, "cartd_store_transaction_retries_total", map[string]string{"reason": "serialization_failure"}, 0},
	} {
		got, ok := value(tt.fams, tt.metric, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s: %s%v = %v (present: %v), want %v", tt.name, tt.metric, tt.labels, got, ok, tt.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "cartd_sweeper_runs_total"} {
		if after[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, name := range []string{"cartd_http_requests_total", "cartd_http_request_duration_seconds"} {
		for _, m := range after[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "nope") || strings.Contains(l.GetValue(), c.ID) {
					t.Errorf("%s has a label made of a request path: %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}

	// The access log: one JSON line per request, never the secret.
	logged := s.stderr.String()
	if strings.Contains(logged, s.key) {
		t.Error("the log holds the API key's secret")
	}
	lines := s.accessLines(t)
	l := lines["test-req-1"]
	if l == nil {
		t.Fatalf("no access log line has request_id test-req-1:\n%s", logged)
	}
	for k, want := range map[string]any{"level": "INFO", "front_door": "native", "method": "POST",
		"route": "POST /v1/carts/{id}/items", "path": "/v1/carts/" + c.ID + "/items", "status": float64(200), "principal": "key:1"} {
		if l[k] != want {
			t.Errorf("access log %s = %v, want %v", k, l[k], want)
		}
	}
	if d, ok := l["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("access log duration_ms = %v, want a positive number", l["duration_ms"])
	}
	if n, ok := l["bytes"].(float64); !ok || n <= 0 {
		t.Errorf("access log bytes = %v, want the body's size", l["bytes"])
	}
	for id, l := range lines {
		if l["route"] == "POST /api/cart/update-item" {
			if _, has := l["principal"]; has {
				t.Errorf("request %s without credentials logged principal %v", id, l["principal"])
			}
		}
	}
}

// TestMetricsAddrMovesMetricsOffTheAPI runs cartd with --metrics-addr: /metrics answers there,
// and on the API's listener it is the native API's 404 like any unknown path.
func TestMetricsAddrMovesMetricsOffTheAPI(t *testing.T) {
	maddr := freeAddr(t)
	s := startServed(t, map[string]string{"CARTD_METRICS_ADDR": maddr})
	resp, raw := s.must(t, 404, "GET", "/metrics", map[string]string{"Authorization": ""}, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || !strings.Contains(string(raw), "route_not_found") {
		t.Errorf("/metrics on the API listener answered %s %s, want the native 404", ct, raw)
	}
	fams := scrape(t, s.client, "http://"+maddr+"/metrics")
	if got, ok := value(fams, "cartd_http_requests_total", route("unmatched", "native", "4xx")); !ok || got != 1 {
		t.Errorf("the metrics listener counts %v unmatched requests (present: %v), want 1", got, ok)
	}
}

// TestCORS runs cartd with --cors-origins and checks what browsers on allowed and other
// origins are told.
func TestCORS(t *testing.T) {
	s := startServed(t, nil, "--cors-origins", "https://shop.example, http://localhost:3000")
	preflight := func(origin string) map[string]string {
		return map[string]string{"Authorization": "", "Origin": origin, "Access-Control-Request-Method": "PATCH",
			"Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}
	}
	t.Run("a preflight from an allowed origin is answered", func(t *testing.T) {
		resp, _ := s.must(t, 204, "OPTIONS", "/v1/carts/cart_1/items", preflight("https://shop.example"), nil)
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "https://shop.example",
			"Access-Control-Allow-Credentials": "true",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		for k, wants := range map[string][]string{
			"Access-Control-Allow-Methods": {"PATCH", "DELETE"},
			"Access-Control-Allow-Headers": {"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "Prefer", "X-Request-Id"},
		} {
			for _, want := range wants {
				if !strings.Contains(resp.Header.Get(k), want) {
					t.Errorf("%s = %q, lacks %s", k, resp.Header.Get(k), want)
				}
			}
		}
	})
	t.Run("a preflight from another origin gets no CORS headers", func(t *testing.T) {
		resp, _ := s.do(t, "OPTIONS", "/v1/carts/cart_1/items", preflight("https://evil.example"), nil)
		if resp.StatusCode == 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("answered %d with Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("a response to an allowed origin names it and exposes cartd's headers", func(t *testing.T) {
		resp, _ := s.must(t, 201, "POST", "/v1/carts", map[string]string{"Origin": "http://localhost:3000"}, map[string]string{})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
			t.Errorf("Access-Control-Allow-Origin = %q", got)
		}
		expose := resp.Header.Get("Access-Control-Expose-Headers")
		for _, h := range []string{"ETag", "Idempotent-Replayed", "Preference-Applied", "X-Request-Id", "Retry-After", "RateLimit"} {
			if !strings.Contains(expose, h) {
				t.Errorf("Access-Control-Expose-Headers = %q, lacks %s", expose, h)
			}
		}
	})
	t.Run("a response to another origin does not", func(t *testing.T) {
		resp, _ := s.must(t, 201, "POST", "/v1/carts", map[string]string{"Origin": "https://shop.example.evil"}, map[string]string{})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q, want none", got)
		}
		if got := resp.Header.Values("Vary"); !strings.Contains(strings.Join(got, ","), "Origin") {
			t.Errorf("Vary = %q, want Origin: caches must not serve one origin's answer to another", got)
		}
	})
}

// TestCORSOffByDefault checks that without --cors-origins a preflight reaches the API, which
// knows no OPTIONS route.
func TestCORSOffByDefault(t *testing.T) {
	s := startServed(t, nil)
	resp, _ := s.do(t, "OPTIONS", "/v1/carts", map[string]string{"Authorization": "", "Origin": "https://shop.example",
		"Access-Control-Request-Method": "POST"}, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("answered %d with Access-Control-Allow-Origin %q, want the API's 405 and none", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestRunRefusesBadCORSOrigins(t *testing.T) {
	for _, tt := range []struct {
		args []string
		vars map[string]string
	}{
		{[]string{"--cors-origins", "shop.example"}, nil},
		{nil, map[string]string{"CARTD_CORS_ORIGINS": "https://shop.example/path"}},
	} {
		stderr := &syncBuffer{}
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "cartd.db")}, tt.args...)
		if code := run(t.Context(), args, env(tt.vars), &syncBuffer{}, stderr); code != 1 || !strings.Contains(stderr.String(), "--cors-origins") {
			t.Errorf("run %v %v = %d, %q; want 1 and a --cors-origins error", tt.args, tt.vars, code, stderr)
		}
	}
}

// accessLines returns the access log lines logged so far, by request id.
func (s *served) accessLines(t *testing.T) map[string]map[string]any {
	t.Helper()
	lines := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Text())
		}
		if l["msg"] == "request" {
			lines[fmt.Sprint(l["request_id"])] = l
		}
	}
	return lines
}

// TestFrontDoorsReportTheirPrincipal checks that every front door that authenticates names
// who the request acted as in the access log, even when the call then fails, and never the
// secret.
func TestFrontDoorsReportTheirPrincipal(t *testing.T) {
	s := startServed(t, nil)
	_, raw := s.must(t, 201, "POST", "/v1/customers/cust_9/tokens", nil, map[string]any{})
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v: %s", err, raw)
	}
	customer := "token:" + strings.TrimPrefix(tok.ID, "tok_") + " customer:cust_9"
	if !regexp.MustCompile(`^token:\d+ customer:cust_9$`).MatchString(customer) {
		t.Fatalf("token id %q does not give a token number", tok.ID)
	}
	for _, tt := range []struct {
		id, method, path string
		header           map[string]string
		want             string
	}{
		{"native", "GET", "/v1/carts/cart_404", map[string]string{"Authorization": "Bearer " + tok.Token}, customer},
		{"sourcehub", "POST", "/api/cart/update-item", nil, "key:1"},
		{"ebay", "POST", "/buy/browse/v1/shopping_cart/update_quantity", map[string]string{"Authorization": "Bearer " + tok.Token}, customer},
		{"jackthreads", "POST", "/services/v1/cart/set_qty?oauth_token=" + tok.Token, map[string]string{"Authorization": ""}, customer},
		{"a bad key", "GET", "/v1/carts/cart_1", map[string]string{"Authorization": "Bearer sk_wrongwrongwrongwrong"}, ""},
	} {
		tt.header = maps.Clone(tt.header)
		if tt.header == nil {
			tt.header = map[string]string{}
		}
		tt.header["X-Request-Id"] = "principal-" + strings.ReplaceAll(tt.id, " ", "-")
		resp, _ := s.do(t, tt.method, tt.path, tt.header, nil)
		if resp.StatusCode < 400 {
			t.Fatalf("%s %s answered %d: the test means to fail after authenticating", tt.method, tt.path, resp.StatusCode)
		}
		l := s.accessLines(t)[tt.header["X-Request-Id"]]
		if l == nil {
			t.Fatalf("%s: no access log line", tt.id)
		}
		got, _ := l["principal"].(string)
		if got != tt.want {
			t.Errorf("%s: access log principal %q, want %q", tt.id, got, tt.want)
		}
	}
	if strings.Contains(s.stderr.String(), tok.Token) || strings.Contains(s.stderr.String(), s.key) {
		t.Error("the log holds a secret")
	}
}
