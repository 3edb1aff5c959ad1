// Package postgres is cartd's store for several nodes: PostgreSQL through pgx's connection pool
// (github.com/jackc/pgx/v5/pgxpool). Any number of cartd processes may share one database;
// every behaviour of the single-node SQLite store holds across them.
//
// # Isolation
//
// Write transactions run at READ COMMITTED and lock, when they read them, the rows they go on
// to change: Cart and Stock in a Tx are SELECT ... FOR UPDATE, so two calls on one cart, or
// two calls moving one SKU's stock, queue on the row and the second reads what the first
// committed. READ COMMITTED rather than SERIALIZABLE because of hot rows: under PostgreSQL's
// SERIALIZABLE (or REPEATABLE READ) a transaction that waited for a row lock fails with a
// serialization failure as soon as the holder commits, so a flash sale with hundreds of carts
// on one SKU turns into a storm of retries, where READ COMMITTED makes them wait their turn.
//
// READ COMMITTED lets a statement see commits that happened after the transaction began, so
// every other read-then-write is guarded here, in the store, as a serializable database would
// guard it:
//
//   - a row a transaction read as absent (Stock of a SKU never stocked, Settings never stored)
//     is written back with a plain INSERT: if another transaction inserted it meanwhile, the
//     unique violation (23505) re-runs the whole transaction, which then sees that row. Every
//     unique value the engine inserts is looked up first (a product's SKUs, an API key's
//     digest), so a unique violation always means such a race, and is retried the same way
//     (an insert whose duplicate is the caller's error, a coupon applied twice, uses
//     ON CONFLICT DO NOTHING instead);
//   - the settings row, read by every cart call, is not locked (that would serialize all
//     carts) but written back only if its revision is still the one read, else retried;
//   - an idempotency record replaces only an expired one: of two calls racing on one key,
//     the second's insert waits for the first's and then finds it live (Conflict
//     idempotency_key_taken, which the engine answers with the first's outcome);
//   - StockHolders in a Tx locks the items it returns: an inventory decrease changes items of
//     carts whose row it has not locked yet, and must not overwrite a concurrent change to
//     them with what it read before;
//   - a variant id is upserted only onto a variant of the same product.
//
// Lines reads a cart's items without locking them: the engine locks the cart first, and only
// a transaction holding a cart (or, for an inventory decrease, the items' locks) changes its
// items. Catalog reads (products, variants) take no lock either: a call that read a variant
// just before it changed is ordered before that change, as with a single writer.
//
// Read transactions are REPEATABLE READ READ ONLY: one snapshot for the whole transaction.
//
// # Lock order and retries
//
// Row locks follow one order: carts in ascending Num, then stock rows in ascending SKU. A lock
// the engine must take against it (see locks.go) is taken with NOWAIT, and a busy row re-runs
// the transaction with its rows locked in order first, so cartd's transactions avoid
// deadlocks instead of waiting deadlock_timeout for PostgreSQL to break them.
//
// Write and Read re-run the whole closure, in a new transaction, on a serialization failure
// (40001: CockroachDB and YugabyteDB raise it at their default isolation, PostgreSQL under
// SERIALIZABLE), a deadlock (40P01, the backstop), a NOWAIT lock refused (55P03), the unique
// violations and stale reads above, and a BEGIN that failed on a connection the server had
// dropped (retry holds all of it). A COMMIT that fails for want of a connection is never
// re-run: the change may have been applied.
//
// # Clock
//
// Tx.Now is the database's now(), read once right after BEGIN, so every node agrees on
// reservation times whatever its own clock says. A re-run is a new transaction and reads the
// clock again: it runs after the transaction it collided with committed, sees what that one
// wrote, and must not stamp its own changes (updated_at, reserved_until) earlier than those.
//
// # Schema
//
// Migrations are the numbered files in migrations/, embedded and applied by Open with goose's
// Provider API under goose's table-based lock (the goose_lock table, no advisory locks), so
// that nodes starting together migrate once. Times are TIMESTAMPTZ (microseconds, read back
// in UTC); numbers BIGINT; nums BIGSERIAL, never reused; digests and response bodies BYTEA;
// JSON (metadata, prices, shipping) is TEXT, kept byte for byte as the client sent it (JSONB
// would also refuse the \u0000 escape that JSON allows). The SQL sticks to what CockroachDB
// and YugabyteDB accept: no advisory locks, extensions or PostgreSQL-only types.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults of Options.
const (
	// DefaultMaxConns sizes the pool: enough for transactions that wait on a row lock not to
	// starve the others of connections, while three nodes stay well within PostgreSQL's
	// default max_connections of 100.
	DefaultMaxConns = 16
	// DefaultStatementTimeout bounds every statement, lock waits included, so that a stuck
	// transaction costs its callers a 503 rather than their connection forever. It is long
	// because legitimate waits can be: a batch of a thousand lines holds its SKUs' stock rows
	// for its whole transaction, and carts changing the same SKUs queue behind it.
	DefaultStatementTimeout = 30 * time.Second
	// idleInTransactionTimeout is how long the server lets a transaction sit idle (a node
	// frozen mid-transaction) before it ends the session and frees the rows it locked.
	idleInTransactionTimeout = 30 * time.Second
	// DefaultStockBuckets is cartd's --stock-buckets (docs/stock.md, "Hot SKUs: stock
	// buckets", says how it was chosen).
	DefaultStockBuckets = 8
	// MaxStockBuckets bounds Options.StockBuckets: a whole write of a SKU writes every row.
	MaxStockBuckets = 64
)

