package storefront_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/internal/testserver"
)

// TestMadeUpSessionsAreChargedToTheirAddress sends adds with made-up session cookies: each
// is charged to its address's bucket as an add without a cookie is, and starting its session
// to the address's bucket of new sessions; a live session's requests are charged to neither.
func TestMadeUpSessionsAreChargedToTheirAddress(t *testing.T) {
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	tests := []struct {
		name          string
		anon, session limits.Rate
		served        int // adds with a made-up cookie served before one is refused
		reason        string
	}{
		// The live session's first add (no cookie) took one of 3; two remain.
		{"the address's request bucket", hourly(3), hourly(100), 2, limits.RateLimited},
		// The live session took one of 2 new sessions; one remains.
		{"the address's bucket of new sessions", hourly(100), hourly(2), 1, limits.SessionRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var refused []string
			g := limits.New(limits.Config{Anonymous: tt.anon, Session: tt.session, Customer: hourly(100),
				Refused: func(r string) { mu.Lock(); refused = append(refused, r); mu.Unlock() }})
			s := &testServer{testserver.MustStart(t, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
				mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{Guard: g}))
			}})}
			p := s.MustProduct(t, simpleProduct("prod_tee", 1000, "TEE"), 100)
			key := fmt.Sprintf("prod%d_TEE_dflt", p.Num)
			live := s.shopper(t)
			live.add(t, key, 1).MustStatus(t, http.StatusOK)
			madeUp := func() response {
				return s.shopper(t).do(t, "POST", "/api/v1/cart/", map[string]any{"item_key": key, "quantity": 1},
					"Cookie", storefront.CookieName+"="+auth.NewSecret(auth.SessionPrefix))
			}
			for range tt.served {
				madeUp().MustStatus(t, http.StatusOK)
			}
			madeUp().MustStatus(t, http.StatusTooManyRequests)
			// The live session goes on: its requests are charged to its own bucket.
			live.add(t, key, 1).MustStatus(t, http.StatusOK)
			mu.Lock()
			defer mu.Unlock()
			if len(refused) != 1 || refused[0] != tt.reason {
				t.Fatalf("refusals %v, want one %s", refused, tt.reason)
			}
		})
	}
}

// TestMadeUpSessionsAreLimitedAsTheirAddress sends, on each route, requests each with a
// session cookie cartd never issued: however many, they are limited as their one address
// (the bucket of requests without a cookie), and a live session from that address keeps
// being served.
func TestMadeUpSessionsAreLimitedAsTheirAddress(t *testing.T) {
	hourly := func(burst int) limits.Rate { return limits.Rate{PerSecond: 1.0 / 3600, Burst: burst} }
	for _, route := range []struct {
		method, path string
		body         func(key string) any
	}{
		{"GET", "/api/v1/cart/", func(string) any { return nil }},
		{"DELETE", "/api/v1/cart/", func(string) any { return nil }},
		{"PUT", "/api/v1/cart/items/", func(key string) any { return map[string]any{"item_key": key, "quantity": 1} }},
		{"DELETE", "/api/v1/cart/items/", func(key string) any { return map[string]any{"item_key": key} }},
	} {
		t.Run(route.method+" "+route.path, func(t *testing.T) {
			// The live session's first add (without a cookie) takes one of 4; three remain.
			g := limits.New(limits.Config{Anonymous: hourly(4), Session: hourly(100), Customer: hourly(100)})
			s := &testServer{testserver.MustStart(t, testserver.Options{Mount: func(mux *http.ServeMux, eng *engine.Engine) {
				mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{Guard: g}))
			}})}
			p := s.MustProduct(t, simpleProduct("prod_tee", 1000, "TEE"), 100)
			key := fmt.Sprintf("prod%d_TEE_dflt", p.Num)
			live := s.shopper(t)
			live.add(t, key, 1).MustStatus(t, http.StatusOK)
			madeUp := func() response {
				return s.shopper(t).do(t, route.method, route.path, route.body(key),
					"Cookie", storefront.CookieName+"="+auth.NewSecret(auth.SessionPrefix))
			}
			for i := range 3 {
				if r := madeUp(); r.Status == http.StatusTooManyRequests {
					t.Fatalf("made-up session %d of 3 refused: %s", i+1, r.Body)
				}
			}
			madeUp().MustStatus(t, http.StatusTooManyRequests)
			s.shopper(t).do(t, route.method, route.path, route.body(key)).MustStatus(t, http.StatusTooManyRequests)
			live.view(t)
			live.update(t, key, 1).MustStatus(t, http.StatusOK)
		})
	}
}
