// Package limits protects a cartd node from its clients: token-bucket rate limits per
// principal, a cap on requests in flight, caps on request bodies (their size, the time they
// take to arrive, and how many one address may have arriving at once), and a rate limit on the
// storefront sessions one address starts. Every front door wraps
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
// A credential shaped like a secret may still be made up: once the front door has found that
// it is not a valid one, it charges the request to its address as well (LimitUnrecognized), so
// that made-up credentials buy no more than sending none.
//
// Only keyed 128-bit hashes of credentials are kept, never a secret: not SHA-256, which the
// engine computes once more to authenticate, since a bucket needs no more than a hash an
// outsider cannot aim at (seeds chosen at start). Buckets live in a sharded map bounded per
// class (Config.MaxBuckets): a bucket that has filled up again is indistinguishable from a new one,
// so it is dropped first; when every bucket of a shard is busy (a flood of made-up
// credentials), arbitrary ones are dropped, which at worst gives their owners a fresh burst.
//
// # Slow clients
//
// A request's body is read in full, within Config.BodyTimeout of its headers, before the
// request takes a slot of the in-flight cap: a client trickling bodies ties up connections,
// never the capacity that serves honest requests. While its body arrives a request without a
// credential in its headers (anonymous, or a JackThreads form whose token is in the body)
// counts against its client address's Config.MaxPendingBodies, so one address cannot hold
// thousands of connections open that way; the address's rate limit has already been charged
// before any of the body is read. Requests presenting a credential in their headers are
// charged to its bucket instead and are not held to the address's share, so that an
// authenticated client behind the same proxy as an attacker keeps being served.
package limits

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/internal/lograte"
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

// Reasons of the errors a Guard raises, for front doors that word them their own way, and
// the labels of its refusals in the metrics (Config.Refused).
const (
	RateLimited        = "rate_limited"         // the principal's bucket is empty
	SessionRateLimited = "session_rate_limited" // the address started too many sessions
	Overloaded         = "overloaded"           // the in-flight cap is reached
	TooLarge           = "body_too_large"
	BodyTimeout        = "body_timeout"   // the body did not arrive within Config.BodyTimeout
	PendingBodies      = "pending_bodies" // the address has Config.MaxPendingBodies arriving
)

