// Package limits protects a cartd node from its clients: token-bucket rate limits per
// principal, a cap on requests in flight, and a cap on request bodies. Every front door wraps
// itself in the same Guard and answers its refusals in its own error format (Door.Fail), so a
// client of the eBay dialect gets eBay's 429 and a client of the native API a problem+json.
//
// A request is charged to one bucket, chosen without reading the store (the limit runs
// before authentication, so that a flood costs no database work):
//
//   - an API key (sk_...) to the bucket of its keyed hash, under Config.Key;
//   - a customer token (ct_...) or a storefront session (ss_...) likewise, under
//     Config.Customer: one shopper;
//   - anything else (no credential, or one that is not shaped like a cartd secret) to the
//     bucket of the client's address, under Config.Anonymous. IPv6 addresses count per /64,
//     the block one subscriber gets.
//
// Only keyed 128-bit hashes of credentials are kept, never a secret: not SHA-256, which the
// engine computes once more to authenticate, since a bucket needs no more than a hash an
// outsider cannot aim at (seeds chosen at start). Buckets live in a sharded map bounded per
// class (Config.MaxBuckets): a bucket that has filled up again is indistinguishable from a new one,
// so it is dropped first; when every bucket of a shard is busy (a flood of made-up
// credentials), arbitrary ones are dropped, which at worst gives their owners a fresh burst.
package limits

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
)

// Rate is a token bucket: PerSecond requests a second sustained, Burst at once. A PerSecond
// of 0 turns the limit off.
type Rate struct {
	PerSecond float64
	Burst     int
}

// DefaultMaxBuckets bounds the buckets of one class of principal: about 10 MB of memory each
// (a bucket and its map entry take some 140 bytes).
const DefaultMaxBuckets = 65536

// Reasons of the errors a Guard raises, for front doors that word them their own way.
const (
	RateLimited = "rate_limited"
	Overloaded  = "overloaded"
	TooLarge    = "body_too_large"
)

// Config tunes a Guard. The zero value limits nothing.
type Config struct {
	Key       Rate // per API key
	Customer  Rate // per customer token or storefront session
	Anonymous Rate // per client address, for requests without a credential
	// MaxInFlight caps the requests being served at once; beyond it a request is refused at
	// once with 503 and Retry-After: 1 rather than queued. 0: no cap.
	MaxInFlight int
	// MaxBody caps a request body in bytes (413); 0: no cap here (each front door still has
	// its own).
	MaxBody int64
	// ClientIPHeader names a header a trusted proxy sets to the client's address
	// (X-Real-IP, X-Forwarded-For: its last entry is taken, the one the nearest proxy
	// added). "" takes the address of the connection.
	ClientIPHeader string
	// MaxBuckets bounds the buckets of each class; 0 means DefaultMaxBuckets.
	MaxBuckets int
	// Now is the clock of the buckets; nil means time.Now.
	Now func() time.Time
}

