package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/internal/attack"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// TestHostileClientsAgainstDefaults plays both attacks of docs/abuse.md against cartd with
// default settings, every attacker and the authenticated client connecting from 127.0.0.1,
// as they would behind one proxy:
//
//   - 200 storefront adds of 5 units of a 150-unit SKU, half with a made-up session cookie,
//     half with none, leave at least 135 units available to others;
//   - while 600 anonymous connections trickle request bodies for 25 s, at least 99% of an
//     authenticated client's requests (10 a second) answer 2xx;
//   - 10 honest anonymous shoppers, each from an address of its own (127.0.0.2 to
//     127.0.0.11), each adding 2 units, are all served, during the slow-body attack.
//
// On SQLite, one node; on PostgreSQL (CARTD_TEST_POSTGRES_URL), two nodes on one database,
// the hoarder alternating between them, so that the cap must hold across nodes.
func TestHostileClientsAgainstDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a slow-body attack for 25 s; skipped with -short")
	}
	if underRace {
		t.Skip("a load test measures nothing under the race detector; the guard's own tests run under it")
	}
	t.Run("sqlite", func(t *testing.T) {
		s := startServed(t, nil)
		hostileClients(t, []*served{s})
	})
	t.Run("postgres", func(t *testing.T) {
		db := postgrestest.URL(t) // skips without CARTD_TEST_POSTGRES_URL
		key := auth.NewSecret(auth.KeyPrefix)
		a := startServedOn(t, db, key, nil)
		b := startServedOn(t, db, key, nil)
		hostileClients(t, []*served{a, b})
	})
}

func hostileClients(t *testing.T, nodes []*served) {
	ctx := t.Context()
	s := nodes[0]
	const onHand = 150
	_, raw := s.must(t, 200, "PUT", "/v1/products/prod_drop", nil, map[string]any{
		"name": "Limited Drop", "variants": []map[string]any{{"id": "var_drop", "sku": "DROP", "price": map[string]int64{"USD": 9900}}}})
	var product struct {
		Number int64 `json:"number"`
	}
	if err := json.Unmarshal(raw, &product); err != nil || product.Number == 0 {
		t.Fatalf("product: %v %s", err, raw)
	}
	s.must(t, 200, "PUT", "/v1/inventory/DROP", nil, map[string]any{"on_hand": onHand})
	available := func() int64 {
		t.Helper()
		_, raw := s.must(t, 200, "GET", "/v1/inventory/DROP", nil, nil)
		var st struct {
			Available int64 `json:"available"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		return st.Available
	}
	var bases []string
	for _, n := range nodes {
		bases = append(bases, n.base)
	}

	hoard, err := attack.Hoard{Bases: bases, ProductNum: product.Number, SKU: "DROP", Adds: 200, Units: 5, Workers: 16,
		MadeUp: func() string { return auth.NewSecret(auth.SessionPrefix) }}.Run(ctx)
	if err != nil {
		t.Fatalf("hoarding: %v (answers %v)", err, hoard.Statuses)
	}
	left := available()
	t.Logf("hoarding: answers %v, %d of %d units left", hoard.Statuses, left, onHand)
	if left < 135 {
		t.Fatalf("200 made-up sessions from one address left %d units of %d available to others, want at least 135", left, onHand)
	}
	if hoard.Statuses[500] > 0 {
		t.Fatalf("hoarding got 500s: %v", hoard.Statuses)
	}

	addr, err := attack.HostPort(s.base)
	if err != nil {
		t.Fatal(err)
	}
	const hold = 25 * time.Second
	slowDone := make(chan attack.SlowResult, 1)
	go func() {
		slowDone <- attack.SlowBodies{Addr: addr, Conns: 600, Hold: hold, Declared: 1000, Every: 2 * time.Second,
			Paths: []string{"/services/v1/cart/set_qty", "/api/v1/cart/"}}.Run(ctx)
	}()
	shopped := make(chan struct{})
	var shoppers []int
	var shopErr error
	go func() {
		defer close(shopped)
		// Once the attack has taken hold: in its tenth second.
		select {
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
			return
		}
		shoppers, _, shopErr = attack.Shoppers(ctx, s.base, product.Number, "DROP", 10, 2, net.IPv4(127, 0, 0, 2))
	}()
	probe := attack.Probe(ctx, s.base, "/v1/settings", s.key, 10, hold)
	slow := <-slowDone
	<-shopped
	t.Logf("slow bodies: %d requests, answers %v (0: closed without one)", slow.Requests, slow.Answers)
	t.Logf("authenticated: %d requests, %.2f%% 2xx, answers %v, p50 %v p99 %v max %v", len(probe.Latencies), 100*probe.OK(),
		probe.Statuses, probe.Quantile(0.5), probe.Quantile(0.99), probe.Quantile(1))
	if ok := probe.OK(); ok < 0.99 || len(probe.Latencies) < 240 {
		t.Errorf("authenticated requests during the slow-body attack: %d, %.2f%% 2xx (%v), want 250 and at least 99%%", len(probe.Latencies), 100*ok, probe.Statuses)
	}
	if shopErr != nil {
		t.Fatalf("honest shoppers: %v", shopErr)
	}
	for i, st := range shoppers {
		if st != 200 {
			t.Errorf("honest shopper %d (from 127.0.0.%d): %d, want 200", i, i+2, st)
		}
	}
	if got := available(); got != left-20 {
		t.Errorf("after the honest shoppers: %d available, want %d", got, left-20)
	}

	// The operator sees both attacks: refusals by reason, and log lines naming the address.
	fams := scrape(t, s.client, s.base+"/metrics")
	for _, reason := range []string{"anonymous_hold", "pending_bodies"} {
		if v, _ := value(fams, "cartd_refusals_total", map[string]string{"reason": reason}); v == 0 {
			t.Errorf("cartd_refusals_total{reason=%q} = 0 after the attacks", reason)
		}
	}
	logs := s.stderr.String()
	for _, want := range []string{`"msg":"anonymous holding capped","client_addr":"127.0.0.1"`, `"msg":"request refused","reason":"pending_bodies","client_addr":"127.0.0.1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %s", want)
		}
	}
	if strings.Contains(logs, s.key) {
		t.Error("the log holds the admin key")
	}
}
