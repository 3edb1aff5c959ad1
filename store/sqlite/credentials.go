package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

const qInsertKey = `
	INSERT INTO api_keys (hash, scopes, label, created_at, revoked_at)
	VALUES (?, ?, ?, ?, ?)
	RETURNING num`

// InsertKey stores a new API key and sets its Num; its scopes are a JSON array.
func (t *txn) InsertKey(ctx context.Context, k *auth.Key) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: insert key: scopes: %w", err)
	}
	err = t.queryRow(ctx, qInsertKey, k.Hash[:], string(scopes), k.Label, micros(k.CreatedAt),
		nullMicros(k.RevokedAt)).
		Scan(&k.Num)
	if err != nil {
		return fmt.Errorf("sqlite: insert key: %w", dbErr(ctx, err))
	}
	return nil
}

const qKeyByHash = `SELECT num, hash, scopes, label, created_at, revoked_at FROM api_keys WHERE hash = ?`

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
		return auth.Key{}, cart.Errorf(cart.NotFound, "key_not_found", "API key not found")
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("sqlite: get key: %w", dbErr(ctx, err))
	}
	if copy(k.Hash[:], hash) != len(k.Hash) {
		return auth.Key{}, fmt.Errorf("sqlite: get key %d: hash of %d bytes", k.Num, len(hash))
	}
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return auth.Key{}, fmt.Errorf("sqlite: get key %d: scopes: %w", k.Num, err)
	}
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return k, nil
}

const qInsertToken = `
	INSERT INTO customer_tokens (customer_id, hash, created_at, expires_at, revoked_at)
	VALUES (?, ?, ?, ?, ?)
	RETURNING num`

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

const qTokenByHash = `
	SELECT num, customer_id, hash, created_at, expires_at, revoked_at
	FROM customer_tokens WHERE hash = ?`

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
		return auth.Token{}, errTokenNotFound()
	}
	if err != nil {
		return auth.Token{}, fmt.Errorf("sqlite: get token: %w", dbErr(ctx, err))
	}
	if copy(tok.Hash[:], hash) != len(tok.Hash) {
		return auth.Token{}, fmt.Errorf("sqlite: get token %d: hash of %d bytes", tok.Num, len(hash))
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = fromMicros(created), fromMicros(expires), fromNullMicros(revoked)
	return tok, nil
}

func errTokenNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "token_not_found", "customer token not found")
}

const qRevokeToken = `
	UPDATE customer_tokens SET revoked_at = COALESCE(revoked_at, ?)
	WHERE num = ? AND customer_id = ?`

// RevokeToken revokes a customer's token. Revoking it again succeeds and keeps the first
// instant, so a retried revocation does not rewrite history. Another customer's token is
// NotFound, as if it did not exist.
func (t *txn) RevokeToken(ctx context.Context, customerID string, num int64, at time.Time) error {
	return t.execOne(ctx, errTokenNotFound, "revoke token", qRevokeToken, micros(at), num, customerID)
}
