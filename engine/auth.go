package engine

import (
	"context"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
)

// Limits on customer tokens' lifetime.
const (
	DefaultTokenTTL = 24 * time.Hour
	MaxTokenTTL     = 90 * 24 * time.Hour
)

// Authenticate resolves a secret (an API key or a customer token) to its principal. Unknown,
// revoked and expired secrets are all Unauthorized, with one message, so nothing about which
// secrets exist leaks.
func (e *Engine) Authenticate(ctx context.Context, secret string) (auth.Principal, error) {
	bad := cart.Errorf(cart.Unauthorized, "invalid_credentials", "missing, unknown, revoked or expired credentials")
	h := auth.Hash(secret)
	isKey := strings.HasPrefix(secret, auth.KeyPrefix)
	if isKey {
		if p, ok := e.keys.get(h, time.Now()); ok {
			return p, nil
		}
	}
	var p auth.Principal
	err := e.st.Read(ctx, func(tx store.ReadTx) error {
		switch {
		case strings.HasPrefix(secret, auth.KeyPrefix):
			k, err := tx.KeyByHash(ctx, h)
			if err != nil {
				return err
			}
			if !auth.Equal(k.Hash, h) || !k.RevokedAt.IsZero() {
				return bad
			}
			p = auth.Principal{KeyNum: k.Num, Scopes: k.Scopes}
		case strings.HasPrefix(secret, auth.TokenPrefix):
			t, err := tx.TokenByHash(ctx, h)
			if err != nil {
				return err
			}
			if !auth.Equal(t.Hash, h) || !t.RevokedAt.IsZero() || !tx.Now().Before(t.ExpiresAt) {
				return bad
			}
			p = auth.Principal{TokenNum: t.Num, CustomerID: t.CustomerID}
		default:
			return bad
		}
		return nil
	})
	if cart.ErrorCode(err) == cart.NotFound {
		return auth.Principal{}, bad
	}
	if err == nil && isKey {
		e.keys.put(h, p, time.Now())
	}
	return p, err
}

// CreateKey makes a new API key and returns its secret, which is shown once and never stored.
// It is an operator's call (CLI, start-up), so it takes no principal.
func (e *Engine) CreateKey(ctx context.Context, scopes []auth.Scope, label string) (string, auth.Key, error) {
	secret := auth.NewSecret(auth.KeyPrefix)
	k, err := e.insertKey(ctx, secret, scopes, label)
	return secret, k, err
}

// EnsureKey makes sure an API key with exactly this secret exists, creating it with scopes if
// it does not: how automation (CARTD_ADMIN_KEY) gets in with a key it chose.
func (e *Engine) EnsureKey(ctx context.Context, secret string, scopes []auth.Scope, label string) error {
	if !strings.HasPrefix(secret, auth.KeyPrefix) || len(secret) < len(auth.KeyPrefix)+16 {
		return cart.Errorf(cart.Invalid, "weak_key", "an API key must start with %q and carry at least 16 more characters", auth.KeyPrefix)
	}
	_, err := e.insertKey(ctx, secret, scopes, label)
	return err
}

func (e *Engine) insertKey(ctx context.Context, secret string, scopes []auth.Scope, label string) (auth.Key, error) {
	k := auth.Key{Hash: auth.Hash(secret), Scopes: scopes, Label: label}
	err := e.st.Write(ctx, func(tx store.Tx) error {
		existing, err := tx.KeyByHash(ctx, k.Hash)
		if err == nil {
			k = existing
			return nil
		}
		if cart.ErrorCode(err) != cart.NotFound {
			return err
		}
		k.CreatedAt = tx.Now()
		return tx.InsertKey(ctx, &k)
	})
	return k, err
}

// IssueToken issues a customer token (scope admin). ttl 0 means DefaultTokenTTL.
func (e *Engine) IssueToken(ctx context.Context, p auth.Principal, customerID string, ttl time.Duration) (string, auth.Token, error) {
	if err := require(p, auth.Admin); err != nil {
		return "", auth.Token{}, err
	}
	if err := validCustomerID(customerID); err != nil {
		return "", auth.Token{}, err
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Second || ttl > MaxTokenTTL {
		return "", auth.Token{}, cart.InvalidField("invalid_ttl", "ttl_seconds", "ttl_seconds must be between 1 and %d", int64(MaxTokenTTL/time.Second))
	}
	secret := auth.NewSecret(auth.TokenPrefix)
	t := auth.Token{CustomerID: customerID, Hash: auth.Hash(secret)}
	err := e.st.Write(ctx, func(tx store.Tx) error {
		t.CreatedAt = tx.Now()
		t.ExpiresAt = t.CreatedAt.Add(ttl)
		return tx.InsertToken(ctx, &t)
	})
	if err != nil {
		return "", auth.Token{}, err
	}
	return secret, t, nil
}

// RevokeToken revokes one of a customer's tokens (scope admin).
func (e *Engine) RevokeToken(ctx context.Context, p auth.Principal, customerID string, num int64) error {
	if err := require(p, auth.Admin); err != nil {
		return err
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		return tx.RevokeToken(ctx, customerID, num, tx.Now())
	})
}

func validCustomerID(id string) error {
	if id == "" || len(id) > 255 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return cart.InvalidField("invalid_customer_id", "customer_id", "customer_id must be 1 to 255 printable characters")
	}
	return validText("customer_id", id)
}
