package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/events"
	"github.com/cartd/cartd/store/sqlite"
	"github.com/jackc/pgx/v5"
)

// TestMain lets the test binary be the ceiling scenario's child process: cartbench starts
// itself (os.Executable) as `ceiling-server`, which under `go test` is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "ceiling-server" {
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cartd is a real cartd, in process, on a real SQLite file, served over loopback TCP.
type cartd struct {
	URL   string
	Admin string
}

// mustEngine opens cartd's engine, with reservations of 15 minutes, on a SQLite file, and
// returns it with an admin key.
func mustEngine(tb testing.TB) (*engine.Engine, string) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "cartbench")
	if err != nil {
		tb.Fatal(err)
	}
	return eng, secret
}

// mustServe serves the native API of eng; wrap, if given, stands between the client and the
// API (to doctor what cartbench sees, or count what it sends).
func mustServe(tb testing.TB, eng *engine.Engine, wrap func(http.Handler) http.Handler) string {
	tb.Helper()
	var h http.Handler = api.New(eng, api.Config{})
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	tb.Cleanup(hs.Close) // registered after the store's Close, so it runs before it
	return hs.URL
}

// mustCartd starts one cartd node.
func mustCartd(tb testing.TB, wrap func(http.Handler) http.Handler) cartd {
	tb.Helper()
	eng, secret := mustEngine(tb)
	return cartd{URL: mustServe(tb, eng, wrap), Admin: secret}
}

// mustBench runs cartbench with args against c and returns its exit status, stdout and stderr.
func mustBench(tb testing.TB, c cartd, args ...string) (int, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"--url", c.URL, "--key", c.Admin, "--conns", "4"}, args...)
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// mustReport decodes the --json report.
func mustReport(tb testing.TB, stdout, stderr string) report {
	tb.Helper()
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		tb.Fatalf("the report is not JSON: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	return rep
}

// checkPhase holds a phase to what every report row must be.
func checkPhase(tb testing.TB, p phaseReport, clients int) {
	tb.Helper()
	l := p.Latency
	switch {
	case p.Requests <= 0 || p.RPS <= 0 || p.Seconds <= 0:
		tb.Errorf("%s: requests %d, rps %f, seconds %f: want all positive", p.Name, p.Requests, p.RPS, p.Seconds)
	case !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max):
		tb.Errorf("%s: latencies p50 %d p90 %d p99 %d max %d are not ordered", p.Name, l.P50, l.P90, l.P99, l.Max)
	case p.BytesPerResponse <= 0:
		tb.Errorf("%s: %d bytes per response", p.Name, p.BytesPerResponse)
	case p.Clients != clients:
		tb.Errorf("%s: %d clients, want %d (--conns)", p.Name, p.Clients, clients)
	}
	if len(p.Errors) > 0 {
		tb.Errorf("%s: errors %v; last: %s", p.Name, p.Errors, p.LastError)
	}
}

