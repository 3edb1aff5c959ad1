// Package table holds what the two SQL stores read and write the same way: the column lists of
// their tables and the decoding of what those columns hold (digests, JSON, lookups that find
// nothing). Each store keeps its SQL next to the Go that runs it, with what its database
// really needs of its own: placeholders, booleans, and times (INTEGER microseconds in SQLite,
// TIMESTAMPTZ in PostgreSQL).
package table

import (
	"encoding/json"
	"fmt"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Column lists. The ...Fields are what an insert writes; the ...Columns what a lookup reads,
// in the order its scan takes them.
const (
	KeyFields          = `hash, scopes, label, created_at, revoked_at`
	KeyColumns         = `num, ` + KeyFields
	TokenFields        = `customer_id, hash, created_at, expires_at, revoked_at`
	TokenColumns       = `num, ` + TokenFields
	SessionFields      = `hash, cart_num, created_at, expires_at, client_addr`
	SessionColumns     = `num, cart_num, hash, created_at, expires_at, client_addr`
	IdempotencyFields  = `scope, key, ` + IdempotencyColumns
	IdempotencyColumns = `request_hash, status, header, body, created_at, expires_at`
	// SaleColumns are a sale's, for a query naming sales "sa". A LEFT JOIN that finds no sale
	// gives NULLs, which scan as the zero Sale.
	SaleColumns = `sa.num, sa.id, sa.name, sa.starts_at, sa.ends_at, sa.created_at, sa.updated_at`
)

// Digest copies a stored digest (of a credential's secret, or of a request) into d, refusing
// one of another size.
func Digest(d *auth.Digest, stored []byte) error {
	if copy(d[:], stored) != len(d) {
		return fmt.Errorf("hash of %d bytes", len(stored))
	}
	return nil
}

// Scopes is an API key's scopes as stored: a JSON array.
func Scopes(s []auth.Scope) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("scopes: %w", err)
	}
	return string(b), nil
}

// Key completes an API key scanned from KeyColumns with its digest and scopes as stored.
func Key(k *auth.Key, hash, scopes []byte) error {
	if err := Digest(&k.Hash, hash); err != nil {
		return fmt.Errorf("key %d: %w", k.Num, err)
	}
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return fmt.Errorf("key %d: scopes: %w", k.Num, err)
	}
	return nil
}

// KeyNotFound is KeyByHash's answer when no key has the digest.
func KeyNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "key_not_found", "API key not found")
}

// TokenNotFound is the answer when no customer token has the digest or number.
func TokenNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "token_not_found", "customer token not found")
}

// SessionNotFound is SessionByHash's answer when no session has the digest.
func SessionNotFound() *cart.Error {
	return cart.Errorf(cart.NotFound, "session_not_found", "session not found")
}

// Header is an idempotency record's response headers as stored: a JSON object.
func Header(h map[string]string) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	return string(b), nil
}

// Idempotency completes an idempotency record scanned from IdempotencyColumns with its
// request digest and response headers as stored.
func Idempotency(r *store.IdempotencyRecord, hash, header []byte) error {
	if copy(r.RequestHash[:], hash) != len(r.RequestHash) {
		return fmt.Errorf("hash of %d bytes", len(hash))
	}
	if err := json.Unmarshal(header, &r.Header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	return nil
}

// IdempotencyNotFound is the answer when a key has no record in its scope.
func IdempotencyNotFound(key string) *cart.Error {
	return cart.Errorf(cart.NotFound, "idempotency_key_not_found", "no record of idempotency key %q", key)
}
