package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/dialect/ebay"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/dialect/sourcehub"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/observe"
	"github.com/cartd/cartd/internal/reqinfo"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/sqlite"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set.
const defaultGCPercent = 400

// config is cartd's configuration: flags, each defaulting to its environment twin.
type config struct {
	addr           string
	db             string
	demo           bool
	reservationTTL time.Duration
	sweepInterval  time.Duration
	durability     string
	dbMaxConns     int
	stockBuckets   int
	adminKey       string
	logFormat      string
	publicURL      string // base of links in responses; "" until serve resolves it to http://ADDR
	// Operating cartd (cmd/cartd/observe.go).
	cors        observe.CORS
	metricsAddr string              // "": /metrics on --addr
	onRetry     func(reason string) // set by serve: the store's retry counter
	// Operating cartd (cmd/cartd/limits.go).
	limits limitsConfig
	// Hostile clients (cmd/cartd/abuse.go).
	abuse   abuseConfig
	refused func(reason string) // set by serve: the refusals counter
	// Operating cartd (cmd/cartd/operate.go): shutdown and housekeeping.
	shutdownTimeout time.Duration
	guestCartTTL    time.Duration
	// The operator console (cmd/cartd/console.go).
	console bool
	// Events out (cmd/cartd/events.go).
	events eventsConfig
	// Memory (cmd/cartd/memory.go).
	memory memoryConfig
	// Tracing (cmd/cartd/tracing.go): set by serve from OTEL_*; nil when off.
	tracer trace.Tracer
}