func TestScenarios(t *testing.T) {
	c := mustCartd(t, nil) // one cartd for all: each run's ids are its own
	for _, tc := range []struct {
		scenario string
		duration string
		conns    int
		phases   []string
	}{
		{"update", "1s", 4, []string{"update"}},
		{"mixed", "1s", 4, []string{"mixed"}},
		{"flashsale", "1s", 4, []string{"flashsale"}},
		// Two clients, so two carts of each size: setting up 1,000-line carts is most of the
		// time this test takes under the race detector.
		{"bigcart", "200ms", 2, []string{"bigcart/1/full", "bigcart/1/minimal", "bigcart/100/full", "bigcart/100/minimal",
			"bigcart/1000/full", "bigcart/1000/minimal"}},
		{"ceiling", "500ms", 4, []string{"ceiling/cartd-healthz", "ceiling/json-echo"}},
		{"spread", "500ms", 4, []string{"spread"}},
		{"hot", "500ms", 4, []string{"hot"}},
	} {
		t.Run(tc.scenario+" runs, reports every phase and keeps the invariants", func(t *testing.T) {
			code, stdout, stderr := mustBench(t, c, "--scenario", tc.scenario, "--duration", tc.duration,
				"--conns", fmt.Sprint(tc.conns), "--json")
			if code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			rep := mustReport(t, stdout, stderr)
			if !rep.OK || len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != tc.scenario {
				t.Fatalf("report: ok %v, scenarios %+v", rep.OK, rep.Scenarios)
			}
			s := rep.Scenarios[0]
			var names []string
			for _, p := range s.Phases {
				names = append(names, p.Name)
				checkPhase(t, p, tc.conns)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.phases) {
				t.Errorf("phases %v, want %v", names, tc.phases)
			}
			switch {
			case tc.scenario == "ceiling" && s.Invariants != nil:
				t.Errorf("the ceiling creates no carts, yet has an invariant report: %+v", s.Invariants)
			case tc.scenario != "ceiling" && (s.Invariants == nil || !s.Invariants.OK || s.Invariants.Carts == 0 || s.Invariants.SKUs == 0):
				t.Errorf("invariants: %+v", s.Invariants)
			}
			if tc.scenario == "ceiling" && s.Phases[0].CeilingRatio <= 0 {
				t.Errorf("cartd's /healthz has no ratio to the json-echo ceiling")
			}
			if tc.scenario == "spread" || tc.scenario == "hot" {
				wantSKUs := map[string]int{"spread": contentionCarts, "hot": 1}[tc.scenario]
				if inv := s.Invariants; inv.Carts != contentionCarts || inv.Lines != contentionCarts || inv.SKUs != wantSKUs {
					t.Errorf("%s: %d carts, %d lines, %d SKUs; want %d carts of one line on %d SKUs",
						tc.scenario, inv.Carts, inv.Lines, inv.SKUs, contentionCarts, wantSKUs)
				}
			}
			if tc.scenario == "bigcart" {
				full, minimal := s.Phases[4], s.Phases[5]
				if minimal.BytesPerResponse*10 > full.BytesPerResponse {
					t.Errorf("a minimal answer on a 1,000-line cart is %d bytes, the whole cart %d: Prefer was not sent or not applied",
						minimal.BytesPerResponse, full.BytesPerResponse)
				}
			}
		})
	}
}

func TestTable(t *testing.T) {
	c := mustCartd(t, nil)
	code, stdout, stderr := mustBench(t, c, "--scenario", "update,ceiling", "--requests", "100")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"100 requests per phase", "phase", "p99", "update", "ceiling/json-echo",
		"invariants", "update     ok: 4 carts", "ceiling    n/a"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
}

func TestRequestsBoundEachPhase(t *testing.T) {
	c := mustCartd(t, nil)
	code, stdout, stderr := mustBench(t, c, "--scenario", "update,mixed", "--requests", "37", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	for _, s := range mustReport(t, stdout, stderr).Scenarios {
		for _, p := range s.Phases {
			if p.Requests != 37 {
				t.Errorf("%s sent %d requests, want exactly 37", p.Name, p.Requests)
			}
		}
	}
}

// TestPrefill grows the store, runs update over a working set of the prefilled carts (the
// check then reads back every prefilled cart), and runs again from the --prefill-file, which
// must not grow the store a second time.
func TestPrefill(t *testing.T) {
	c := mustCartd(t, nil)
	file := filepath.Join(t.TempDir(), "grown.json")
	args := []string{"--prefill", "skus=9,carts=30", "--prefill-file", file, "--working-set", "20", "--scenario", "update", "--requests", "40", "--json"}
	for _, run := range []string{"grows", "reuses"} {
		code, stdout, stderr := mustBench(t, c, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\nstderr: %s", run, code, stderr)
		}
		if grew := strings.Contains(stderr, "30 carts in"); grew != (run == "grows") {
			t.Errorf("%s: stderr %q", run, stderr)
		}
		rep := mustReport(t, stdout, stderr)
		inv := rep.Scenarios[0].Invariants
		if inv == nil || !inv.OK || inv.Carts != 20 || inv.Lines != 20 || inv.SKUs != 9 {
			t.Errorf("%s: invariants %+v; want ok over the 20 carts of the working set and the 9 SKUs", run, inv)
		}
		checkPhase(t, rep.Scenarios[0].Phases[0], 4)
	}
}

// TestBrokenStockFails doctors what cartd says of its stock (one more unit reserved than its
// carts hold): the check must see it, and cartbench exit 1.
func TestBrokenStockFails(t *testing.T) {
	c := mustCartd(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/inventory/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var st map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Errorf("inventory body: %v", err)
			}
			st["reserved"] = st["reserved"].(float64) + 1
			st["available"] = st["available"].(float64) - 1
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(st)
		})
	})
	code, stdout, stderr := mustBench(t, c, "--scenario", "update", "--requests", "50", "--json")
	if code != exitInvariant {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, exitInvariant, stderr)
	}
	inv := mustReport(t, stdout, stderr).Scenarios[0].Invariants
	if inv.OK || inv.ViolationCount == 0 || !strings.Contains(strings.Join(inv.Violations, "\n"), "the carts' lines hold") {
		t.Errorf("invariants: %+v", inv)
	}
}

