package main

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/tracing"
)

// BenchmarkRequestPathTraced is BenchmarkRequestPath with tracing on, every request sampled,
// the spans handed to an exporter that drops them: the cost of making the spans.
func BenchmarkRequestPathTraced(b *testing.B) {
	tracer, shutdown, err := tracing.StartWith(context.Background(), sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), tracing.Build{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shutdown(context.Background()) })
	h, key, path := benchStack(b, func(c *config, e *engine.Config) { c.tracer, e.Tracer = tracer, tracer })
	benchPatch(b, h, key, path)
}
