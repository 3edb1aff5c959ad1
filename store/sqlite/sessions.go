package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/store/internal/table"
)

const qInsertSession = table.InsertSession

// InsertSession stores a new storefront session and sets its Num.
func (t *txn) InsertSession(ctx context.Context, s *auth.Session) error {
	err := t.queryRow(ctx, qInsertSession, s.Hash[:], s.CartNum, micros(s.CreatedAt), micros(s.ExpiresAt), s.ClientAddr).Scan(&s.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert session: %w", dbErr(ctx, err))
	}
	return nil
}

const qSessionByHash = table.SessionByHash

// SessionByHash finds a storefront session by the digest of its secret, expired or not.
func (t *txn) SessionByHash(ctx context.Context, h auth.Digest) (auth.Session, error) {
	var (
		s                auth.Session
		hash             []byte
		created, expires int64
	)
	err := t.queryRow(ctx, qSessionByHash, h[:]).Scan(&s.Num, &s.CartNum, &hash, &created, &expires, &s.ClientAddr)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Session{}, table.SessionNotFound()
	}
	if err != nil {
		return auth.Session{}, fmt.Errorf("sqlite: get session: %w", dbErr(ctx, err))
	}
	if err := table.Digest(&s.Hash, hash); err != nil {
		return auth.Session{}, fmt.Errorf("sqlite: get session %d: %w", s.Num, err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

const qPurgeSessions = `
	DELETE FROM sessions WHERE num IN (
		SELECT num FROM sessions WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`

// PurgeSessions deletes up to limit sessions that expired before the instant.
func (t *txn) PurgeSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := t.exec(ctx, qPurgeSessions, micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge sessions: %w", dbErr(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge sessions: %w", dbErr(ctx, err))
	}
	return int(n), nil
}
