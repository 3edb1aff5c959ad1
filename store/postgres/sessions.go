package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/store/internal/table"
)

var qInsertSession = rebind(table.InsertSession)

// InsertSession stores a new storefront session and sets its Num.
func (t *txn) InsertSession(ctx context.Context, s *auth.Session) error {
	_, err := t.queryRow(ctx, "insert session", qInsertSession,
		[]any{s.Hash[:], s.CartNum, s.CreatedAt, s.ExpiresAt, s.ClientAddr}, &s.Num)
	return err
}

var qSessionByHash = rebind(table.SessionByHash)

// SessionByHash finds a storefront session by the digest of its secret, expired or not.
func (t *txn) SessionByHash(ctx context.Context, h auth.Digest) (auth.Session, error) {
	var (
		s    auth.Session
		hash []byte
	)
	found, err := t.queryRow(ctx, "get session", qSessionByHash, []any{h[:]},
		&s.Num, &s.CartNum, &hash, &s.CreatedAt, &s.ExpiresAt, &s.ClientAddr)
	if err != nil {
		return auth.Session{}, err
	}
	if !found {
		return auth.Session{}, table.SessionNotFound()
	}
	if err := table.Digest(&s.Hash, hash); err != nil {
		return auth.Session{}, fmt.Errorf("postgres: get session %d: %w", s.Num, err)
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// qPurgeSessions deletes a batch of expired sessions; the outer condition is checked again on
// each row as it is deleted.
const qPurgeSessions = `
	DELETE FROM sessions
	WHERE num IN (SELECT num FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
	  AND expires_at < $1`

// PurgeSessions deletes up to limit sessions that expired before the instant.
func (t *txn) PurgeSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, "purge sessions", qPurgeSessions, before, limit)
	return int(n), err
}
