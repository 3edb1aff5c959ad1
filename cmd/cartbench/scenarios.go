package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// scenarioNames are the scenarios in the order --scenario all runs them.
var scenarioNames = []string{"update", "mixed", "flashsale", "bigcart", "spread", "hot", "ceiling", "pgceiling", "abuse"}

// scenarioFuncs set up a scenario through the admin API and measure its phases. Each creates
// its own catalog and carts, so the invariant check after it reads only what it touched.
var scenarioFuncs = map[string]func(context.Context, *runner) ([]phaseReport, error){
	"update":    runUpdate,
	"mixed":     runMixed,
	"flashsale": runFlashsale,
	"bigcart":   runBigcart,
	"spread":    runSpread,
	"hot":       runHot,
	"ceiling":   runCeiling,
	"pgceiling": runPgCeiling,
	"abuse":     runAbuse,
}

// rng is client i's random source in a scenario: the same --seed sends the same sequence of
// calls, whatever the goroutines' scheduling.
func (r *runner) rng(scenario string, i int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(scenario))
	return rand.New(rand.NewPCG(r.seed, h.Sum64()+uint64(i)))
}

// pick returns n distinct elements of from.
func pick(rng *rand.Rand, from []string, n int) []string {
	idx := rng.Perm(len(from))[:min(n, len(from))]
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = from[j]
	}
	return out
}

// node is the base URL client i sends its load to: with several --url, clients are spread
// over the nodes round-robin (set-up and the invariant check use the first).
func (r *runner) node(i int) string { return r.nodes[i%len(r.nodes)] }

func cartURL(base, cart string) string { return base + "/v1/carts/" + cart }

// jsonBody is {"field": n}, written without reflection: the load generator shares the
// machine with cartd, and every cycle it spends is one the server does not get.
func jsonBody(field string, n int64) []byte {
	return append(strconv.AppendInt([]byte(`{"`+field+`":`), n, 10), '}')
}

// resync reads a cart back when a shopper no longer knows its state (a request failed), and
// puts back, with quantity 1, any of want the cart no longer holds.
func (r *runner) resync(ctx context.Context, cart string, want []string) ([]line, error) {
	var c cartDoc
	if err := r.api.Do(ctx, http.MethodGet, "/v1/carts/"+cart, nil, &c); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, it := range c.Items {
		if !it.Expired {
			have[it.SKU] = true
		}
	}
	var changes []map[string]any
	for _, sku := range want {
		if !have[sku] {
			changes = append(changes, map[string]any{"sku": sku, "quantity": 1})
		}
	}
	if len(changes) > 0 {
		if err := r.api.Do(ctx, http.MethodPatch, "/v1/carts/"+cart+"/items", map[string]any{"changes": changes}, &c); err != nil {
			return nil, err
		}
	}
	return linesOf(c.Items), nil
}

// Sizes of the scenarios' catalogs and carts.
const (
	updateSKUs    = 256
	updateLines   = 3
	updateMaxQty  = 10
	ampleStock    = 1_000_000 // more than any run reserves: no call is short of stock
	mixedSKUs     = 256
	mixedInterest = 15 // SKUs a shopper of the mixed scenario chooses from
	mixedStart    = 5  // lines of a mixed cart at the start
)

// update: the headline. Every client owns one cart of three lines and changes a line's
// quantity, half the time by setting it (PATCH {"quantity": n}) and half by a delta (PATCH
// {"quantity_delta": d}), keeping it between 1 and 10 so no line is ever removed. The whole
// cart comes back each time, as a storefront that re-renders the cart wants it.
func runUpdate(ctx context.Context, r *runner) ([]phaseReport, error) {
	if r.workingSet > 0 {
		return runUpdateWorkingSet(ctx, r, r.workingSet)
	}
	cat, err := r.makeCatalog(ctx, "update", updateSKUs, ampleStock)
	if err != nil {
		return nil, err
	}
	want := make([][]string, r.conns)
	for i := range want {
		want[i] = pick(r.rng("update-cart", i), cat.skus, updateLines)
	}
	ids, lines, err := r.fillMany(ctx, r.conns, 1, func(i int) []string { return want[i] })
	if err != nil {
		return nil, err
	}
	shoppers := make([]shopper, r.conns)
	for i := range shoppers {
		shoppers[i] = &updateShopper{base: r.node(i), r: r, cart: ids[i], want: want[i], lines: lines[i], rng: r.rng("update", i)}
	}
	return []phaseReport{r.drv.measure(ctx, "update", shoppers)}, nil
}

