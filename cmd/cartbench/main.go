// Command cartbench is cartd's load generator. It drives a running cartd over HTTP with
// concurrent clients, after creating its own catalog, stock and carts through the admin API;
// reports requests, req/s and latency percentiles per phase beside the HTTP ceiling of the
// machine; and, after each scenario, checks ARCHITECTURE.md §Invariants on everything it
// created. See BENCHMARKS.md for the scenarios and how to run them.
//
// Exit status: 0 when every invariant held and no request failed; 1 when an invariant
// failed; 3 when requests failed (a status other than the scenario's expected ones, or a
// transport error) and --allow-errors was not given; 2 when it could not run (bad flags,
// cartd unreachable, the key refused, a set-up call failed, interrupted).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cartd/cartd/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK        = 0
	exitInvariant = 1
	exitCannotRun = 2
	exitErrors    = 3
)

// config is cartbench's command line.
type config struct {
	url         string
	key         string
	scenario    string
	conns       int
	duration    time.Duration
	requests    int64
	json        bool
	seed        uint64
	allowErrors bool
	timeout     time.Duration
	wait        time.Duration
	rules       bool
	webhook     bool
	hookTypes   string
	postgres    string
	prefill     prefillSpec
	workingSet  int
	prefillFile string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("cartbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "cartd's base URL; several, comma-separated, spread the clients over several nodes")
	fs.StringVar(&c.key, "key", getenv("CARTD_ADMIN_KEY"), "an admin API key (default $CARTD_ADMIN_KEY)")
	fs.StringVar(&c.scenario, "scenario", "update", "update, mixed, flashsale, bigcart, spread, hot, ceiling, pgceiling, abuse, all, or a comma-separated list")
	fs.IntVar(&c.conns, "conns", 64, "concurrent clients, each with its own connection")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each phase runs")
	fs.Int64Var(&c.requests, "requests", 0, "if > 0, each phase sends exactly this many requests instead of running for --duration")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of every client's choices: the same seed sends the same calls")
	fs.BoolVar(&c.allowErrors, "allow-errors", false, "exit 0 despite failed requests (invariants must still hold)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "limit of one request")
	fs.DurationVar(&c.wait, "wait", 10*time.Second, "how long to wait for cartd's /readyz before starting")
	fs.BoolVar(&c.rules, "rules", false, "give the catalogs quantity rules that allow every quantity the scenarios ask for, to measure what checking them costs")
	fs.BoolVar(&c.webhook, "webhook", false, "run a webhook endpoint (on 127.0.0.1) and register it on cartd for every event type during the run, to measure what deliveries cost")
	fs.StringVar(&c.hookTypes, "webhook-types", "", "with --webhook, the event types (or patterns, comma-separated) the webhook subscribes to; default every type")
	fs.StringVar(&c.postgres, "postgres", "", "the URL of the PostgreSQL under cartd (postgres://...): the pgceiling scenario runs a hand-written transaction against it, in a schema of its own it drops afterwards; without it pgceiling is skipped")
	prefill := fs.String("prefill", "", "grow the store through the API before the scenarios: skus=N,carts=M (M carts of one line each, cart j on SKU j mod N; see BENCHMARKS.md)")
	fs.StringVar(&c.prefillFile, "prefill-file", "", "with --prefill, where to write what it created; if the file exists, the store is taken as already grown (a copy of the database it was written for) and it is read instead")
	fs.IntVar(&c.workingSet, "working-set", 0, "with --prefill carts, update changes the first N prefilled carts instead of carts of its own")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cartbench [flags]\n\nDrives a running cartd over HTTP and checks its invariants afterwards (see BENCHMARKS.md).\nExit status: 0 ok, 1 an invariant failed, 2 could not run, 3 requests failed.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, n := range nodes(c.url) {
		u, err := url.Parse(n)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("--url %q: want http://HOST:PORT", n)
		}
	}
	switch {
	case c.conns < 1:
		return c, errors.New("--conns must be at least 1")
	case c.requests < 0:
		return c, errors.New("--requests must not be negative")
	case c.requests == 0 && c.duration <= 0:
		return c, errors.New("--duration must be positive (or give --requests)")
	case c.timeout <= 0:
		return c, errors.New("--timeout must be positive")
	}
	if _, err := scenarioList(c.scenario, c.postgres != ""); err != nil {
		return c, err
	}
	var err error
	if c.prefill, err = parsePrefill(*prefill); err != nil {
		return c, err
	}
	switch {
	case c.workingSet < 0:
		return c, errors.New("--working-set must not be negative")
	case c.workingSet > 0 && c.prefill.carts == 0:
		return c, errors.New("--working-set needs --prefill with carts")
	case c.workingSet > 0 && c.workingSet < c.conns:
		return c, errors.New("--working-set must be at least --conns: each client needs a cart")
	}
	return c, nil
}

// scenarioList reads --scenario: one name, a comma-separated list, or all, which holds
// pgceiling only when there is a PostgreSQL to run it against.
func scenarioList(s string, postgres bool) ([]string, error) {
	if s == "all" {
		if !postgres {
			return slices.DeleteFunc(slices.Clone(scenarioNames), func(n string) bool { return n == "pgceiling" }), nil
		}
		return scenarioNames, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if _, ok := scenarioFuncs[name]; !ok {
			return nil, fmt.Errorf("--scenario %q: want one of %s, or all", name, strings.Join(scenarioNames, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// nodes splits --url into base URLs without trailing slashes.
func nodes(s string) []string {
	var out []string
	for n := range strings.SplitSeq(s, ",") {
		if n = strings.TrimRight(strings.TrimSpace(n), "/"); n != "" || len(out) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// runner is one run: its client, its identity and what the current scenario created.
type runner struct {
	api      *client.Client // set-up and checks, on the first node
	plain    *client.Client // api without retries, so without automatic Idempotency-Keys (prefill.go)
	nodes    []string       // where the clients send their load
	drv      *driver
	seed     uint64
	prefix   string
	conns    int
	settings settingsDoc
	stderr   io.Writer
	created  *registry
	// rules says the catalogs carry quantity rules (--rules).
	rules bool
	// postgres is --postgres, the database of the pgceiling scenario.
	postgres string
	// grown is what --prefill created; workingSet is --working-set.
	grown      *grown
	workingSet int
}

// run is cartbench as a value: main only wires the process's arguments, environment and
// streams. The hidden subcommand `ceiling-server` is the ceiling scenario's child process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ceiling-server" {
		if err := serveCeiling(ctx, args[1:], stdin, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "cartbench ceiling-server:", err)
			return exitCannotRun
		}
		return exitOK
	}
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "cartbench:", err)
		return exitCannotRun
	}
	rep, runErr := bench(ctx, c, stderr)
	if runErr != nil {
		fmt.Fprintln(stderr, "cartbench:", runErr)
	}
	if rep == nil {
		return exitCannotRun
	}
	if c.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cartbench:", err)
		return exitCannotRun
	}
	switch {
	case rep.invariantsFailed():
		fmt.Fprintln(stderr, "cartbench: an invariant failed")
		return exitInvariant
	case runErr != nil || ctx.Err() != nil:
		return exitCannotRun
	case rep.errored() && !c.allowErrors:
		fmt.Fprintln(stderr, "cartbench: requests failed (see the errors above; --allow-errors to accept them)")
		return exitErrors
	}
	return exitOK
}

// bench runs the scenarios. A set-up failure stops the run: the report then holds the
// scenarios that did run, and err says why the rest did not.
func bench(ctx context.Context, c config, stderr io.Writer) (*report, error) {
	names, _ := scenarioList(c.scenario, c.postgres != "")
	hc := newHTTPClient(c.conns, c.timeout)
	defer hc.CloseIdleConnections()
	urls := nodes(c.url)
	r := &runner{
		api:    client.New(urls[0], c.key, client.WithHTTPClient(hc)),
		plain:  client.New(urls[0], c.key, client.WithHTTPClient(hc), client.WithRetries(0)),
		nodes:  urls,
		drv:    &driver{hc: hc, key: c.key, duration: c.duration, requests: c.requests},
		seed:   c.seed,
		prefix: runPrefix(), rules: c.rules,
		conns:      c.conns,
		stderr:     stderr,
		postgres:   c.postgres,
		workingSet: c.workingSet,
	}
	for _, n := range urls {
		if err := waitReady(ctx, client.New(n, "", client.WithHTTPClient(hc), client.WithRetries(0)), n, c.wait); err != nil {
			return nil, err
		}
	}
	if slices.ContainsFunc(names, func(n string) bool { return n != "ceiling" && n != "pgceiling" }) {
		if c.key == "" {
			return nil, errors.New("no admin key: pass --key or set CARTD_ADMIN_KEY")
		}
		if err := r.api.Do(ctx, http.MethodGet, "/v1/settings", nil, &r.settings); err != nil {
			return nil, fmt.Errorf("the admin key does not work: %w", err)
		}
	}
	rep := &report{Run: runInfo{URL: strings.Join(urls, ","), Prefix: r.prefix, Conns: c.conns, Requests: c.requests, Seed: c.seed,
		AllowErrors: c.allowErrors, GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), StartedAt: time.Now().UTC()}, Scenarios: []scenarioReport{}}
	if c.requests == 0 {
		rep.Run.Duration = c.duration.String()
	}
	// The report is finished on every way out, a partial one included.
	defer rep.finish(c.allowErrors)
	if c.webhook {
		recv, err := startReceiver()
		if err != nil {
			return nil, fmt.Errorf("webhook endpoint: %w", err)
		}
		defer recv.close()
		id := r.prefix + "_hook"
		var types []string
		for t := range strings.SplitSeq(c.hookTypes, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		if err := registerWebhook(ctx, r.api, id, recv, types); err != nil {
			return nil, err
		}
		defer func() {
			rep.Run.Webhook = recv.report()
			if err := unregisterWebhook(context.WithoutCancel(ctx), r.api, id); err != nil {
				fmt.Fprintln(stderr, "cartbench: delete the webhook:", err)
			}
		}()
	}
	if c.prefill.set() {
		g, err := r.grow(ctx, c.prefill, c.prefillFile)
		if err != nil {
			return rep, err
		}
		r.grown = g
	}
	for _, name := range names {
		r.created = &registry{}
		fmt.Fprintf(stderr, "cartbench: %s: setting up and measuring\n", name)
		started := time.Now()
		phases, err := scenarioFuncs[name](ctx, r)
		if ctx.Err() != nil {
			// Half a phase proves nothing, and the check could not read anything back.
			return rep, fmt.Errorf("%s: interrupted", name)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		s := scenarioReport{Name: name, Phases: phases}
		if name != "ceiling" && name != "pgceiling" {
			inv := r.checkInvariants(ctx)
			s.Invariants = &inv
		}
		rep.Scenarios = append(rep.Scenarios, s)
		fmt.Fprintf(stderr, "cartbench: %s: done in %s\n", name, time.Since(started).Round(time.Millisecond))
	}
	return rep, nil
}

// runPrefix names a run's catalog, SKUs and cart metadata, so runs against one database
// never collide: "cb" and 8 random hex digits.
func runPrefix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "cb" + hex.EncodeToString(b)
}
