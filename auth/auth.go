// Package auth holds cartd's credentials: API keys with scopes for the shop's servers, and
// customer tokens for a shopper's own carts. Secrets are random, shown once, and stored only as
// SHA-256 digests: they carry 256 bits of entropy, so a fast hash is enough and keeps password
// hashing off the request path.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scope is a permission an API key carries.
type Scope string

// Scopes. Admin implies every other scope.
const (
	CartsRead    Scope = "carts:read"
	CartsWrite   Scope = "carts:write"
	CatalogRead  Scope = "catalog:read"
	CatalogWrite Scope = "catalog:write"
	EventsRead   Scope = "events:read" // the event feed (docs/events.md)
	Admin        Scope = "admin"
)

// AllScopes lists every scope, in the order documented.
var AllScopes = []Scope{CartsRead, CartsWrite, CatalogRead, CatalogWrite, EventsRead, Admin}

// ParseScopes parses a comma-separated scope list.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if sc == "" {
			continue
		}
		if !slices.Contains(AllScopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (want one of carts:read, carts:write, catalog:read, catalog:write, events:read, admin)", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scopes given")
	}
	return out, nil
}

// Secret prefixes.
const (
	KeyPrefix     = "sk_"
	TokenPrefix   = "ct_"
	SessionPrefix = "ss_"
)

// Digest is the stored form of a secret.
type Digest [sha256.Size]byte

// NewSecret returns a new secret with the given prefix: 32 random bytes, base64url.
func NewSecret(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the digest under which a secret is stored and looked up.
func Hash(secret string) Digest { return sha256.Sum256([]byte(secret)) }

// Equal compares two digests in constant time. The store looks a digest up by index, so this
// is the final check that the row found is the one asked for.
func Equal(a, b Digest) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// Key is a stored API key.
type Key struct {
	Num       int64
	Hash      Digest
	Scopes    []Scope
	Label     string
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
}

// Token is a stored customer token.
type Token struct {
	Num        int64
	CustomerID string
	Hash       Digest
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero while valid
}

// Session is a stored storefront session: a secret held in a shopper's cookie that names one
// guest cart, until ExpiresAt.
type Session struct {
	Num       int64
	CartNum   int64
	Hash      Digest
	CreatedAt time.Time
	ExpiresAt time.Time
	// ClientAddr is the client address the session began from (an IPv4 address, or an IPv6
	// /64 such as "2001:db8:1:2::/64"); "" when unknown. The units that every anonymous cart
	// of one address holds are capped per SKU (engine.Config.AnonymousHold).
	ClientAddr string
}

// Principal is who a request acts as: an API key with scopes, or a customer through a token.
type Principal struct {
	KeyNum     int64
	Scopes     []Scope
	TokenNum   int64
	CustomerID string // set for customer tokens: the only customer whose carts it reaches
}

// IsCustomer reports whether the principal is a customer token.
func (p Principal) IsCustomer() bool { return p.TokenNum != 0 }

// Can reports whether the principal holds scope. A customer token holds the cart scopes, and
// the engine limits it to its customer's carts.
func (p Principal) Can(scope Scope) bool {
	if p.IsCustomer() {
		return scope == CartsRead || scope == CartsWrite
	}
	return slices.Contains(p.Scopes, Admin) || slices.Contains(p.Scopes, scope)
}

// Label names the principal in logs, never with its secret.
func (p Principal) Label() string {
	if p.IsCustomer() {
		return fmt.Sprintf("token:%d customer:%s", p.TokenNum, p.CustomerID)
	}
	return fmt.Sprintf("key:%d", p.KeyNum)
}