// TestFailedRequests answers every fifth quantity change with a 503 that changes nothing: the
// errors are reported by status, the shoppers recover, the invariants hold, and the exit
// status is 3 unless --allow-errors.
func TestFailedRequests(t *testing.T) {
	var n atomic.Int64
	c := mustCartd(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/items/") && n.Add(1)%5 == 0 {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"code":"overloaded"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, exitErrors},
		{[]string{"--allow-errors"}, exitOK},
	} {
		code, stdout, stderr := mustBench(t, c, append([]string{"--scenario", "update", "--requests", "100", "--json"}, tc.args...)...)
		if code != tc.want {
			t.Fatalf("%v: exit %d, want %d\nstderr: %s", tc.args, code, tc.want, stderr)
		}
		s := mustReport(t, stdout, stderr).Scenarios[0]
		if p := s.Phases[0]; p.Errors["503"] == 0 || p.LastError == "" {
			t.Errorf("%v: errors %v, last %q: want the 503s counted", tc.args, p.Errors, p.LastError)
		}
		if !s.Invariants.OK {
			t.Errorf("%v: invariants: %+v", tc.args, s.Invariants)
		}
	}
}

// TestSeveralNodes spreads the clients over two nodes of one database: both get load, and
// the invariants hold.
func TestSeveralNodes(t *testing.T) {
	eng, secret := mustEngine(t)
	var hits [2]atomic.Int64
	var urls []string
	for i := range hits {
		urls = append(urls, mustServe(t, eng, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits[i].Add(1)
				h.ServeHTTP(w, r)
			})
		}))
	}
	before := [2]int64{hits[0].Load(), hits[1].Load()}
	c := cartd{URL: strings.Join(urls, ","), Admin: secret}
	code, stdout, stderr := mustBench(t, c, "--scenario", "update", "--requests", "200", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if rep := mustReport(t, stdout, stderr); rep.Run.URL != c.URL || !rep.OK {
		t.Errorf("report: url %q, ok %v", rep.Run.URL, rep.OK)
	}
	// Set-up and the check go to the first node; the 200 measured calls are shared.
	if second := hits[1].Load() - before[1]; second < 50 {
		t.Errorf("the second node got %d requests of 200", second)
	}
}