// Options tune Open. The zero value is the defaults above.
type Options struct {
	// MaxConns bounds the connection pool; 0 means DefaultMaxConns.
	MaxConns int32
	// StatementTimeout is the server's statement_timeout for the store's connections; 0 means
	// DefaultStatementTimeout, unless the URL sets statement_timeout itself.
	StatementTimeout time.Duration
	// FullDurability (--durability full) sets synchronous_commit=on for the store's sessions
	// whatever the server's default, so that a commit is flushed to the server's disk (and to
	// its synchronous standbys, if any) before Write returns. Otherwise the server's setting
	// stands; PostgreSQL's default, on, already survives an OS crash.
	FullDurability bool
	// Now, when set, replaces the database's clock behind Tx.Now; tests inject one to control
	// reservation expiry. Nodes sharing a database must leave it nil, so that they agree.
	Now func() time.Time
	// OnRetry, when set, is called each time a transaction is re-run, with why (one of
	// RetryReasons): the metrics' count of retries. It must be cheap and safe for concurrent use.
	OnRetry func(reason string)
	// NoListen leaves out the connection that listens for other nodes' changes of settings
	// and promotions (cache.go): the node then learns of them by the cache's version alone, at
	// its next transaction. Tests use it to prove that the version suffices.
	NoListen bool
	// StockBuckets, above 1, spreads every SKU's stock over that many rows as it is written
	// whole, so that carts reserving one SKU draw from different rows instead of queueing on
	// one (buckets.go; docs/stock.md). 0 or 1: one row per SKU, locked by every read in a
	// write transaction. Nodes sharing a database should agree on it; any mix is correct.
	StockBuckets int
	// Tracer, when set, hears every statement the store's connections send (pgx.QueryTracer;
	// a pgx.BatchTracer too, when it is one): tests count a call's round trips with it.
	Tracer pgx.QueryTracer
}

