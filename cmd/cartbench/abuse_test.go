package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/api"
	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/dialect/jackthreads"
	"github.com/cartd/cartd/dialect/storefront"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/limits"
	"github.com/cartd/cartd/store/sqlite"
)

// mustGuardedCartd starts a node with the front doors the abuse scenario attacks (the native
// API, the storefront and JackThreads dialects) behind one guard, with cartd's default limits.
func mustGuardedCartd(tb testing.TB) cartd {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "cartd.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := engine.New(st, engine.Config{ReservationTTL: 15 * time.Minute, AnonymousHold: engine.DefaultAnonymousHold})
	secret, _, err := eng.CreateKey(ctx, []auth.Scope{auth.Admin}, "cartbench")
	if err != nil {
		tb.Fatal(err)
	}
	g := limits.New(limits.Config{Customer: limits.Rate{PerSecond: 20, Burst: 40}, Anonymous: limits.Rate{PerSecond: 20, Burst: 40},
		Session: limits.Rate{PerSecond: 2, Burst: 60}, MaxInFlight: 512, MaxBody: 1 << 20, BodyTimeout: 10 * time.Second, MaxPendingBodies: 64})
	mux := http.NewServeMux()
	mux.Handle("/", api.New(eng, api.Config{Guard: g}))
	mux.Handle(storefront.Prefix, storefront.New(eng, storefront.Config{Guard: g}))
	mux.Handle(jackthreads.Prefix, jackthreads.New(eng, jackthreads.Config{Guard: g}))
	hs := httptest.NewServer(mux)
	tb.Cleanup(hs.Close)
	return cartd{URL: hs.URL, Admin: secret}
}

func TestAbuseScenario(t *testing.T) {
	if underRace {
		t.Skip("a load test measures nothing under the race detector; the guard's own tests run under it")
	}
	c := mustGuardedCartd(t)
	code, stdout, stderr := mustBench(t, c, "--scenario", "abuse", "--duration", "2s", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	rep := mustReport(t, stdout, stderr)
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Phases) != 3 {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	s := rep.Scenarios[0]
	hoard, quiet, slow := s.Phases[0], s.Phases[1], s.Phases[2]
	if hoard.Name != "abuse-hoard" || quiet.Name != "abuse-quiet" || slow.Name != "abuse-slow" {
		t.Fatalf("phases %s, %s, %s", hoard.Name, quiet.Name, slow.Name)
	}
	if quiet.Requests < 1 || len(quiet.Errors) > 0 || quiet.Latency.P99 <= 0 {
		t.Errorf("quiet: %d requests, errors %v, p99 %d µs", quiet.Requests, quiet.Errors, quiet.Latency.P99)
	}
	if hoard.Requests != abuseAdds || hoard.Outcomes["units_left"] < 135 || len(hoard.Errors) > 0 {
		t.Errorf("hoard: %d requests, outcomes %v, errors %v; want %d, at least 135 units left, no errors", hoard.Requests, hoard.Outcomes, hoard.Errors, abuseAdds)
	}
	if slow.Requests < 1 || slow.Outcomes["honest_served"] != abuseShoppers || len(slow.Errors) > 0 || slow.Latency.P99 <= 0 {
		t.Errorf("slow: %d requests, outcomes %v, errors %v, p99 %d µs", slow.Requests, slow.Outcomes, slow.Errors, slow.Latency.P99)
	}
	if got, want := slow.Outcomes["units_left"], hoard.Outcomes["units_left"]-abuseShoppers*abuseShopperQty; got != want {
		t.Errorf("units left after the honest shoppers: %d, want %d", got, want)
	}
	if inv := s.Invariants; inv == nil || !inv.OK || inv.Carts == 0 || inv.SKUs != 1 {
		t.Errorf("invariants %+v", inv)
	}
}
