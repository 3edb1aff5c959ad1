package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
)

// Defaults of the webhook dispatcher.
const (
	DefaultTimeout  = 10 * time.Second // --webhook-timeout
	DefaultRetryFor = 24 * time.Hour   // --webhook-retry-for
	// DefaultLease is how long a claimed delivery is its node's; the node renews it every
	// third of that while it sends, so a node that dies stops renewing and its deliveries are
	// claimed by another within a lease and a poll: under 30 seconds.
	DefaultLease   = 20 * time.Second
	DefaultPoll    = time.Second
	DefaultWorkers = 16
	// Backoff: the first retry after about BackoffBase, doubling up to BackoffMax, each
	// spread by ±50% so that a fleet of failed deliveries does not come back in step.
	BackoffBase = time.Second
	BackoffMax  = time.Hour
)

// Outbox is what the dispatcher needs of the engine (*engine.Engine implements it).
type Outbox interface {
	PositionEvents(ctx context.Context) (int, error)
	EventsWebhooks(ctx context.Context) ([]string, error)
	TakeWebhook(ctx context.Context, id, owner string, lease time.Duration) (store.Webhook, bool, error)
	StreamBatch(ctx context.Context, id string, limit int) (store.Webhook, []store.Event, map[string]bool, error)
	RecordStream(ctx context.Context, id, owner string, from, to int64, lease time.Duration, sent []engine.Sent) ([]store.Delivery, bool, error)
	ReleaseWebhooks(ctx context.Context, owner string) error
	ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, limit int, skip []string) ([]engine.Job, error)
	RenewLeases(ctx context.Context, owner string, lease time.Duration) error
	FinishAttempts(ctx context.Context, outs []engine.Outcome) ([]store.Delivery, error)
}

// Observer counts what the dispatcher does, for metrics; nil counts nothing.
type Observer interface {
	// Attempted reports one attempt's result: the delivery as stored after it (delivered,
	// pending again: a retry, or failed).
	Attempted(status string)
}

// Config tunes a Dispatcher; zero fields take the defaults above.
type Config struct {
	Timeout  time.Duration
	RetryFor time.Duration
	Lease    time.Duration
	Poll     time.Duration
	Workers  int
	// Owner names this node in leases; empty: a random name.
	Owner    string
	Logger   *slog.Logger
	Observer Observer
	// Positioned, when set, is called after a pass positioned new events (the NATS
	// publisher wakes on it).
	Positioned func()
	// Backoff, when set, replaces the exponential backoff: the wait after attempt n failed.
	Backoff func(n int) time.Duration
}

// Dispatcher delivers events to webhooks: it positions committed events (several nodes on
// PostgreSQL), fans them out into deliveries, and sends the deliveries due, each key's (cart's)
// one at a time in order, different keys in parallel, on at most Workers connections.
type Dispatcher struct {
	out    Outbox
	cfg    Config
	client *http.Client
	kick   chan struct{}
	log    *slog.Logger

	// A failing endpoint is paused as a whole, not only the delivery that failed: otherwise
	// every new event (each stock event, the first of each cart) would be tried at once, and a
	// dead endpoint would cost an attempt and a write per event. Paused on this node only.
	mu     sync.Mutex
	paused map[string]pause
	// streams are the webhooks whose stream a goroutine of this node is sending; again asks
	// it for one more look before it stops (events were written meanwhile).
	streams map[string]*streamState
}

// streamState is what this node knows of a webhook stream it sends.
type streamState struct {
	running, again bool      // guarded by Dispatcher.mu
	other          time.Time // another node held the lease then: not tried again before this
	held           time.Time // until when (local clock, with a margin) this node surely holds the lease
	// What was read of the stream and not yet recorded: the webhook as read (its Cursor
	// moved along as batches are recorded), the events after it, and the keys pending.
	w       store.Webhook
	evs     []store.Event
	pending map[string]bool
}

// pause is a failing webhook's state: consecutive failures and when it is tried again.
type pause struct {
	failures int
	until    time.Time
}

// maxPause bounds how long a failing endpoint goes untried: it gets traffic again within this
// once it recovers.
const maxPause = time.Minute