// Reasons lists every reason of a refusal, so that a metric can show each from the start.
var Reasons = []string{RateLimited, SessionRateLimited, Overloaded, TooLarge, BodyTimeout, PendingBodies}

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
	// BodyTimeout is how long a request's body may take to arrive after its headers (a
	// minimum rate of MaxBody per BodyTimeout for the largest); past it the request is
	// refused (400 body_timeout) and its connection closed. 0: only the HTTP server's
	// ReadTimeout bounds it.
	BodyTimeout time.Duration
	// MaxPendingBodies caps, per client address, the requests without a credential in their
	// headers whose bodies are still arriving; one more is refused at once (429
	// pending_bodies). 0: no cap.
	MaxPendingBodies int
	// Session limits the storefront sessions one client address starts (LimitSession).
	Session Rate
	// Logger, when set, gets one line a second per reason of refusal, naming the client's
	// address, the request and the number of refusals it stands for; never a credential.
	Logger *slog.Logger
	// Refused, when set, is told every refusal by its reason (one of Reasons): the metrics.
	Refused func(reason string)
	// Admitted, when set, is called with each request as it takes its slot of the in-flight
	// cap, before its handler: where a test holds requests in flight.
	Admitted func(r *http.Request)
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
	sessions                 *table // new storefront sessions, per client address
	maxInFlight              int64
	inFlight                 atomic.Int64
	maxBody                  int64
	bodyTimeout              time.Duration
	pending                  pendingBodies
	ipHeader                 string
	now                      func() time.Time
	seeds                    [2]maphash.Seed // of credentials' bucket keys
	log                      *slog.Logger
	refused                  func(reason string)
	admitted                 func(r *http.Request)
	logs                     map[string]*lograte.Sampler // per reason; fixed at New
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Guard{
		key:         newTable("key", cfg.Key, cfg.MaxBuckets),
		customer:    newTable("customer", cfg.Customer, cfg.MaxBuckets),
		anonymous:   newTable("anonymous", cfg.Anonymous, cfg.MaxBuckets),
		sessions:    newTable("session", cfg.Session, cfg.MaxBuckets),
		maxInFlight: int64(cfg.MaxInFlight),
		maxBody:     cfg.MaxBody,
		bodyTimeout: cfg.BodyTimeout,
		pending:     pendingBodies{max: cfg.MaxPendingBodies, m: map[key]int{}},
		ipHeader:    http.CanonicalHeaderKey(cfg.ClientIPHeader),
		now:         cfg.Now,
		seeds:       [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		log:         cfg.Logger,
		refused:     cfg.Refused,
		admitted:    cfg.Admitted,
		logs:        map[string]*lograte.Sampler{},
	}
	for _, r := range Reasons {
		g.logs[r] = &lograte.Sampler{}
	}
	return g
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
// then the body (its size, its share of the address's pending bodies, its deadline), read in
// full, then the in-flight cap. A nil Guard returns next.
func (g *Guard) Wrap(next http.Handler, d Door) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.Exempt != nil && d.Exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		credential := ""
		if d.Credential != nil {
			credential = d.Credential(r)
			if err := g.Limit(w, r, credential); err != nil {
				if r.ContentLength != 0 {
					g.drainBody(w, r)
				}
				d.Fail(w, r, err)
				return
			}
		}
		if r.ContentLength != 0 {
			if err := g.readBody(w, r, credential); err != nil {
				d.Fail(w, r, err)
				return
			}
		}
		if g.maxInFlight > 0 {
			if g.inFlight.Add(1) > g.maxInFlight {
				g.inFlight.Add(-1)
				w.Header().Set("Retry-After", "1")
				d.Fail(w, r, g.refuse(r, credential, cart.Errorf(cart.Unavailable, Overloaded, "the server is at capacity; retry in a second")))
				return
			}
			defer g.inFlight.Add(-1)
		}
		if g.admitted != nil {
			g.admitted(r)
		}
		next.ServeHTTP(w, r)
	})
}

// readBody reads r's body in full, within the body deadline and the body cap, and puts it
// back in r for the handler: a request takes no slot of the in-flight cap while its client is
// still sending. A request refused here for its body (too large, too slow) gets its connection
// closed, so that the server does not go on reading what the client still sends.
func (g *Guard) readBody(w http.ResponseWriter, r *http.Request, credential string) error {
	if g.maxBody > 0 && r.ContentLength > g.maxBody {
		return g.refuseBody(w, r, credential, cart.TooLarge, TooLarge, "the request body is over %d bytes", g.maxBody)
	}
	if !g.shaped(credential) {
		k, ok := g.addrKey(r)
		if ok {
			if !g.pending.acquire(k) {
				g.drainBody(w, r)
				w.Header().Set("Retry-After", "1")
				return g.refuse(r, credential, cart.Errorf(cart.RateLimited, PendingBodies, "too many requests from this client address are still sending their bodies"))
			}
			defer g.pending.release(k)
		}
	}
	rc := http.NewResponseController(w)
	if g.bodyTimeout > 0 {
		// Not supported (a connection that is not a net.Conn): the server's ReadTimeout
		// still bounds the body.
		_ = rc.SetReadDeadline(time.Now().Add(g.bodyTimeout))
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, 64<<10))) // what is declared, not what may never come
	}
	src := io.Reader(r.Body)
	if g.maxBody > 0 {
		src = io.LimitReader(r.Body, g.maxBody+1)
	}
	_, err := buf.ReadFrom(src)
	if g.bodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Time{}) // the server sets its own for the next request
	}
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return g.refuseBody(w, r, credential, cart.Malformed, BodyTimeout, "the request body did not arrive within %s", g.bodyTimeout)
	case err != nil:
		return g.refuseBody(w, r, credential, cart.Malformed, "malformed_body", "the request body could not be read")
	case g.maxBody > 0 && int64(buf.Len()) > g.maxBody:
		return g.refuseBody(w, r, credential, cart.TooLarge, TooLarge, "the request body is over %d bytes", g.maxBody)
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
	r.ContentLength = int64(buf.Len())
	return nil
}