func TestCannotRun(t *testing.T) {
	c := mustCartd(t, nil)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown scenario", []string{"--url", c.URL, "--key", c.Admin, "--scenario", "nope"}, "--scenario"},
		{"no key", []string{"--url", c.URL}, "no admin key"},
		{"a refused key", []string{"--url", c.URL, "--key", "sk_wrongwrongwrongwrong"}, "401"},
		{"no cartd", []string{"--url", "http://127.0.0.1:1", "--key", "k", "--wait", "200ms"}, "not ready"},
		{"a URL that is not one", []string{"--url", "127.0.0.1:8080"}, "--url"},
		{"a prefill that is not one", []string{"--url", c.URL, "--key", c.Admin, "--prefill", "carts"}, "--prefill"},
		{"a prefill past its bound", []string{"--url", c.URL, "--key", c.Admin, "--prefill", "skus=10,carts=99999999"}, "at most"},
		{"carts without SKUs", []string{"--url", c.URL, "--key", c.Admin, "--prefill", "carts=10"}, "need skus"},
		{"a working set without a prefill", []string{"--url", c.URL, "--key", c.Admin, "--working-set", "10"}, "--working-set"},
	} {
		t.Run(tc.name+" exits 2", func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			if code != exitCannotRun || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	c := mustCartd(t, nil)
	env := func(k string) string {
		if k == "CARTD_ADMIN_KEY" {
			return c.Admin
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--url", c.URL, "--conns", "2", "--requests", "10", "--json"}, env, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// soundSnapshot is a state that keeps every invariant: two carts, one with an expired line
// (out of the totals, in the expired count) and an unavailable one, prices exclusive of tax,
// with a discount allocated to lines and shipping.
func soundSnapshot() snapshot {
	retail := int64(1200)
	a := cartDoc{ID: "cart_1", Items: []itemDoc{
		{ID: "ci_1", SKU: "A", Quantity: 2, ReservedQuantity: 2, UnitPrice: 1000, Subtotal: 2000, Discount: 100, Tax: 152, Total: 2052, RetailPrice: &retail},
		{ID: "ci_2", SKU: "B", Quantity: 1, ReservedQuantity: 1, UnitPrice: 500, Subtotal: 500, Tax: 40, Total: 540},
		{ID: "ci_3", SKU: "C", Quantity: 4, ReservedQuantity: 0, UnitPrice: 300, Subtotal: 1200, Total: 1200, Expired: true},
	}, UnavailableItems: []itemDoc{{ID: "ci_4", SKU: "D", Quantity: 1, ReservedQuantity: 1, UnitPrice: 700}}}
	a.Subtotal, a.Discount, a.Tax, a.Shipping = 2500, 100, 192, 499
	a.Total = 2500 - 100 + 192 + 499
	a.ItemCount, a.UniqueItemCount, a.Expired = 3, 2, 4
	a.RetailTotal = 1200*2 + 500
	a.Saved = a.RetailTotal - (a.Subtotal - a.Discount)
	b := cartDoc{ID: "cart_2", Items: []itemDoc{
		{ID: "ci_5", SKU: "A", Quantity: 3, ReservedQuantity: 3, UnitPrice: 1000, Subtotal: 3000, Total: 3000},
	}, Subtotal: 3000, Total: 3000, ItemCount: 3, UniqueItemCount: 1, RetailTotal: 3000}
	return snapshot{carts: []cartDoc{a, b}, stock: []stockDoc{
		{SKU: "A", OnHand: 10, Reserved: 5, Available: 5},
		{SKU: "B", OnHand: 1, Reserved: 1, Available: 0},
		{SKU: "C", OnHand: 4, Reserved: 0, Available: 4},
		{SKU: "D", OnHand: 2, Reserved: 1, Available: 1},
	}}
}

func TestCheckSnapshot(t *testing.T) {
	if v := checkSnapshot(soundSnapshot()); len(v) > 0 {
		t.Fatalf("a sound state has violations: %q", v)
	}
	for _, tc := range []struct {
		name   string
		doctor func(s *snapshot)
		want   string
	}{
		{"a line's subtotal that is not unit price times quantity", func(s *snapshot) { s.carts[0].Items[1].Subtotal++ }, "item ci_2 subtotal"},
		{"a line's total that does not add up", func(s *snapshot) { s.carts[0].Items[0].Total-- }, "item ci_1 total"},
		{"a cart subtotal off by one", func(s *snapshot) { s.carts[1].Subtotal++ }, "subtotal is 3001"},
		{"a total that forgets the shipping", func(s *snapshot) { s.carts[0].Total -= 499 }, "total is"},
		{"a discount not allocated to lines", func(s *snapshot) { s.carts[0].Discount += 50 }, "discount is"},
		{"tax that is not the lines' tax", func(s *snapshot) { s.carts[0].Tax-- }, "tax is"},
		{"an expired line counted in item_count", func(s *snapshot) { s.carts[0].ItemCount += 4 }, "item_count is 7"},
		{"an expired line counted in the subtotal", func(s *snapshot) { s.carts[0].Items[2].Expired = false }, "subtotal is 2500"},
		{"a wrong expired count", func(s *snapshot) { s.carts[0].Expired = 0 }, "expired is 0"},
		{"a wrong line count", func(s *snapshot) { s.carts[1].UniqueItemCount = 2 }, "unique_item_count is 2"},
		{"a wrong retail total", func(s *snapshot) { s.carts[1].RetailTotal = 2999 }, "retail_total is 2999"},
		{"a line reserving more than its quantity", func(s *snapshot) { s.carts[1].Items[0].ReservedQuantity = 4 }, "reserves 4 of its quantity 3"},
		{"stock reserving more than the lines hold", func(s *snapshot) { s.stock[0].Reserved, s.stock[0].Available = 6, 4 }, "SKU A: reserved 6, but the carts' lines hold 5"},
		{"stock forgetting an unavailable line's reservation", func(s *snapshot) { s.stock[3].Reserved, s.stock[3].Available = 0, 2 }, "SKU D: reserved 0"},
		{"an oversold SKU", func(s *snapshot) { s.stock[1].OnHand, s.stock[1].Available = 0, -1 }, "oversold"},
		{"negative reserved", func(s *snapshot) { s.stock[2].Reserved, s.stock[2].Available = -1, 5 }, "outside 0..on_hand"},
		{"available that is not on_hand - reserved", func(s *snapshot) { s.stock[0].Available = 6 }, "available 6"},
		{"tax-inclusive prices with tax added to the total", func(s *snapshot) { s.pricesIncludeTax = true }, "total"},
	} {
		t.Run(tc.name+" is a violation", func(t *testing.T) {
			s := soundSnapshot()
			tc.doctor(&s)
			v := checkSnapshot(s)
			if !strings.Contains(strings.Join(v, "\n"), tc.want) {
				t.Errorf("violations %q, want one containing %q", v, tc.want)
			}
			if rep := reportOn(s, v); rep.OK || rep.ViolationCount != len(v) {
				t.Errorf("report %+v on %d violations", rep, len(v))
			}
		})
	}
}

func TestCheckTaxInclusive(t *testing.T) {
	s := snapshot{pricesIncludeTax: true, carts: []cartDoc{{ID: "cart_9", Items: []itemDoc{
		{ID: "ci_9", SKU: "A", Quantity: 2, UnitPrice: 1050, Subtotal: 2100, Tax: 100, Total: 2100},
	}, Subtotal: 2100, Tax: 100, Total: 2100, ItemCount: 2, UniqueItemCount: 1, RetailTotal: 2100}}}
	if v := checkSnapshot(s); len(v) > 0 {
		t.Errorf("tax-inclusive cart: %q", v)
	}
}

func TestWebhookEndpoint(t *testing.T) {
	eng, secret := mustEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := events.NewDispatcher(eng, events.Config{Poll: 10 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := cartd{URL: mustServe(t, eng, nil), Admin: secret}
	code, stdout, stderr := mustBench(t, c, "--scenario", "update", "--duration", "1s", "--json", "--webhook")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wh := mustReport(t, stdout, stderr).Run.Webhook
	if wh == nil || wh.Received == 0 || wh.BadSignatures != 0 {
		t.Fatalf("webhook report %+v: want deliveries received, all well signed", wh)
	}
	p, err := eng.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if ws, _, err := eng.Webhooks(t.Context(), p, "", 10); err != nil || len(ws) != 0 {
		t.Fatalf("webhooks left after the run: %v %v", ws, err)
	}
}

// TestPostgresCeiling runs the hand-written transaction against the real PostgreSQL of the
// tests, in a schema of the run's own, which must be gone afterwards.
func TestPostgresCeiling(t *testing.T) {
	pgURL := os.Getenv("CARTD_TEST_POSTGRES_URL")
	if pgURL == "" {
		t.Skip("CARTD_TEST_POSTGRES_URL is not set")
	}
	c := mustCartd(t, nil)
	code, stdout, stderr := mustBench(t, c, "--scenario", "pgceiling", "--postgres", pgURL, "--requests", "300", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rep := mustReport(t, stdout, stderr)
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Invariants != nil {
		t.Fatalf("scenarios %+v: want pgceiling alone, without an invariant report", rep.Scenarios)
	}
	var names []string
	for _, p := range rep.Scenarios[0].Phases {
		names = append(names, p.Name)
		if p.Requests != 300 || p.Clients != pgCeilingWorkers || len(p.Errors) > 0 || p.Latency.P50 <= 0 {
			t.Errorf("%s: %d transactions by %d workers, errors %v (last %s), p50 %dµs; want 300 by %d, none failed",
				p.Name, p.Requests, p.Clients, p.Errors, p.LastError, p.Latency.P50, pgCeilingWorkers)
		}
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{pgCeilingPhase, pgCeilingHotPhase}) {
		t.Errorf("phases %v", names)
	}
	conn, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", "cartbench_"+rep.Run.Prefix).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("schema cartbench_%s is still there after the run", rep.Run.Prefix)
	}
}

// TestPostgresCeilingNeedsAURL: without --postgres, pgceiling is skipped with a reason and
// "all" leaves it out.
func TestPostgresCeilingNeedsAURL(t *testing.T) {
	c := mustCartd(t, nil)
	code, stdout, stderr := mustBench(t, c, "--scenario", "pgceiling", "--requests", "10", "--json")
	if code != exitOK || !strings.Contains(stderr, "pgceiling: skipped: no --postgres URL") {
		t.Errorf("exit %d, stderr %q: want 0 and the reason it was skipped", code, stderr)
	}
	if rep := mustReport(t, stdout, stderr); len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Phases) != 0 {
		t.Errorf("scenarios %+v: want pgceiling without phases", rep.Scenarios)
	}
	without, _ := scenarioList("all", false)
	with, _ := scenarioList("all", true)
	if slices.Contains(without, "pgceiling") || !slices.Contains(with, "pgceiling") {
		t.Errorf("all is %v without --postgres and %v with it: want pgceiling only with it", without, with)
	}
}