// NewDispatcher returns a dispatcher over out.
func NewDispatcher(out Outbox, cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Lease < 2*cfg.Timeout {
		cfg.Lease = 2 * cfg.Timeout // renewed every third: never lapses under a slow attempt
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Owner == "" {
		b := make([]byte, 8)
		rand.Read(b)
		cfg.Owner = "node-" + hex.EncodeToString(b)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	transport := &http.Transport{
		Proxy:       nil, // webhooks go where the shop said, loopback and private included
		DialContext: (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		// A webhook's stream and its retries each send on up to Workers connections to one
		// host: keep them all open between deliveries rather than dialling again.
		MaxIdleConnsPerHost:   2 * cfg.Workers,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is an answer other than 2xx: the shop registers the URL it means.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Dispatcher{out: out, cfg: cfg, client: client, kick: make(chan struct{}, 1), log: cfg.Logger,
		paused: map[string]pause{}, streams: map[string]*streamState{}}
}

// Backoff is the wait after attempt n (1, 2, ...) failed: BackoffBase·2^(n-1), at most
// BackoffMax, times a random factor in [0.5, 1.5).
func Backoff(n int) time.Duration {
	d := BackoffMax
	if n < 40 {
		d = min(BackoffBase<<(n-1), BackoffMax)
	}
	return time.Duration(float64(d) * (0.5 + mrand.Float64()))
}

// Kick wakes the dispatcher: events were written. It never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends; deliveries in flight then are left to their leases, to be sent
// again by whichever node claims them next (duplicates carry the same Cartd-Event-Id).
//
// One loop positions events and, at most every minPass however often it is woken (a busy
// node's commits do not turn into as many extra transactions), makes sure each webhook's
// stream is being sent (see engine.TakeWebhook: a goroutine per webhook, on the node holding
// its lease, sends new events first and records a batch of outcomes in one transaction), and
// claims pending deliveries (retries, and events that waited behind an earlier one of their
// cart): it keeps up to 4·Workers of those claimed (the first pending of each cart, so a batch
// never holds two of one cart) in a queue the workers send from. Their outcomes are stored in
// batches by one finisher: one transaction for all the attempts that ended meanwhile.
func (d *Dispatcher) Run(ctx context.Context) {
	var (
		claimed  atomic.Int64 // claimed and not yet finished
		wg       sync.WaitGroup
		queue    = make(chan engine.Job, 4*d.cfg.Workers)
		outcomes = make(chan engine.Outcome, 4*d.cfg.Workers)
	)
	sendCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
		// Let the next node, or this one restarted, take the streams at once.
		rctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer stop()
		if err := d.out.ReleaseWebhooks(rctx, d.cfg.Owner); err != nil {
			d.log.WarnContext(rctx, "webhooks: release streams", "err", err)
		}
	}()
	wg.Go(func() { d.renew(sendCtx, func() bool { return claimed.Load() > 0 || d.streaming() }) })
	for range d.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-sendCtx.Done():
					return
				case job := <-queue:
					o, ok := d.attempt(sendCtx, job)
					if !ok {
						return
					}
					select {
					case outcomes <- o:
					case <-sendCtx.Done():
						return
					}
				}
			}
		})
	}
	wg.Go(func() { d.finish(sendCtx, outcomes, &claimed) })
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-timer.C:
		}
		if wait := minPass - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if n, err := d.out.PositionEvents(ctx); err != nil {
			d.warn(ctx, "position events", err)
		} else if n > 0 && d.cfg.Positioned != nil {
			d.cfg.Positioned()
		}
		hooks, err := d.out.EventsWebhooks(ctx)
		if err != nil {
			d.warn(ctx, "list webhooks", err)
		}
		for _, id := range hooks {
			if d.wake(id) {
				wg.Go(func() { d.stream(sendCtx, id) })
			}
		}
		if free := cap(queue) - int(claimed.Load()); free > 0 && (len(hooks) > 0 || err != nil) {
			jobs, err := d.out.ClaimDeliveries(ctx, d.cfg.Owner, d.cfg.Lease, free, d.pausedNow(time.Now()))
			if err != nil {
				d.warn(ctx, "claim deliveries", err)
			}
			claimed.Add(int64(len(jobs)))
			for _, job := range jobs {
				queue <- job // room for it: at most cap(queue) are claimed
			}
		}
		timer.Reset(d.cfg.Poll)
	}
}

// wake asks the goroutine sending webhook id's stream for one more look, and reports whether
// there is none (the caller starts one).
func (d *Dispatcher) wake(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.streams[id]
	if st == nil {
		st = &streamState{}
		d.streams[id] = st
	}
	switch {
	case st.running:
		st.again = true
		return false
	case time.Now().Before(st.other):
		return false
	}
	st.running = true
	return true
}

// streaming reports whether this node is sending any webhook's stream.
func (d *Dispatcher) streaming() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.streams {
		if st.running {
			return true
		}
	}
	return false
}

// streamBatch is how many events of a stream are read at once; a batch sent and recorded
// together is the part of them with at most one event of each key (see sendStream).
const streamBatch = 100

