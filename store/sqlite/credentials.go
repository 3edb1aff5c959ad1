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

const qInsertKey = table.InsertKey

// InsertKey stores a new API key and sets its Num; its scopes are a JSON array.
func (t *txn) InsertKey(ctx context.Context, k *auth.Key) error {
	scopes, err := table.Scopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: insert key: %w", err)
	}
	err = t.queryRow(ctx, qInsertKey, k.Hash[:], scopes, k.Label, micros(k.CreatedAt),
		nullMicros(k.RevokedAt)).
		Scan(&k.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert key: %w", dbErr(ctx, err))
	}
	return nil
}

const qKeyByHash = table.KeyByHash

// KeyByHash finds an API key by the digest of its secret, revoked or not.
func (t *txn) KeyByHash(ctx context.Context, h auth.Digest) (auth.Key, error) {
	var (
		k       auth.Key
		hash    []byte
		scopes  []byte
		created int64
		revoked sql.NullInt64
	)
	err := t.queryRow(ctx, qKeyByHash, h[:]).Scan(&k.Num, &hash, &scopes, &k.Label, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Key{}, table.KeyNotFound()
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("sqlite: get key: %w", dbErr(ctx, err))
	}
	if err := table.Key(&k, hash, scopes); err != nil {
		return auth.Key{}, fmt.Errorf("sqlite: get key: %w", err)
	}
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return k, nil
}

const qInsertToken = table.InsertToken

// InsertToken stores a new customer token and sets its Num.
func (t *txn) InsertToken(ctx context.Context, tok *auth.Token) error {
	err := t.queryRow(ctx, qInsertToken, tok.CustomerID, tok.Hash[:], micros(tok.CreatedAt),
		micros(tok.ExpiresAt), nullMicros(tok.RevokedAt)).
		Scan(&tok.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert token: %w", dbErr(ctx, err))
	}
	return nil
}

const qTokenByHash = table.TokenByHash

// TokenByHash finds a customer token by the digest of its secret, expired or revoked or not.
func (t *txn) TokenByHash(ctx context.Context, h auth.Digest) (auth.Token, error) {
	var (
		tok              auth.Token
		hash             []byte
		created, expires int64
		revoked          sql.NullInt64
	)
	err := t.queryRow(ctx, qTokenByHash, h[:]).Scan(&tok.Num, &tok.CustomerID, &hash, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Token{}, table.TokenNotFound()
	}
	if err != nil {
		return auth.Token{}, fmt.Errorf("sqlite: get token: %w", dbErr(ctx, err))
	}
	if err := table.Digest(&tok.Hash, hash); err != nil {
		return auth.Token{}, fmt.Errorf("sqlite: get token %d: %w", tok.Num, err)
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	return tok, nil
}

const qRevokeToken = table.RevokeToken

// RevokeToken revokes a customer's token. Revoking it again succeeds and keeps the first
// instant, so a retried revocation does not rewrite history. Another customer's token is
// NotFound, as if it did not exist.
func (t *txn) RevokeToken(ctx context.Context, customerID string, num int64, at time.Time) error {
	return t.execOne(ctx, table.TokenNotFound, "revoke token", qRevokeToken, micros(at), num, customerID)
}
