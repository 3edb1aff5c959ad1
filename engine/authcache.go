package engine

import (
	"sync"
	"time"

	"github.com/cartd/cartd/auth"
)

// API keys are looked up on every request, and a key's row almost never changes, so an
// authenticated key is reused for keyCacheTTL instead of opening a read transaction per
// request. The price is a bound on how long a revoked key keeps working: a revocation through
// this engine forgets the key at once; another node sharing the database stops accepting it
// within keyCacheTTL. Customer tokens are not cached: their expiry is judged by the store's
// clock, which is only read inside a transaction.
const (
	keyCacheTTL = 2 * time.Second
	keyCacheMax = 10_000 // distinct keys kept; past it the cache starts over
)

type keyCache struct {
	mu sync.RWMutex
	m  map[auth.Digest]cachedKey
}

type cachedKey struct {
	p     auth.Principal
	until time.Time
}

func (c *keyCache) get(h auth.Digest, now time.Time) (auth.Principal, bool) {
	c.mu.RLock()
	k, ok := c.m[h]
	c.mu.RUnlock()
	if !ok || !now.Before(k.until) {
		return auth.Principal{}, false
	}
	return k.p, true
}

func (c *keyCache) put(h auth.Digest, p auth.Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[auth.Digest]cachedKey)
	}
	c.m[h] = cachedKey{p: p, until: now.Add(keyCacheTTL)}
}

// forget drops a key, so that its revocation takes effect on this node at once.
func (c *keyCache) forget(keyNum int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, k := range c.m {
		if k.p.KeyNum == keyNum {
			delete(c.m, h)
		}
	}
}
