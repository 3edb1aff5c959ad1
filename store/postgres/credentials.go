package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

const qInsertKey = `
	INSERT INTO api_keys (hash, scopes, label, created_at, revoked_at)
	VALUES ($1, $2, $3, $4, $5)
	RETURNING num`

// InsertKey stores a new API key and sets its Num; its scopes are a JSON array.
func (t *txn) InsertKey(ctx context.Context, k *auth.Key) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("postgres: insert key: scopes: %w", err)
	}
	_, err = t.queryRow(ctx, "insert key", qInsertKey,
		[]any{k.Hash[:], string(scopes), k.Label, k.CreatedAt, nullTime(k.RevokedAt)}, &k.Num)
	return err
}

const qKeyByHash = `SELECT num, hash, scopes, label, created_at, revoked_at FROM api_keys WHERE hash = $1`

// KeyByHash finds an API key by the digest of its secret, revoked or not.
func (t *txn) KeyByHash(ctx context.Context, h auth.Digest) (auth.Key, error) {
	var (
		k       auth.Key
		hash    []byte
		scopes  []byte
		revoked *time.Time
	)
	found, err := t.queryRow(ctx, "get key", qKeyByHash, []any{h[:]}, &k.Num, &hash, &scopes, &k.Label, &k.CreatedAt, &revoked)
	if err != nil {
		return auth.Key{}, err
	}
	if !found {
		return auth.Key{}, cart.Errorf(cart.NotFound, "key_not_found", "API key not found")
	}
	if copy(k.Hash[:], hash) != len(k.Hash) {
		return auth.Key{}, fmt.Errorf("postgres: get key %d: hash of %d bytes", k.Num, len(hash))
	}
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return auth.Key{}, fmt.Errorf("postgres: get key %d: scopes: %w", k.Num, err)
	}
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), fromNullTime(revoked)
	return k, nil
}

const qInsertToken = `
	INSERT INTO customer_tokens (customer_id, hash, created_at, expires_at, revoked_at)
	VALUES ($1, $2, $3, $4, $5)
	RETURNING num`

// InsertToken stores a new customer token and sets its Num.
func (t *txn) InsertToken(ctx context.Context, tok *auth.Token) error {
	_, err := t.queryRow(ctx, "insert token", qInsertToken,
		[]any{tok.CustomerID, tok.Hash[:], tok.CreatedAt, tok.ExpiresAt, nullTime(tok.RevokedAt)}, &tok.Num)
	return err
}

const qTokenByHash = `
	SELECT num, customer_id, hash, created_at, expires_at, revoked_at
	FROM customer_tokens WHERE hash = $1`

// TokenByHash finds a customer token by the digest of its secret, expired or revoked or not.
func (t *txn) TokenByHash(ctx context.Context, h auth.Digest) (auth.Token, error) {
	var (
		tok     auth.Token
		hash    []byte
		revoked *time.Time
	)
	found, err := t.queryRow(ctx, "get token", qTokenByHash, []any{h[:]},
		&tok.Num, &tok.CustomerID, &hash, &tok.CreatedAt, &tok.ExpiresAt, &revoked)
	if err != nil {
		return auth.Token{}, err
	}
	if !found {
		return auth.Token{}, errTokenNotFound()
	}
	if copy(tok.Hash[:], hash) != len(tok.Hash) {
		return auth.Token{}, fmt.Errorf("postgres: get token %d: hash of %d bytes", tok.Num, len(hash))
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = tok.CreatedAt.UTC(), tok.ExpiresAt.UTC(), fromNullTime(revoked)
	return tok, nil
}

func errTokenNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "token_not_found", "customer token not found")
}

const qRevokeToken = `
	UPDATE customer_tokens SET revoked_at = COALESCE(revoked_at, $1)
	WHERE num = $2 AND customer_id = $3`

// RevokeToken revokes a customer's token. Revoking it again succeeds and keeps the first
// instant, so a retried revocation does not rewrite history. Another customer's token is
// NotFound, as if it did not exist.
func (t *txn) RevokeToken(ctx context.Context, customerID string, num int64, at time.Time) error {
	return t.execOne(ctx, errTokenNotFound(), "revoke token", qRevokeToken, at, num, customerID)
}