// parseConfig parses serve's flags (each defaulting to its environment twin) from args. With
// -h or --help it writes serve's usage to usage and returns flag.ErrHelp.
func parseConfig(name string, args []string, getenv func(string) string, usage io.Writer) (config, *flag.FlagSet, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := newFlagSet(name)
	fs.StringVar(&c.addr, "addr", env("CARTD_ADDR", "127.0.0.1:8080"), "listen address (CARTD_ADDR)")
	fs.StringVar(&c.db, "db", env("CARTD_DB", "sqlite:cartd.db"), "database: sqlite:PATH or postgres://... (CARTD_DB)")
	maxConns, err := strconv.Atoi(env("CARTD_DB_MAX_CONNS", "0"))
	if err != nil {
		return c, fs, fmt.Errorf("CARTD_DB_MAX_CONNS: %w", err)
	}
	fs.IntVar(&c.dbMaxConns, "db-max-conns", maxConns, fmt.Sprintf("PostgreSQL connections per node; 0 means %d (CARTD_DB_MAX_CONNS)", postgres.DefaultMaxConns))
	buckets, err := strconv.Atoi(env("CARTD_STOCK_BUCKETS", strconv.Itoa(postgres.DefaultStockBuckets)))
	if err != nil {
		return c, fs, fmt.Errorf("CARTD_STOCK_BUCKETS: %w", err)
	}
	fs.IntVar(&c.stockBuckets, "stock-buckets", buckets, "PostgreSQL: rows each SKU's stock is spread over, so that carts reserving one SKU do not queue on one row; 1 keeps one row (CARTD_STOCK_BUCKETS)")
	fs.BoolVar(&c.demo, "demo", env("CARTD_DEMO", "") == "true", "load the demo catalog and print an admin key (CARTD_DEMO=true)")
	ttl, err := time.ParseDuration(env("CARTD_RESERVATION_TTL", "15m"))
	if err != nil {
		return c, fs, fmt.Errorf("CARTD_RESERVATION_TTL: %w", err)
	}
	fs.DurationVar(&c.reservationTTL, "reservation-ttl", ttl, "how long a cart line holds its stock; 0 reserves nothing (CARTD_RESERVATION_TTL)")
	sweep, err := time.ParseDuration(env("CARTD_SWEEP_INTERVAL", "1s"))
	if err != nil {
		return c, fs, fmt.Errorf("CARTD_SWEEP_INTERVAL: %w", err)
	}
	fs.DurationVar(&c.sweepInterval, "sweep-interval", sweep, "how often lapsed reservations and unavailable lines release their stock; 0 leaves it to the carts' writes (CARTD_SWEEP_INTERVAL)")
	fs.StringVar(&c.durability, "durability", env("CARTD_DURABILITY", "normal"), "normal: a 2xx survives a crash of cartd; full: also an OS crash, every commit fsynced (CARTD_DURABILITY)")
	fs.StringVar(&c.logFormat, "log-format", env("CARTD_LOG_FORMAT", "json"), "log format: json or text (CARTD_LOG_FORMAT)")
	fs.StringVar(&c.publicURL, "public-url", env("CARTD_PUBLIC_URL", ""), "base URL of links in responses, such as eBay's cartWebUrl; default http://ADDR (CARTD_PUBLIC_URL)")
	corsOrigins := fs.String("cors-origins", env("CARTD_CORS_ORIGINS", ""), "comma-separated origins browsers may call from (https://shop.example), or *; empty: CORS off (CARTD_CORS_ORIGINS)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("CARTD_METRICS_ADDR", ""), "serve GET /metrics on this address instead of --addr (CARTD_METRICS_ADDR)")
	if err := c.limits.register(fs, env); err != nil {
		return c, fs, err
	}
	if err := abuseFlags(fs, &c.abuse, env); err != nil {
		return c, fs, err
	}
	c.adminKey = getenv("CARTD_ADMIN_KEY")
	if err := operatingFlags(fs, &c, env); err != nil {
		return c, fs, err
	}
	if err := consoleFlags(fs, &c, env); err != nil {
		return c, fs, err
	}
	if err := eventsFlags(fs, &c.events, env); err != nil {
		return c, fs, err
	}
	if err := memoryFlags(fs, &c.memory, env); err != nil {
		return c, fs, err
	}
	if err := parseFlags(fs, serveSynopsis, args, usage); err != nil {
		return c, fs, err
	}
	if fs.NArg() > 0 {
		return c, fs, usagef(name, "unexpected argument %q", fs.Arg(0))
	}
	if c.cors, err = observe.ParseCORSOrigins(*corsOrigins); err != nil {
		return c, fs, fmt.Errorf("--cors-origins: %w", err)
	}
	if err := c.limits.validate(); err != nil {
		return c, fs, err
	}
	if err := c.abuse.validate(); err != nil {
		return c, fs, err
	}
	if err := checkOperatingFlags(c); err != nil {
		return c, fs, err
	}
	if err := c.events.validate(); err != nil {
		return c, fs, err
	}
	if err := c.memory.validate(); err != nil {
		return c, fs, err
	}
	if c.reservationTTL < 0 {
		return c, fs, errors.New("--reservation-ttl must not be negative")
	}
	if c.sweepInterval < 0 {
		return c, fs, errors.New("--sweep-interval must not be negative")
	}
	if c.dbMaxConns < 0 || c.dbMaxConns > math.MaxInt32 {
		return c, fs, fmt.Errorf("--db-max-conns must be between 0 and %d", math.MaxInt32)
	}
	if c.stockBuckets < 1 || c.stockBuckets > postgres.MaxStockBuckets {
		return c, fs, fmt.Errorf("--stock-buckets must be between 1 and %d", postgres.MaxStockBuckets)
	}
	if c.durability != "normal" && c.durability != "full" {
		return c, fs, fmt.Errorf("--durability must be normal or full, not %q", c.durability)
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return c, fs, fmt.Errorf("--public-url must be an http:// or https:// URL without query, not %q", c.publicURL)
		}
		c.publicURL = strings.TrimSuffix(c.publicURL, "/")
	}
	return c, fs, nil
}

// newLogger logs to w; a record logged with a request's context carries its request_id.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(reqinfo.LogHandler(slog.NewTextHandler(w, nil)))
	}
	return slog.New(reqinfo.LogHandler(slog.NewJSONHandler(w, nil)))
}

