// Package sqlite is cartd's embedded store: one SQLite file, for a single cartd node.
//
// SQLite allows one writer at a time, and a transaction that reads before it writes must hold
// the write lock from its BEGIN, or it fails with SQLITE_BUSY instead of waiting. So the store
// keeps two pools on the one file: a write pool of exactly one connection, on which every
// transaction is BEGIN IMMEDIATE and writers queue in Go (context-aware, in arrival order), and
// a read pool of several connections, which in WAL mode read a consistent snapshot while the
// writer works.
//
// Migrations are the numbered files in migrations/, embedded in the binary and applied by Open
// with goose's Provider API (github.com/pressly/goose/v3, dialect sqlite3), which records them
// in its goose_db_version table.
//
// Times are stored as INTEGER microseconds since the Unix epoch in UTC, so a time truncated to
// the microsecond (as Tx.Now is) comes back equal; finer precision is dropped and every time
// read back is in UTC.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Durability is how much a committed write survives.
type Durability int

const (
	// Normal (synchronous=NORMAL in WAL mode) survives a crash of the cartd process: a commit
	// is in the operating system's hands when Write returns, but not yet fsynced, so an OS crash
	// or power loss may lose the last commits (never corrupting the file).
	Normal Durability = iota
	// Full (synchronous=FULL) fsyncs the WAL at every commit, so a commit also survives an OS
	// crash or power loss, at the price of one fsync per Write.
	Full
)

// Options tune Open. The zero value is Normal durability on the system clock.
type Options struct {
	Durability Durability
	// Now is the clock behind Tx.Now; tests inject one to control reservation expiry.
	Now func() time.Time
	// PageCacheBytes is SQLite's page cache of the write connection (PRAGMA cache_size);
	// 0 means DefaultPageCacheBytes. Each read connection has a cache of readerCacheBytes.
	PageCacheBytes int64
	// WriteCacheBytes bounds the writer's cache of decoded rows (cache.go); 0 means
	// DefaultWriteCacheBytes.
	WriteCacheBytes int64
}

// DefaultPageCacheBytes is the write connection's page cache by default. SQLite's own default
// (2 MB) holds the pages of a fresh store; once the store has grown to hundreds of thousands
// of carts, the pages a change touches (the cart, its items, their indexes, the stock) no
// longer fit, and every change reads some of them back from the file (BENCHMARKS.md, "A grown
// store"). The page cache is outside Go's heap, so GOMEMLIMIT does not count it.
const DefaultPageCacheBytes = 64 << 20

// readerCacheBytes is each read connection's page cache. Reads come from the operating
// system's cache of the file when they miss; readConns of these must fit beside the writer's
// within cartd's memory budget (docs/operations.md).
const readerCacheBytes = 4 << 20

// busyTimeout is how long a connection waits for a lock another process holds.
const busyTimeout = 5 * time.Second

// readConns is the size of the read pool. Readers never wait for the writer in WAL mode, so
// a few connections cover the parallelism of a small machine; more only hold memory.
const readConns = 6

// Store is the SQLite implementation of store.Store.
type Store struct {
	path  string // the database file; its WAL is path + "-wal"
	write *pool  // one connection: SQLite's single writer, queued in Go
	read  *pool  // several connections, query_only
	now   func() time.Time

	cache      *writeCache    // the writer's (cache.go); only the writer goroutine touches it
	writes     chan *writeReq // to the writer goroutine (see Write)
	stop       chan struct{}  // closed by Close
	writerDone chan struct{}  // closed when the writer has stopped
	closeOnce  sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if need be) the database file at path and brings its schema up to
// date. In-memory databases are refused: each connection would see a database of its own.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open: want a file path, got %q", path)
	}
	if opts.Durability != Normal && opts.Durability != Full {
		return nil, fmt.Errorf("sqlite: open: unknown durability %d", opts.Durability)
	}
	s := &Store{now: opts.Now, path: path}
	if s.now == nil {
		s.now = time.Now
	}

	synchronous := "NORMAL"
	if opts.Durability == Full {
		synchronous = "FULL"
	}
	// The write pool migrates before the read pool exists: the schema must be in place for
	// the readers' statements, and the first connection, which switches the file to WAL, is
	// then the writer's.
	var err error
	pageCache := opts.PageCacheBytes
	if pageCache <= 0 {
		pageCache = DefaultPageCacheBytes
	}
	s.write, err = openPool(ctx, dsn(path, synchronous, "immediate", false, pageCache), 1, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", dbErr(ctx, err))
	}
	s.read, err = openPool(ctx, dsn(path, synchronous, "deferred", true, readerCacheBytes), readConns, false)
	if err != nil {
		s.write.close()
		return nil, fmt.Errorf("sqlite: open readers: %w", dbErr(ctx, err))
	}
	s.cache = newWriteCache(opts.WriteCacheBytes)
	s.writes, s.stop, s.writerDone = make(chan *writeReq, maxBatch), make(chan struct{}), make(chan struct{})
	go s.writer()
	return s, nil
}

// dsn builds the connection string. The path is percent-escaped where SQLite's URI parsing
// would otherwise cut it short. Readers connect query_only so that a read transaction cannot
// write by mistake, and with deferred BEGIN so that they never take the write lock. The page
// cache is given in bytes (a negative cache_size is KiB). Temporary files stay in memory: the
// writer's group commit runs each call under a savepoint, so SQLite keeps a statement journal
// of the pages each call first touches, and in a file that is a write system call per page.
func dsn(path, synchronous, txlock string, queryOnly bool, cacheBytes int64) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -max(cacheBytes>>10, 1)))
	if queryOnly {
		q.Add("_pragma", "query_only(ON)")
	}
	q.Set("_txlock", txlock)
	return "file:" + escaped + "?" + q.Encode()
}

