// Package observe is what an operator sees of cartd at work: Prometheus metrics, one access log
// line per request with a request id, and CORS for browser clients. Its HTTP middleware wraps
// every front door at once; its Metrics also observe the engine (engine.Observer) and the
// PostgreSQL store's retries. Nothing here is global: cmd/cartd builds a private registry and
// passes it in.
package observe

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
)

// Metric names, in one place for docs/operations.md and the tests.
const (
	MetricRequests            = "cartd_http_requests_total"
	MetricRequestDuration     = "cartd_http_request_duration_seconds"
	MetricQuantityChanges     = "cartd_quantity_changes_total"
	MetricReservationsHeld    = "cartd_reservations_held_units"
	MetricReservationsRelease = "cartd_reservations_released_units_total"
	MetricSweeps              = "cartd_sweeper_runs_total"
	MetricSweptCarts          = "cartd_sweeper_released_carts_total"
	MetricStoreRetries        = "cartd_store_transaction_retries_total"
	MetricIdempotentReplays   = "cartd_idempotent_replays_total"
	MetricRefusals            = "cartd_refusals_total"
)

// RefusalAnonymousHold is the refusals' reason for a change the cap on one address's
// anonymous holdings limited (engine.AnonymousHold); the others are limits.Reasons.
const RefusalAnonymousHold = "anonymous_hold"

// durationBuckets spans a cached read (well under a millisecond) to a call that waited on a
// busy database (seconds), denser where cart calls fall.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics holds cartd's collectors, registered on the registry given to NewMetrics. It is an
// engine.Observer.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// series caches each (route, front door, status class)'s counter and histogram, so that a
	// request costs a read-locked map lookup instead of hashing its label values.
	mu     sync.RWMutex
	series map[seriesKey]*series

	quantity map[engine.QuantityOutcome]prometheus.Counter
	released map[engine.ReleaseReason]prometheus.Counter
	sweeps   map[bool]prometheus.Counter
	swept    prometheus.Counter
	retries  *prometheus.CounterVec
	replays  prometheus.Counter
	refusals *prometheus.CounterVec
}

type seriesKey struct {
	route, door string
	class       uint8
}

type series struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

var _ engine.Observer = (*Metrics)(nil)

// NewMetrics creates cartd's collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests,
			Help: "HTTP requests served, by route pattern (unmatched for paths no route matches, preflight for CORS preflights), front door and status class.",
		}, []string{"route", "front_door", "status_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricRequestDuration,
			Help:    "Time from a request's arrival at the middleware to its handler's return, by route pattern, front door and status class.",
			Buckets: durationBuckets,
		}, []string{"route", "front_door", "status_class"}),
		series:   map[seriesKey]*series{},
		quantity: map[engine.QuantityOutcome]prometheus.Counter{},
		released: map[engine.ReleaseReason]prometheus.Counter{},
		sweeps:   map[bool]prometheus.Counter{},
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricSweptCarts,
			Help: "Carts whose lapsed or unavailable reservations the sweeper released.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricStoreRetries,
			Help: "Store transactions re-run after a conflict or a dropped connection, by reason (PostgreSQL only: SQLite serializes writes and never retries).",
		}, []string{"reason"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricIdempotentReplays,
			Help: "Calls answered from their Idempotency-Key's record instead of running again.",
		}),
	}
	quantity := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricQuantityChanges,
		Help: "Line quantity changes by outcome: set, removed, clamped (the clamp policy applied less), backordered (the ignore policy), rejected (refused for want of stock).",
	}, []string{"outcome"})
	for _, o := range engine.QuantityOutcomes {
		m.quantity[o] = quantity.WithLabelValues(string(o))
	}
	released := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricReservationsRelease,
		Help: "Units of stock given back by lines that held them, by reason: expired (the reservation lapsed), unavailable (the line can no longer be bought), stock_lowered (on_hand set below what carts held), abandoned (housekeeping purged the guest cart). A line's own quantity change is not counted.",
	}, []string{"reason"})
	for _, r := range engine.ReleaseReasons {
		m.released[r] = released.WithLabelValues(string(r))
	}
	sweeps := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricSweeps,
		Help: "Passes of the reservation sweeper, by result (ok or error).",
	}, []string{"result"})
	m.sweeps[true], m.sweeps[false] = sweeps.WithLabelValues("ok"), sweeps.WithLabelValues("error")
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRefusals,
		Help: "Requests and changes refused to protect the node and its stock, by reason: rate_limited (a principal's bucket), session_rate_limited (new storefront sessions per address), overloaded (the in-flight cap), body_too_large, body_timeout (a body slower than --body-timeout), pending_bodies (an address's bodies arriving at once), anonymous_hold (a change to an anonymous cart held to its address's share of a SKU; clamped or refused).",
	}, []string{"reason"})
	for _, r := range append(slices.Clone(limits.Reasons), RefusalAnonymousHold) {
		m.refusals.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.duration, quantity, released, sweeps, m.swept, m.retries, m.replays, m.refusals)
	return m
}