// stream sends webhook id's stream while this node holds its lease and events come, then
// stops (the loop starts it again when woken).
func (d *Dispatcher) stream(ctx context.Context, id string) {
	d.mu.Lock()
	st := d.streams[id]
	d.mu.Unlock()
	for {
		more, err := d.streamOnce(ctx, id, st)
		if err != nil {
			d.warn(ctx, "send to webhook "+id, err)
		}
		d.mu.Lock()
		if ctx.Err() != nil || err != nil || (!more && !st.again) {
			st.running, st.again = false, false
			d.mu.Unlock()
			return
		}
		st.again = false
		d.mu.Unlock()
	}
}

// streamOnce sends and records one batch of webhook id's stream, and reports whether it did.
func (d *Dispatcher) streamOnce(ctx context.Context, id string, st *streamState) (bool, error) {
	if time.Now().After(st.held) {
		start := time.Now()
		_, ok, err := d.out.TakeWebhook(ctx, id, d.cfg.Owner, d.cfg.Lease)
		if err != nil || !ok {
			if cart.ErrorCode(err) == cart.NotFound {
				err = nil // deleted since listed
			}
			if err == nil { // another node sends this stream: ask again in a while
				d.mu.Lock()
				st.other = time.Now().Add(d.cfg.Lease / 4)
				d.mu.Unlock()
			}
			return false, err
		}
		st.held = start.Add(d.cfg.Lease / 2)
	}
	if len(st.evs) == 0 {
		// Read once, then send batch after batch from what was read: a run of one cart's
		// events takes a batch each.
		var err error
		st.w, st.evs, st.pending, err = d.out.StreamBatch(ctx, id, streamBatch)
		if err != nil || len(st.evs) == 0 {
			if cart.ErrorCode(err) == cart.NotFound {
				err = nil
			}
			st.evs = nil
			return false, err
		}
	}
	w, evs := st.w, st.evs
	sent, n, ok := d.sendStream(ctx, w, evs, st.pending)
	if !ok {
		st.evs = nil
		return false, nil // stopping: the next holder sends them again
	}
	start := time.Now()
	ds, ok, err := d.out.RecordStream(ctx, id, d.cfg.Owner, w.Cursor, evs[n-1].Seq, d.cfg.Lease, sent)
	if err != nil || !ok {
		st.held, st.evs = time.Time{}, nil // taken over: what was sent goes again from the cursor
		return false, err
	}
	st.held = start.Add(d.cfg.Lease / 2)
	st.w.Cursor, st.evs = evs[n-1].Seq, evs[n:]
	for i, out := range ds {
		if out.Status == store.DeliveryPending {
			st.pending[out.Key] = true // its key's later events wait behind it
		}
		if !sent[i].Attempted {
			continue
		}
		d.note(out, time.Now())
		if d.cfg.Observer != nil {
			d.cfg.Observer.Attempted(out.Status)
		}
	}
	return true, nil
}

