// Package tracing sets up OpenTelemetry tracing from the standard OTEL_* environment
// variables (docs/tracing.md). Tracing is off unless an OTLP endpoint is configured: then
// Setup returns a nil Tracer, and every caller checks for nil before doing any tracing work,
// so that a request pays one comparison and nothing else.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names cartd's tracer.
const InstrumentationName = "github.com/cartd/cartd"

// Propagator reads and writes W3C trace context (traceparent, tracestate) and baggage.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Build names the running build in every span's resource.
type Build struct {
	Version string
	Commit  string
}

// Enabled reports whether getenv asks for traces: an OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT), and neither
// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns them off.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Setup returns cartd's tracer and the function that flushes and stops it, or a nil Tracer
// (and a shutdown that does nothing) when tracing is off. The exporter sends OTLP over HTTP
// (http/protobuf) and reads its endpoint, headers, timeout and TLS settings from the
// OTEL_EXPORTER_OTLP_* variables; the sampler comes from OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on); the service name from
// OTEL_SERVICE_NAME (default cartd) and OTEL_RESOURCE_ATTRIBUTES.
func Setup(ctx context.Context, getenv func(string) string, build Build) (trace.Tracer, func(context.Context) error, error) {
	nothing := func(context.Context) error { return nil }
	if !Enabled(getenv) {
		return nil, nothing, nil
	}
	if exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp != "" && exp != "otlp" {
		return nil, nothing, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: cartd exports traces by OTLP only (otlp or none)", exp)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, nothing, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: cartd sends OTLP over HTTP (http/protobuf); point it at the collector's HTTP port (4318)", proto)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nothing, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return start(ctx, sdktrace.NewBatchSpanProcessor(exp), build)
}

// start builds the tracer provider around sp: the sampler from the environment (the SDK reads
// OTEL_TRACES_SAMPLER itself when none is given), the resource from the environment over
// cartd's defaults.
func start(ctx context.Context, sp sdktrace.SpanProcessor, build Build) (trace.Tracer, func(context.Context) error, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("cartd"), semconv.ServiceVersion(build.Version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res))
	return tp.Tracer(InstrumentationName, trace.WithInstrumentationVersion(build.Version)), tp.Shutdown, nil
}

// StartWith is start for tests and embedders: the spans go to sp (an in-process exporter).
func StartWith(ctx context.Context, sp sdktrace.SpanProcessor, build Build) (trace.Tracer, func(context.Context) error, error) {
	return start(ctx, sp, build)
}