type updateShopper struct {
	base       string // the node it talks to
	r          *runner
	cart       string
	want       []string
	lines      []line
	rng        *rand.Rand
	stale      bool
	pending    int
	pendingQty int64
}

func (s *updateShopper) prepare(ctx context.Context) error {
	if !s.stale && len(s.lines) > 0 {
		return nil
	}
	lines, err := s.r.resync(ctx, s.cart, s.want)
	if err != nil {
		return err
	}
	s.lines, s.stale = lines, false
	return nil
}

func (s *updateShopper) next() request {
	s.pending = s.rng.IntN(len(s.lines))
	l := s.lines[s.pending]
	var body []byte
	if s.rng.IntN(2) == 0 {
		s.pendingQty = 1 + s.rng.Int64N(updateMaxQty)
		body = jsonBody("quantity", s.pendingQty)
	} else {
		d := []int64{-2, -1, 1, 2}[s.rng.IntN(4)]
		if l.quantity+d < 1 || l.quantity+d > updateMaxQty {
			d = -d
		}
		s.pendingQty = l.quantity + d
		body = jsonBody("quantity_delta", d)
	}
	return request{method: http.MethodPatch, url: cartURL(s.base, s.cart) + "/items/" + l.id, body: body, auth: true}
}

func (s *updateShopper) done(status int, _ http.Header, _ []byte) verdict {
	if status == http.StatusOK {
		s.lines[s.pending].quantity = s.pendingQty
	} else {
		s.stale = true // the line may or may not have changed: read it back before the next call
	}
	return verdict{}
}

// mixed: storefront traffic. Every client owns one cart that starts with five lines and, per
// call, reads it (60%), adds one or two units of a SKU from its own 15 (15%, a new line or
// more of one it holds), sets a line's quantity to 1..5 (20%), or removes a line (5%). An
// empty cart gets an add instead of a change or removal. Adds and removals balance at about
// ten lines a cart. The shopper learns its cart from each mutating call's response.
func runMixed(ctx context.Context, r *runner) ([]phaseReport, error) {
	cat, err := r.makeCatalog(ctx, "mixed", mixedSKUs, ampleStock)
	if err != nil {
		return nil, err
	}
	interest := make([][]string, r.conns)
	for i := range interest {
		interest[i] = pick(r.rng("mixed-cart", i), cat.skus, mixedInterest)
	}
	ids, lines, err := r.fillMany(ctx, r.conns, 1, func(i int) []string { return interest[i][:mixedStart] })
	if err != nil {
		return nil, err
	}
	shoppers := make([]shopper, r.conns)
	for i := range shoppers {
		shoppers[i] = &mixedShopper{base: r.node(i), r: r, cart: ids[i], interest: interest[i], lines: lines[i], rng: r.rng("mixed", i)}
	}
	return []phaseReport{r.drv.measure(ctx, "mixed", shoppers)}, nil
}

type mixedShopper struct {
	base     string // the node it talks to
	r        *runner
	cart     string
	interest []string
	lines    []line
	rng      *rand.Rand
	stale    bool
	mutating bool
}

func (s *mixedShopper) prepare(ctx context.Context) error {
	if !s.stale {
		return nil
	}
	lines, err := s.r.resync(ctx, s.cart, nil)
	if err != nil {
		return err
	}
	s.lines, s.stale = lines, false
	return nil
}

