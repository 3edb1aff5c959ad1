package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestServeExportsSpansToTheOTLPEndpoint runs serve as an operator would turn tracing on,
// with the standard variables only, against an OTLP/HTTP receiver, and waits for the span of
// a request to arrive there, under the service name given.
func TestServeExportsSpansToTheOTLPEndpoint(t *testing.T) {
	var mu sync.Mutex
	type got struct{ service, span string }
	var spans []got
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(raw, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans = append(spans, got{service, s.Name})
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer collector.Close()

	s := startServed(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
		"OTEL_SERVICE_NAME":           "cartd-test",
		"OTEL_BSP_SCHEDULE_DELAY":     "50", // ms between batches, so the test need not wait 5 s
	})
	s.must(t, 404, "GET", "/v1/carts/cart_424242", nil, nil)
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		for _, g := range spans {
			if g.span == "GET /v1/carts/{id}" {
				mu.Unlock()
				if g.service != "cartd-test" {
					t.Errorf("the span's service.name is %q, want OTEL_SERVICE_NAME's cartd-test", g.service)
				}
				return
			}
		}
		mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no span of the request reached the collector; got %v\n%s", spans, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