// Guard applies a Config to the requests of every front door. A nil *Guard limits nothing.
type Guard struct {
	key, customer, anonymous *table
	maxInFlight              int64
	inFlight                 atomic.Int64
	maxBody                  int64
	ipHeader                 string
	now                      func() time.Time
	seeds                    [2]maphash.Seed // of credentials' bucket keys
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Guard{
		key:         newTable("key", cfg.Key, cfg.MaxBuckets),
		customer:    newTable("customer", cfg.Customer, cfg.MaxBuckets),
		anonymous:   newTable("anonymous", cfg.Anonymous, cfg.MaxBuckets),
		maxInFlight: int64(cfg.MaxInFlight),
		maxBody:     cfg.MaxBody,
		ipHeader:    http.CanonicalHeaderKey(cfg.ClientIPHeader),
		now:         cfg.Now,
		seeds:       [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
}

// Door is how a front door is guarded.
type Door struct {
	// Fail answers a refusal (a *cart.Error: RateLimited, Unavailable or TooLarge) in the
	// front door's own format. The Guard has set Retry-After and the RateLimit headers.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	// Credential returns the secret a request presents ("" for none). Nil means the front
	// door finds it itself, later (in a form body), and calls Guard.Limit.
	Credential func(r *http.Request) string
	// Exempt, when set, names requests that pass unguarded: health and readiness probes,
	// which must answer however busy the node is.
	Exempt func(r *http.Request) bool
}

// Wrap guards next: the rate limit of the request's principal (when Door.Credential is set),
// then the in-flight cap, then the body cap. A nil Guard returns next.
func (g *Guard) Wrap(next http.Handler, d Door) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.Exempt != nil && d.Exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if d.Credential != nil {
			if err := g.Limit(w, r, d.Credential(r)); err != nil {
				d.Fail(w, r, err)
				return
			}
		}
		if g.maxInFlight > 0 {
			if g.inFlight.Add(1) > g.maxInFlight {
				g.inFlight.Add(-1)
				w.Header().Set("Retry-After", "1")
				d.Fail(w, r, cart.Errorf(cart.Unavailable, Overloaded, "the server is at capacity; retry in a second"))
				return
			}
			defer g.inFlight.Add(-1)
		}
		if g.maxBody > 0 && r.ContentLength != 0 {
			if r.ContentLength > g.maxBody {
				d.Fail(w, r, cart.Errorf(cart.TooLarge, TooLarge, "the request body is over %d bytes", g.maxBody))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// Bearer is the credential of an Authorization: Bearer header, "" without one.
func Bearer(r *http.Request) string {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}

// Cookie returns the credential function of a front door whose clients present a cookie.
func Cookie(name string) func(r *http.Request) string {
	return func(r *http.Request) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	}
}

// InFlight is the number of guarded requests being served.
func (g *Guard) InFlight() int64 {
	if g == nil {
		return 0
	}
	return g.inFlight.Load()
}

// Limit charges one request to the bucket of credential (the request's client address when
// it is not shaped like a cartd secret) and returns a RateLimited *cart.Error when the
// bucket is empty, having set Retry-After and the RateLimit-Policy and RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) on w. A nil Guard allows everything.
func (g *Guard) Limit(w http.ResponseWriter, r *http.Request, credential string) error {
	if g == nil {
		return nil
	}
	t, k, ok := g.bucketOf(r, credential)
	if !ok || t.off() {
		return nil
	}
	now := g.now()
	lim := t.get(k, now)
	if lim.AllowN(now, 1) {
		return nil
	}
	tokens := lim.TokensAt(now)
	retry := seconds((1 - tokens) / t.perSecond)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	h.Set("RateLimit-Policy", t.policy)
	h.Set("RateLimit", `"`+t.name+`";r=0;t=`+strconv.FormatInt(retry, 10))
	return cart.Errorf(cart.RateLimited, RateLimited, "too many requests for this %s: retry in %d s", t.what, retry)
}

// seconds rounds a wait up to whole seconds, at least 1.
func seconds(s float64) int64 {
	if s <= 1 || math.IsNaN(s) {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int64(math.Ceil(s))
}

// A credential is shaped like a cartd secret when it has a secret's prefix and a length
// from that of the shortest CARTD_ADMIN_KEY (sk_ and 16 characters) to a bound no secret
// cartd makes comes near (they are 46).
const (
	minSecretLen = 3 + 16
	maxSecretLen = 256
)

// bucketOf names the bucket of a request: its credential's class and keyed hash, or its
// address. ok is false when the address cannot be read (a request served over a pipe).
func (g *Guard) bucketOf(r *http.Request, credential string) (*table, key, bool) {
	if len(credential) >= minSecretLen && len(credential) <= maxSecretLen {
		var t *table
		switch credential[:3] {
		case auth.KeyPrefix:
			t = g.key
		case auth.TokenPrefix, auth.SessionPrefix:
			t = g.customer
		}
		if t != nil {
			var k key
			binary.LittleEndian.PutUint64(k[0:8], maphash.String(g.seeds[0], credential))
			binary.LittleEndian.PutUint64(k[8:16], maphash.String(g.seeds[1], credential))
			return t, k, true
		}
	}
	addr, ok := g.clientAddr(r)
	if !ok {
		return nil, key{}, false
	}
	var k key
	a16 := addr.As16()
	copy(k[:], a16[:])
	if !addr.Is4() {
		clear(k[8:16]) // per /64
	}
	return g.anonymous, k, true
}

// clientAddr is the client's address: the trusted header's, or the connection's.
func (g *Guard) clientAddr(r *http.Request) (netip.Addr, bool) {
	if g.ipHeader != "" {
		if v := r.Header.Values(g.ipHeader); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return a.Unmap(), true
			}
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// key names a bucket: a credential's keyed 128-bit hash, or an address.
type key [32]byte

// shards splits a table's map so that requests of different principals rarely meet on a
// lock.
const shards = 64

// table is the buckets of one class of principal.
type table struct {
	name, what, policy string
	perSecond          float64
	burst              int
	limit              rate.Limit
	perShard           int
	seed               maphash.Seed
	shard              [shards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[key]*rate.Limiter
	_  [32]byte // keeps neighbouring shards' locks off one cache line
}

func newTable(name string, r Rate, maxBuckets int) *table {
	what := map[string]string{"key": "API key", "customer": "customer token or session", "anonymous": "client address"}[name]
	t := &table{name: name, what: what, perSecond: r.PerSecond, burst: max(r.Burst, 1),
		limit: rate.Limit(r.PerSecond), perShard: max(maxBuckets/shards, 1), seed: maphash.MakeSeed()}
	if r.PerSecond > 0 {
		window := seconds(float64(t.burst) / r.PerSecond)
		t.policy = `"` + name + `";q=` + strconv.Itoa(t.burst) + ";w=" + strconv.FormatInt(window, 10)
	}
	for i := range t.shard {
		t.shard[i].m = map[key]*rate.Limiter{}
	}
	return t
}

func (t *table) off() bool { return t.perSecond <= 0 }

// get returns k's bucket, making it if need be.
func (t *table) get(k key, now time.Time) *rate.Limiter {
	s := &t.shard[maphash.Bytes(t.seed, k[:])%shards]
	s.mu.RLock()
	lim := s.m[k]
	s.mu.RUnlock()
	if lim != nil {
		return lim
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim = s.m[k]; lim != nil {
		return lim
	}
	if len(s.m) >= t.perShard {
		t.evict(s, now)
	}
	lim = rate.NewLimiter(t.limit, t.burst)
	s.m[k] = lim
	return lim
}

// evict makes room in a full shard: first every bucket that has filled up again (dropping it
// loses nothing), then, if that freed less than an eighth of the shard, arbitrary ones, so
// that the next sweep is an eighth of the shard's inserts away.
func (t *table) evict(s *shard, now time.Time) {
	for k, lim := range s.m {
		if lim.TokensAt(now) >= float64(t.burst) {
			delete(s.m, k)
		}
	}
	target := t.perShard - max(t.perShard/8, 1)
	for k := range s.m {
		if len(s.m) <= target {
			break
		}
		delete(s.m, k)
	}
}

// Len is the number of buckets held, over every class: what bounds the Guard's memory.
func (g *Guard) Len() int {
	if g == nil {
		return 0
	}
	n := 0
	for _, t := range []*table{g.key, g.customer, g.anonymous} {
		for i := range t.shard {
			t.shard[i].mu.RLock()
			n += len(t.shard[i].m)
			t.shard[i].mu.RUnlock()
		}
	}
	return n
}

// Drainer says whether a node is draining: shutting down, so that its readiness probe fails
// and load balancers send it no new requests while it finishes the ones it has.
type Drainer struct{ draining atomic.Bool }

// Drain marks the node as draining.
func (d *Drainer) Drain() { d.draining.Store(true) }

// Draining reports whether Drain was called. A nil Drainer is never draining.
func (d *Drainer) Draining() bool { return d != nil && d.draining.Load() }

// Sleep waits for d or ctx, whichever ends first: the drain delay.
func Sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
