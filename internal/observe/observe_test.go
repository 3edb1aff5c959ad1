package observe

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/internal/reqinfo"
)

// frontDoors builds cartd's shape of handler: an outer mux mounting front doors, each serving
// through an inner mux of method-qualified patterns, one of which reports a principal.
func frontDoors() http.Handler {
	native := http.NewServeMux()
	native.HandleFunc("GET /v1/carts/{id}", func(w http.ResponseWriter, r *http.Request) {
		reqinfo.SetPrincipal(r.Context(), auth.Principal{KeyNum: 7, Scopes: []auth.Scope{auth.Admin}})
		w.Write([]byte("cart"))
	})
	dialect := http.NewServeMux()
	dialect.HandleFunc("POST /api/cart/update-item", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	outer := http.NewServeMux()
	outer.Handle("/", native)
	outer.Handle("/api/cart/", dialect)
	return outer
}

func newTestMiddleware(t testing.TB, cors string, logs io.Writer) (*Middleware, *Metrics) {
	t.Helper()
	c, err := ParseCORSOrigins(cors)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	return New(frontDoors(), Config{
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		Metrics:    m,
		FrontDoors: []FrontDoor{{Name: "sourcehub", Prefix: "/api/cart/"}},
		CORS:       c,
	}), m
}

func TestRoutesAreLabelledByPattern(t *testing.T) {
	mw, m := newTestMiddleware(t, "", io.Discard)
	for _, tt := range []struct {
		method, path       string
		route, door, class string
	}{
		{"GET", "/v1/carts/cart_1", "GET /v1/carts/{id}", "native", "2xx"},
		{"GET", "/v1/carts/cart_2", "GET /v1/carts/{id}", "native", "2xx"},
		{"DELETE", "/v1/carts/cart_2", RouteUnmatched, "native", "4xx"}, // 405
		{"GET", "/v1/random/path", RouteUnmatched, "native", "4xx"},
		{"POST", "/api/cart/update-item", "POST /api/cart/update-item", "sourcehub", "4xx"},
		{"GET", "/api/cart/other", RouteUnmatched, "sourcehub", "4xx"},
		{"GET", "/v1/../v1/carts/x", RouteUnmatched, "native", "3xx"}, // the mux's path cleaning
	} {
		rec := httptest.NewRecorder()
		mw.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.route, tt.door, tt.class)); got < 1 {
			t.Errorf("%s %s (status %d): no request counted as route=%q front_door=%q status_class=%q", tt.method, tt.path, rec.Code, tt.route, tt.door, tt.class)
		}
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("GET /v1/carts/{id}", "native", "2xx")); got != 2 {
		t.Errorf("two reads of two carts counted %v times under their pattern, want 2", got)
	}
	if n := testutil.CollectAndCount(m.requests); n != 5 {
		t.Errorf("%d series for 7 requests, want 5 (one per pattern, front door and class)", n)
	}
}

func TestRequestID(t *testing.T) {
	var logs bytes.Buffer
	mw, _ := newTestMiddleware(t, "", &logs)
	for _, tt := range []struct {
		name, sent string
		kept       bool
	}{
		{"a UUID is kept", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"a token with punctuation is kept", "req:42/a+b=c@edge_1.x", true},
		{"none is generated", "", false},
		{"one with a space is replaced", "two words", false},
		{"one with a quote is replaced", `a"b`, false},
		{"one over 128 characters is replaced", strings.Repeat("a", MaxRequestID+1), false},
		{"one of 128 characters is kept", strings.Repeat("a", MaxRequestID), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			req := httptest.NewRequest("GET", "/v1/carts/cart_1", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			rec := httptest.NewRecorder()
			mw.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			if tt.kept && got != tt.sent {
				t.Errorf("X-Request-Id = %q, want the client's %q", got, tt.sent)
			}
			if !tt.kept && (got == tt.sent || len(got) != 32) {
				t.Errorf("X-Request-Id = %q, want a generated id of 32 hex digits", got)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("access log %q: %v", logs.String(), err)
			}
			if line["request_id"] != got || line["principal"] != "key:7" || line["route"] != "GET /v1/carts/{id}" || line["status"] != float64(200) {
				t.Errorf("access log %v, want request_id %s, principal key:7, the route and status 200", line, got)
			}
		})
	}
}

