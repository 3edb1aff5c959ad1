package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestSamplerOf(t *testing.T) {
	tests := []struct {
		sampler, arg string
		want         string // the sampler's description; "" for an error
	}{
		{"", "", "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{"always_off", "", "AlwaysOffSampler"},
		{"traceidratio", "0.25", "TraceIDRatioBased{0.25}"},
		{"parentbased_traceidratio", "0.01", "ParentBased{root:TraceIDRatioBased{0.01},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{"traceidratio", "2", ""},
		{"sometimes", "", ""},
	}
	for _, tt := range tests {
		s, err := samplerOf(func(k string) string {
			return map[string]string{"OTEL_TRACES_SAMPLER": tt.sampler, "OTEL_TRACES_SAMPLER_ARG": tt.arg}[k]
		})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s %s: accepted", tt.sampler, tt.arg)
		case tt.want != "" && (err != nil || s.Description() != tt.want):
			t.Errorf("%s %s: %v, %v; want %s", tt.sampler, tt.arg, s, err, tt.want)
		}
	}
}

func TestKeyValues(t *testing.T) {
	kv, err := keyValues("deployment.environment=prod, team=carts%20core,")
	if err != nil || len(kv) != 2 || kv["deployment.environment"] != "prod" || kv["team"] != "carts core" {
		t.Errorf("keyValues = %v, %v", kv, err)
	}
	if _, err := keyValues("novalue"); err == nil {
		t.Error("a pair without = was accepted")
	}
}

func TestSetupReadsItsEnvironmentThroughGetenv(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER": "nonsense"}[k]
	}
	if _, _, err := Setup(context.Background(), getenv, Build{}); err == nil {
		t.Error("a bad OTEL_TRACES_SAMPLER from getenv was accepted")
	}
	tracer, shutdown, err := StartWith(context.Background(), sdktrace.NewSimpleSpanProcessor(nil), Build{Version: "v1"})
	if err != nil || tracer == nil {
		t.Fatalf("StartWith: %v", err)
	}
	shutdown(context.Background())
}
