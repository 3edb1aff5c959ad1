// Package tracing sets up OpenTelemetry tracing from the standard OTEL_* environment
// variables (docs/tracing.md). Tracing is off unless an OTLP endpoint is configured: then
// Setup returns a nil Tracer, and every caller checks for nil before doing any tracing work,
// so that a request pays one comparison and nothing else.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
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
// (and a shutdown that does nothing) when tracing is off. Everything is read through getenv:
// the exporter sends OTLP over HTTP (http/protobuf) to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
// with its _HEADERS, _TIMEOUT and _COMPRESSION (TLS certificates are read by the exporter
// from the process environment); the sampler comes from OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on); the resource from
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (default cartd); the batch interval from
// OTEL_BSP_SCHEDULE_DELAY.
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
	opts, err := exporterOptions(getenv)
	if err != nil {
		return nil, nothing, err
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nothing, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	var bsp []sdktrace.BatchSpanProcessorOption
	if v := getenv("OTEL_BSP_SCHEDULE_DELAY"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, nothing, fmt.Errorf("OTEL_BSP_SCHEDULE_DELAY=%s: want milliseconds", v)
		}
		bsp = append(bsp, sdktrace.WithBatchTimeout(time.Duration(ms)*time.Millisecond))
	}
	sampler, err := samplerOf(getenv)
	if err != nil {
		return nil, nothing, err
	}
	return start(ctx, sdktrace.NewBatchSpanProcessor(exp, bsp...), sampler, resourceAttrs(getenv), build)
}

// exporterOptions reads the OTEL_EXPORTER_OTLP_* variables through getenv (cartd reads its
// whole environment through one function, which tests replace), for the exporter would
// otherwise read the process's environment itself.
func exporterOptions(getenv func(string) string) ([]otlptracehttp.Option, error) {
	var opts []otlptracehttp.Option
	switch traces, base := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); {
	case traces != "":
		opts = append(opts, otlptracehttp.WithEndpointURL(traces))
	case base != "":
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(base, "/")+"/v1/traces"))
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		if v := getenv(key); v != "" {
			h, err := keyValues(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			opts = append(opts, otlptracehttp.WithHeaders(h))
		}
	}
	if v := firstOf(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT=%s: want milliseconds", v)
		}
		opts = append(opts, otlptracehttp.WithTimeout(time.Duration(ms)*time.Millisecond))
	}
	if v := firstOf(getenv, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"); v == "gzip" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	return opts, nil
}

// samplerOf is OTEL_TRACES_SAMPLER (and _ARG), with the specification's values; unset is
// parentbased_always_on.
func samplerOf(getenv func(string) string) (sdktrace.Sampler, error) {
	name, arg := getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG")
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%s: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%s: want always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// resourceAttrs is OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME, which wins.
func resourceAttrs(getenv func(string) string) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if kv, err := keyValues(getenv("OTEL_RESOURCE_ATTRIBUTES")); err == nil {
		for k, v := range kv {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	if name := getenv("OTEL_SERVICE_NAME"); name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	return attrs
}

// keyValues parses the specification's "key1=value1,key2=value2" lists, values URL-encoded.
func keyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out[strings.TrimSpace(k)] = dv
	}
	return out, nil
}

func firstOf(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// start builds the tracer provider around sp: the sampler, and the resource (cartd's service
// name and version, under the attributes the environment gives).
func start(ctx context.Context, sp sdktrace.SpanProcessor, sampler sdktrace.Sampler, attrs []attribute.KeyValue, build Build) (trace.Tracer, func(context.Context) error, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("cartd"), semconv.ServiceVersion(build.Version)),
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	return tp.Tracer(InstrumentationName, trace.WithInstrumentationVersion(build.Version)), tp.Shutdown, nil
}

// StartWith is start for tests and embedders: the spans go to sp (an in-process exporter).
// Every span is sampled.
func StartWith(ctx context.Context, sp sdktrace.SpanProcessor, build Build) (trace.Tracer, func(context.Context) error, error) {
	return start(ctx, sp, sdktrace.AlwaysSample(), nil, build)
}
