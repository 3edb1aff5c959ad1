package engine

import (
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

func TestKeyCache(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := auth.Hash("sk_one")
	p := auth.Principal{KeyNum: 7, Scopes: []auth.Scope{auth.Admin}}

	t.Run("a key is reused until keyCacheTTL has passed, then looked up again", func(t *testing.T) {
		var c keyCache
		c.put(h, p, t0)
		if got, ok := c.get(h, t0.Add(keyCacheTTL-time.Nanosecond)); !ok || got.KeyNum != 7 {
			t.Fatalf("just before the TTL: %+v, %v; want key 7 from the cache", got, ok)
		}
		if _, ok := c.get(h, t0.Add(keyCacheTTL)); ok {
			t.Fatal("at the TTL the cache still answers: a key revoked elsewhere would keep working")
		}
	})
	t.Run("forget drops every digest of the key at once", func(t *testing.T) {
		var c keyCache
		c.put(h, p, t0)
		c.put(auth.Hash("sk_other"), auth.Principal{KeyNum: 8}, t0)
		c.forget(7)
		if _, ok := c.get(h, t0); ok {
			t.Fatal("a forgotten key still answers")
		}
		if _, ok := c.get(auth.Hash("sk_other"), t0); !ok {
			t.Fatal("forgetting key 7 dropped key 8")
		}
	})
	t.Run("past keyCacheMax keys the cache starts over instead of growing", func(t *testing.T) {
		var c keyCache
		for i := range keyCacheMax {
			c.put(auth.Hash("sk_"+string(rune('a'+i%26))+time.Duration(i).String()), auth.Principal{KeyNum: int64(i)}, t0)
		}
		c.put(h, p, t0)
		if n := len(c.m); n != 1 {
			t.Fatalf("%d keys cached after the bound was reached, want 1 (started over)", n)
		}
		if _, ok := c.get(h, t0); !ok {
			t.Fatal("the key put after starting over is not cached")
		}
	})
}