// openStore opens the database named by --db; its migrations run as it opens.
func openStore(ctx context.Context, c config) (store.Store, error) {
	switch {
	case strings.HasPrefix(c.db, "sqlite:"):
		d := sqlite.Normal
		if c.durability == "full" {
			d = sqlite.Full
		}
		return sqlite.Open(ctx, strings.TrimPrefix(c.db, "sqlite:"), sqlite.Options{Durability: d,
			PageCacheBytes: c.memory.pageCache, WriteCacheBytes: c.memory.writeCache})
	case strings.HasPrefix(c.db, "postgres://"), strings.HasPrefix(c.db, "postgresql://"):
		return postgres.Open(ctx, c.db, postgres.Options{MaxConns: int32(c.dbMaxConns), StockBuckets: c.stockBuckets, FullDurability: c.durability == "full", OnRetry: c.onRetry})
	}
	return nil, fmt.Errorf("--db %q: want sqlite:PATH or postgres://...", redactDB(c.db))
}

// redactDB is --db fit for a log: a URL's password masked.
func redactDB(db string) string {
	if u, err := url.Parse(db); err == nil && u.User != nil {
		return u.Redacted()
	}
	return db
}

// serveSynopsis heads `cartd serve --help`.
const serveSynopsis = `cartd [serve] [flags]

Serves the native API (/v1), the dialects, /healthz, /readyz, /openapi.json and /metrics.
Creates and migrates the database named by --db if it does not exist. On SIGTERM or SIGINT,
/readyz answers 503 for --shutdown-drain, then in-flight requests get --shutdown-timeout.`

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, _, err := parseConfig("serve", args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(c.logFormat, stderr)
	logBuild(log)
	tracer, stopTracing, err := setupTracing(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	c.tracer = tracer
	if getenv("GOGC") == "" {
		// A request allocates its cart's JSON and views and keeps little: with the default
		// GOGC=100 the collector ran so often, on a heap of a few MB, that it cost a fifth of
		// update's throughput (BENCHMARKS.md). 400 trades about 100 MB of memory for that.
		debug.SetGCPercent(defaultGCPercent)
	}
	setMemoryLimit(getenv) // memory.go
	reg, metrics := newMetrics()
	c.onRetry = metrics.ObserveRetries(postgres.RetryReasons)
	c.refused = metrics.Refused
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	out := newEventsOut(c.events, reg, log)
	eng := engine.New(st, engine.Config{ReservationTTL: c.reservationTTL, Logger: log, Observer: metrics, Tracer: c.tracer,
		AnonymousHold: c.abuse.anonymousHold(), EventsWritten: out.written, CompletedCart: api.CompletedCart})
	observe.RegisterOldestUndelivered(reg, eng.OldestPending, log)
	observe.RegisterReservationsHeld(reg, eng.ReservedUnits, log)
	if c.adminKey != "" {
		if err := eng.EnsureKey(ctx, c.adminKey, []auth.Scope{auth.Admin}, "CARTD_ADMIN_KEY"); err != nil {
			return fmt.Errorf("CARTD_ADMIN_KEY: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	if c.demo {
		if err := loadDemo(ctx, eng, c, ln.Addr().String(), stdout); err != nil {
			ln.Close()
			return fmt.Errorf("demo: %w", err)
		}
	}
	if c.publicURL == "" {
		c.publicURL = "http://" + ln.Addr().String()
	}
	drainer := &limits.Drainer{}
	srv := &http.Server{
		Handler:           observed(handler(eng, c, log, drainer), c, reg, metrics, log),
		ReadHeaderTimeout: c.limits.readHeaderTimeout,
		ReadTimeout:       c.limits.readTimeout,
		WriteTimeout:      c.limits.writeTimeout,
		IdleTimeout:       c.limits.idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("cartd listening", "addr", ln.Addr().String(), "db", redactDB(c.db), "reservation_ttl", c.reservationTTL.String(), "sweep_interval", c.sweepInterval.String(), "durability", c.durability)
	housekeeping, stopHousekeeping := context.WithCancel(context.WithoutCancel(ctx))
	housekept := make(chan struct{})
	go func() {
		defer close(housekept)
		eng.Housekeep(housekeeping, engine.Housekeeping{Every: time.Minute, GuestCartTTL: c.guestCartTTL, TokenGrace: engine.DefaultTokenGrace,
			EventRetention: c.events.retention, AbandonAfter: c.events.abandonAfter})
	}()

	swept := make(chan struct{})
	go func() {
		defer close(swept)
		if c.sweepInterval > 0 {
			eng.Sweeper(housekeeping, c.sweepInterval)
		}
	}()
	waitEvents := func() {}
	defer func() {
		stopHousekeeping()
		<-housekept // before the deferred store Close
		<-swept
		waitEvents()
	}()
	if waitEvents, err = out.start(housekeeping, eng); err != nil {
		ln.Close()
		return err
	}
	stopMetrics, err := serveMetrics(c, reg, log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	defer stopMetrics()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first, so that load balancers stop sending requests before the listener closes;
	// then stop accepting and let in-flight requests finish (shutdown).
	drainer.Drain()
	log.Info("draining", "for", c.limits.shutdownDrain.String())
	limits.Sleep(context.WithoutCancel(ctx), c.limits.shutdownDrain)
	return shutdown(srv, c.shutdownTimeout, log)
}

// handler is everything cartd serves: each dialect at the path prefix of its seed's API, and
// the native API (with /healthz, /readyz, /openapi.json) at every other path. Each front door
// answers its own unknown paths and methods in its own error shape. A new dialect is one more
// line here.
// One Guard covers them all: its in-flight cap is the node's.
func handler(eng *engine.Engine, c config, log *slog.Logger, drainer *limits.Drainer) http.Handler {
	g := c.limits.guard(c.abuse, log, c.refused)
	mux := http.NewServeMux()
	mux.Handle("/", api.New(eng, api.Config{Logger: log, Guard: g, Drainer: drainer, MaxBody: c.limits.maxBody}))
	mux.Handle(sourcehub.Prefix, sourcehub.New(eng, sourcehub.Config{Logger: log, Guard: g}))
	mux.Handle(ebay.Prefix, ebay.New(eng, ebay.Config{PublicURL: c.publicURL, Logger: log, Guard: g}))
	mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{Logger: log, Guard: g}))
	mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{Logger: log, Guard: g}))
	mountConsole(mux, c)
	return mux
}

// migrate is `cartd migrate [--db DB] [--create]`.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate")
	c := operatorConfig(fs, getenv)
	create := fs.Bool("create", false, "create the SQLite file if it does not exist (a PostgreSQL database must exist already)")
	pos, err := parseArgs(fs, `cartd migrate [--db DB] [--create]

Applies the schema migrations the database lacks (cartd serve also does at start-up). Refuses a
SQLite path where no file exists, unless --create.`, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("migrate", "unexpected argument %q", pos[0])
	}
	open := openExisting
	if *create {
		open = openStore
	}
	st, err := open(ctx, *c)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "schema is up to date")
	return st.Close()
}

