package main

// The kill -9 test: ARCHITECTURE.md §Invariants 7, "acknowledged means durable", checked on the real binary.
// Clients change a cart concurrently and record every change that got a 2xx; the process is
// killed with SIGKILL at a random moment; a restart on the same database must show every
// acknowledged change, nothing beyond what was sent, a version that counts exactly the changes
// stored, and stock that still adds up (invariant 1).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// buildCartd builds this package's binary into a temporary directory.
func buildCartd(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "cartd")
	cmd := exec.Command(gotool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// logWatch collects a process's stderr and picks the listening address out of its JSON log.
type logWatch struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	scanned   int
	addr      string
	listening chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for w.addr == "" {
		rest := w.buf.Bytes()[w.scanned:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break
		}
		w.scanned += nl + 1
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(rest[:nl], &rec) == nil && rec.Msg == "cartd listening" && rec.Addr != "" {
			w.addr = rec.Addr
			close(w.listening)
		}
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// cartdProc is a running cartd binary.
type cartdProc struct {
	cmd  *exec.Cmd
	URL  string
	log  *logWatch
	done chan struct{} // closed when the process has exited
}

// startCartd runs the binary on 127.0.0.1:0 and waits until its log names the address it
// listens on. The process is killed when the test ends, if it still runs.
func startCartd(t *testing.T, bin, db, durability, adminKey string) *cartdProc {
	t.Helper()
	p := launchCartd(t, bin, adminKey, "--db", "sqlite:"+db, "--durability", durability)
	p.waitListening(t)
	return p
}

// launchCartd starts `cartd serve` on 127.0.0.1:0 with further flags, without waiting for it.
// The process is killed when the test ends, if it still runs.
func launchCartd(t *testing.T, bin, adminKey string, args ...string) *cartdProc {
	t.Helper()
	lw := &logWatch{listening: make(chan struct{})}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "CARTD_ADMIN_KEY="+adminKey)
	cmd.Stdout, cmd.Stderr = io.Discard, lw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &cartdProc{cmd: cmd, log: lw, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// waitListening waits until the process's log names the address it listens on, and sets URL.
func (p *cartdProc) waitListening(t *testing.T) {
	t.Helper()
	select {
	case <-p.log.listening:
	case <-p.done:
		t.Fatalf("cartd exited before listening: %v\n%s", p.cmd.ProcessState, p.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("cartd did not log its address within a minute:\n%s", p.log)
	}
	p.log.mu.Lock()
	p.URL = "http://" + p.log.addr
	p.log.mu.Unlock()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *cartdProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop asks for a graceful shutdown and waits for it.
func (p *cartdProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("cartd did not stop within 30s of SIGINT:\n%s", p.log)
		p.kill()
	}
}

// call sends one request and reads the whole answer. An error means the answer was not
// (completely) received: the change may or may not have been applied.
func call(c *http.Client, method, url, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, raw, nil
}

// mustCall is call for the test goroutine: any error or another status fails the test.
func mustCall(t *testing.T, c *http.Client, want int, method, url, key string, body any) []byte {
	t.Helper()
	status, raw, err := call(c, method, url, key, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, raw)
	}
	return raw
}

type cartBody struct {
	ID              string     `json:"id"`
	Version         int64      `json:"version"`
	Items           []itemBody `json:"items"`
	ItemCount       int64      `json:"item_count"`
	UniqueItemCount int64      `json:"unique_item_count"`
	Subtotal        int64      `json:"subtotal"`
	Discount        int64      `json:"discount"`
	Tax             int64      `json:"tax"`
	Shipping        int64      `json:"shipping"`
	Total           int64      `json:"total"`
}

type itemBody struct {
	ID               string `json:"id"`
	SKU              string `json:"sku"`
	Quantity         int64  `json:"quantity"`
	ReservedQuantity int64  `json:"reserved_quantity"`
	UnitPrice        int64  `json:"unit_price"`
	Subtotal         int64  `json:"subtotal"`
}

func decodeCartBody(t *testing.T, raw []byte) cartBody {
	t.Helper()
	var c cartBody
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("cart body: %v: %s", err, raw)
	}
	var sub, units int64
	for _, it := range c.Items {
		if it.Subtotal != it.UnitPrice*it.Quantity {
			t.Errorf("item %s: subtotal %d != %d * %d", it.ID, it.Subtotal, it.UnitPrice, it.Quantity)
		}
		sub += it.Subtotal
		units += it.Quantity
	}
	if c.Subtotal != sub || c.ItemCount != units || c.UniqueItemCount != int64(len(c.Items)) ||
		c.Total != c.Subtotal-c.Discount+c.Tax+c.Shipping {
		t.Errorf("cart totals do not recompute from its items: %s", raw)
	}
	return c
}

func (c cartBody) quantity(sku string) (itemBody, bool) {
	for _, it := range c.Items {
		if it.SKU == sku {
			return it, true
		}
	}
	return itemBody{}, false
}

// tally counts the requests of one kind: sent, acknowledged (2xx, answer read in full), and
// unanswered (the connection failed: in flight when the process died).
type tally struct{ sent, acked, unanswered atomic.Int64 }

func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and kills it; skipped with -short")
	}
	bin := buildCartd(t)
	for _, durability := range []string{"normal", "full"} {
		t.Run("with durability "+durability, func(t *testing.T) {
			testKill9(t, bin, durability)
		})
	}
}

