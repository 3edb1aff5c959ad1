package observe

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cartd/cartd/store"
)

// Metric names of events out (docs/events.md).
const (
	MetricEventsWritten           = "cartd_events_written_total"
	MetricWebhookAttempts         = "cartd_webhook_attempts_total"
	MetricEventsOldestUndelivered = "cartd_events_oldest_undelivered_seconds"
	MetricNATSPublished           = "cartd_nats_published_total"
)

// EventMetrics count events written and what became of their deliveries. It is the webhook
// dispatcher's events.Observer.
type EventMetrics struct {
	written   prometheus.Counter
	attempts  map[string]prometheus.Counter
	published prometheus.Counter
}

// NewEventMetrics registers the events' collectors on reg.
func NewEventMetrics(reg prometheus.Registerer) *EventMetrics {
	m := &EventMetrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricEventsWritten,
			Help: "Events recorded in the outbox by committed transactions of this node.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricNATSPublished,
			Help: "Events published to NATS JetStream and acknowledged by it.",
		}),
		attempts: map[string]prometheus.Counter{},
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricWebhookAttempts,
		Help: "Webhook delivery attempts by result: delivered (2xx), retried (failed, tried again later) or failed (given up after --webhook-retry-for).",
	}, []string{"result"})
	for status, label := range map[string]string{store.DeliveryDelivered: "delivered", store.DeliveryPending: "retried", store.DeliveryFailed: "failed"} {
		m.attempts[status] = attempts.WithLabelValues(label)
	}
	reg.MustRegister(m.written, m.published, attempts)
	return m
}

// EventsWritten counts n events written by a commit.
func (m *EventMetrics) EventsWritten(n int) { m.written.Add(float64(n)) }

// Attempted counts one webhook delivery attempt by the status it left the delivery in.
func (m *EventMetrics) Attempted(status string) {
	if c, ok := m.attempts[status]; ok {
		c.Inc()
	}
}

// Published counts events NATS acknowledged.
func (m *EventMetrics) Published(n int) { m.published.Add(float64(n)) }

// RegisterOldestUndelivered registers the age of the oldest event still pending delivery to
// a webhook (0 when none), read from the database at scrape time so every node agrees.
func RegisterOldestUndelivered(reg prometheus.Registerer, age func(context.Context) (time.Duration, error), log *slog.Logger) {
	reg.MustRegister(&ageCollector{
		desc: prometheus.NewDesc(MetricEventsOldestUndelivered, "Age in seconds of the oldest event still pending delivery to a webhook; 0 when none is (read from the database at scrape time).", nil, nil),
		age:  age, log: log,
	})
}

type ageCollector struct {
	desc *prometheus.Desc
	age  func(context.Context) (time.Duration, error)
	log  *slog.Logger
}

func (c *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *ageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	age, err := c.age(ctx)
	if err != nil {
		c.log.Warn("metrics: read oldest pending delivery", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, age.Seconds())
}
