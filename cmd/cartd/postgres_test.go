package main

// Several cartd processes on one PostgreSQL database, as a shop runs them behind a load
// balancer: ARCHITECTURE.md §Invariants 1 and 2 must hold across the nodes, and a database
// restart under load must lose no acknowledged change, answer 503 (never 500) while the
// database is away, and leave every node serving again without being restarted itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// envRestart names the command that restarts the test PostgreSQL server (.ci/run sets it for
// the one test that uses it: every other test on that server would see its connections cut).
const envRestart = "CARTD_TEST_POSTGRES_RESTART"

// startNodes starts n cartd processes on one database at once, so that they migrate it and
// create the admin key concurrently, and waits for all of them to listen.
func startNodes(t *testing.T, bin, url, adminKey string, n int) []*cartdProc {
	t.Helper()
	nodes := make([]*cartdProc, n)
	args := []string{"--db", url, "--db-max-conns", "8"}
	if b := postgrestest.StockBuckets(t); b > 0 {
		args = append(args, "--stock-buckets", strconv.Itoa(b))
	}
	for i := range nodes {
		nodes[i] = launchCartd(t, bin, adminKey, args...)
	}
	for _, p := range nodes {
		p.waitListening(t)
	}
	return nodes
}

// stockBody is a SKU's stock as GET /v1/inventory/{sku} answers it.
type stockBody struct {
	OnHand   int64 `json:"on_hand"`
	Reserved int64 `json:"reserved"`
}