func testKill9(t *testing.T, bin, durability string) {
	const (
		mainSKU = "KILL-0"
		others  = 8 // KILL-1 .. KILL-8, added one unit at a time
		workers = 12
		minAcks = 40 // acknowledged changes before the kill may come
	)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := startCartd(t, bin, db, durability, key)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}
	defer client.CloseIdleConnections()

	skus := []string{mainSKU}
	for i := 1; i <= others; i++ {
		skus = append(skus, fmt.Sprintf("KILL-%d", i))
	}
	var variants []map[string]any
	for _, sku := range skus {
		variants = append(variants, map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]int64{"USD": 500}})
	}
	mustCall(t, client, 200, "PUT", p.URL+"/v1/products/prod_kill", key, map[string]any{"name": "Kill test", "variants": variants})
	for _, sku := range skus {
		mustCall(t, client, 200, "PUT", p.URL+"/v1/inventory/"+sku, key, map[string]int64{"on_hand": 100000})
	}
	c := decodeCartBody(t, mustCall(t, client, 201, "POST", p.URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
	c = decodeCartBody(t, mustCall(t, client, 200, "POST", p.URL+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": mainSKU, "quantity": 1}))
	if c.Version != 2 {
		t.Fatalf("a new cart after one add is at version %d, want 2", c.Version)
	}
	item, _ := c.quantity(mainSKU)
	cartURL := p.URL + "/v1/carts/" + c.ID

	var (
		plus    tally
		adds    = make([]tally, len(skus)) // by index into skus; 0 unused
		acks    atomic.Int64
		killed  atomic.Bool
		stop    = make(chan struct{})
		running sync.WaitGroup
	)
	for w := range workers {
		running.Add(1)
		go func() {
			defer running.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				select {
				case <-stop:
					return
				default:
				}
				tl, method, url, body := &plus, "PATCH", cartURL+"/items/"+item.ID, any(map[string]int64{"quantity_delta": 1})
				if rng.IntN(4) == 0 {
					i := 1 + rng.IntN(others)
					tl, method, url, body = &adds[i], "POST", cartURL+"/items", map[string]any{"sku": skus[i], "quantity": 1}
				}
				tl.sent.Add(1)
				status, raw, err := call(client, method, url, key, body)
				switch {
				case err != nil:
					tl.unanswered.Add(1)
					if !killed.Load() {
						t.Errorf("%s %s before the kill: %v", method, url, err)
					}
					return
				case status/100 == 2:
					tl.acked.Add(1)
					acks.Add(1)
				default:
					t.Errorf("%s %s: status %d: %s", method, url, status, raw)
					return
				}
			}
		}()
	}

	// Kill at a random moment once the clients are well under way.
	deadline := time.Now().Add(2 * time.Minute)
	for acks.Load() < minAcks {
		if time.Now().After(deadline) || t.Failed() {
			killed.Store(true)
			p.kill()
			close(stop)
			running.Wait()
			t.Fatalf("only %d changes acknowledged before giving up\n%s", acks.Load(), p.log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	killed.Store(true)
	p.kill()
	close(stop)
	running.Wait()
	if ws, ok := p.cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && !ws.Signaled() {
		t.Errorf("cartd was not killed by a signal: %v", p.cmd.ProcessState)
	}
	t.Logf("at the kill: +1s sent %d, acknowledged %d, unanswered %d; adds acknowledged %d",
		plus.sent.Load(), plus.acked.Load(), plus.unanswered.Load(), acks.Load()-plus.acked.Load())

	// Restart on the same file: every acknowledged change is there.
	p = startCartd(t, bin, db, durability, key)
	after := decodeCartBody(t, mustCall(t, client, 200, "GET", p.URL+"/v1/carts/"+c.ID, key, nil))
	stored := int64(1) // the cart's creation
	for i, sku := range skus {
		it, _ := after.quantity(sku)
		var tl *tally
		base := int64(0)
		if i == 0 {
			tl, base = &plus, 1
		} else {
			tl = &adds[i]
		}
		lo, hi := base+tl.acked.Load(), base+tl.acked.Load()+tl.unanswered.Load()
		if it.Quantity < lo || it.Quantity > hi {
			t.Errorf("%s: quantity %d after restart, want %d..%d (%d acknowledged, %d unanswered)",
				sku, it.Quantity, lo, hi, tl.acked.Load(), tl.unanswered.Load())
		}
		t.Logf("%s: %d after restart; %d acknowledged, %d unanswered", sku, it.Quantity-base, tl.acked.Load(), tl.unanswered.Load())
		stored += it.Quantity // each unit is one stored change: the first add or a +1
		if it.ReservedQuantity != it.Quantity {
			t.Errorf("%s: item holds %d of its %d units", sku, it.ReservedQuantity, it.Quantity)
		}
		var st struct {
			OnHand   int64 `json:"on_hand"`
			Reserved int64 `json:"reserved"`
		}
		if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/inventory/"+sku, key, nil), &st); err != nil {
			t.Fatal(err)
		}
		if st.Reserved != it.ReservedQuantity || st.Reserved < 0 || st.Reserved > st.OnHand {
			t.Errorf("%s: stock on_hand %d reserved %d, but the one cart holding it holds %d", sku, st.OnHand, st.Reserved, it.ReservedQuantity)
		}
	}
	if after.Version != stored {
		t.Errorf("cart version %d after restart, but it stores %d changes", after.Version, stored)
	}

	// The restarted server carries on from there.
	next := decodeCartBody(t, mustCall(t, client, 200, "PATCH", p.URL+"/v1/carts/"+c.ID+"/items/"+item.ID, key, map[string]int64{"quantity_delta": 1}))
	got, _ := next.quantity(mainSKU)
	was, _ := after.quantity(mainSKU)
	if next.Version != after.Version+1 || got.Quantity != was.Quantity+1 {
		t.Errorf("after restart, +1 took version %d -> %d and quantity %d -> %d", after.Version, next.Version, was.Quantity, got.Quantity)
	}
	p.stop(t)
}