func TestErrorLogsCarryTheRequestID(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(reqinfo.LogHandler(slog.NewJSONHandler(&logs, nil)))
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.ErrorContext(r.Context(), "request failed", "err", "boom")
		w.WriteHeader(500)
	})
	mw := New(inner, Config{Logger: log})
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-Id", "req-500")
	mw.ServeHTTP(httptest.NewRecorder(), req)
	var levels []string
	for _, raw := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatal(err)
		}
		if line["request_id"] != "req-500" {
			t.Errorf("log line %s lacks request_id req-500", raw)
		}
		if bytes.Count(raw, []byte(`"request_id"`)) != 1 {
			t.Errorf("log line %s names request_id more than once", raw)
		}
		levels = append(levels, line["level"].(string)+" "+line["msg"].(string))
	}
	if strings.Join(levels, ", ") != "ERROR request failed, WARN request" {
		t.Errorf("logged %q, want the handler's error then the access line at WARN", levels)
	}
}

func TestCORSPolicy(t *testing.T) {
	for _, tt := range []struct {
		name, origins, method, origin, preflight string
		status                                   int
		allowOrigin, credentials                 string
	}{
		{"off: no headers", "", "GET", "https://shop.example", "", 200, "", ""},
		{"off: a preflight reaches the front door", "", "OPTIONS", "https://shop.example", "GET", 405, "", ""},
		{"a listed origin is echoed with credentials", "https://shop.example", "GET", "https://shop.example", "", 200, "https://shop.example", "true"},
		{"origins compare without case", "https://Shop.Example", "GET", "https://shop.example", "", 200, "https://shop.example", "true"},
		{"another origin gets nothing", "https://shop.example", "GET", "https://other.example", "", 200, "", ""},
		{"another port is another origin", "https://shop.example", "GET", "https://shop.example:8443", "", 200, "", ""},
		{"a preflight of a listed origin is answered", "https://shop.example", "OPTIONS", "https://shop.example", "PATCH", 204, "https://shop.example", "true"},
		{"a preflight of another origin reaches the front door", "https://shop.example", "OPTIONS", "https://other.example", "PATCH", 405, "", ""},
		{"an OPTIONS without a requested method is no preflight", "https://shop.example", "OPTIONS", "https://shop.example", "", 405, "https://shop.example", "true"},
		{"* allows any origin, without credentials", "*", "GET", "https://any.example", "", 200, "*", ""},
		{"no Origin, no headers", "*", "GET", "", "", 200, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mw, _ := newTestMiddleware(t, tt.origins, io.Discard)
			req := httptest.NewRequest(tt.method, "/v1/carts/cart_1", nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.preflight != "" {
				req.Header.Set("Access-Control-Request-Method", tt.preflight)
			}
			rec := httptest.NewRecorder()
			mw.ServeHTTP(rec, req)
			h := rec.Header()
			if rec.Code != tt.status || h.Get("Access-Control-Allow-Origin") != tt.allowOrigin || h.Get("Access-Control-Allow-Credentials") != tt.credentials {
				t.Errorf("answered %d, Allow-Origin %q, Allow-Credentials %q; want %d, %q, %q", rec.Code,
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), tt.status, tt.allowOrigin, tt.credentials)
			}
			if tt.status == 204 && (!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Idempotency-Key") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH")) {
				t.Errorf("preflight allows headers %q and methods %q", h.Get("Access-Control-Allow-Headers"), h.Get("Access-Control-Allow-Methods"))
			}
		})
	}
}

func TestParseCORSOrigins(t *testing.T) {
	for _, tt := range []struct {
		list string
		ok   bool
	}{
		{"", true},
		{"https://shop.example", true},
		{" https://shop.example , http://localhost:3000/ ", true},
		{"*", true},
		{"shop.example", false},
		{"https://shop.example/path", false},
		{"ftp://shop.example", false},
		{"https://shop.example?x=1", false},
	} {
		if _, err := ParseCORSOrigins(tt.list); (err == nil) != tt.ok {
			t.Errorf("ParseCORSOrigins(%q) = %v, want ok %v", tt.list, err, tt.ok)
		}
	}
}

// BenchmarkMiddleware measures what the middleware adds to a request: compare with
// BenchmarkBare, the same handler without it.
func BenchmarkMiddleware(b *testing.B) {
	mw, _ := newTestMiddleware(b, "https://shop.example", io.Discard)
	benchmarkHandler(b, mw)
}

func BenchmarkBare(b *testing.B) { benchmarkHandler(b, frontDoors()) }

func benchmarkHandler(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/v1/carts/cart_1", nil)
	req.Header.Set("X-Request-Id", "bench-1")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddlewareNoLog is BenchmarkMiddleware without the access log line: what the
// request id, CORS and metrics cost alone.
func BenchmarkMiddlewareNoLog(b *testing.B) {
	mw, _ := newTestMiddleware(b, "https://shop.example", io.Discard)
	mw.cfg.Logger = nil
	benchmarkHandler(b, mw)
}