func mustStock(t *testing.T, c *http.Client, node *cartdProc, key, sku string) stockBody {
	t.Helper()
	var st stockBody
	if err := json.Unmarshal(mustCall(t, c, 200, "GET", node.URL+"/v1/inventory/"+sku, key, nil), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkStock holds the carts and the stock they were read with to invariant 1: for every SKU,
// 0 <= reserved <= on_hand, and reserved is what the carts' items hold of it.
func checkStock(t *testing.T, c *http.Client, node *cartdProc, key string, onHand map[string]int64, carts []cartBody) {
	t.Helper()
	held := map[string]int64{}
	for _, cb := range carts {
		for _, it := range cb.Items {
			held[it.SKU] += it.ReservedQuantity
		}
	}
	for sku, want := range onHand {
		st := mustStock(t, c, node, key, sku)
		if st.OnHand != want || st.Reserved < 0 || st.Reserved > st.OnHand || st.Reserved != held[sku] {
			t.Errorf("%s: on_hand %d (want %d), reserved %d, held by the carts' items %d", sku, st.OnHand, want, st.Reserved, held[sku])
		}
	}
}

// problemCode is the code of a problem+json body, "" if it is none.
func problemCode(raw []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(raw, &p)
	return p.Code
}

func TestPostgresNodesShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and runs three of them; skipped with -short")
	}
	url := postgrestest.URL(t)
	bin := buildCartd(t)
	key := auth.NewSecret(auth.KeyPrefix)
	nodes := startNodes(t, bin, url, key, 3)

	const (
		clients = 64
		ops     = 30 // per client
		scarce  = 25 // units of each hot SKU: far fewer than the clients want
	)
	hot := []string{"HOT-1", "HOT-2", "HOT-3"}
	const counterSKU = "COUNTER"
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	onHand := map[string]int64{counterSKU: 1_000_000}
	var variants []map[string]any
	for _, sku := range append([]string{counterSKU}, hot...) {
		variants = append(variants, map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]int64{"USD": 500}})
		if onHand[sku] == 0 {
			onHand[sku] = scarce
		}
	}
	mustCall(t, client, 200, "PUT", nodes[0].URL+"/v1/products/prod_hot", key, map[string]any{"name": "Hot", "variants": variants})
	for sku, n := range onHand {
		mustCall(t, client, 200, "PUT", nodes[1].URL+"/v1/inventory/"+sku, key, map[string]int64{"on_hand": n})
	}
	// The counter: one line that clients on every node add +1 to.
	counter := decodeCartBody(t, mustCall(t, client, 201, "POST", nodes[2].URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
	counter = decodeCartBody(t, mustCall(t, client, 200, "POST", nodes[2].URL+"/v1/carts/"+counter.ID+"/items", key,
		map[string]any{"sku": counterSKU, "quantity": 1}))
	counterItem, _ := counter.quantity(counterSKU)
	counterURL := "/v1/carts/" + counter.ID + "/items/" + counterItem.ID

	var (
		plusOnes atomic.Int64
		last     = make([]cartBody, clients) // each client's cart as its last change left it
		wg       sync.WaitGroup
		statuses sync.Map // "METHOD status code" -> *atomic.Int64, for the log
	)
	count := func(method string, status int, raw []byte) {
		k := fmt.Sprintf("%s %d %s", method, status, problemCode(raw))
		n, _ := statuses.LoadOrStore(k, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	for i := range clients {
		node := nodes[i%len(nodes)]
		own := decodeCartBody(t, mustCall(t, client, 201, "POST", node.URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
		last[i] = own
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for range ops {
				if rng.IntN(3) == 0 {
					status, raw, err := call(client, "PATCH", node.URL+counterURL, key, map[string]int64{"quantity_delta": 1})
					if err != nil || status != 200 {
						t.Errorf("+1 on the counter via %s: %d %v %s", node.URL, status, err, raw)
						return
					}
					count("PATCH+1", status, raw)
					plusOnes.Add(1)
					continue
				}
				sku := hot[rng.IntN(len(hot))]
				policy := []string{"reject", "clamp"}[rng.IntN(2)]
				method, path := "POST", "/v1/carts/"+own.ID+"/items"
				body := map[string]any{"sku": sku, "quantity": 1 + rng.IntN(3), "stock_policy": policy}
				if it, ok := own.quantity(sku); ok && rng.IntN(2) == 0 {
					method, path = "PATCH", "/v1/carts/"+own.ID+"/items/"+it.ID
					delta := 1 + rng.IntN(3)
					if rng.IntN(2) == 0 {
						delta = -delta
					}
					body = map[string]any{"quantity_delta": delta, "stock_policy": policy}
				}
				status, raw, err := call(client, method, node.URL+path, key, body)
				if err != nil {
					t.Errorf("%s %s: %v", method, path, err)
					return
				}
				count(method, status, raw)
				switch {
				case status == 200:
					var cb cartBody
					if err := json.Unmarshal(raw, &cb); err != nil {
						t.Errorf("%s %s: %v", method, path, err)
						return
					}
					own = cb
					last[i] = cb
				case status == 409 && policy == "reject" && problemCode(raw) == "insufficient_stock":
				default:
					t.Errorf("%s %s %v via %s: %d %s", method, path, body, node.URL, status, raw)
					return
				}
			}
		})
	}
	wg.Wait()
	statuses.Range(func(k, v any) bool {
		t.Logf("%s: %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if t.Failed() {
		return
	}

	// Invariant 2: every acknowledged +1 counted once, whichever node took it.
	got := decodeCartBody(t, mustCall(t, client, 200, "GET", nodes[0].URL+"/v1/carts/"+counter.ID, key, nil))
	if it, _ := got.quantity(counterSKU); it.Quantity != 1+plusOnes.Load() {
		t.Errorf("the counter holds %d after 1 + %d acknowledged +1s", it.Quantity, plusOnes.Load())
	}
	// Each client's cart is as its last acknowledged change left it, read from any node.
	carts := []cartBody{got}
	for i, want := range last {
		cb := decodeCartBody(t, mustCall(t, client, 200, "GET", nodes[(i+1)%len(nodes)].URL+"/v1/carts/"+want.ID, key, nil))
		if cb.Version != want.Version || len(cb.Items) != len(want.Items) {
			t.Errorf("cart %s: version %d with %d lines, but the last change answered version %d with %d",
				cb.ID, cb.Version, len(cb.Items), want.Version, len(want.Items))
		}
		for _, it := range want.Items {
			if g, _ := cb.quantity(it.SKU); g.Quantity != it.Quantity || g.ReservedQuantity != it.ReservedQuantity {
				t.Errorf("cart %s %s: %d holding %d, but the last change answered %d holding %d",
					cb.ID, it.SKU, g.Quantity, g.ReservedQuantity, it.Quantity, it.ReservedQuantity)
			}
		}
		carts = append(carts, cb)
	}
	// Invariant 1, for the scarce SKUs the clients fought over and the counter's.
	checkStock(t, client, nodes[1], key, onHand, carts)
	for _, p := range nodes {
		p.stop(t)
	}
}

func TestPostgresRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and restarts PostgreSQL; skipped with -short")
	}
	restart := os.Getenv(envRestart)
	if restart == "" {
		t.Skip(envRestart + " is not set: skipping the PostgreSQL restart test (.ci/run sets it)")
	}
	url := postgrestest.URL(t)
	server := postgrestest.ServerURL(t)
	// Runs before the schema is dropped: whatever happens, leave the server up.
	t.Cleanup(func() {
		if err := waitPostgres(server, time.Minute); err != nil {
			t.Errorf("PostgreSQL did not come back: %v", err)
		}
	})
	bin := buildCartd(t)
	key := auth.NewSecret(auth.KeyPrefix)
	nodes := startNodes(t, bin, url, key, 2)

	const (
		clients = 16
		sku     = "STEADY"
		before  = 200 // acknowledged changes before the restart
		after   = 5   // per client, after the nodes are ready again
	)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	mustCall(t, client, 200, "PUT", nodes[0].URL+"/v1/products/prod_steady", key, map[string]any{"name": "Steady",
		"variants": []map[string]any{{"id": "var_steady", "sku": sku, "price": map[string]int64{"USD": 500}}}})
	mustCall(t, client, 200, "PUT", nodes[0].URL+"/v1/inventory/"+sku, key, map[string]int64{"on_hand": 1_000_000})

	type tally struct{ acked, unavailable, sinceReady atomic.Int64 }
	var (
		carts   = make([]cartBody, clients)
		items   = make([]string, clients)
		tallies = make([]tally, clients)
		acks    atomic.Int64
		ready   atomic.Bool // set once every node answers /readyz again after the restart
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	ready.Store(true)
	for i := range clients {
		node := nodes[i%len(nodes)]
		c := decodeCartBody(t, mustCall(t, client, 201, "POST", node.URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
		c = decodeCartBody(t, mustCall(t, client, 200, "POST", node.URL+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": sku, "quantity": 1}))
		it, _ := c.quantity(sku)
		carts[i], items[i] = c, it.ID
		wg.Go(func() {
			tl := &tallies[i]
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, raw, err := call(client, "PATCH", node.URL+"/v1/carts/"+c.ID+"/items/"+it.ID, key, map[string]int64{"quantity_delta": 1})
				switch {
				case err != nil:
					t.Errorf("node %s stopped answering: %v", node.URL, err)
					return
				case status == 200:
					tl.acked.Add(1)
					acks.Add(1)
					if ready.Load() {
						tl.sinceReady.Add(1)
					}
				case status == 503:
					tl.unavailable.Add(1) // may or may not have been applied (a COMMIT cut short)
					time.Sleep(10 * time.Millisecond)
				default:
					t.Errorf("PATCH via %s during the restart: %d %s", node.URL, status, raw)
					return
				}
			}
		})
	}

	// /readyz is polled throughout: it must say 503 while the database is away, 200 otherwise.
	var readyz [2]atomic.Int64 // 200s, 503s
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, p := range nodes {
				status, raw, err := call(client, "GET", p.URL+"/readyz", "", nil)
				switch {
				case err != nil:
					t.Errorf("readyz of %s: %v", p.URL, err)
					return
				case status == 200:
					readyz[0].Add(1)
				case status == 503:
					readyz[1].Add(1)
				default:
					t.Errorf("readyz of %s: %d %s", p.URL, status, raw)
				}
			}
		}
	})

	finish := func() {
		close(stop)
		wg.Wait()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for acks.Load() < before {
		if time.Now().After(deadline) || t.Failed() {
			finish()
			t.Fatalf("only %d changes acknowledged before the restart", acks.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready.Store(false)
	t.Logf("restarting PostgreSQL after %d acknowledged changes: %s", acks.Load(), restart)
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		finish()
		t.Fatalf("%s: %v\n%s", restart, err, out)
	}
	// The nodes were not restarted: they must serve again by themselves.
	for _, p := range nodes {
		for {
			status, _, err := call(client, "GET", p.URL+"/readyz", "", nil)
			if err == nil && status == 200 {
				break
			}
			if time.Now().After(deadline) {
				finish()
				t.Fatalf("%s not ready again after the restart (last: %d %v)", p.URL, status, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ready.Store(true)
	for i := range tallies {
		for tallies[i].sinceReady.Load() < after && !t.Failed() {
			if time.Now().After(deadline) {
				finish()
				t.Fatalf("client %d: only %d changes acknowledged since the nodes are ready again", i, tallies[i].sinceReady.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	finish()

	var unavailable int64
	for i := range tallies {
		unavailable += tallies[i].unavailable.Load()
	}
	t.Logf("%d changes acknowledged, %d answered 503; readyz answered 200 %d times, 503 %d times",
		acks.Load(), unavailable, readyz[0].Load(), readyz[1].Load())
	if unavailable == 0 && readyz[1].Load() == 0 {
		t.Error("no request saw the database away: the restart was not observed")
	}

	// No acknowledged change lost; none applied beyond what was sent.
	var read []cartBody
	for i, c := range carts {
		cb := decodeCartBody(t, mustCall(t, client, 200, "GET", nodes[(i+1)%len(nodes)].URL+"/v1/carts/"+c.ID, key, nil))
		it, _ := cb.quantity(sku)
		lo := 1 + tallies[i].acked.Load()
		if hi := lo + tallies[i].unavailable.Load(); it.Quantity < lo || it.Quantity > hi {
			t.Errorf("cart %s: quantity %d, want %d..%d (%d acknowledged, %d answered 503)",
				c.ID, it.Quantity, lo, hi, tallies[i].acked.Load(), tallies[i].unavailable.Load())
		}
		read = append(read, cb)
	}
	checkStock(t, client, nodes[0], key, map[string]int64{sku: 1_000_000}, read)
	for _, p := range nodes {
		p.stop(t)
	}
}

// waitPostgres waits until the server at url accepts a connection again.
func waitPostgres(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
