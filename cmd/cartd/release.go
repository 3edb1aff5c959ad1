package main

// What a release needs of the binary: which build it is (the start-up log line and the
// cartd_build_info metric; `cartd version` is in cli.go), and `cartd healthcheck`, which a
// container's HEALTHCHECK runs (docs/install.md).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cartd/cartd/internal/buildinfo"
)

// logBuild logs which cartd starts: the first line of every serve.
func logBuild(log *slog.Logger) {
	in := buildinfo.Read()
	log.Info("cartd starting", "version", in.Version, "commit", in.Commit, "date", in.Date, "go", in.Go, "platform", in.Platform)
}

// registerBuildInfo adds cartd_build_info, a constant 1 whose labels say which build answers:
// a dashboard joins it to other series to tell nodes of different versions apart.
func registerBuildInfo(reg prometheus.Registerer) {
	in := buildinfo.Read()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "cartd_build_info",
		Help:        "Always 1; the labels name the running build's version, commit, build date and Go version.",
		ConstLabels: prometheus.Labels{"version": in.Version, "commit": in.Commit, "date": in.Date, "go_version": in.Go},
	}, func() float64 { return 1 }))
}

// healthcheck is `cartd healthcheck [--url URL] [--timeout D]`: GET URL (by default /readyz
// of the address serve listens on, from CARTD_ADDR) and exit 0 on 200, 1 otherwise. It lets
// an image without a shell or curl (FROM scratch, distroless) have a HEALTHCHECK.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	fs := newFlagSet("healthcheck")
	addr := getenv("CARTD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	url := fs.String("url", readyURL(addr), "URL to GET; 200 is healthy (default /readyz on CARTD_ADDR, a wildcard host read as loopback)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	pos, err := parseArgs(fs, `cartd healthcheck [--url URL] [--timeout D]

Exits 0 if GET URL answers 200, and 1 otherwise (a draining node's /readyz answers 503).`, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("healthcheck", "unexpected argument %q", pos[0])
	}
	if *timeout <= 0 {
		return usagef("healthcheck", "--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("healthcheck", "--url: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}} // never through a proxy from the environment
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s: %s", *url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "ok: GET %s: %s\n", *url, resp.Status)
	return nil
}

// readyURL is /readyz on the address serve listens on; a wildcard or empty host (":8080",
// "0.0.0.0:8080") is reached on loopback.
func readyURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/readyz"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
