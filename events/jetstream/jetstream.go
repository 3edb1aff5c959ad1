// Package jetstream publishes cartd's events to NATS JetStream (--events-nats): each event, in
// feed order, to the subject <prefix>.<type> (cartd.events.cart.item.added) of a stream cartd
// creates if it is missing, with Nats-Msg-Id set to the event's id so that JetStream drops a
// duplicate published within the stream's duplicate window (two nodes publishing the same
// feed, or a publish retried after a lost acknowledgement).
//
// Where to resume is read from the stream itself: the Nats-Msg-Id of its last message. A node
// that restarts, or another node, goes on from there; a stream created empty gets every event
// the feed still holds.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/store"
)

// Defaults of Config.
const (
	DefaultStream  = "CARTD_EVENTS"
	DefaultSubject = "cartd.events"
	DefaultPoll    = time.Second
	batch          = 500
)

// Feed is where events come from (*engine.Engine implements it).
type Feed interface {
	EventsAfter(ctx context.Context, after int64, limit int) ([]store.Event, error)
}

// Observer counts events published; nil counts nothing.
type Observer interface{ Published(n int) }

// Config tunes a Publisher; zero fields take the defaults.
type Config struct {
	URL      string // nats://127.0.0.1:4222
	Stream   string
	Subject  string // the prefix: events go to <Subject>.<type>
	Poll     time.Duration
	Logger   *slog.Logger
	Observer Observer
}

// Publisher publishes the feed to JetStream.
type Publisher struct {
	feed Feed
	cfg  Config
	kick chan struct{}
	log  *slog.Logger
}

// New returns a publisher of feed.
func New(feed Feed, cfg Config) *Publisher {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{feed: feed, cfg: cfg, kick: make(chan struct{}, 1), log: cfg.Logger}
}

// Kick wakes the publisher: new events may be in the feed. It never blocks.
func (p *Publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends. A NATS server that is down or refuses is retried every poll;
// cart changes never wait for it.
func (p *Publisher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.session(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.WarnContext(ctx, "nats: publishing stopped; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(p.cfg.Poll):
		}
	}
}

// session connects, finds where to resume and publishes until an error or ctx ends.
func (p *Publisher) session(ctx context.Context) error {
	nc, err := nats.Connect(p.cfg.URL, nats.Name("cartd"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	j, err := js.New(nc)
	if err != nil {
		return err
	}
	cursor, err := p.resume(ctx, j)
	if err != nil {
		return err
	}
	for {
		evs, err := p.feed.EventsAfter(ctx, cursor, batch)
		if err != nil {
			return fmt.Errorf("read the feed: %w", err)
		}
		if len(evs) > 0 {
			if err := p.publish(ctx, j, evs); err != nil {
				return err
			}
			cursor = evs[len(evs)-1].Seq
			if len(evs) == batch {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.kick:
			// Let a busy node's commits gather into one read and one batch of publishes.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(gather):
			}
		case <-time.After(p.cfg.Poll):
		}
	}
}

// gather is how long a woken publisher lets further events gather before reading them.
const gather = 20 * time.Millisecond

// resume makes sure the stream exists and returns the position of the last event in it.
func (p *Publisher) resume(ctx context.Context, j js.JetStream) (int64, error) {
	st, err := j.Stream(ctx, p.cfg.Stream)
	if errors.Is(err, js.ErrStreamNotFound) {
		st, err = j.CreateStream(ctx, js.StreamConfig{Name: p.cfg.Stream, Subjects: []string{p.cfg.Subject + ".>"},
			Description: "cartd events (docs/events.md)", Storage: js.FileStorage})
		if errors.Is(err, js.ErrStreamNameAlreadyInUse) {
			st, err = j.Stream(ctx, p.cfg.Stream) // another node created it first
		}
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", p.cfg.Stream, err)
	}
	last, err := st.GetLastMsgForSubject(ctx, p.cfg.Subject+".>")
	if errors.Is(err, js.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: last message: %w", p.cfg.Stream, err)
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(last.Header.Get(js.MsgIDHeader), "evt_"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream %s: the last message's %s %q is not a cartd event id", p.cfg.Stream, js.MsgIDHeader, last.Header.Get(js.MsgIDHeader))
	}
	return seq, nil
}

// publish sends events in order without waiting for each acknowledgement, then waits for all:
// the stream keeps them in the order sent.
func (p *Publisher) publish(ctx context.Context, j js.JetStream, evs []store.Event) error {
	futures := make([]js.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		msg := nats.NewMsg(p.cfg.Subject + "." + ev.Type)
		msg.Data = events.Body(ev)
		msg.Header.Set("Content-Type", "application/json")
		f, err := j.PublishMsgAsync(msg, js.WithMsgID(events.ID(ev.Seq)), js.WithExpectStream(p.cfg.Stream))
		if err != nil {
			return fmt.Errorf("publish %s: %w", events.ID(ev.Seq), err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Header.Get(js.MsgIDHeader), err)
		}
	}
	if p.cfg.Observer != nil {
		p.cfg.Observer.Published(len(evs))
	}
	return nil
}
