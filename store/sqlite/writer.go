package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cartd/cartd/store"
)

// Group commit. Every Write is queued to one writer goroutine, which takes whatever has queued
// up (at most maxBatch), runs each in a savepoint of one IMMEDIATE transaction, and commits
// once. A call's savepoint is rolled back when it fails, so each call stays all or nothing;
// and no call hears of its success before the shared COMMIT returns, so an acknowledged change
// is as durable as the durability setting says. With --durability full this turns one fsync
// per call into one per batch. Running every transaction on the one goroutine also keeps its
// stack grown: this SQLite is deep Go code, and a fresh request goroutine would grow its stack
// again on every call.

// maxBatch bounds a group commit, so that one commit's latency stays small.
const maxBatch = 64

// errClosed is returned by a Write made after Close.
var errClosed = errors.New("sqlite: store closed")

type writeReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
	// state settles, once, whether the writer runs the call or its caller gave up on it
	// while it was queued, so that a caller told "cancelled" is never applied after all.
	state atomic.Int32
}

// States of a queued call.
const (
	queued int32 = iota
	running
	abandoned
)

// Write runs fn in a transaction on the one write connection, possibly together with other
// calls' transactions (see group commit above). A call whose ctx ends while it waits its turn
// returns ctx's error and is never run; once started, fn runs to its end and Write waits for
// the commit, even if ctx ends meanwhile, since its change may already be part of a commit.
//
// It never retries, unlike the PostgreSQL store: with a single writer holding the write lock
// from BEGIN there is no serialization failure to recover from, the only contention (another
// process on the file) is waited out by busy_timeout, and re-running fn after a failed COMMIT
// could apply a change twice should that COMMIT have reached the disk.
//
// fn must not call Write itself: the writer runs one call at a time.
func (s *Store) Write(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.stop:
		return errClosed
	default:
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		return <-req.done
	case <-s.writerDone:
		// Closed while queued (the queue is buffered, so the send above may win the race
		// with Close): the writer is gone, and unless it ran the call, nobody will.
		if req.state.CompareAndSwap(queued, abandoned) {
			return errClosed
		}
		return <-req.done
	}
}

// checkpointEvery is how often, at most, the writer looks at the WAL's size.
const checkpointEvery = time.Second

// walRestartBytes is the WAL size past which the writer restarts it.
const walRestartBytes = 64 << 20

// checkpointWait is how long a restart waits for readers still reading the WAL's older frames
// before giving up until the next time: it holds the writer meanwhile.
const checkpointWait = 50 * time.Millisecond

// checkpoint starts the WAL over when it has grown past walRestartBytes. SQLite's automatic
// checkpoint copies the WAL into the database after each commit that grew it past 1,000
// pages, but it can only start the WAL over when no reader is using it, which under steady
// load may be never: the WAL then grows for ever (past a gigabyte in a few minutes of
// `update` on a grown store), and every page a transaction reads is looked up in a WAL index
// that grows with it, so every request got slower the longer cartd ran. TRUNCATE waits,
// briefly, for the readers to move on to the newest snapshot, which they do within a request,
// copies what is left, and empties the file. A restart that times out waiting (a long read, a
// backup) is tried again a second later. A WAL that stays small costs a stat a second.
func (s *Store) checkpoint() {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil || fi.Size() < walRestartBytes {
		return
	}
	ctx := context.Background()
	conn, err := s.write.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointWait.Milliseconds())); err != nil {
		return
	}
	conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)") // SQLITE_BUSY: next time
	conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds()))
}

// writer serves the write queue until Close.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	lastCheckpoint := time.Now()
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.stop:
			s.drain()
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break more
			}
		}
		s.commit(batch)
		if time.Since(lastCheckpoint) >= checkpointEvery {
			s.checkpoint()
			lastCheckpoint = time.Now()
		}
	}
}

// drain fails the calls still queued when the store closes.
func (s *Store) drain() {
	for {
		select {
		case req := <-s.writes:
			req.done <- errClosed
		default:
			return
		}
	}
}

// commit runs a batch in one transaction and tells each call its outcome.
func (s *Store) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	err := s.runBatch(batch, results)
	for i, req := range batch {
		if results[i] == nil && err != nil {
			results[i] = err
		}
		req.done <- results[i]
	}
}

// runBatch runs the calls of a batch, recording each call's own failure in results; a failure
// of the transaction as a whole (begin, savepoint, commit) is returned and fails every call
// that had succeeded, none of which then took effect.
func (s *Store) runBatch(batch []*writeReq, results []error) error {
	ctx := context.Background() // a started transaction is not abandoned half-way
	tx, err := s.write.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin write: %w", dbErr(ctx, err))
	}
	defer tx.Rollback()
	t := &txn{tx: tx, p: s.write, wctx: ctx, c: s.cache}
	if err := s.cache.begin(ctx, t); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			s.cache.rollbackTo(0) // the cache is as the database is: without this group
		}
	}()
	single := len(batch) == 1
	ran := false
	for i, req := range batch {
		if !req.state.CompareAndSwap(queued, running) {
			results[i] = req.ctx.Err()
			continue
		}
		if !single {
			if _, err := t.exec(ctx, qSavepoint); err != nil {
				return fmt.Errorf("sqlite: savepoint: %w", dbErr(ctx, err))
			}
		}
		// The clock is read once the write lock is held, so that instants follow commit order.
		t.now = s.reading()
		mark := s.cache.mark()
		results[i] = run(req.fn, t)
		switch {
		case results[i] != nil && single:
			return nil // nothing else in the transaction; the deferred Rollback undoes it
		case results[i] != nil:
			if _, err := t.exec(ctx, qRollbackToSavepoint); err != nil {
				return fmt.Errorf("sqlite: rollback to savepoint: %w", dbErr(ctx, err))
			}
			s.cache.rollbackTo(mark)
			fallthrough
		case !single:
			if _, err := t.exec(ctx, qReleaseSavepoint); err != nil {
				return fmt.Errorf("sqlite: release savepoint: %w", dbErr(ctx, err))
			}
		}
		ran = ran || results[i] == nil
	}
	if !ran {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", dbErr(ctx, err))
	}
	committed = true
	s.cache.commit()
	return nil
}

// run calls fn, turning a panic into an error: the writer goroutine serves every caller and
// must outlive any one of them.
func run(fn func(store.Tx) error, t *txn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", v)
		}
	}()
	return fn(t)
}

const (
	qSavepoint           = `SAVEPOINT call`
	qRollbackToSavepoint = `ROLLBACK TO call`
	qReleaseSavepoint    = `RELEASE call`
)