func (s *mixedShopper) next() request {
	url := cartURL(s.base, s.cart)
	roll := s.rng.IntN(100)
	s.mutating = roll >= 60
	switch {
	case roll < 60:
		return request{method: http.MethodGet, url: url, auth: true}
	case roll < 75 || len(s.lines) == 0:
		sku := s.interest[s.rng.IntN(len(s.interest))]
		for _, l := range s.lines {
			if l.sku == sku && l.quantity >= 20 { // keep lines far below max_quantity_per_item
				return s.set(l)
			}
		}
		body := fmt.Appendf(nil, `{"sku":%q,"quantity":%d}`, sku, 1+s.rng.IntN(2))
		return request{method: http.MethodPost, url: url + "/items", body: body, auth: true}
	case roll < 95:
		return s.set(s.lines[s.rng.IntN(len(s.lines))])
	default:
		l := s.lines[s.rng.IntN(len(s.lines))]
		return request{method: http.MethodDelete, url: url + "/items/" + l.id, auth: true}
	}
}

func (s *mixedShopper) set(l line) request {
	return request{method: http.MethodPatch, url: cartURL(s.base, s.cart) + "/items/" + l.id,
		body: jsonBody("quantity", 1+s.rng.Int64N(5)), auth: true}
}

func (s *mixedShopper) done(status int, _ http.Header, body []byte) verdict {
	if status != http.StatusOK {
		s.stale = true
		return verdict{}
	}
	if s.mutating {
		var c struct {
			Items []itemDoc `json:"items"`
		}
		if json.Unmarshal(body, &c) != nil {
			s.stale = true
			return verdict{unusable: true}
		}
		s.lines = linesOf(c.Items)
	}
	return verdict{}
}

// flashsale: a few SKUs with little stock, many carts after them. Every client holds four
// carts and, per call, sets one of its carts' quantity of one hot SKU (a batch upsert by SKU:
// PATCH /v1/carts/{id}/items {"changes": [{"sku", "quantity", "stock_policy"}]}) to 1..3, or
// to 0 a quarter of the time, which gives the units back. Half the clients ask with
// stock_policy clamp, half with reject: a 409 insufficient_stock is then what a shopper of a
// sold-out sale gets, counted as an outcome, not an error; so are clamp's warnings.
const (
	flashSKUs            = 4
	flashStock           = 25
	flashCartsPerShopper = 4
)

func runFlashsale(ctx context.Context, r *runner) ([]phaseReport, error) {
	cat, err := r.makeCatalog(ctx, "flashsale", flashSKUs, flashStock)
	if err != nil {
		return nil, err
	}
	ids, _, err := r.fillMany(ctx, r.conns*flashCartsPerShopper, 0, func(int) []string { return nil })
	if err != nil {
		return nil, err
	}
	shoppers := make([]shopper, r.conns)
	for i := range shoppers {
		policy := "clamp"
		if i%2 == 1 {
			policy = "reject"
		}
		shoppers[i] = &flashShopper{base: r.node(i), r: r, carts: ids[i*flashCartsPerShopper : (i+1)*flashCartsPerShopper], skus: cat.skus,
			policy: policy, rng: r.rng("flashsale", i)}
	}
	return []phaseReport{r.drv.measure(ctx, "flashsale", shoppers)}, nil
}

type flashShopper struct {
	base   string // the node it talks to
	r      *runner
	carts  []string
	skus   []string
	policy string
	rng    *rand.Rand
}

func (s *flashShopper) prepare(context.Context) error { return nil }

func (s *flashShopper) next() request {
	cart := s.carts[s.rng.IntN(len(s.carts))]
	sku := s.skus[s.rng.IntN(len(s.skus))]
	q := int64(0)
	if s.rng.IntN(4) > 0 {
		q = 1 + s.rng.Int64N(3)
	}
	body := fmt.Appendf(nil, `{"changes":[{"sku":%q,"quantity":%d,"stock_policy":%q}]}`, sku, q, s.policy)
	return request{method: http.MethodPatch, url: cartURL(s.base, cart) + "/items", body: body, auth: true}
}

