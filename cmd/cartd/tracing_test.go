package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/tracing"
	"github.com/cartd/cartd/store/sqlite"
)

// tracedServer serves cartd's whole handler (every front door, behind the observe
// middleware) with tracing into an in-process recorder, and logs to log.
func tracedServer(t *testing.T, log io.Writer) (*httptest.Server, string, *tracetest.SpanRecorder) {
	t.Helper()
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tracer, shutdown, err := tracing.StartWith(ctx, rec, tracing.Build{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := parseConfig("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.tracer = tracer
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := newLogger("json", log)
	eng := engine.New(st, engine.Config{Logger: logger, Tracer: tracer})
	key, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "test")
	if err != nil {
		t.Fatal(err)
	}
	reg, metrics := newMetrics()
	hs := httptest.NewServer(observed(handler(eng, c, logger, &limits.Drainer{}), c, reg, metrics, logger))
	t.Cleanup(func() { hs.Close(); shutdown(ctx); st.Close() })
	return hs, key, rec
}

func TestTracingFollowsARequestThroughTheEngineAndTheStore(t *testing.T) {
	var logs syncBuffer
	hs, key, rec := tracedServer(t, &logs)
	call := func(method, path, body string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode >= 300 {
			raw, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return resp
	}
	call("PUT", "/v1/products/prod_t", `{"name":"T","variants":[{"id":"var_t","sku":"T","price":{"USD":100}}]}`)
	call("PUT", "/v1/inventory/T", `{"on_hand":10}`)
	var cart struct{ ID string }
	json.NewDecoder(call("POST", "/v1/carts", `{"currency":"USD"}`).Body).Decode(&cart)
	var added struct{ Items []struct{ ID string } }
	json.NewDecoder(call("POST", "/v1/carts/"+cart.ID+"/items", `{"sku":"T","quantity":1}`).Body).Decode(&added)
	rec.Reset()
	mark := len(logs.String())

	// The caller's trace: cartd's spans join it.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	call("PATCH", "/v1/carts/"+cart.ID+"/items/"+added.Items[0].ID, `{"quantity":3}`,
		"traceparent", "00-"+traceID+"-"+parentID+"-01")

	spans := rec.Ended()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
		if got := s.SpanContext().TraceID().String(); got != traceID {
			t.Errorf("span %s is in trace %s, not the caller's %s", s.Name(), got, traceID)
		}
	}
	server, ok := byName["PATCH /v1/carts/{id}/items/{item_id}"]
	if !ok {
		t.Fatalf("no server span named by the route; spans: %v", names(spans))
	}
	if got := server.Parent().SpanID().String(); got != parentID {
		t.Errorf("the server span's parent is %s, want the traceparent's %s", got, parentID)
	}
	wantAttrs(t, server, map[string]any{"http.route": "PATCH /v1/carts/{id}/items/{item_id}", "http.response.status_code": int64(200), "cartd.front_door": "native", "cartd.principal": "key:1"})
	call_, ok := byName["engine.Update"]
	if !ok {
		t.Fatalf("no engine.Update span; spans: %v", names(spans))
	}
	if call_.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Error("the engine span is not the server span's child")
	}
	wantAttrs(t, call_, map[string]any{"cartd.cart.id": cart.ID, "cartd.changes": int64(1), "cartd.outcome": "ok"})
	tx, ok := byName["store.Write"]
	if !ok {
		t.Fatalf("no store.Write span; spans: %v", names(spans))
	}
	if tx.Parent().SpanID() != call_.SpanContext().SpanID() {
		t.Error("the store span is not the engine span's child")
	}
	wantAttrs(t, tx, map[string]any{"cartd.tx.attempts": int64(1), "cartd.tx.retries": int64(0), "cartd.tx.committed": true})

	// The access log line carries the trace id.
	var line struct {
		Msg     string `json:"msg"`
		TraceID string `json:"trace_id"`
		Route   string `json:"route"`
	}
	for l := range strings.Lines(logs.String()[mark:]) {
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "request" {
			break
		}
	}
	if line.TraceID != traceID || line.Route != "PATCH /v1/carts/{id}/items/{item_id}" {
		t.Errorf("access log line: %+v, want trace_id %s\n%s", line, traceID, logs.String()[mark:])
	}

	t.Run("a refused change records its outcome", func(t *testing.T) {
		rec.Reset()
		req, _ := http.NewRequest("PATCH", hs.URL+"/v1/carts/"+cart.ID+"/items/"+added.Items[0].ID, bytes.NewReader([]byte(`{"quantity":50}`)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, s := range rec.Ended() {
			if s.Name() == "engine.Update" {
				wantAttrs(t, s, map[string]any{"cartd.outcome": "insufficient_stock"})
				return
			}
		}
		t.Errorf("no engine.Update span: %v", names(rec.Ended()))
	})
}

// TestTracingIsOffWithoutAnEndpoint: the standard variables decide, and nothing is traced
// unless an OTLP endpoint is named.
func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	for _, tt := range []struct {
		vars map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "cartd-eu"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		if got := tracing.Enabled(env(tt.vars)); got != tt.want {
			t.Errorf("Enabled(%v) = %v, want %v", tt.vars, got, tt.want)
		}
	}
	if _, _, err := tracing.Setup(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), tracing.Build{}); err == nil {
		t.Error("OTEL_EXPORTER_OTLP_PROTOCOL=grpc was accepted; cartd speaks OTLP over HTTP only")
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]any) {
	t.Helper()
	got := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		got[kv.Key] = kv.Value
	}
	for k, w := range want {
		if v, ok := got[attribute.Key(k)]; !ok || v.AsInterface() != w {
			t.Errorf("span %s: %s = %v, want %v", s.Name(), k, v.AsInterface(), w)
		}
	}
}