// drainBody reads and drops the body of a request refused before its body was read, within the
// body deadline and the body cap, before the refusal is answered. An honest client's body is
// already there and costs nothing to drop (and its connection stays open for the next
// request); a client trickling bodies gets its refusal no sooner than its body or the
// deadline arrives, so that it cannot cycle through refusals faster than one per connection
// and body deadline: answering it at once only makes it come back at once, and accepting
// connections and refusing them costs more than a connection waiting. A body that did not
// arrive whole has its connection closed after the answer.
func (g *Guard) drainBody(w http.ResponseWriter, r *http.Request) {
	limit := g.maxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	if r.ContentLength > limit || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// Too large to drop, or not sent yet: reading would ask the client for it.
		abandonBody(w)
		return
	}
	rc := http.NewResponseController(w)
	if g.bodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Now().Add(g.bodyTimeout))
	}
	if n, err := io.CopyN(io.Discard, r.Body, limit+1); err != io.EOF || n > limit {
		abandonBody(w)
		return
	}
	if g.bodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Time{})
	}
}

// abandonBody makes the server close the connection after the answer instead of reading on
// the body of a refused request (net/http drains up to 256 KiB of an unread body to reuse the
// connection, which a client trickling its body would stretch to the read timeout).
func abandonBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// refuseBody is a refusal made before the body was read whole: the connection is closed after
// the answer rather than drained of a body that may trickle on.
func (g *Guard) refuseBody(w http.ResponseWriter, r *http.Request, credential string, code cart.Code, reason, format string, args ...any) error {
	abandonBody(w)
	if reason == "malformed_body" {
		return cart.Errorf(code, reason, format, args...) // the client went away: no refusal of ours
	}
	return g.refuse(r, credential, cart.Errorf(code, reason, format, args...))
}

// refuse counts a refusal, logs it (one line a second per reason), and returns its error.
func (g *Guard) refuse(r *http.Request, credential string, e *cart.Error) error {
	reason := e.Reason
	if g.refused != nil {
		g.refused(reason)
	}
	if s := g.logs[reason]; g.log != nil && s != nil {
		if ok, dropped := s.Allow(time.Now()); ok {
			g.log.WarnContext(r.Context(), "request refused", "reason", reason, "client_addr", g.ClientAddr(r),
				"principal", g.class(credential), "method", r.Method, "path", r.URL.Path, "also_refused", dropped)
		}
	}
	return e
}

// class names the kind of principal a credential would be, for a log line: never the
// credential itself.
func (g *Guard) class(credential string) string {
	if t, _, ok := g.credentialBucket(credential); ok {
		return t.name
	}
	return "anonymous"
}

// shaped reports whether credential is shaped like a cartd secret (it has a bucket of its own).
func (g *Guard) shaped(credential string) bool {
	_, _, ok := g.credentialBucket(credential)
	return ok
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
	if retry, ok := g.take(w, t, k); !ok {
		return g.refuse(r, credential, cart.Errorf(cart.RateLimited, RateLimited, "too many requests for this %s: retry in %d s", t.what, retry))
	}
	return nil
}

// LimitUnrecognized charges a request whose credential the front door found to be no valid
// one (made up, unknown, revoked or expired) to its client address's bucket, as a request
// without a credential is, and returns RateLimited as Limit does. The guard runs before the
// store is asked and cannot tell a made-up secret from a real one, so a credential shaped like
// a cartd secret was charged only to a bucket of its own: without this second charge, making
// up a secret per request would buy a fresh burst each time. A credential of any other shape
// was charged to the address already, and is not charged twice. A nil Guard allows
// everything.
func (g *Guard) LimitUnrecognized(w http.ResponseWriter, r *http.Request, credential string) error {
	if g == nil || !g.shaped(credential) {
		return nil
	}
	return g.Limit(w, r, "")
}

// LimitSession charges the start of a storefront session to the bucket of the request's
// client address (Config.Session) and returns a SessionRateLimited *cart.Error when it is
// empty, with the headers Limit sets. A front door calls it only when a request is about to
// start a session: one that presents a made-up session cookie is charged here, whatever
// bucket its cookie got. A nil Guard allows everything.
func (g *Guard) LimitSession(w http.ResponseWriter, r *http.Request) error {
	if g == nil || g.sessions.off() {
		return nil
	}
	k, ok := g.addrKey(r)
	if !ok {
		return nil
	}
	if retry, ok := g.take(w, g.sessions, k); !ok {
		return g.refuse(r, "", cart.Errorf(cart.RateLimited, SessionRateLimited, "too many new sessions from this client address: retry in %d s", retry))
	}
	return nil
}

