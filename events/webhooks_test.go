package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/postgres"
	"github.com/cartd/cartd/store/postgres/postgrestest"
	"github.com/cartd/cartd/store/sqlite"
)

// node is one cartd node's engine and dispatcher over a store that may be shared.
type node struct {
	eng   *engine.Engine
	admin auth.Principal
}

func newNode(tb testing.TB, st store.Store) *node {
	tb.Helper()
	eng := engine.New(st, engine.Config{ReservationTTL: time.Hour})
	secret, _, err := eng.CreateKey(tb.Context(), []auth.Scope{auth.Admin}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := eng.Authenticate(tb.Context(), secret)
	if err != nil {
		tb.Fatal(err)
	}
	return &node{eng: eng, admin: p}
}

// stores opens n stores on one database: a SQLite file (n must be 1), or, with kind
// "postgres", n stores on one schema, as n nodes would.
func stores(tb testing.TB, kind string, n int) []store.Store {
	tb.Helper()
	var out []store.Store
	switch kind {
	case "sqlite":
		st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		out = append(out, st)
	case "postgres":
		u := postgrestest.URL(tb)
		for range n {
			st, err := postgres.Open(tb.Context(), u, postgres.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			out = append(out, st)
		}
	}
	return out
}

// kinds are the stores the tests run on: SQLite, and PostgreSQL when a server is given.
func kinds() []string {
	if os.Getenv("CARTD_TEST_POSTGRES_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// receiver is a webhook endpoint that records what it gets and answers as told.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	got    []received
	answer func(n int) int // the status of the n-th request (from 1); 0 hangs until the test ends
	calls  atomic.Int64
}

type received struct {
	header http.Header
	body   []byte
	event  events.JSON
}

func newReceiver(tb testing.TB, secret string, answer func(n int) int) *receiver {
	tb.Helper()
	r := &receiver{secret: secret, answer: answer}
	hang := make(chan struct{})
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		n := int(r.calls.Add(1))
		status := http.StatusOK
		if r.answer != nil {
			status = r.answer(n)
		}
		if status == 0 {
			select {
			case <-hang:
			case <-req.Context().Done():
			}
			return
		}
		if status/100 == 2 {
			var ev events.JSON
			if err := json.Unmarshal(body, &ev); err != nil {
				tb.Errorf("delivery body: %v", err)
			}
			r.mu.Lock()
			r.got = append(r.got, received{header: req.Header.Clone(), body: body, event: ev})
			r.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(func() { close(hang); r.Close() })
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// eventually waits for cond, failing after a minute: a bound on a hang, not a measurement.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run starts a dispatcher until the test ends (or stop is called).
func run(tb testing.TB, eng *engine.Engine, cfg events.Config) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	d := events.NewDispatcher(eng, cfg)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	tb.Cleanup(stop)
	return stop
}

func putWebhook(tb testing.TB, n *node, id, url, secret string, types ...string) {
	tb.Helper()
	in := engine.WebhookInput{URL: url, Secret: &secret, Types: types}
	if _, err := n.eng.PutWebhook(tb.Context(), n.admin, id, in, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
}

// shop stores a product with skus, plenty of each.
func shop(tb testing.TB, n *node, skus ...string) {
	tb.Helper()
	p := cart.Product{ID: "prod", Name: "Product"}
	for _, sku := range skus {
		p.Variants = append(p.Variants, cart.Variant{ID: "var_" + sku, SKU: sku, Prices: map[string]int64{"USD": 100}, Active: true})
	}
	if _, err := n.eng.PutProduct(tb.Context(), n.admin, p, engine.Options{}); err != nil {
		tb.Fatal(err)
	}
	for _, sku := range skus {
		on := int64(1_000_000)
		if _, err := n.eng.PutInventory(tb.Context(), n.admin, sku, engine.StockChange{OnHand: &cart.Decimal{N: on}}, engine.Options{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// busyCarts opens carts and changes them concurrently from the nodes given, round robin.
func busyCarts(tb testing.TB, nodes []*node, carts, changes int) {
	tb.Helper()
	var wg sync.WaitGroup
	for c := range carts {
		wg.Go(func() {
			n := nodes[c%len(nodes)]
			v, err := n.eng.CreateCart(tb.Context(), n.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
			if err != nil {
				tb.Error(err)
				return
			}
			for i := range changes {
				n := nodes[(c+i)%len(nodes)]
				delta := cart.Change{N: 1}
				if _, err := n.eng.Update(tb.Context(), n.admin, v.Cart.Num, []engine.Update{{Item: engine.ItemRef{SKU: "A"}, Change: &delta}}, engine.Options{}); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// feed returns every event of the feed.
func feed(tb testing.TB, n *node) []store.Event {
	tb.Helper()
	var out []store.Event
	var after int64
	for {
		evs, more, err := n.eng.Events(tb.Context(), n.admin, after, engine.MaxFeedLimit)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, evs...)
		if !more {
			return out
		}
		after = evs[len(evs)-1].Seq
	}
}

// wantInOrder checks what an endpoint got: every event of types of the feed, signed, and each
// cart's in version order; it returns how many times each event came.
func wantInOrder(tb testing.TB, r *receiver, want []store.Event) map[string]int {
	tb.Helper()
	got := r.received()
	times := map[string]int{}
	last := map[string]int64{}
	for _, g := range got {
		times[g.event.ID]++
		if err := events.Verify(g.header.Get("Cartd-Signature"), g.body, r.secret, time.Now(), 5*time.Minute); err != nil {
			tb.Errorf("%s: signature: %v", g.event.ID, err)
		}
		if g.header.Get("Cartd-Event-Id") != g.event.ID || g.header.Get("Cartd-Event-Type") != g.event.Type {
			tb.Errorf("%s: headers %v", g.event.ID, g.header)
		}
		if g.event.CartID != "" {
			if g.event.CartVersion < last[g.event.CartID] {
				tb.Errorf("%s: %s version %d after %d", g.event.ID, g.event.CartID, g.event.CartVersion, last[g.event.CartID])
			}
			last[g.event.CartID] = g.event.CartVersion
		}
	}
	for _, ev := range want {
		if times[events.ID(ev.Seq)] == 0 {
			tb.Errorf("%s (%s) never delivered", events.ID(ev.Seq), ev.Type)
		}
	}
	return times
}

func cartEvents(evs []store.Event, after int64) []store.Event {
	var out []store.Event
	for _, ev := range evs {
		if ev.Seq > after && ev.CartNum != 0 {
			out = append(out, ev)
		}
	}
	return out
}

func delivered(r *receiver, n int) func() bool {
	return func() bool { return len(r.received()) >= n }
}

// deliveredAll reports whether r got every event of want.
func deliveredAll(r *receiver, want []store.Event) func() bool {
	return func() bool {
		got := map[string]bool{}
		for _, g := range r.received() {
			got[g.event.ID] = true
		}
		for _, ev := range want {
			if !got[events.ID(ev.Seq)] {
				return false
			}
		}
		return true
	}
}

func TestWebhooks(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind, func(t *testing.T) { testWebhooks(t, kind) })
	}
}

func testWebhooks(t *testing.T, kind string) {
	t.Run("a healthy endpoint gets every event it subscribes to, signed, each cart's in version order", func(t *testing.T) {
		n := newNode(t, stores(t, kind, 1)[0])
		shop(t, n, "A")
		r := newReceiver(t, "whsec_test_secret_0001", nil)
		putWebhook(t, n, "wh", r.URL, r.secret, "cart.*")
		mark := feed(t, n)
		var start int64
		if len(mark) > 0 {
			start = mark[len(mark)-1].Seq
		}
		run(t, n.eng, events.Config{Workers: 4, Poll: 50 * time.Millisecond})
		busyCarts(t, []*node{n}, 6, 10)
		want := cartEvents(feed(t, n), start)
		eventually(t, "every cart event delivered", deliveredAll(r, want))
		for id, times := range wantInOrder(t, r, want) {
			if times != 1 {
				t.Errorf("%s delivered %d times by one node", id, times)
			}
		}
		for _, g := range r.received() {
			if g.event.Type == engine.EventStockChanged {
				t.Errorf("a webhook subscribed to cart.* got %s", g.event.Type)
			}
		}
	})

	t.Run("an endpoint answering 500 is retried with backoff until it answers", func(t *testing.T) {
		n := newNode(t, stores(t, kind, 1)[0])
		shop(t, n, "A")
		r := newReceiver(t, "whsec_test_secret_0002", func(k int) int {
			if k <= 3 {
				return http.StatusInternalServerError
			}
			return http.StatusNoContent
		})
		putWebhook(t, n, "wh", r.URL, r.secret, engine.EventCartCreated)
		var waits []int
		var mu sync.Mutex
		obs := &counter{}
		run(t, n.eng, events.Config{Poll: 20 * time.Millisecond, Observer: obs, Backoff: func(k int) time.Duration {
			mu.Lock()
			waits = append(waits, k)
			mu.Unlock()
			return time.Duration(k) * 10 * time.Millisecond
		}})
		if _, err := n.eng.CreateCart(t.Context(), n.admin, engine.NewCart{Currency: "USD"}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the event delivered after three 500s", delivered(r, 1))
		var ds []store.Delivery
		eventually(t, "the delivery recorded as delivered", func() bool {
			var err error
			ds, _, err = n.eng.Deliveries(t.Context(), n.admin, "wh", store.DeliveryDelivered, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(ds) == 1
		})
		if ds[0].Attempts != 4 || ds[0].LastStatus != http.StatusNoContent {
			t.Fatalf("delivered: %+v", ds)
		}
		eventually(t, "three retries and a delivery observed", func() bool {
			return obs.get(store.DeliveryPending) == 3 && obs.get(store.DeliveryDelivered) == 1
		})
		mu.Lock()
		defer mu.Unlock()
		// Each failure asks for the delivery's wait and the endpoint's pause, both by count.
		if got := slices.Compact(slices.Clone(waits)); len(got) < 3 || fmt.Sprint(got[:3]) != "[1 2 3]" {
			t.Errorf("backoff asked for attempts %v, want 1, 2, 3 first", waits)
		}
	})

	t.Run("a delivery failing past retry-for is listed failed and sent again on retry", func(t *testing.T) {
		n := newNode(t, stores(t, kind, 1)[0])
		shop(t, n, "A")
		var up atomic.Bool
		r := newReceiver(t, "whsec_test_secret_0003", func(int) int {
			if up.Load() {
				return http.StatusOK
			}
			return http.StatusServiceUnavailable
		})
		putWebhook(t, n, "wh", r.URL, r.secret, "cart.*")
		obs := &counter{}
		run(t, n.eng, events.Config{Poll: 20 * time.Millisecond, RetryFor: time.Nanosecond, Observer: obs})
		v, err := n.eng.CreateCart(t.Context(), n.admin, engine.NewCart{Currency: "USD"}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		failed := func() []store.Delivery {
			ds, _, err := n.eng.Deliveries(t.Context(), n.admin, "wh", store.DeliveryFailed, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		eventually(t, "the delivery marked failed", func() bool { return len(failed()) == 1 })
		d := failed()[0]
		if d.LastStatus != http.StatusServiceUnavailable || d.LastError != "HTTP 503" || d.Event.CartNum != v.Cart.Num {
			t.Fatalf("failed delivery: %+v", d)
		}
		up.Store(true)
		if _, err := n.eng.RetryDelivery(t.Context(), n.admin, "wh", d.Seq, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the retried delivery delivered", delivered(r, 1))
		if got := r.received()[0].event.ID; got != events.ID(d.Seq) {
			t.Fatalf("delivered %s, want %s", got, events.ID(d.Seq))
		}
		eventually(t, "the failure observed", func() bool { return obs.get(store.DeliveryFailed) == 1 })
	})

	t.Run("an event delivered at its first attempt keeps no row and is sent again on retry", func(t *testing.T) {
		n := newNode(t, stores(t, kind, 1)[0])
		shop(t, n, "A")
		r := newReceiver(t, "whsec_test_secret_0008", nil)
		putWebhook(t, n, "wh", r.URL, r.secret, engine.EventCartCreated)
		obs := &counter{}
		run(t, n.eng, events.Config{Poll: 20 * time.Millisecond, Observer: obs})
		if _, err := n.eng.CreateCart(t.Context(), n.admin, engine.NewCart{Currency: "USD"}, engine.Options{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the event delivered and counted", func() bool { return len(r.received()) == 1 && obs.get(store.DeliveryDelivered) == 1 })
		ds, _, err := n.eng.Deliveries(t.Context(), n.admin, "wh", "", 0, 10)
		if err != nil || len(ds) != 0 {
			t.Fatalf("deliveries after a first-attempt delivery: %+v, %v; want none", ds, err)
		}
		seq := r.received()[0].event.Seq
		d, err := n.eng.RetryDelivery(t.Context(), n.admin, "wh", seq, engine.Options{})
		if err != nil || d.Status != store.DeliveryPending || d.Seq != seq {
			t.Fatalf("retry: %+v, %v", d, err)
		}
		eventually(t, "the event sent again", delivered(r, 2))
		if got := r.received()[1].event.Seq; got != seq {
			t.Fatalf("sent again event %d, want %d", got, seq)
		}
		if _, err := n.eng.RetryDelivery(t.Context(), n.admin, "wh", seq+1000, engine.Options{}); cart.ErrorCode(err) != cart.NotFound {
			t.Fatalf("retry of an event the stream has not passed: %v, want not found", err)
		}
	})

	t.Run("a hanging or refused endpoint is retried and cart changes go on meanwhile", func(t *testing.T) {
		n := newNode(t, stores(t, kind, 1)[0])
		shop(t, n, "A")
		hanging := newReceiver(t, "whsec_test_secret_0004", func(int) int { return 0 })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + ln.Addr().String() + "/hook"
		ln.Close()
		putWebhook(t, n, "hangs", hanging.URL, hanging.secret)
		putWebhook(t, n, "down", down, "whsec_test_secret_0005")
		run(t, n.eng, events.Config{Poll: 20 * time.Millisecond, Timeout: 50 * time.Millisecond,
			Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
		busyCarts(t, []*node{n}, 3, 5)
		attempted := func(id, want string) func() bool {
			return func() bool {
				ds, _, err := n.eng.Deliveries(t.Context(), n.admin, id, store.DeliveryPending, 0, 500)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					if d.Attempts >= 2 && len(d.LastError) >= len(want) && d.LastError[:len(want)] == want {
						return true
					}
				}
				return false
			}
		}
		eventually(t, "the hanging endpoint retried after timeouts", attempted("hangs", "no answer within"))
		eventually(t, "the refused endpoint retried", attempted("down", "request failed"))
		busyCarts(t, []*node{n}, 2, 5) // changes still commit while both endpoints fail
	})
}

// counter is an events.Observer.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) Attempted(status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[status]++
}

func (c *counter) get(status string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[status]
}

func TestWebhooksAcrossNodes(t *testing.T) {
	if os.Getenv("CARTD_TEST_POSTGRES_URL") == "" {
		t.Skip("CARTD_TEST_POSTGRES_URL is not set: several nodes need PostgreSQL")
	}
	t.Run("two nodes send each event once, each cart's in order", func(t *testing.T) {
		sts := stores(t, "postgres", 2)
		nodes := []*node{newNode(t, sts[0]), newNode(t, sts[1])}
		shop(t, nodes[0], "A")
		r := newReceiver(t, "whsec_test_secret_0006", nil)
		putWebhook(t, nodes[0], "wh", r.URL, r.secret, "cart.*")
		for _, n := range nodes {
			run(t, n.eng, events.Config{Workers: 4, Poll: 30 * time.Millisecond})
		}
		busyCarts(t, nodes, 8, 8)
		want := cartEvents(feed(t, nodes[1]), 0)
		eventually(t, "every cart event delivered", deliveredAll(r, want))
		for id, times := range wantInOrder(t, r, want) {
			if times != 1 {
				t.Errorf("%s delivered %d times by two healthy nodes", id, times)
			}
		}
	})

	t.Run("a dead node's webhook stream is taken over once its lease lapses", func(t *testing.T) {
		sts := stores(t, "postgres", 2)
		dead, alive := newNode(t, sts[0]), newNode(t, sts[1])
		shop(t, dead, "A")
		r := newReceiver(t, "whsec_test_secret_0009", nil)
		putWebhook(t, dead, "wh", r.URL, r.secret, engine.EventCartCreated)
		// The dead node took the stream and then sent nothing (it died).
		if _, ok, err := dead.eng.TakeWebhook(t.Context(), "wh", "dead-node", time.Second); err != nil || !ok {
			t.Fatalf("take: %v %v", ok, err)
		}
		for range 3 {
			if _, err := dead.eng.CreateCart(t.Context(), dead.admin, engine.NewCart{Currency: "USD"}, engine.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		run(t, alive.eng, events.Config{Poll: 30 * time.Millisecond})
		eventually(t, "the dead node's stream sent by the other", delivered(r, 3))
	})

	t.Run("a dead node's claimed deliveries are taken over once its leases lapse", func(t *testing.T) {
		sts := stores(t, "postgres", 2)
		dead, alive := newNode(t, sts[0]), newNode(t, sts[1])
		shop(t, dead, "A")
		r := newReceiver(t, "whsec_test_secret_0007", nil)
		putWebhook(t, dead, "wh", r.URL, r.secret, engine.EventCartCreated)
		for range 3 {
			if _, err := dead.eng.CreateCart(t.Context(), dead.admin, engine.NewCart{Currency: "USD"}, engine.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := dead.eng.PositionEvents(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := dead.eng.FanOut(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The dead node claimed everything and then sent nothing (it died).
		jobs, err := dead.eng.ClaimDeliveries(t.Context(), "dead-node", time.Second, 100, nil)
		if err != nil || len(jobs) != 3 {
			t.Fatalf("claimed %d, %v", len(jobs), err)
		}
		run(t, alive.eng, events.Config{Poll: 30 * time.Millisecond})
		eventually(t, "the dead node's deliveries sent by the other", delivered(r, 3))
	})
}
