package jetstream_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/events/jetstream"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// natsURL is the NATS server of the tests: CARTD_TEST_NATS_URL, or the CI machines' local one.
// Tests skip when it does not answer.
func natsURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("CARTD_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	host := u[len("nats://"):]
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		tb.Skipf("no NATS server at %s (%v): start nats-server with JetStream (-js) to run this test", u, err)
	}
	c.Close()
	return u
}

// space is a stream and subject prefix of the test's own, deleted when it ends, so that runs
// in parallel never collide.
func space(tb testing.TB, url string) (stream, subject string, j js.JetStream) {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	id := hex.EncodeToString(b)
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	j, err = js.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	stream, subject = "CARTD_TEST_"+id, "cartdtest"+id+".events"
	tb.Cleanup(func() {
		j.DeleteStream(context.Background(), stream)
		nc.Close()
	})
	return stream, subject, j
}

type fixture struct {
	eng   *engine.Engine
	admin auth.Principal
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: time.Hour})
	secret, _, err := eng.CreateKey(tb.Context(), []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(tb.Context(), secret)
	if err != nil {
		tb.Fatal(err)
	}
	on := int64(1000)
	if _, err := eng.PutProduct(tb.Context(), p, cart.Product{ID: "prod", Name: "P", Variants: []cart.Variant{{ID: "var_a", SKU: "A", Prices: map[string]int64{"USD": 100}, Active: true}}}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	if _, err := eng.PutInventory(tb.Context(), p, "A", engine.StockChange{OnHand: &cart.Decimal{N: on}}, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	return &fixture{eng: eng, admin: p}
}

func (f *fixture) changes(tb testing.TB, carts, each int) {
	tb.Helper()
	for range carts {
		v, err := f.eng.CreateCart(tb.Context(), f.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		for range each {
			d := cart.Change{N: 1}
			if _, err := f.eng.Update(tb.Context(), f.admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "A"}, Change: &d}}, engine.Options{}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func (f *fixture) feed(tb testing.TB) []store.Event {
	tb.Helper()
	evs, err := f.eng.EventsAfter(tb.Context(), 0, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// start runs a publisher until stop (or the test's end).
func start(tb testing.TB, f *fixture, cfg jetstream.Config) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	p := jetstream.New(f.eng, cfg)
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	tb.Cleanup(stop)
	return stop
}

// streamed returns the messages of the stream, in stream order, once it holds want of them.
func streamed(tb testing.TB, j js.JetStream, stream string, want int) []*js.RawStreamMsg {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := j.Stream(tb.Context(), stream)
		if err == nil {
			var info *js.StreamInfo
			if info, err = s.Info(tb.Context()); err == nil && int(info.State.Msgs) >= want {
				var out []*js.RawStreamMsg
				for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
					m, err := s.GetMsg(tb.Context(), seq)
					if err != nil {
						tb.Fatal(err)
					}
					out = append(out, m)
				}
				return out
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %d messages in %s (%v)", want, stream, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantFeed checks that the stream holds the feed: each event once, in order, on its subject.
func wantFeed(tb testing.TB, msgs []*js.RawStreamMsg, feed []store.Event, subject string) {
	tb.Helper()
	if len(msgs) != len(feed) {
		tb.Fatalf("stream holds %d messages, the feed %d events", len(msgs), len(feed))
	}
	for i, m := range msgs {
		ev := feed[i]
		var body events.JSON
		if err := json.Unmarshal(m.Data, &body); err != nil {
			tb.Fatal(err)
		}
		if m.Subject != subject+"."+ev.Type || m.Header.Get(js.MsgIDHeader) != events.ID(ev.Seq) || body.Seq != ev.Seq {
			tb.Fatalf("message %d: %s %s seq %d, want %s.%s %s", i, m.Subject, m.Header.Get(js.MsgIDHeader), body.Seq, subject, ev.Type, events.ID(ev.Seq))
		}
	}
}

func TestPublisher(t *testing.T) {
	url := natsURL(t)
	t.Run("creates its stream and publishes the feed in order, then resumes where the stream ends", func(t *testing.T) {
		stream, subject, j := space(t, url)
		f := newFixture(t)
		f.changes(t, 3, 4)
		stop := start(t, f, jetstream.Config{URL: url, Stream: stream, Subject: subject, Poll: 20 * time.Millisecond})
		wantFeed(t, streamed(t, j, stream, len(f.feed(t))), f.feed(t), subject)
		stop()
		f.changes(t, 2, 3)
		start(t, f, jetstream.Config{URL: url, Stream: stream, Subject: subject, Poll: 20 * time.Millisecond})
		feed := f.feed(t)
		wantFeed(t, streamed(t, j, stream, len(feed)), feed, subject)
	})

	t.Run("two publishers of one feed put each event in the stream once", func(t *testing.T) {
		stream, subject, j := space(t, url)
		f := newFixture(t)
		cfg := jetstream.Config{URL: url, Stream: stream, Subject: subject, Poll: 10 * time.Millisecond}
		start(t, f, cfg)
		start(t, f, cfg)
		f.changes(t, 4, 5)
		feed := f.feed(t)
		msgs := streamed(t, j, stream, len(feed))
		time.Sleep(100 * time.Millisecond) // let a late duplicate arrive, were one to get through
		msgs = streamed(t, j, stream, len(feed))
		wantFeed(t, msgs, feed, subject)
	})
}
