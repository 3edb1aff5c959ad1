package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/dialect/sourcehub"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/internal/observe"
)

// newMetrics returns the process's private registry, with the Go runtime and process
// collectors, and cartd's own metrics registered on it.
func newMetrics() (*prometheus.Registry, *observe.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg)
	return reg, observe.NewMetrics(reg)
}

// frontDoors labels requests in metrics and logs by the front door that serves them: the
// dialects by their prefixes (as handler mounts them), the native API everywhere else.
var frontDoors = []observe.FrontDoor{
	{Name: "sourcehub", Prefix: sourcehub.Prefix},
	{Name: "ebay", Prefix: ebay.Prefix},
	{Name: "jackthreads", Prefix: jackthreads.Prefix},
	{Name: "storefront", Prefix: storefront.Prefix},
}

// observed wraps the front doors in the observe middleware (request ids, access log,
// metrics, CORS) and, unless --metrics-addr moves it to a listener of its own, serves
// GET /metrics beside them, outside every front door's authentication.
func observed(h http.Handler, c config, reg *prometheus.Registry, m *observe.Metrics, log *slog.Logger) http.Handler {
	root := http.NewServeMux()
	root.Handle("/", h)
	if c.metricsAddr == "" {
		root.Handle("GET /metrics", metricsHandler(reg, log))
	}
	return observe.New(root, observe.Config{Logger: log, Metrics: m, FrontDoors: frontDoors, CORS: c.cors, Tracer: c.tracer})
}

func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// serveMetrics serves GET /metrics on --metrics-addr, when set, until the returned stop is
// called.
func serveMetrics(c config, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	if c.metricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg, log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}