// runMigrations applies the embedded migrations not yet applied. It runs on the write pool,
// whose one connection goose takes for the whole run, so it needs no lock of its own against
// the store's writers; against another process migrating the same file, BEGIN IMMEDIATE and
// the busy timeout serialize the two.
func runMigrations(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Read runs fn in a deferred, read-only transaction on the read pool: its snapshot is taken at
// its first read and stays the same until it ends, whatever commits meanwhile.
func (s *Store) Read(ctx context.Context, fn func(store.ReadTx) error) error {
	tx, err := s.read.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", dbErr(ctx, err))
	}
	defer tx.Rollback()
	if err := fn(&txn{tx: tx, p: s.read, now: s.reading()}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit read: %w", dbErr(ctx, err))
	}
	return nil
}

// reading takes the one clock reading of a transaction, in the form storage keeps exactly.
func (s *Store) reading() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Ping checks both pools, since either failing makes the store unusable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", dbErr(ctx, err))
	}
	if err := s.read.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping readers: %w", dbErr(ctx, err))
	}
	return nil
}

// Close closes both pools. The read pool closes first so that the writer's connection, the
// last to close, checkpoints the WAL into the main file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.writerDone
	if err := errors.Join(s.read.close(), s.write.close()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// pool is a connection pool with every statement of the store prepared. This SQLite is C
// translated to Go: parsing and planning a statement costs as much as running a small one
// (about half of a small Write, a third of reading a small cart), so each connection parses
// each statement once.
type pool struct {
	db    *sql.DB
	stmts map[string]*sql.Stmt
	// unprepared, when set, hears of every statement run without being in statements; tests
	// set it to keep that list complete.
	unprepared func(query string)
}

// statements lists every statement the transactions run, for Open to prepare.
var statements = []string{
	qSettings, qPutSettings,
	qCart, qActiveCartOf, qCustomerUnits, qInsertCart, qUpdateCart,
	qInsertItem, qUpdateItem, qDeleteItem, qDeleteItems, qLines,
	qStock, qPutStock, qStockHolders, qExpiredHolders, qReservedUnits, qAddressHeld, qSessionAddr,
	qSale, qPutSale, qExpiredReservations, qUnavailableReservations, qCartCurrencies,
	qProduct, qProductVariants, qVariantBySKU, qVariantByID, qVariantByNum,
	qPutProduct, qDeleteVariants, qVariantOwner, qSKUHolder, qPutVariant, qDeleteProduct,
	qInsertKey, qKeyByHash, qInsertToken, qTokenByHash, qRevokeToken,
	qInsertSession, qSessionByHash, qPurgeSessions,
	qIdempotency, qPutIdempotency, qPurgeIdempotency,
	qSavepoint, qRollbackToSavepoint, qReleaseSavepoint, qDataVersion,
	qPromotion, qAutoPromotions, qAllAutoPromotions, qCoupons, qPutPromotion, qDeletePromotion, qAddCoupon, qRemoveCoupon,
	qKeys, qRevokeKey, qAbandonedCarts, qDeleteCart, qPurgeTokens,
	qCheckoutRecord, qPutCheckoutRecord,
	qAppendEvent, qEvents, qCartEvents, qPurgeEvents, qPurgeDeliveries, qWebhook, qWebhooks, qPutWebhook, qDeleteWebhook,
	qAddDelivery, qSetCursor, qDeliveries, qClaimable, qLease, qRenewLeases, qFinishAttempt, qRetryDelivery,
	qOldestPending, qIdleCarts, qMarkAbandoned, qLastEventSeq,
	qRenewWebhookLeases, qTakeWebhook, qAdvanceStream, qRecordDelivery, qReleaseWebhooks, qPendingKeys,
}

// openPool opens a pool of at most conns connections and prepares the statements on it. A
// statement is prepared on one connection here; database/sql prepares it on each further
// connection the first time a transaction there uses it, and keeps it for the connection's
// life.
func openPool(ctx context.Context, dsn string, conns int, migrate bool) (*pool, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	p := &pool{db: db, stmts: make(map[string]*sql.Stmt, len(statements))}
	if migrate {
		if err := runMigrations(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	for _, q := range statements {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("prepare %s: %w", strings.Join(strings.Fields(q), " "), err)
		}
		p.stmts[q] = st
	}
	return p, nil
}

// stmt returns the prepared form of query, or nil if it was left out of statements.
func (p *pool) stmt(query string) *sql.Stmt {
	st := p.stmts[query]
	if st == nil && p.unprepared != nil {
		p.unprepared(query)
	}
	return st
}

func (p *pool) close() error {
	for _, st := range p.stmts {
		st.Close()
	}
	return p.db.Close()
}

// dbErr is the one place that looks inside the driver's errors. A statement interrupted
// because its context ended becomes that context's error, so that callers see
// context.Canceled rather than a database failure; a lock still held by another process after
// busy_timeout is Unavailable (503), not Internal. Everything else passes through.
func dbErr(ctx context.Context, err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_INTERRUPT:
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err)
		}
	case sqlite3.SQLITE_BUSY:
		return &cart.Error{Code: cart.Unavailable, Reason: "database_busy", Message: "the database is busy", Err: err}
	}
	return err
}
