package main

// The SIGTERM test: a graceful shutdown under load loses no acknowledged change and leaves no
// cart half written. 32 clients change four carts' quantities on the real binary and record
// every 2xx; a request is held in flight (its handler running, waiting for the body) when
// SIGTERM arrives. The held request must still complete once the server stopped accepting,
// the process must exit 0, and a restart on the same database must show every acknowledged
// change, nothing beyond what was sent, versions that count exactly the changes stored, and
// stock that adds up over the carts (invariant 1). A second test holds a request past
// --shutdown-timeout: it is cut off, unapplied, and the exit status says so.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// heldRequest is a request whose handler runs, blocked reading a body the test has not sent.
type heldRequest struct {
	conn net.Conn
	rd   *bufio.Reader
	req  *http.Request
	body []byte
}

// holdRequest sends a request's head with Expect: 100-continue and waits for the server's
// 100 Continue, which Go's server sends when the handler first reads the body: from then on
// the request is in flight, as far as the server is concerned.
func holdRequest(t *testing.T, addr, method, path, key string, body any) *heldRequest {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", method, path, addr, key, len(raw))
	h := &heldRequest{conn: conn, rd: bufio.NewReader(conn), req: req, body: raw}
	resp, err := http.ReadResponse(h.rd, req)
	if err != nil {
		t.Fatalf("held %s %s: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("held %s %s: status %d before the body was sent, want 100", method, path, resp.StatusCode)
	}
	return h
}

// finish sends the body and reads the answer; an error means none came.
func (h *heldRequest) finish() (int, []byte, error) {
	if _, err := h.conn.Write(h.body); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(h.rd, h.req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), err
}

// waitRefused waits until nothing accepts connections at addr any more: the server stopped
// accepting.
func waitRefused(t *testing.T, p *cartdProc, addr string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a minute after SIGTERM, %s still accepts connections\n%s", addr, p.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitExit waits for the process to exit after a signal, and returns its exit code.
func waitExit(t *testing.T, p *cartdProc) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("cartd did not exit within two minutes of SIGTERM\n%s", p.log)
	}
	return p.cmd.ProcessState.ExitCode()
}

// termShop is the catalog and carts of the SIGTERM tests.
type termShop struct {
	carts []cartBody
	items []itemBody // each cart's line of termMain
}

const termMain = "TERM-0"

var termOthers = []string{"TERM-1", "TERM-2", "TERM-3", "TERM-4", "TERM-5", "TERM-6"}

