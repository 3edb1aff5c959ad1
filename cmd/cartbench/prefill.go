package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// A grown store. Figures taken on a fresh database flatter cartd: a shop that has run for a
// few days holds thousands of SKUs and hundreds of thousands of guest carts, and a request's
// cost may grow with them (pages that no longer fit the cache, indexes that grew, sweeps that
// walk more rows). --prefill grows the store through the API before the scenarios, as a busy
// shop would: a catalog of SKUs, then carts of one line each, cart j on SKU j mod skus. The
// prefilled data is left in place, so a second run on the same database grows it further.
//
// --working-set then makes `update` work on the prefilled carts instead of carts of its own:
// each client cycles over its share of the first N prefilled carts, changing their one line's
// quantity, so the rows it touches are spread over the grown store rather than packed at its
// end.

// Bounds of --prefill: large enough for any shop cartbench is meant to imitate, small enough
// that a typo cannot run for a day.
const (
	maxPrefillSKUs  = 1_000_000
	maxPrefillCarts = 10_000_000
)

// prefillSpec is --prefill: skus=N,carts=M.
type prefillSpec struct {
	skus, carts int
}

func (p prefillSpec) set() bool { return p.skus > 0 || p.carts > 0 }

// parsePrefill reads --prefill. Carts need SKUs to hold; SKUs alone are allowed (a large
// catalog and no carts).
func parsePrefill(s string) (prefillSpec, error) {
	var p prefillSpec
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return p, fmt.Errorf("--prefill %q: want skus=N,carts=M", s)
		}
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		if err != nil || n < 0 {
			return p, fmt.Errorf("--prefill %s: want a count, got %q", k, v)
		}
		switch strings.TrimSpace(k) {
		case "skus":
			if n > maxPrefillSKUs {
				return p, fmt.Errorf("--prefill skus=%d: at most %d", n, maxPrefillSKUs)
			}
			p.skus = n
		case "carts":
			if n > maxPrefillCarts {
				return p, fmt.Errorf("--prefill carts=%d: at most %d", n, maxPrefillCarts)
			}
			p.carts = n
		default:
			return p, fmt.Errorf("--prefill %q: want skus=N,carts=M", s)
		}
	}
	if p.carts > 0 && p.skus == 0 {
		return p, errors.New("--prefill: carts need skus to hold (skus=N,carts=M)")
	}
	return p, nil
}

// grown is what the prefill created: the SKUs, and each cart with its one line.
type grown struct {
	skus  []string
	carts []string
	items []string // items[j] is the line of carts[j]
	qty   []int64  // qty[j] is its quantity as last set
}

// grownFile is grown as --prefill-file keeps it: growing 200,000 carts takes minutes, so a
// grown database may be copied and used again, with the file that names what is in it.
type grownFile struct {
	SKUs  []string `json:"skus"`
	Carts []string `json:"carts"`
	Items []string `json:"items"`
}

// loadGrown reads a --prefill-file that matches spec; ok is false when there is none.
func loadGrown(path string, spec prefillSpec) (*grown, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var f grownFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.SKUs) != spec.skus || len(f.Carts) != spec.carts || len(f.Items) != len(f.Carts) {
		return nil, false, fmt.Errorf("%s holds %d SKUs and %d carts, not the skus=%d,carts=%d of --prefill; remove it to grow afresh",
			path, len(f.SKUs), len(f.Carts), spec.skus, spec.carts)
	}
	// Quantities are not kept: a line's quantity only picks the next one to set, and any
	// value 1..5 is a change the server must make.
	return &grown{skus: f.SKUs, carts: f.Carts, items: f.Items, qty: make([]int64, len(f.Carts))}, true, nil
}

