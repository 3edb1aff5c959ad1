package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/store/internal/table"
)

var qInsertKey = rebind(table.InsertKey)

// InsertKey stores a new API key and sets its Num; its scopes are a JSON array.
func (t *txn) InsertKey(ctx context.Context, k *auth.Key) error {
	scopes, err := table.Scopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("postgres: insert key: %w", err)
	}
	_, err = t.queryRow(ctx, "insert key", qInsertKey,
		[]any{k.Hash[:], scopes, k.Label, k.CreatedAt, nullTime(k.RevokedAt)}, &k.Num)
	return err
}

var qKeyByHash = rebind(table.KeyByHash)

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
		return auth.Key{}, table.KeyNotFound()
	}
	if err := table.Key(&k, hash, scopes); err != nil {
		return auth.Key{}, fmt.Errorf("postgres: get key: %w", err)
	}
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), fromNullTime(revoked)
	return k, nil
}

var qInsertToken = rebind(table.InsertToken)

// InsertToken stores a new customer token and sets its Num.
func (t *txn) InsertToken(ctx context.Context, tok *auth.Token) error {
	_, err := t.queryRow(ctx, "insert token", qInsertToken,
		[]any{tok.CustomerID, tok.Hash[:], tok.CreatedAt, tok.ExpiresAt, nullTime(tok.RevokedAt)}, &tok.Num)
	return err
}

var qTokenByHash = rebind(table.TokenByHash)

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
		return auth.Token{}, table.TokenNotFound()
	}
	if err := table.Digest(&tok.Hash, hash); err != nil {
		return auth.Token{}, fmt.Errorf("postgres: get token %d: %w", tok.Num, err)
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = tok.CreatedAt.UTC(), tok.ExpiresAt.UTC(), fromNullTime(revoked)
	return tok, nil
}

var qRevokeToken = rebind(table.RevokeToken)

// RevokeToken revokes a customer's token. Revoking it again succeeds and keeps the first
// instant, so a retried revocation does not rewrite history. Another customer's token is
// NotFound, as if it did not exist.
func (t *txn) RevokeToken(ctx context.Context, customerID string, num int64, at time.Time) error {
	return t.execOne(ctx, table.TokenNotFound(), "revoke token", qRevokeToken, at, num, customerID)
}
