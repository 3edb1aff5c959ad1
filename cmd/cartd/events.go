package main

// Events out (docs/events.md): the flags of the outbox's housekeeping, of webhook delivery and
// of the NATS publisher, and the loops serve starts for them.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/events/jetstream"
	"github.com/cartd/cartd/internal/observe"
)

type eventsConfig struct {
	retention       time.Duration
	abandonAfter    time.Duration
	webhookTimeout  time.Duration
	webhookRetryFor time.Duration
	nats            string // "": no NATS publisher
	natsStream      string
	natsSubject     string
}

// eventsFlags defines the flags of events out on fs, each defaulting to its environment twin.
func eventsFlags(fs *flag.FlagSet, c *eventsConfig, env func(key, def string) string) error {
	for _, f := range []struct {
		name, envName, def, usage string
		dst                       *time.Duration
	}{
		{"event-retention", "CARTD_EVENT_RETENTION", engine.DefaultEventRetention.String(), "how long events are kept in the feed (GET /v1/events) before housekeeping purges them; 0 keeps them", &c.retention},
		{"abandon-after", "CARTD_ABANDON_AFTER", engine.DefaultAbandonAfter.String(), "how long an active cart with items sits untouched before cart.abandoned reports it (once per idle period); 0 reports none", &c.abandonAfter},
		{"webhook-timeout", "CARTD_WEBHOOK_TIMEOUT", events.DefaultTimeout.String(), "how long a webhook endpoint has to answer a delivery before it counts as failed and is retried", &c.webhookTimeout},
		{"webhook-retry-for", "CARTD_WEBHOOK_RETRY_FOR", events.DefaultRetryFor.String(), "how long a failing webhook delivery is retried (exponential backoff) before it is marked failed", &c.webhookRetryFor},
	} {
		d, err := time.ParseDuration(env(f.envName, f.def))
		if err != nil {
			return fmt.Errorf("%s: %w", f.envName, err)
		}
		fs.DurationVar(f.dst, f.name, d, f.usage+" ("+f.envName+")")
	}
	fs.StringVar(&c.nats, "events-nats", env("CARTD_EVENTS_NATS", ""), "publish every event to NATS JetStream at this URL (nats://127.0.0.1:4222), on subject cartd.events.<type> of the stream CARTD_EVENTS, created if missing (CARTD_EVENTS_NATS)")
	fs.StringVar(&c.natsStream, "events-nats-stream", env("CARTD_EVENTS_NATS_STREAM", jetstream.DefaultStream), "the JetStream stream of --events-nats: one per cartd database (CARTD_EVENTS_NATS_STREAM)")
	fs.StringVar(&c.natsSubject, "events-nats-subject", env("CARTD_EVENTS_NATS_SUBJECT", jetstream.DefaultSubject), "the subject prefix of --events-nats: events go to <prefix>.<type> (CARTD_EVENTS_NATS_SUBJECT)")
	return nil
}

func (c eventsConfig) validate() error {
	switch {
	case c.retention < 0:
		return errors.New("--event-retention must not be negative")
	case c.abandonAfter < 0:
		return errors.New("--abandon-after must not be negative")
	case c.webhookTimeout <= 0:
		return errors.New("--webhook-timeout must be positive")
	case c.webhookRetryFor <= 0:
		return errors.New("--webhook-retry-for must be positive")
	case c.nats != "" && !strings.HasPrefix(c.nats, "nats://") && !strings.HasPrefix(c.nats, "tls://"):
		return fmt.Errorf("--events-nats must be a nats:// or tls:// URL, not %q", c.nats)
	case c.natsStream == "" || strings.ContainsAny(c.natsStream, ". *>\t"):
		return fmt.Errorf("--events-nats-stream %q: a stream name has no dots, spaces or wildcards", c.natsStream)
	case c.natsSubject == "" || strings.ContainsAny(c.natsSubject, " *>\t") || strings.HasSuffix(c.natsSubject, "."):
		return fmt.Errorf("--events-nats-subject %q: a subject prefix has no spaces or wildcards and does not end in a dot", c.natsSubject)
	}
	return nil
}

// eventsOut is the node's way out for events: the webhook dispatcher, woken by every commit
// that wrote events, and their metrics.
type eventsOut struct {
	cfg     eventsConfig
	metrics *observe.EventMetrics
	log     *slog.Logger

	mu    sync.Mutex
	kicks []func()
}

func newEventsOut(c eventsConfig, reg prometheus.Registerer, log *slog.Logger) *eventsOut {
	return &eventsOut{cfg: c, metrics: observe.NewEventMetrics(reg), log: log}
}

// written is the engine's EventsWritten: count, and wake the loops.
func (o *eventsOut) written(n int) {
	o.metrics.EventsWritten(n)
	o.mu.Lock()
	kicks := o.kicks
	o.mu.Unlock()
	for _, k := range kicks {
		k()
	}
}

// start runs the loops until ctx ends; the function it returns waits for them.
func (o *eventsOut) start(ctx context.Context, eng *engine.Engine) (func(), error) {
	var pub *jetstream.Publisher
	positioned := func() {}
	if o.cfg.nats != "" {
		pub = jetstream.New(eng, jetstream.Config{URL: o.cfg.nats, Stream: o.cfg.natsStream, Subject: o.cfg.natsSubject,
			Logger: o.log, Observer: o.metrics})
		positioned = pub.Kick
	}
	d := events.NewDispatcher(eng, events.Config{Timeout: o.cfg.webhookTimeout, RetryFor: o.cfg.webhookRetryFor,
		Logger: o.log, Observer: o.metrics, Positioned: positioned})
	o.mu.Lock()
	o.kicks = append(o.kicks, d.Kick, positioned)
	o.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { d.Run(ctx) })
	if pub != nil {
		wg.Go(func() { pub.Run(ctx) })
	}
	return wg.Wait, nil
}