// keys is `cartd keys create|list|revoke`.
func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const synopsis = `cartd keys create --scopes SCOPES [--label NAME] [--db DB]
       cartd keys list [--db DB]
       cartd keys revoke ID [--db DB]

Run 'cartd keys SUBCOMMAND --help' for its flags.`
	if len(args) == 0 {
		return usagef("keys", "keys needs a subcommand: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], getenv, stdout)
	case "list", "revoke":
		return keysAdmin(ctx, args[0], args[1:], getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		printUsage(stdout, newFlagSet("keys"), synopsis)
		return flag.ErrHelp
	}
	return usagef("keys", "unknown keys subcommand %q (want create, list or revoke)", args[0])
}

// keysCreate is `cartd keys create`: it prints the new key's secret, which is stored nowhere.
func keysCreate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("keys create")
	scopes := fs.String("scopes", "", "comma-separated: carts:read, carts:write, catalog:read, catalog:write, events:read, admin")
	label := fs.String("label", "", "a name to recognise the key by")
	c := operatorConfig(fs, getenv)
	pos, err := parseArgs(fs, `cartd keys create --scopes SCOPES [--label NAME] [--db DB]

Creates an API key and prints its secret (sk_...), which cartd stores only as a digest.`, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("keys create", "unexpected argument %q", pos[0])
	}
	sc, err := auth.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("--scopes: %w", err)
	}
	st, err := openExisting(ctx, *c)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, _, err := engine.New(st, engine.Config{}).CreateKey(ctx, sc, *label)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}
