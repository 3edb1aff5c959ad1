package main

// Events across crashes (docs/events.md), on the real binary: clients change carts through
// one or several nodes while a node is killed with SIGKILL; once the survivors (or a restart)
// have caught up, every acknowledged change has its event in the feed, each feed position
// once, and the webhook got every event, each cart's in cart_version order (duplicates, which
// a crash may cause, carry the same Cartd-Event-Id and keep that order).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// hook is a webhook endpoint recording, in arrival order, the events it got.
type hook struct {
	*httptest.Server
	mu   sync.Mutex
	got  []events.JSON
	bad  atomic.Int64
	seen map[string]bool
}

const hookSecret = "whsec_kill_test_secret_01"

func newHook(t *testing.T) *hook {
	h := &hook{seen: map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev events.JSON
		if json.Unmarshal(body, &ev) != nil || events.Verify(r.Header.Get("Cartd-Signature"), body, hookSecret, time.Now(), time.Hour) != nil ||
			r.Header.Get("Cartd-Event-Id") != ev.ID {
			h.bad.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, ev)
		h.seen[ev.ID] = true
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) has(ids []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if !h.seen[id] {
			return false
		}
	}
	return true
}

// readFeed returns the whole feed, checking that positions only increase.
func readFeed(t *testing.T, c *http.Client, url, key string) []events.JSON {
	t.Helper()
	var out []events.JSON
	var after int64
	for {
		var page struct {
			Data    []events.JSON `json:"data"`
			HasMore bool          `json:"has_more"`
		}
		raw := mustCall(t, c, 200, "GET", fmt.Sprintf("%s/v1/events?after=%d&limit=500", url, after), key, nil)
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Data {
			if ev.Seq <= after {
				t.Fatalf("feed position %d after %d", ev.Seq, after)
			}
			after = ev.Seq
		}
		out = append(out, page.Data...)
		if !page.HasMore {
			return out
		}
	}
}