func setUpTermShop(t *testing.T, client *http.Client, base, key string, carts int) termShop {
	t.Helper()
	var variants []map[string]any
	for _, sku := range append([]string{termMain, "TERM-HELD"}, termOthers...) {
		variants = append(variants, map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]int64{"USD": 700}})
	}
	mustCall(t, client, 200, "PUT", base+"/v1/products/prod_term", key, map[string]any{"name": "SIGTERM test", "variants": variants})
	for _, v := range variants {
		mustCall(t, client, 200, "PUT", base+"/v1/inventory/"+v["sku"].(string), key, map[string]int64{"on_hand": 1000000})
	}
	var s termShop
	for range carts {
		c := decodeCartBody(t, mustCall(t, client, 201, "POST", base+"/v1/carts", key, map[string]string{"currency": "USD"}))
		c = decodeCartBody(t, mustCall(t, client, 200, "POST", base+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": termMain, "quantity": 1}))
		it, _ := c.quantity(termMain)
		s.carts, s.items = append(s.carts, c), append(s.items, it)
	}
	return s
}

// stockOf reads a SKU's on_hand and reserved.
func stockOf(t *testing.T, client *http.Client, base, key, sku string) (onHand, reserved int64) {
	t.Helper()
	var st struct {
		OnHand   int64 `json:"on_hand"`
		Reserved int64 `json:"reserved"`
	}
	if err := json.Unmarshal(mustCall(t, client, 200, "GET", base+"/v1/inventory/"+sku, key, nil), &st); err != nil {
		t.Fatal(err)
	}
	return st.OnHand, st.Reserved
}

func TestSIGTERMUnderLoadKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and stops it under load; skipped with -short")
	}
	const (
		carts   = 4
		workers = 32
		minAcks = 200 // acknowledged changes before SIGTERM may come
	)
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := launchCartd(t, bin, key, "--db", "sqlite:"+db, "--shutdown-timeout", "2m")
	p.waitListening(t)
	addr := strings.TrimPrefix(p.URL, "http://")
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}
	defer client.CloseIdleConnections()
	shop := setUpTermShop(t, client, p.URL, key, carts)

	// tallies[cart][sku]: every change is one unit more of one SKU in one cart.
	tallies := make([]map[string]*tally, carts)
	for i := range tallies {
		tallies[i] = map[string]*tally{termMain: {}}
		for _, sku := range termOthers {
			tallies[i][sku] = &tally{}
		}
	}
	var (
		acks       atomic.Int64
		signalled  atomic.Bool
		afterTerm  atomic.Int64 // acknowledged after SIGTERM was sent: in flight at SIGTERM
		stop       = make(chan struct{})
		running    sync.WaitGroup
		badStatus  atomic.Int64
		firstError atomic.Value
	)
	for w := range workers {
		running.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			ci := w % carts
			cartURL := p.URL + "/v1/carts/" + shop.carts[ci].ID
			for {
				select {
				case <-stop:
					return
				default:
				}
				sku, method, url, body := termMain, "PATCH", cartURL+"/items/"+shop.items[ci].ID, any(map[string]int64{"quantity_delta": 1})
				if rng.IntN(4) == 0 {
					sku = termOthers[rng.IntN(len(termOthers))]
					method, url, body = "POST", cartURL+"/items", map[string]any{"sku": sku, "quantity": 1}
				}
				tl := tallies[ci][sku]
				tl.sent.Add(1)
				status, raw, err := call(client, method, url, key, body)
				switch {
				case err != nil:
					tl.unanswered.Add(1)
					if !signalled.Load() {
						firstError.CompareAndSwap(nil, fmt.Sprintf("%s %s before SIGTERM: %v", method, url, err))
					}
					return // the server is going away: this client is done
				case status/100 == 2:
					tl.acked.Add(1)
					acks.Add(1)
					if signalled.Load() {
						afterTerm.Add(1)
					}
				default:
					badStatus.Add(1)
					firstError.CompareAndSwap(nil, fmt.Sprintf("%s %s: status %d: %s", method, url, status, raw))
					return
				}
			}
		})
	}

	for deadline := time.Now().Add(2 * time.Minute); acks.Load() < minAcks; {
		if time.Now().After(deadline) || firstError.Load() != nil {
			close(stop)
			running.Wait()
			t.Fatalf("only %d changes acknowledged before giving up (%v)\n%s", acks.Load(), firstError.Load(), p.log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	held := holdRequest(t, addr, "POST", "/v1/carts/"+shop.carts[0].ID+"/items", key, map[string]any{"sku": "TERM-HELD", "quantity": 3})
	time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
	signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Once nothing accepts connections, the held request is still served.
	waitRefused(t, p, addr)
	status, raw, err := held.finish()
	if err != nil || status != 200 {
		t.Fatalf("the request in flight at SIGTERM: status %d, %v: %s\n%s", status, err, raw, p.log)
	}
	heldCart := decodeCartBody(t, raw)
	if it, ok := heldCart.quantity("TERM-HELD"); !ok || it.Quantity != 3 {
		t.Errorf("the held request answered a cart without its 3 units of TERM-HELD: %s", raw)
	}
	if code := waitExit(t, p); code != 0 {
		t.Errorf("cartd exited %d after SIGTERM, want 0\n%s", code, p.log)
	}
	close(stop)
	running.Wait()
	if e := firstError.Load(); e != nil {
		t.Errorf("%v", e)
	}
	if n := badStatus.Load(); n > 0 {
		t.Errorf("%d requests got a status other than 2xx", n)
	}
	if !strings.Contains(p.log.String(), "in-flight requests finished") {
		t.Errorf("cartd did not log that in-flight requests finished:\n%s", p.log)
	}
	var unanswered int64
	for _, byCart := range tallies {
		for _, tl := range byCart {
			unanswered += tl.unanswered.Load()
		}
	}
	t.Logf("%d changes acknowledged (%d after SIGTERM was sent), %d unanswered", acks.Load(), afterTerm.Load(), unanswered)

	// Restart on the same file: every acknowledged change is there, and nothing is half done.
	p = startCartd(t, bin, db, "normal", key)
	reserved := map[string]int64{}
	for ci, c := range shop.carts {
		after := decodeCartBody(t, mustCall(t, client, 200, "GET", p.URL+"/v1/carts/"+c.ID, key, nil))
		stored := int64(1) // the cart's creation
		for sku, tl := range tallies[ci] {
			it, _ := after.quantity(sku)
			base := int64(0)
			if sku == termMain {
				base = 1
			}
			lo, hi := base+tl.acked.Load(), base+tl.acked.Load()+tl.unanswered.Load()
			if it.Quantity < lo || it.Quantity > hi {
				t.Errorf("cart %s, %s: quantity %d after restart, want %d..%d (%d acknowledged, %d unanswered)",
					c.ID, sku, it.Quantity, lo, hi, tl.acked.Load(), tl.unanswered.Load())
			}
			stored += it.Quantity // each unit is one stored change: the first add or a +1
		}
		if ci == 0 {
			if it, ok := after.quantity("TERM-HELD"); !ok || it.Quantity != 3 {
				t.Errorf("cart %s lost the held request's TERM-HELD after restart", c.ID)
			} else {
				stored++
			}
		}
		for _, it := range after.Items {
			if it.ReservedQuantity != it.Quantity {
				t.Errorf("cart %s, %s: holds %d of its %d units", c.ID, it.SKU, it.ReservedQuantity, it.Quantity)
			}
			reserved[it.SKU] += it.ReservedQuantity
		}
		if after.Version != stored {
			t.Errorf("cart %s: version %d after restart, but it stores %d changes", c.ID, after.Version, stored)
		}
	}
	for _, sku := range append([]string{termMain, "TERM-HELD"}, termOthers...) {
		onHand, got := stockOf(t, client, p.URL, key, sku)
		if got != reserved[sku] || got > onHand {
			t.Errorf("%s: stock on_hand %d reserved %d, but the carts hold %d", sku, onHand, got, reserved[sku])
		}
	}
	p.stop(t)
}

func TestSIGTERMCutsOffRequestsPastTheShutdownTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and stops it; skipped with -short")
	}
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := launchCartd(t, bin, key, "--db", "sqlite:"+db, "--shutdown-timeout", "1s")
	p.waitListening(t)
	addr := strings.TrimPrefix(p.URL, "http://")
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	shop := setUpTermShop(t, client, p.URL, key, 1)

	held := holdRequest(t, addr, "POST", "/v1/carts/"+shop.carts[0].ID+"/items", key, map[string]any{"sku": "TERM-HELD", "quantity": 3})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The held request never sends its body: the deadline passes, its connection is closed,
	// and the process says it did not stop cleanly.
	if code := waitExit(t, p); code != 1 {
		t.Errorf("cartd exited %d with a request cut off, want 1\n%s", code, p.log)
	}
	if !strings.Contains(p.log.String(), "shutdown deadline passed") {
		t.Errorf("cartd did not log the cut-off:\n%s", p.log)
	}
	if status, raw, err := held.finish(); err == nil {
		t.Errorf("the request held past the deadline was answered %d: %s", status, raw)
	}

	p = startCartd(t, bin, db, "normal", key)
	after := decodeCartBody(t, mustCall(t, client, 200, "GET", p.URL+"/v1/carts/"+shop.carts[0].ID, key, nil))
	if _, ok := after.quantity("TERM-HELD"); ok || after.Version != shop.carts[0].Version {
		t.Errorf("the cut-off request changed the cart: version %d -> %d, %+v", shop.carts[0].Version, after.Version, after.Items)
	}
	if _, reserved := stockOf(t, client, p.URL, key, "TERM-HELD"); reserved != 0 {
		t.Errorf("the cut-off request reserved %d units of TERM-HELD", reserved)
	}
	p.stop(t)
}
