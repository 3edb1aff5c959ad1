package main

// Tracing for serve: OpenTelemetry, configured by the standard OTEL_* variables and off when
// they name no endpoint (docs/tracing.md).

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/internal/buildinfo"
	"github.com/cartd/cartd/internal/tracing"
)

// setupTracing returns serve's tracer (nil when tracing is off) and the function that
// flushes the spans still buffered when serve stops.
func setupTracing(ctx context.Context, getenv func(string) string, log *slog.Logger) (trace.Tracer, func(), error) {
	in := buildinfo.Read()
	tracer, shutdown, err := tracing.Setup(ctx, getenv, tracing.Build{Version: in.Version, Commit: in.Commit})
	if err != nil || tracer == nil {
		return nil, func() {}, err
	}
	log.Info("tracing on", "endpoint", firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
		"sampler", firstSet(getenv, "OTEL_TRACES_SAMPLER"))
	return tracer, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("tracing: flushing the last spans", "err", err)
		}
	}, nil
}

func firstSet(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return "default"
}