func saveGrown(path string, g *grown) error {
	b, err := json.Marshal(grownFile{SKUs: g.skus, Carts: g.carts, Items: g.items})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// grow runs the prefill, or with --prefill-file takes it from the file when one is there
// (written by an earlier run against a copy of the same database) and writes it otherwise.
func (r *runner) grow(ctx context.Context, spec prefillSpec, file string) (*grown, error) {
	if file != "" {
		g, ok, err := loadGrown(file, spec)
		if err != nil {
			return nil, fmt.Errorf("--prefill-file: %w", err)
		}
		if ok {
			fmt.Fprintf(r.stderr, "cartbench: prefill: %d SKUs and %d carts named by %s, not grown again\n", len(g.skus), len(g.carts), file)
			return g, nil
		}
	}
	g, err := r.prefill(ctx, spec)
	if err != nil {
		return nil, err
	}
	if file != "" {
		if err := saveGrown(file, g); err != nil {
			return nil, fmt.Errorf("--prefill-file: %w", err)
		}
	}
	return g, nil
}

// prefillWorkers is how many requests the prefill keeps in flight: it is not measured, so it
// uses every connection it has.
func (r *runner) prefillWorkers() int { return max(1, r.conns) }

// prefill grows the store. Progress goes to stderr every few seconds.
func (r *runner) prefill(ctx context.Context, spec prefillSpec) (*grown, error) {
	g := &grown{}
	started := time.Now()
	r.created = &registry{}
	if spec.skus > 0 {
		fmt.Fprintf(r.stderr, "cartbench: prefill: %d SKUs\n", spec.skus)
		cat, err := r.makeCatalogWith(ctx, "prefill", spec.skus, ampleStock, r.prefillWorkers())
		if err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
		g.skus = cat.skus
		fmt.Fprintf(r.stderr, "cartbench: prefill: %d SKUs in %s\n", len(g.skus), time.Since(started).Round(time.Millisecond))
	}
	if spec.carts == 0 {
		return g, nil
	}
	g.carts, g.items, g.qty = make([]string, spec.carts), make([]string, spec.carts), make([]int64, spec.carts)
	var done atomic.Int64
	stopProgress := r.progress("prefill: carts", int64(spec.carts), &done)
	cartsStarted := time.Now()
	err := parallel(ctx, spec.carts, r.prefillWorkers(), func(ctx context.Context, j int) error {
		id, lines, err := r.fillQuiet(ctx, []string{g.skus[j%len(g.skus)]}, 1)
		if err != nil {
			return err
		}
		if len(lines) != 1 {
			return fmt.Errorf("cart %s: %d lines after adding one", id, len(lines))
		}
		g.carts[j], g.items[j], g.qty[j] = id, lines[0].id, lines[0].quantity
		done.Add(1)
		return nil
	})
	stopProgress()
	if err != nil {
		return nil, fmt.Errorf("prefill: carts: %w", err)
	}
	el := time.Since(cartsStarted)
	fmt.Fprintf(r.stderr, "cartbench: prefill: %d carts in %s (%.0f carts/s); whole prefill %s\n",
		spec.carts, el.Round(time.Millisecond), float64(spec.carts)/el.Seconds(), time.Since(started).Round(time.Millisecond))
	return g, nil
}

// progress prints what share of total is done every 5 seconds until the returned stop.
func (r *runner) progress(what string, total int64, done *atomic.Int64) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				n := done.Load()
				el := time.Since(start)
				fmt.Fprintf(r.stderr, "cartbench: %s: %d/%d (%.0f%%), %.0f/s\n", what, n, total,
					100*float64(n)/float64(max(total, 1)), float64(n)/el.Seconds())
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// fillQuiet is fill without tracking the cart: the prefill's carts are many, and only the
// scenarios that use them check them. Its calls go without retries, and so without the
// client's automatic Idempotency-Key: the store grows by carts, as it does from storefronts
// that send no keys, not by a stored response for each of them (a retried key's record is
// several kilobytes, kept for a day, and would make most of the file). A failed call stops
// the prefill.
func (r *runner) fillQuiet(ctx context.Context, skus []string, quantity int64) (string, []line, error) {
	var c cartDoc
	if err := r.plain.Do(ctx, http.MethodPost, "/v1/carts", map[string]any{"currency": "USD",
		"metadata": map[string]string{"cartbench_run": r.prefix}}, &c); err != nil {
		return "", nil, err
	}
	changes := make([]map[string]any, len(skus))
	for i, sku := range skus {
		changes[i] = map[string]any{"sku": sku, "quantity": quantity}
	}
	if err := r.plain.Do(ctx, http.MethodPatch, "/v1/carts/"+c.ID+"/items", map[string]any{"changes": changes}, &c); err != nil {
		return "", nil, err
	}
	return c.ID, linesOf(c.Items), nil
}

// runUpdateWorkingSet is update over the first n prefilled carts: client i takes carts i,
// i+conns, i+2*conns, ... below n, and each call sets the next one's line to a quantity
// cycling 1..5 (the whole cart answered), so every cart of the working set is touched about
// equally and rarely twice in a row. The invariant check then reads back the working set's
// carts and every prefilled SKU, with the SKU's reservations list for what the other prefilled
// carts hold of it (reading 200,000 carts back took longer than the run).
func runUpdateWorkingSet(ctx context.Context, r *runner, n int) ([]phaseReport, error) {
	g := r.grown
	if g == nil || len(g.carts) == 0 {
		return nil, errors.New("--working-set needs --prefill carts")
	}
	n = min(n, len(g.carts))
	r.track(g.carts[:n], g.skus)
	r.created.holds = true
	shoppers := make([]shopper, r.conns)
	for i := range shoppers {
		var mine []int
		for j := i; j < n; j += r.conns {
			mine = append(mine, j)
		}
		rng := r.rng("update-ws", i)
		rng.Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
		shoppers[i] = &workingSetShopper{base: r.node(i), g: g, mine: mine}
	}
	return []phaseReport{r.drv.measure(ctx, "update", shoppers)}, nil
}

type workingSetShopper struct {
	base    string
	g       *grown
	mine    []int // indexes into g.carts, in the order this client visits them
	at      int
	pending int
	qty     int64
}

func (s *workingSetShopper) prepare(context.Context) error {
	if len(s.mine) == 0 {
		return errors.New("more clients than carts in the working set")
	}
	return nil
}

func (s *workingSetShopper) next() request {
	j := s.mine[s.at%len(s.mine)]
	s.at++
	s.pending = j
	s.qty = s.g.qty[j]%5 + 1
	return request{method: http.MethodPatch, url: cartURL(s.base, s.g.carts[j]) + "/items/" + s.g.items[j],
		body: jsonBody("quantity", s.qty), auth: true}
}

func (s *workingSetShopper) done(status int, _ http.Header, _ []byte) verdict {
	if status == http.StatusOK {
		s.g.qty[s.pending] = s.qty
	}
	return verdict{}
}