// take charges one request to bucket k of t; when it is empty it sets the refusal's headers on
// w and returns the seconds to wait.
func (g *Guard) take(w http.ResponseWriter, t *table, k key) (int64, bool) {
	now := g.now()
	lim := t.get(k, now)
	if lim.AllowN(now, 1) {
		return 0, true
	}
	tokens := lim.TokensAt(now)
	retry := seconds((1 - tokens) / t.perSecond)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	h.Set("RateLimit-Policy", t.policy)
	h.Set("RateLimit", `"`+t.name+`";r=0;t=`+strconv.FormatInt(retry, 10))
	return retry, false
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
	if t, k, ok := g.credentialBucket(credential); ok {
		return t, k, true
	}
	k, ok := g.addrKey(r)
	return g.anonymous, k, ok
}

// credentialBucket names the bucket of a credential shaped like a cartd secret; ok is false
// for any other.
func (g *Guard) credentialBucket(credential string) (*table, key, bool) {
	if len(credential) < minSecretLen || len(credential) > maxSecretLen {
		return nil, key{}, false
	}
	var t *table
	switch credential[:3] {
	case auth.KeyPrefix:
		t = g.key
	case auth.TokenPrefix, auth.SessionPrefix:
		t = g.customer
	default:
		return nil, key{}, false
	}
	var k key
	binary.LittleEndian.PutUint64(k[0:8], maphash.String(g.seeds[0], credential))
	binary.LittleEndian.PutUint64(k[8:16], maphash.String(g.seeds[1], credential))
	return t, k, true
}

// addrKey is the key of the request's client address: an IPv4 address, or an IPv6 /64.
func (g *Guard) addrKey(r *http.Request) (key, bool) {
	addr, ok := g.clientAddr(r)
	if !ok {
		return key{}, false
	}
	var k key
	a16 := addr.As16()
	copy(k[:], a16[:])
	if !addr.Is4() {
		clear(k[8:16]) // per /64
	}
	return k, true
}

// ClientAddr is the request's client address as the limits count it, the form storefront
// sessions record: an IPv4 address ("192.0.2.1"), or an IPv6 address's /64
// ("2001:db8:1:2::/64"); "" when it cannot be read. It takes Config.ClientIPHeader when it
// is set; a nil Guard takes the connection's address.
func (g *Guard) ClientAddr(r *http.Request) string {
	var addr netip.Addr
	var ok bool
	if g == nil {
		addr, ok = connAddr(r)
	} else {
		addr, ok = g.clientAddr(r)
	}
	switch {
	case !ok:
		return ""
	case addr.Is4():
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
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
	return connAddr(r)
}

// connAddr is the address of the connection a request came on.
func connAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// PendingBodies is the number of requests without a credential in their headers whose bodies
// are arriving, over every address (counted only when Config.MaxPendingBodies is set).
func (g *Guard) PendingBodies() int {
	if g == nil {
		return 0
	}
	g.pending.mu.Lock()
	defer g.pending.mu.Unlock()
	n := 0
	for _, c := range g.pending.m {
		n += c
	}
	return n
}

// pendingBodies counts, per client address, the requests whose bodies are arriving. Entries
// go when they fall to 0, so it holds no more than the connections open.
type pendingBodies struct {
	max int
	mu  sync.Mutex
	m   map[key]int
}

func (p *pendingBodies) acquire(k key) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[k] >= p.max {
		return false
	}
	p.m[k]++
	return true
}

func (p *pendingBodies) release(k key) {
	if p.max <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[k] <= 1 {
		delete(p.m, k)
		return
	}
	p.m[k]--
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
	what := map[string]string{"key": "API key", "customer": "customer token or session", "anonymous": "client address", "session": "client address's new sessions"}[name]
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
	for _, t := range []*table{g.key, g.customer, g.anonymous, g.sessions} {
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