// eventsUnderKill changes carts through nodes (URLs from live()) with workers clients until
// acks changes are acknowledged, then kill()s, and returns the acknowledged (cart, version)
// pairs.
func eventsUnderKill(t *testing.T, c *http.Client, live func() []string, key string, workers, acks int, kill func()) map[string][]int64 {
	t.Helper()
	var (
		mu      sync.Mutex
		acked   = map[string][]int64{}
		count   atomic.Int64
		killed  atomic.Bool
		stop    = make(chan struct{})
		running sync.WaitGroup
	)
	for w := range workers {
		running.Go(func() {
			var cartID string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				nodes := live()
				url := nodes[(w+i)%len(nodes)]
				method, path, body := "PATCH", "/v1/carts/"+cartID+"/items", any(map[string]any{"changes": []any{map[string]any{"sku": "EVT-A", "quantity_delta": 1}}})
				if cartID == "" || i%10 == 0 {
					method, path, body = "POST", "/v1/carts", map[string]string{"currency": "USD"}
				}
				status, raw, err := call(c, method, url+path, key, body)
				if err != nil || status/100 != 2 {
					if !killed.Load() {
						t.Errorf("%s %s before the kill: %d %v %s", method, path, status, err, raw)
						return
					}
					continue // the node died under it: try the next one
				}
				var cb cartBody
				if err := json.Unmarshal(raw, &cb); err != nil {
					t.Error(err)
					return
				}
				cartID = cb.ID
				mu.Lock()
				acked[cb.ID] = append(acked[cb.ID], cb.Version)
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	deadline := time.Now().Add(2 * time.Minute)
	for count.Load() < int64(acks) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	killed.Store(true)
	kill()
	// Go on a little on the survivors (if any), then stop.
	for target := count.Load() + int64(acks)/4; count.Load() < target && time.Now().Before(deadline) && len(live()) > 0; {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	running.Wait()
	return acked
}

// checkEvents waits until the webhook got every event of the feed and checks the promises.
func checkEvents(t *testing.T, c *http.Client, url, key string, h *hook, acked map[string][]int64) {
	t.Helper()
	// On PostgreSQL an event enters the feed once positioned, within a poll of its commit.
	var ids []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		feed := readFeed(t, c, url, key)
		byCart := map[string]map[int64]bool{}
		ids = ids[:0]
		for _, ev := range feed {
			if ev.CartID == "" {
				continue
			}
			ids = append(ids, ev.ID)
			if byCart[ev.CartID] == nil {
				byCart[ev.CartID] = map[int64]bool{}
			}
			byCart[ev.CartID][ev.CartVersion] = true
		}
		var missing []string
		for cartID, versions := range acked {
			for _, v := range versions {
				if !byCart[cartID][v] {
					missing = append(missing, fmt.Sprintf("%s version %d", cartID, v))
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged changes without an event in the feed: %v", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := 0
	for _, versions := range acked {
		n += len(versions)
	}
	for !h.has(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not get every event of the feed within two minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last := map[string]int64{}
	dups := 0
	seen := map[string]bool{}
	for _, ev := range h.got {
		if seen[ev.ID] {
			dups++
		}
		seen[ev.ID] = true
		if ev.CartVersion < last[ev.CartID] {
			t.Errorf("%s of %s (version %d) arrived after version %d", ev.ID, ev.CartID, ev.CartVersion, last[ev.CartID])
		}
		last[ev.CartID] = ev.CartVersion
	}
	if h.bad.Load() > 0 {
		t.Errorf("%d deliveries were badly signed or malformed", h.bad.Load())
	}
	t.Logf("%d acknowledged changes, %d cart events in the feed, %d deliveries (%d duplicates)", n, len(ids), len(h.got), dups)
}

func setUpEvents(t *testing.T, c *http.Client, url, key, hookURL string) {
	t.Helper()
	mustCall(t, c, 200, "PUT", url+"/v1/products/prod_evt", key, map[string]any{"name": "Events",
		"variants": []any{map[string]any{"id": "var_evt_a", "sku": "EVT-A", "price": map[string]int64{"USD": 100}}}})
	mustCall(t, c, 200, "PUT", url+"/v1/inventory/EVT-A", key, map[string]int64{"on_hand": 1_000_000})
	mustCall(t, c, 201, "PUT", url+"/v1/webhooks/kill_hook", key, map[string]any{"url": hookURL, "secret": hookSecret, "types": []string{"cart.*"}})
}

func TestEventsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and kills it; skipped with -short")
	}
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := startCartd(t, bin, db, "normal", key)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	h := newHook(t)
	setUpEvents(t, client, p.URL, key, h.URL)
	var mu sync.Mutex
	live := []string{p.URL}
	acked := eventsUnderKill(t, client, func() []string { mu.Lock(); defer mu.Unlock(); return live }, key, 8, 150, func() {
		p.kill()
		mu.Lock()
		live = nil
		mu.Unlock()
	})
	p = startCartd(t, bin, db, "normal", key)
	checkEvents(t, client, p.URL, key, h, acked)
	// The metrics count deliveries, and nothing is left pending.
	metrics := string(mustCall(t, client, 200, "GET", p.URL+"/metrics", "", nil))
	for _, want := range []string{`cartd_webhook_attempts_total{result="delivered"} `, "cartd_events_oldest_undelivered_seconds 0\n", "cartd_events_written_total "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestEventsAcrossNodesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and kills it; skipped with -short")
	}
	if os.Getenv("CARTD_TEST_POSTGRES_URL") == "" {
		t.Skip("CARTD_TEST_POSTGRES_URL is not set: several nodes need PostgreSQL")
	}
	bin := buildCartd(t)
	url := postgrestest.URL(t)
	key := auth.NewSecret(auth.KeyPrefix)
	nodes := startNodes(t, bin, url, key, 2)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	h := newHook(t)
	setUpEvents(t, client, nodes[0].URL, key, h.URL)
	var mu sync.Mutex
	live := []string{nodes[0].URL, nodes[1].URL}
	acked := eventsUnderKill(t, client, func() []string { mu.Lock(); defer mu.Unlock(); return live }, key, 8, 150, func() {
		nodes[0].kill()
		mu.Lock()
		live = []string{nodes[1].URL}
		mu.Unlock()
	})
	// The survivor takes over the dead node's leases and sends what it left.
	checkEvents(t, client, nodes[1].URL, key, h, acked)
}