// RetryReasons lists the reasons OnRetry reports.
var RetryReasons = []string{"serialization_failure", "deadlock", "unique_violation", "lock_not_available", "stale_read", "connection"}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool    *pgxpool.Pool
	now     func() time.Time    // nil: the database's clock
	onRetry func(reason string) // nil: retries are not reported
	// cache is the node's cache of settings and automatic promotions, channel the
	// notification channel of their changes (see cache.go); stopListen ends the listener,
	// which closes listenDone when it has (nil without a listener).
	cache      *nodeCache
	channel    string
	stopListen context.CancelFunc
	listenDone chan struct{}
	buckets    int // Options.StockBuckets
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...; libpq's parameters are understood, and
// any other parameter of the URL, such as search_path, is set on every connection) and brings
// its schema up to date.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: open: max conns %d is negative", opts.MaxConns)
	}
	if opts.StockBuckets < 0 || opts.StockBuckets > MaxStockBuckets {
		return nil, fmt.Errorf("postgres: open: stock buckets %d is not between 0 and %d", opts.StockBuckets, MaxStockBuckets)
	}
	cfg.ConnConfig.Tracer = opts.Tracer
	cfg.MaxConns = DefaultMaxConns
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.MaxConns < 3 {
		// Migrating holds one connection for goose while its lock takes others.
		cfg.MaxConns = 3
	}
	params := cfg.ConnConfig.RuntimeParams
	if _, ok := params["statement_timeout"]; !ok {
		timeout := DefaultStatementTimeout
		if opts.StatementTimeout > 0 {
			timeout = opts.StatementTimeout
		}
		params["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	if _, ok := params["idle_in_transaction_session_timeout"]; !ok {
		params["idle_in_transaction_session_timeout"] = strconv.FormatInt(idleInTransactionTimeout.Milliseconds(), 10)
	}
	if opts.FullDurability {
		params["synchronous_commit"] = "on"
	}
	params["timezone"] = "UTC"

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", dbErr(ctx, err))
	}
	if err := runMigrations(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	st := &Store{pool: pool, now: opts.Now, onRetry: opts.OnRetry, cache: &nodeCache{}, buckets: opts.StockBuckets}
	if err := pool.QueryRow(ctx, qCacheChannel).Scan(&st.channel); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", dbErr(ctx, err))
	}
	// A server without LISTEN/NOTIFY (CockroachDB) still gets a correct cache: the version
	// alone invalidates it (cache.go).
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, '')`, st.channel); err != nil {
		st.channel = ""
	}
	if !opts.NoListen && st.channel != "" {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		st.stopListen, st.listenDone = cancel, make(chan struct{})
		go st.listen(lctx, cfg.ConnConfig.Copy())
	}
	return st, nil
}

// runMigrations applies the embedded migrations not yet applied, under goose's table lock: of
// several nodes starting at once, one migrates while the others wait for it, then find
// nothing left to do. A node that dies holding the lock leaves it to the others after the
// lease (30 s).
func runMigrations(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableLockTimeout(500*time.Millisecond, 600), // poll every 0.5 s, for 5 min
		lock.WithTableLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", dbErr(ctx, err))
	}
	return nil
}

var (
	writeOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	readOptions  = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
)

// Read runs fn in a REPEATABLE READ READ ONLY transaction: one snapshot throughout.
func (s *Store) Read(ctx context.Context, fn func(store.ReadTx) error) error {
	return retry(ctx, s.onRetry, func() (*txn, error) {
		return s.attempt(ctx, readOptions, nil, func(t *txn) error { return fn(t) })
	})
}

// Write runs fn in a READ COMMITTED transaction whose Cart and Stock reads lock their rows
// (see the package documentation), re-running it on conflicts. A re-run first locks, in the
// lock order, the rows the attempts before it locked or wanted (see locks.go).
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	var want rows
	return retry(ctx, s.onRetry, func() (*txn, error) {
		return s.attempt(ctx, writeOptions, &want, func(t *txn) error { return fn(t) })
	})
}

// attempt runs fn once in a transaction of its own: begin, read the clock and the cache's
// version (one round trip), lock ahead (a write's re-run), fn, commit (with the writes still
// pending, one round trip). It returns the transaction, whose first database error tells
// retry what went wrong even if fn made light of it. want is nil for a read.
//
// BEGIN and COMMIT are sent by hand on a connection of the pool, rather than through pgx.Tx,
// so that they travel in a batch with other statements.
func (s *Store) attempt(ctx context.Context, opts pgx.TxOptions, want *rows, fn func(*txn) error) (*txn, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, &beginError{err: fmt.Errorf("postgres: begin: %w", dbErr(ctx, err))}
	}
	t := &txn{conn: conn, write: want != nil, want: want, cache: s.cache, channel: s.channel, buckets: s.buckets}
	open := true
	defer func() {
		if open {
			// A connection that cannot roll back is closed: the pool then drops it.
			if _, err := conn.Exec(context.WithoutCancel(ctx), "rollback"); err != nil {
				conn.Conn().Close(context.WithoutCancel(ctx))
			}
		}
		conn.Release()
	}()
	begin := "begin isolation level read committed"
	if opts.IsoLevel == pgx.RepeatableRead {
		begin = "begin isolation level repeatable read read only"
	}
	b := &pgx.Batch{}
	b.Queue(begin)
	b.Queue(`SELECT now(), COALESCE((SELECT version FROM cache_version WHERE id = 1), 0)`)
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, &beginError{err: fmt.Errorf("postgres: begin: %w", dbErr(ctx, err))}
	}
	err = br.QueryRow().Scan(&t.now, &t.cacheVersion)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return t, fmt.Errorf("postgres: read clock: %w", t.fail(ctx, err))
	}
	if s.now != nil {
		t.now = s.now()
	}
	t.now = t.now.UTC().Truncate(time.Microsecond)
	if want != nil && (len(want.carts) > 0 || len(want.skus) > 0) {
		if err := t.lockAhead(ctx, want); err != nil {
			return t, err
		}
	}
	if err := fn(t); err != nil {
		return t, err
	}
	if t.failed != nil {
		// fn went on past a failed statement (which aborted the transaction) or a stale
		// read: nothing of this attempt may be committed.
		return t, fmt.Errorf("postgres: commit: %w", t.failed)
	}
	br, err = t.send(ctx, queued{query: "commit"})
	if err != nil {
		return t, fmt.Errorf("postgres: commit: %w", err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() == "ROLLBACK" {
		// The server answers COMMIT of a transaction a failed statement aborted with
		// ROLLBACK, not an error (as pgx.Tx.Commit checks).
		err = pgx.ErrTxCommitRollback
	}
	if err != nil {
		return t, fmt.Errorf("postgres: commit: %w", dbErr(ctx, err))
	}
	open = false
	return t, nil
}

// Retries are bounded: a transaction that keeps colliding gives up with a 503 after about a
// second of backing off, rather than holding its caller indefinitely.
const (
	maxAttempts  = 10
	firstBackoff = 2 * time.Millisecond
	maxBackoff   = 250 * time.Millisecond
)

// retry is the one place that re-runs transactions. It runs attempt until it succeeds, fails
// for a reason a re-run cannot fix, or has run maxAttempts times, sleeping between attempts
// for a random time up to an exponentially growing bound ("full jitter"), so that the
// transactions that collided do not collide again in lockstep.
//
// A re-run is safe because nothing of a failed attempt was committed: the transaction rolled
// back, and fn has no effects outside it (store.Store's contract). What is re-run:
//   - conflicts (see conflictError), whether fn returned the error or went on past it and the
//     transaction's first failure shows it;
//   - a BEGIN that failed on a connection the server dropped (a restart): nothing was sent
//     for the transaction yet, and the pool hands the next attempt another connection.
//
// A COMMIT the server refused with a conflict (CockroachDB reports serialization failures
// there) is re-run like any; one whose connection failed is not, since it may have been
// applied: its caller gets Unavailable, and retries it with its idempotency key if it has
// one.
func retry(ctx context.Context, onRetry func(reason string), attempt func() (*txn, error)) error {
	backoff := firstBackoff
	for n := 1; ; n++ {
		t, err := attempt()
		if err == nil {
			return nil
		}
		var conflict *conflictError
		var begin *beginError
		again := errors.As(err, &conflict) || errors.As(err, &begin) && cart.ErrorCode(err) == cart.Unavailable
		if !again && t != nil && t.failed != nil && errors.As(t.failed, &conflict) {
			again = true
		}
		if !again || ctx.Err() != nil {
			return unwrapBegin(err)
		}
		if n == maxAttempts {
			if conflict != nil {
				return &cart.Error{Code: cart.Unavailable, Reason: "database_contention",
					Message: "the database is too busy with conflicting changes; retry the call", Err: err}
			}
			return unwrapBegin(err)
		}
		if onRetry != nil {
			onRetry(retryReason(err, t))
		}
		sleep := time.Duration(rand.Int64N(int64(backoff)) + 1)
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(sleep):
		}
	}
}

// retryReason names why retry re-runs an attempt that failed with err (see RetryReasons).
func retryReason(err error, t *txn) string {
	var conflict *conflictError
	if !errors.As(err, &conflict) && t != nil && t.failed != nil {
		errors.As(t.failed, &conflict)
	}
	if conflict == nil {
		return "connection" // a BEGIN on a dropped connection
	}
	var pe *pgconn.PgError
	if !errors.As(conflict, &pe) {
		return "stale_read"
	}
	switch pe.Code {
	case pgerrcode.SerializationFailure:
		return "serialization_failure"
	case pgerrcode.DeadlockDetected:
		return "deadlock"
	case pgerrcode.UniqueViolation:
		return "unique_violation"
	}
	return "lock_not_available"
}

// beginError marks a failure to begin a transaction, which is always safe to re-run.
type beginError struct{ err error }

func (e *beginError) Error() string { return e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

func unwrapBegin(err error) error {
	if b, ok := err.(*beginError); ok {
		return b.err
	}
	return err
}

// Ping checks that a connection answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", dbErr(ctx, err))
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	if s.stopListen != nil {
		s.stopListen()
		<-s.listenDone
	}
	s.pool.Close()
	return nil
}

// conflictError is a failure that re-running the transaction resolves: a serialization
// failure, a deadlock, or a stale read of READ COMMITTED detected by the store (a unique
// violation on a row read as absent, a settings revision that moved).
type conflictError struct{ err error }

func (e *conflictError) Error() string { return "conflict: " + e.err.Error() }
func (e *conflictError) Unwrap() error { return e.err }

// errStale is the store's own conflict: a row changed between this transaction's read and its
// write.
var errStale = errors.New("the row changed since this transaction read it")

// dbErr is the one place that looks inside the driver's errors:
//   - a statement interrupted because its context ended becomes that context's error, so that
//     callers see context.Canceled rather than a database failure;
//   - serialization failures, deadlocks and unique violations become conflictError, which
//     retry re-runs;
//   - a database that cannot be reached, is shutting down or restarting, has no connection
//     to spare, or does not answer within statement_timeout is Unavailable (503): the node
//     recovers by itself when the database does, as the pool reconnects;
//   - text PostgreSQL cannot store (a NUL character) is Invalid (422), where SQLite would have
//     stored it;
//   - everything else passes through, to be reported as Internal.
func dbErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)) {
		return errors.Join(ctx.Err(), err)
	}
	unavailable := func(reason, msg string) error {
		return &cart.Error{Code: cart.Unavailable, Reason: reason, Message: msg, Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == pgerrcode.SerializationFailure, pe.Code == pgerrcode.DeadlockDetected,
			pe.Code == pgerrcode.UniqueViolation, pe.Code == pgerrcode.LockNotAvailable:
			return &conflictError{err: err}
		case pe.Code == pgerrcode.QueryCanceled:
			if ctx.Err() != nil {
				return errors.Join(ctx.Err(), err)
			}
			return unavailable("database_timeout", "the database did not answer in time")
		case pe.Code == pgerrcode.CharacterNotInRepertoire, pe.Code == pgerrcode.UntranslatableCharacter:
			// PostgreSQL raises this for a NUL (0x00), which its text cannot hold, and for
			// bytes that are not UTF-8; say which. (The engine refuses both before they get
			// here; this is what a caller that skips it learns.)
			msg := "text must be valid UTF-8"
			if strings.Contains(pe.Message, "0x00") || strings.Contains(pe.Message, `\u0000`) {
				msg = "text must not contain NUL characters"
			}
			return &cart.Error{Code: cart.Invalid, Reason: "invalid_text", Message: msg, Err: err}
		case pgerrcode.IsConnectionException(pe.Code), pgerrcode.IsOperatorIntervention(pe.Code),
			pgerrcode.IsInsufficientResources(pe.Code), pgerrcode.IsSystemError(pe.Code):
			return unavailable("database_unavailable", "the database is unavailable")
		}
		return err
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return unavailable("database_unavailable", "the database is unavailable")
	}
	return err
}