// ObserveRetries shows a zero for each of reasons from the start (a counter that appears only
// once it is non-zero defeats rate()), and returns the function to give the store as its retry
// hook.
func (m *Metrics) ObserveRetries(reasons []string) func(reason string) {
	for _, r := range reasons {
		m.retries.WithLabelValues(r)
	}
	return func(reason string) { m.retries.WithLabelValues(reason).Inc() }
}

// RegisterReservationsHeld registers the gauge of units carts hold, read by held at scrape
// time from the database, so that it is exact on every node whichever node reserved what.
// A read that fails is logged and leaves the gauge out of that scrape.
func RegisterReservationsHeld(reg prometheus.Registerer, held func(context.Context) (int64, error), log *slog.Logger) {
	reg.MustRegister(&heldCollector{
		desc: prometheus.NewDesc(MetricReservationsHeld, "Units of stock reserved by carts right now, over every SKU (read from the database at scrape time).", nil, nil),
		held: held, log: log,
	})
}

type heldCollector struct {
	desc *prometheus.Desc
	held func(context.Context) (int64, error)
	log  *slog.Logger
}

func (c *heldCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.held(ctx)
	if err != nil {
		c.log.Warn("metrics: read reserved units", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// QuantityChanged counts line changes by outcome.
func (m *Metrics) QuantityChanged(outcome engine.QuantityOutcome, n int) {
	if c, ok := m.quantity[outcome]; ok {
		c.Add(float64(n))
	}
}

// ReservationReleased counts units given back by reason.
func (m *Metrics) ReservationReleased(reason engine.ReleaseReason, units int64) {
	if c, ok := m.released[reason]; ok {
		c.Add(float64(units))
	}
}

// SweepRan counts a sweeper pass and the carts it changed.
func (m *Metrics) SweepRan(carts int, err error) {
	m.sweeps[err == nil].Inc()
	m.swept.Add(float64(carts))
}

// IdempotentReplay counts a replay.
func (m *Metrics) IdempotentReplay() { m.replays.Inc() }

// Refused counts a refusal by its reason: the Guard's hook (limits.Config.Refused).
func (m *Metrics) Refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// AnonymousHoldCapped counts a change the cap on an address's anonymous holdings limited.
func (m *Metrics) AnonymousHoldCapped() { m.Refused(RefusalAnonymousHold) }

// observeRequest records one request.
func (m *Metrics) observeRequest(route, door string, status int, d time.Duration) {
	k := seriesKey{route: route, door: door, class: uint8(min(max(status/100, 1), 5))}
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s == nil {
		s = m.newSeries(k)
	}
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

var classes = [...]string{"", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *Metrics) newSeries(k seriesKey) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.series[k]; s != nil {
		return s
	}
	s := &series{
		count:    m.requests.WithLabelValues(k.route, k.door, classes[k.class]),
		duration: m.duration.WithLabelValues(k.route, k.door, classes[k.class]),
	}
	m.series[k] = s
	return s
}
