package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/internal/attack"
)

// madeUpSession is a well-formed storefront session secret no session has.
func madeUpSession() string { return auth.NewSecret(auth.SessionPrefix) }

// abuse: the hostile clients of docs/abuse.md against a node with its own settings (run it
// against defaults for the figures of BENCHMARKS.md). Three phases:
//
//   - abuse-hoard: 200 storefront adds of 5 units of a 150-unit SKU from this machine's
//     address, half with a made-up session cookie, half with none; outcomes count the answers
//     by status, and units_left what the others can still buy (at least 135 is the mark);
//   - abuse-slow: for --duration, 600 anonymous connections trickle request bodies (a byte
//     every 2 s) to the JackThreads and storefront doors, renewing themselves as the node
//     closes them, while an authenticated client reads /v1/settings 10 times a second: its
//     requests are the phase's (req/s, latency, errors: every non-2xx), and halfway through,
//     10 honest anonymous shoppers add 2 units each, from 127.0.0.2 to 127.0.0.11 when the
//     node is on loopback (outcome honest_served; one not served is an error);
//   - abuse-quiet, run before abuse-slow: the same authenticated client alone for
//     --duration, so that the attack's cost is read against the same machine in the same run.
//
// Every attacker and the authenticated client connect from one address, as behind a proxy.
const (
	abuseOnHand     = 150
	abuseAdds       = 200
	abuseUnits      = 5
	abuseSlowConns  = 600
	abuseProbeRate  = 10
	abuseShoppers   = 10
	abuseShopperQty = 2
)

func runAbuse(ctx context.Context, r *runner) ([]phaseReport, error) {
	id := fmt.Sprintf("prod_%s_abuse", r.prefix)
	sku := strings.ToUpper(r.prefix) + "-ABU-DROP"
	var product struct {
		Number int64 `json:"number"`
	}
	body := map[string]any{"name": "Limited drop", "brand": "cartbench", "category": "abuse",
		"variants": []map[string]any{{"id": "var_" + r.prefix + "_abuse", "sku": sku, "price": map[string]int64{"USD": 9900}}}}
	if err := r.api.Do(ctx, http.MethodPut, "/v1/products/"+id, body, &product); err != nil {
		return nil, fmt.Errorf("create product: %w", err)
	}
	if err := r.api.Do(ctx, http.MethodPut, "/v1/inventory/"+sku, map[string]int64{"on_hand": abuseOnHand}, nil); err != nil {
		return nil, fmt.Errorf("stock: %w", err)
	}
	r.track(nil, []string{sku})
	available := func() (int64, error) {
		var st stockDoc
		err := r.api.Do(ctx, http.MethodGet, "/v1/inventory/"+sku, nil, &st)
		return st.Available, err
	}
	trackCarts := func(nums []int64) {
		var ids []string
		for _, n := range nums {
			if n != 0 {
				ids = append(ids, "cart_"+strconv.FormatInt(n, 10))
			}
		}
		r.track(ids, nil)
	}

	// Hoarding.
	started := time.Now()
	hoard, err := attack.Hoard{Bases: r.nodes, ProductNum: product.Number, SKU: sku, Adds: abuseAdds, Units: abuseUnits,
		Workers: r.setupWorkers(), MadeUp: madeUpSession}.Run(ctx)
	elapsed := time.Since(started)
	trackCarts(hoard.Carts)
	hp := phaseReport{Name: "abuse-hoard", Clients: r.setupWorkers(), Seconds: elapsed.Seconds(), Errors: map[string]int64{}, Outcomes: map[string]int64{}}
	for status, n := range hoard.Statuses {
		hp.Requests += int64(n)
		key := "status_" + strconv.Itoa(status)
		if status >= 500 {
			hp.Errors[strconv.Itoa(status)] += int64(n)
			continue
		}
		hp.Outcomes[key] += int64(n)
	}
	if err != nil {
		hp.Errors["transport"]++
		hp.LastError = err.Error()
	}
	hp.RPS = float64(hp.Requests) / max(elapsed.Seconds(), 1e-9)
	left, err := available()
	if err != nil {
		return nil, err
	}
	hp.Outcomes["units_left"] = left

	// The authenticated client alone, then under the slow-body attack with the honest shoppers.
	base := r.nodes[0]
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	var first net.IP
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		first = net.IPv4(127, 0, 0, 2)
	}
	hold := r.drv.duration
	if r.drv.requests > 0 {
		hold = time.Duration(r.drv.requests) * time.Second / abuseProbeRate
	}
	started = time.Now()
	quiet := probePhase("abuse-quiet", attack.Probe(ctx, base, "/v1/settings", r.drv.key, abuseProbeRate, hold), time.Since(started))
	slowDone := make(chan attack.SlowResult, 1)
	go func() {
		slowDone <- attack.SlowBodies{Addr: u.Host, Conns: abuseSlowConns, Hold: hold, Declared: 1000, Every: 2 * time.Second,
			Paths: []string{"/services/v1/cart/set_qty", "/api/v1/cart/"}}.Run(ctx)
	}()
	var (
		wg       sync.WaitGroup
		shoppers []int
		carts    []int64
		shopErr  error
	)
	wg.Go(func() {
		select {
		case <-time.After(hold / 2):
		case <-ctx.Done():
			return
		}
		shoppers, carts, shopErr = attack.Shoppers(ctx, base, product.Number, sku, abuseShoppers, abuseShopperQty, first)
	})
	started = time.Now()
	probe := attack.Probe(ctx, base, "/v1/settings", r.drv.key, abuseProbeRate, hold)
	elapsed = time.Since(started)
	slow := <-slowDone
	sp := probePhase("abuse-slow", probe, elapsed)
	wg.Wait()
	trackCarts(carts)

	for status, n := range slow.Answers {
		sp.Outcomes["slow_answer_"+strconv.Itoa(status)] += int64(n)
	}
	for i, st := range shoppers {
		if st == http.StatusOK {
			sp.Outcomes["honest_served"]++
			continue
		}
		sp.Errors["honest_"+strconv.Itoa(st)]++
		sp.LastError = fmt.Sprintf("honest shopper %d answered %d", i, st)
	}
	if shopErr != nil {
		sp.Errors["honest_transport"]++
		sp.LastError = shopErr.Error()
	}
	if left, err = available(); err != nil {
		return nil, err
	}
	sp.Outcomes["units_left"] = left
	return []phaseReport{hp, quiet, sp}, nil
}

// probePhase reports what the authenticated client saw: its requests, their latencies, and
// every answer other than 2xx as an error.
func probePhase(name string, probe attack.ProbeResult, elapsed time.Duration) phaseReport {
	p := phaseReport{Name: name, Clients: 1, Seconds: elapsed.Seconds(), Requests: int64(len(probe.Latencies)),
		Errors: map[string]int64{}, Outcomes: map[string]int64{}}
	p.RPS = float64(p.Requests) / max(elapsed.Seconds(), 1e-9)
	hist := hdrhistogram.New(histMin, histMax, histDigits)
	for _, l := range probe.Latencies {
		hist.RecordValue(max(l.Microseconds(), histMin))
	}
	if hist.TotalCount() > 0 {
		p.Latency = latencyReport{P50: hist.ValueAtQuantile(50), P90: hist.ValueAtQuantile(90), P99: hist.ValueAtQuantile(99),
			Max: hist.Max(), Mean: int64(hist.Mean())}
	}
	for status, n := range probe.Statuses {
		if status < 200 || status > 299 {
			key := strconv.Itoa(status)
			if status == 0 {
				key = "transport"
			}
			p.Errors[key] += int64(n)
		}
	}
	return p
}
