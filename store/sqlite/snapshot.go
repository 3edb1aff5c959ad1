package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The engine keeps rendered views of carts for reads (engine/snapshot.go) only over a store
// whose every write passes through this process, so that it hears of each one. SQLite's is
// such a store: one writer, in this process. Another process committing to the file (cartd
// import, cartd keys) is noticed by the writer at the start of its next group, through PRAGMA
// data_version, and counted in ExternalCommits.

// SoleWriter reports that every write to the store passes through this process's Write.
func (s *Store) SoleWriter() bool { return true }

// Now is the clock the store's transactions read.
func (s *Store) Now() time.Time { return s.reading() }

// ExternalCommits counts the times the writer found the file changed by another connection
// (or emptied its cache for its size): whoever keeps what it derived from the file forgets it
// when the count moves.
func (s *Store) ExternalCommits() uint64 { return s.cache.starts.Load() }

// qNextAutoPromotionChange finds the first instant after ? at which an automatic promotion
// starts or ends: until then the set AutoPromotions returns stays the same.
const qNextAutoPromotionChange = `
	SELECT MIN(t) FROM (
	  SELECT pr.starts_at AS t FROM promotions pr
	  WHERE pr.method = 'auto' AND pr.active = 1 AND pr.deleted = 0 AND pr.starts_at > ?
	  UNION ALL
	  SELECT pr.ends_at FROM promotions pr
	  WHERE pr.method = 'auto' AND pr.active = 1 AND pr.deleted = 0 AND pr.ends_at > ?)`

// NextAutoPromotionChange returns the first instant after at when an automatic promotion
// starts or ends, zero if none will.
func (t *txn) NextAutoPromotionChange(ctx context.Context, at time.Time) (time.Time, error) {
	var us sql.NullInt64
	if err := t.queryRow(ctx, qNextAutoPromotionChange, micros(at), micros(at)).Scan(&us); err != nil {
		return time.Time{}, fmt.Errorf("sqlite: next automatic promotion change: %w", dbErr(ctx, err))
	}
	if !us.Valid {
		return time.Time{}, nil
	}
	return fromMicros(us.Int64), nil
}