func (s *flashShopper) done(status int, _ http.Header, body []byte) verdict {
	switch status {
	case http.StatusOK:
		var c struct {
			Messages []messageDoc `json:"messages"`
		}
		if json.Unmarshal(body, &c) != nil {
			return verdict{unusable: true}
		}
		// What the stock did to the request is the outcome; other warnings (a promotion lost,
		// a reservation that had lapsed) are counted when there is nothing else to say.
		var v verdict
		for _, m := range c.Messages {
			switch {
			case m.Type != "warning":
			case m.Code == "quantity_clamped" || m.Code == "out_of_stock" || m.Code == "item_removed":
				return verdict{outcome: m.Code}
			case v.outcome == "":
				v.outcome = m.Code
			}
		}
		return v
	case http.StatusConflict:
		var p problemDoc
		if json.Unmarshal(body, &p) == nil && p.Code == "insufficient_stock" {
			return verdict{outcome: p.Code, expected: true}
		}
	}
	return verdict{}
}

// bigcart: the cost of one quantity change as a cart grows. Carts of 1, 100 and 1,000 lines
// (min(--conns, 8) carts of each size; client i changes cart i mod that) get PATCH
// {"quantity": 1..9} on a random line, once with the whole cart in the answer and once with
// Prefer: return=minimal (docs/api.md), each a phase of its own. A store that reads and writes
// only what changed makes the minimal phases cost about the same at every size.
var bigcartSizes = []int{1, 100, 1000}

const bigcartCarts = 8

func runBigcart(ctx context.Context, r *runner) ([]phaseReport, error) {
	largest := bigcartSizes[len(bigcartSizes)-1]
	if r.settings.MaxLinesPerCart < int64(largest) {
		return nil, fmt.Errorf("bigcart needs max_lines_per_cart >= %d; this cartd has %d", largest, r.settings.MaxLinesPerCart)
	}
	cat, err := r.makeCatalog(ctx, "bigcart", largest, ampleStock)
	if err != nil {
		return nil, err
	}
	n := min(r.conns, bigcartCarts)
	type carts struct {
		ids   []string
		lines [][]line
	}
	bySize := make([]carts, len(bigcartSizes))
	for k, size := range bigcartSizes {
		ids, lines, err := r.fillMany(ctx, n, 1, func(int) []string { return cat.skus[:size] })
		if err != nil {
			return nil, err
		}
		bySize[k] = carts{ids, lines}
	}
	var phases []phaseReport
	for k, size := range bigcartSizes {
		for _, minimal := range []bool{false, true} {
			name := fmt.Sprintf("bigcart/%d/full", size)
			if minimal {
				name = fmt.Sprintf("bigcart/%d/minimal", size)
			}
			shoppers := make([]shopper, r.conns)
			for i := range shoppers {
				shoppers[i] = &bigcartShopper{base: r.node(i), r: r, cart: bySize[k].ids[i%n], lines: bySize[k].lines[i%n], minimal: minimal,
					rng: r.rng(name, i)}
			}
			phases = append(phases, r.drv.measure(ctx, name, shoppers))
			if ctx.Err() != nil {
				return phases, ctx.Err()
			}
		}
	}
	return phases, nil
}

type bigcartShopper struct {
	base    string // the node it talks to
	r       *runner
	cart    string
	lines   []line
	minimal bool
	rng     *rand.Rand
}

func (s *bigcartShopper) prepare(context.Context) error { return nil }

func (s *bigcartShopper) next() request {
	l := s.lines[s.rng.IntN(len(s.lines))]
	req := request{method: http.MethodPatch, url: cartURL(s.base, s.cart) + "/items/" + l.id,
		body: jsonBody("quantity", 1+s.rng.Int64N(9)), auth: true}
	if s.minimal {
		req.header = []string{"Prefer", "return=minimal"}
	}
	return req
}

func (s *bigcartShopper) done(status int, h http.Header, _ []byte) verdict {
	if status == http.StatusOK && s.minimal && h.Get("Preference-Applied") == "" {
		return verdict{outcome: "preference_not_applied"}
	}
	return verdict{}
}