// sendStream sends a batch of a webhook's stream: the events it subscribes to, each key's
// (cart's) in order and one at a time, different keys in parallel on up to Workers
// connections. A batch holds events of one version of each cart only (those one transaction
// recorded): it ends before an event of a later version of a cart it sends, and it returns how
// many of evs it covers. So a cart's next version is sent only once the one before is
// recorded, and after a crash the batch sent again repeats at most each cart's latest version:
// a receiver never sees a cart's version go back. An event whose key has an earlier delivery
// pending is not sent, nor is any once an attempt failed or while the endpoint is paused: it
// waits, pending. ok is false when the dispatcher is stopping.
func (d *Dispatcher) sendStream(ctx context.Context, w store.Webhook, evs []store.Event, pending map[string]bool) (sent []engine.Sent, n int, ok bool) {
	var (
		groups  = map[string][]int{} // indexes in sent, by key, in order
		version = map[string]int64{} // the version of each key's group
		keys    []string
	)
	paused := slices.Contains(d.pausedNow(time.Now()), w.ID)
	for n = 0; n < len(evs); n++ {
		ev := evs[n]
		if !w.Active || !engine.Subscribed(w, ev.Type) {
			continue
		}
		if paused || pending[ev.Key] {
			sent = append(sent, engine.Sent{Event: ev})
			continue
		}
		if v, ok := version[ev.Key]; ok && (v != ev.CartVersion || ev.CartNum == 0) {
			break
		}
		if _, ok := groups[ev.Key]; !ok {
			keys = append(keys, ev.Key)
			version[ev.Key] = ev.CartVersion
		}
		sent = append(sent, engine.Sent{Event: ev})
		groups[ev.Key] = append(groups[ev.Key], len(sent)-1)
	}
	var (
		failed atomic.Bool // an attempt failed: the endpoint gets no more of this batch
		wg     sync.WaitGroup
		next   atomic.Int64
	)
	for range min(d.cfg.Workers, len(keys)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(keys) {
					return
				}
				for _, i := range groups[keys[k]] {
					if failed.Load() || ctx.Err() != nil {
						break
					}
					status, err := d.Send(ctx, w, sent[i].Event, time.Now())
					if ctx.Err() != nil {
						return
					}
					a := engine.Attempt{OK: err == nil, Status: status, RetryFor: d.cfg.RetryFor, RetryIn: d.cfg.Backoff(1)}
					sent[i].Attempted, sent[i].Attempt = true, a
					if err != nil {
						sent[i].Attempt.Error = err.Error()
						failed.Store(true)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return sent, n, ctx.Err() == nil
}

// minPass is the least time between two passes of the dispatcher's loop.
const minPass = 20 * time.Millisecond

// finish stores outcomes in batches until ctx ends, and wakes the loop: each cart's next
// event may be due now.
func (d *Dispatcher) finish(ctx context.Context, outcomes <-chan engine.Outcome, claimed *atomic.Int64) {
	for {
		var batch []engine.Outcome
		select {
		case <-ctx.Done():
			return
		case o := <-outcomes:
			batch = append(batch, o)
		}
	more:
		for len(batch) < 500 {
			select {
			case o := <-outcomes:
				batch = append(batch, o)
			default:
				break more
			}
		}
		done, err := d.out.FinishAttempts(ctx, batch)
		claimed.Add(-int64(len(batch)))
		if err != nil {
			// The leases lapse and the deliveries are sent again: at least once.
			d.warn(ctx, "record delivery attempts", err)
			continue
		}
		for _, out := range done {
			d.note(out, time.Now())
			if d.cfg.Observer != nil {
				d.cfg.Observer.Attempted(out.Status)
			}
			if out.Status == store.DeliveryFailed {
				d.log.WarnContext(ctx, "webhooks: delivery failed for good", "webhook", out.WebhookID, "event", ID(out.Seq),
					"attempts", out.Attempts, "last_error", out.LastError)
			}
		}
		d.Kick()
	}
}

// note keeps a webhook's pause up to date with an attempt's result.
func (d *Dispatcher) note(out store.Delivery, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if out.Status == store.DeliveryDelivered {
		delete(d.paused, out.WebhookID)
		return
	}
	p := d.paused[out.WebhookID]
	if p.until.After(now) {
		return // one failure per pause: the attempts of one batch count once
	}
	p.failures++
	p.until = now.Add(min(d.cfg.Backoff(p.failures), maxPause))
	d.paused[out.WebhookID] = p
}

// pausedNow lists the webhooks paused at now.
func (d *Dispatcher) pausedNow(now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, p := range d.paused {
		if p.until.After(now) {
			out = append(out, id)
		}
	}
	return out
}

func (d *Dispatcher) warn(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		d.log.WarnContext(ctx, "webhooks: "+what, "err", err)
	}
}

// renew extends this node's leases every third of a lease while it has deliveries claimed.
func (d *Dispatcher) renew(ctx context.Context, busy func() bool) {
	t := time.NewTicker(d.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if busy() {
			if err := d.out.RenewLeases(ctx, d.cfg.Owner, d.cfg.Lease); err != nil {
				d.warn(ctx, "renew leases", err)
			}
		}
	}
}

// attempt sends one delivery; ok is false when the dispatcher is stopping (the lease lapses
// and the delivery is tried again).
func (d *Dispatcher) attempt(ctx context.Context, job engine.Job) (engine.Outcome, bool) {
	status, err := d.Send(ctx, job.Webhook, job.Delivery.Event, time.Now())
	if ctx.Err() != nil {
		return engine.Outcome{}, false
	}
	a := engine.Attempt{OK: err == nil, Status: status, RetryFor: d.cfg.RetryFor, RetryIn: d.cfg.Backoff(job.Delivery.Attempts + 1)}
	if err != nil {
		a.Error = err.Error()
	}
	return engine.Outcome{Delivery: job.Delivery, Attempt: a}, true
}

// Send posts one event to a webhook, signed at now with its secret (and, during a rotation,
// the one before), and returns the HTTP status (0 for none) and an error unless it got a
// 2xx.
func (d *Dispatcher) Send(ctx context.Context, w store.Webhook, ev store.Event, now time.Time) (int, error) {
	body := Body(ev)
	secrets := []string{w.Secret}
	if w.PreviousSecret != "" && now.Before(w.PreviousUntil) {
		secrets = append(secrets, w.PreviousSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cartd-webhooks/1")
	req.Header.Set("Cartd-Event-Id", ID(ev.Seq))
	req.Header.Set("Cartd-Event-Type", ev.Type)
	req.Header.Set("Cartd-Signature", Signature(now, body, secrets...))
	resp, err := d.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("no answer within %s", d.cfg.Timeout)
		}
		return 0, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errors.New("HTTP " + strconv.Itoa(resp.StatusCode))
	}
	return resp.StatusCode, nil
}
