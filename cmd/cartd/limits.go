package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/internal/limits"
)

// limitsConfig is how a node protects itself: rate limits, the in-flight cap, the body cap,
// the HTTP server's timeouts and the drain before shutting down (docs/operations.md, "Limits and
// overload").
type limitsConfig struct {
	rate, rateKey, rateAnon    float64
	burst, burstKey, burstAnon int
	clientIPHeader             string
	maxInFlight                int
	maxBody                    int64
	readHeaderTimeout          time.Duration
	readTimeout, writeTimeout  time.Duration
	idleTimeout, shutdownDrain time.Duration
	// admitted is the guard's Admitted hook: set by tests only, to hold requests in flight.
	admitted func(r *http.Request)
}

// register declares the flags of l on fs, each defaulting to its environment twin.
//
// The defaults: shoppers (customer tokens, storefront sessions) and anonymous clients get 20
// requests a second with bursts of 40, far above what a person clicking sends and far below
// what a script can; API keys are not limited, since a shop's own backend speaks for all its
// shoppers through one key (cartbench drives thousands of requests a second through one).
func (l *limitsConfig) register(fs *flag.FlagSet, env func(key, def string) string) error {
	var errs []error
	float := func(p *float64, name, key, def, usage string) {
		v, err := strconv.ParseFloat(env(key, def), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		fs.Float64Var(p, name, v, usage+" ("+key+")")
	}
	integer := func(p *int, name, key, def, usage string) {
		v, err := strconv.Atoi(env(key, def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		fs.IntVar(p, name, v, usage+" ("+key+")")
	}
	duration := func(p *time.Duration, name, key, def, usage string) {
		v, err := time.ParseDuration(env(key, def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
		fs.DurationVar(p, name, v, usage+" ("+key+")")
	}
	float(&l.rate, "rate-limit", "CARTD_RATE_LIMIT", "20", "requests/s per customer token or storefront session; 0 turns it off")
	integer(&l.burst, "rate-burst", "CARTD_RATE_BURST", "40", "burst per customer token or storefront session; 0 means twice the rate")
	float(&l.rateKey, "rate-limit-key", "CARTD_RATE_LIMIT_KEY", "0", "requests/s per API key; 0 turns it off")
	integer(&l.burstKey, "rate-burst-key", "CARTD_RATE_BURST_KEY", "0", "burst per API key; 0 means twice --rate-limit-key")
	float(&l.rateAnon, "rate-limit-anon", "CARTD_RATE_LIMIT_ANON", "20", "requests/s per client address of requests without a credential; 0 turns it off")
	integer(&l.burstAnon, "rate-burst-anon", "CARTD_RATE_BURST_ANON", "40", "burst per client address; 0 means twice the rate")
	fs.StringVar(&l.clientIPHeader, "client-ip-header", env("CARTD_CLIENT_IP_HEADER", ""), "header a trusted proxy sets to the client's address (X-Real-IP, X-Forwarded-For: last entry); default the connection's address (CARTD_CLIENT_IP_HEADER)")
	integer(&l.maxInFlight, "max-in-flight", "CARTD_MAX_IN_FLIGHT", "512", "requests served at once; beyond, 503 at once; 0 means no cap")
	maxBody, err := strconv.ParseInt(env("CARTD_MAX_BODY", strconv.Itoa(api.DefaultMaxBody)), 10, 64)
	if err != nil {
		errs = append(errs, fmt.Errorf("CARTD_MAX_BODY: %w", err))
	}
	fs.Int64Var(&l.maxBody, "max-body", maxBody, "largest request body in bytes, any front door (CARTD_MAX_BODY)")
	duration(&l.readHeaderTimeout, "read-header-timeout", "CARTD_READ_HEADER_TIMEOUT", "5s", "time to read a request's headers")
	duration(&l.readTimeout, "read-timeout", "CARTD_READ_TIMEOUT", "30s", "time to read a whole request, body included")
	duration(&l.writeTimeout, "write-timeout", "CARTD_WRITE_TIMEOUT", "30s", "time from the end of a request's headers to the end of its response")
	duration(&l.idleTimeout, "idle-timeout", "CARTD_IDLE_TIMEOUT", "120s", "how long an idle keep-alive connection stays open")
	duration(&l.shutdownDrain, "shutdown-drain", "CARTD_SHUTDOWN_DRAIN", "0s", "on SIGTERM/SIGINT, how long /readyz answers 503 while still serving, before the server stops accepting")
	return errors.Join(errs...)
}

// validate checks l once the flags are parsed.
func (l *limitsConfig) validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"--rate-limit", l.rate}, {"--rate-limit-key", l.rateKey}, {"--rate-limit-anon", l.rateAnon}} {
		if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			return fmt.Errorf("%s must be 0 (off) or a positive number of requests per second", r.name)
		}
	}
	for _, b := range []struct {
		name string
		v    int
	}{{"--rate-burst", l.burst}, {"--rate-burst-key", l.burstKey}, {"--rate-burst-anon", l.burstAnon}, {"--max-in-flight", l.maxInFlight}} {
		if b.v < 0 {
			return fmt.Errorf("%s must not be negative", b.name)
		}
	}
	if l.maxBody < 1 {
		return errors.New("--max-body must be at least 1 byte")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--read-header-timeout", l.readHeaderTimeout}, {"--read-timeout", l.readTimeout}, {"--write-timeout", l.writeTimeout}, {"--idle-timeout", l.idleTimeout}, {"--shutdown-drain", l.shutdownDrain}} {
		if d.v < 0 {
			return fmt.Errorf("%s must not be negative", d.name)
		}
	}
	return nil
}

// guard is the Guard every front door of the node shares, with the bounds on bodies and new
// sessions of a, logging refusals to log and counting them with refused (nil: not counted).
func (l *limitsConfig) guard(a abuseConfig, log *slog.Logger, refused func(reason string)) *limits.Guard {
	burst := func(rate float64, burst int) int {
		if burst > 0 {
			return burst
		}
		return max(int(math.Min(2*rate, math.MaxInt32)), 1)
	}
	return limits.New(limits.Config{
		Key:              limits.Rate{PerSecond: l.rateKey, Burst: burst(l.rateKey, l.burstKey)},
		Customer:         limits.Rate{PerSecond: l.rate, Burst: burst(l.rate, l.burst)},
		Anonymous:        limits.Rate{PerSecond: l.rateAnon, Burst: burst(l.rateAnon, l.burstAnon)},
		MaxInFlight:      l.maxInFlight,
		MaxBody:          l.maxBody,
		ClientIPHeader:   l.clientIPHeader,
		Session:          limits.Rate{PerSecond: a.sessionRate, Burst: burst(a.sessionRate, a.sessionBurst)},
		BodyTimeout:      a.bodyTimeout,
		MaxPendingBodies: a.maxPendingBodies,
		Logger:           log,
		Refused:          refused,
		Admitted:         l.admitted,
	})
}
