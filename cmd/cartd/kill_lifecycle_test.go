package main

// The kill -9 test of the stock lifecycle: workers, each with carts of its own, add, set,
// change, remove and check out a few shared SKUs on the real binary, whose reservations last
// one second and are swept every 100 ms, so that some lapse and are released while the load
// runs (and some at the kill were lapsed but not yet released). The process is killed with SIGKILL at a random moment. After a restart on the same
// database, every change a worker was told of is there (its cart's lines and status as last
// answered, give or take the one call it had in flight), every acknowledged checkout stands,
// and invariant 1 holds: for every SKU, 0 <= reserved <= on_hand, reserved equals what the
// carts' items hold, and on_hand fell by exactly the units of the completed carts.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// lifeCart is the part of a cart response this test reads.
type lifeCart struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
	Items   []struct {
		ID               string `json:"id"`
		SKU              string `json:"sku"`
		Quantity         int64  `json:"quantity"`
		ReservedQuantity int64  `json:"reserved_quantity"`
		Expired          bool   `json:"expired"`
	} `json:"items"`
	UnavailableItems []json.RawMessage `json:"unavailable_items"`
}

// quantities are a cart's quantities by SKU: what a worker was told, and what must survive.
func (c lifeCart) quantities() map[string]int64 {
	q := map[string]int64{}
	for _, it := range c.Items {
		q[it.SKU] = it.Quantity
	}
	return q
}

// lifeWorker is what one worker was told, for the checks after the restart.
type lifeWorker struct {
	completed []lifeCart // acknowledged checkouts, as answered
	current   *lifeCart  // the cart it works on, as last answered (nil if it was being opened)
	inFlight  bool       // a call was unanswered when the process died
}

func TestKill9KeepsTheStockLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and kills it; skipped with -short")
	}
	const (
		workers = 12
		onHand  = 400
		minAcks = 60 // acknowledged calls before the kill may come
	)
	skus := []string{"LIFE-1", "LIFE-2", "LIFE-3"}
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	// The flags' environment twins, which the binary inherits.
	t.Setenv("CARTD_RESERVATION_TTL", "1s")
	start := func(sweep string) *cartdProc {
		t.Setenv("CARTD_SWEEP_INTERVAL", sweep)
		return startCartd(t, bin, db, "normal", key)
	}
	p := start("100ms")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}
	defer client.CloseIdleConnections()

	var variants []map[string]any
	for _, sku := range skus {
		variants = append(variants, map[string]any{"id": "var_" + sku, "sku": sku, "price": map[string]int64{"USD": 900}})
	}
	mustCall(t, client, 200, "PUT", p.URL+"/v1/products/prod_life", key, map[string]any{"name": "Life", "variants": variants})
	for _, sku := range skus {
		mustCall(t, client, 200, "PUT", p.URL+"/v1/inventory/"+sku, key, map[string]int64{"on_hand": onHand})
	}

	var (
		state   = make([]lifeWorker, workers)
		acks    atomic.Int64
		killed  atomic.Bool
		stop    = make(chan struct{})
		running sync.WaitGroup
		url     = p.URL
	)
	// send makes one call for worker w and decodes a cart from a 2xx or a 409 problem; ok is
	// false when the call went unanswered (the process died) or failed the test.
	send := func(w int, method, path string, body any) (int, lifeCart, bool) {
		state[w].inFlight = true
		status, raw, err := call(client, method, url+path, key, body)
		if err != nil {
			if !killed.Load() {
				t.Errorf("worker %d: %s %s before the kill: %v", w, method, path, err)
			}
			return 0, lifeCart{}, false
		}
		state[w].inFlight = false
		var c lifeCart
		switch status {
		case 200, 201:
			err = json.Unmarshal(raw, &c)
		case 409:
			var problem struct {
				Code string    `json:"code"`
				Cart *lifeCart `json:"cart"`
			}
			err = json.Unmarshal(raw, &problem)
			if err == nil && problem.Cart == nil {
				err = fmt.Errorf("409 %s without the cart", problem.Code)
			}
			if problem.Cart != nil {
				c = *problem.Cart
			}
		default:
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			t.Errorf("worker %d: %s %s: %v: %s", w, method, path, err, raw)
			return status, c, false
		}
		acks.Add(1)
		return status, c, true
	}
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
				st := &state[w]
				if st.current == nil || st.current.Status == "completed" {
					if st.current != nil {
						st.completed = append(st.completed, *st.current)
					}
					st.current = nil
					_, c, ok := send(w, "POST", "/v1/carts", map[string]string{"currency": "USD"})
					if !ok {
						return
					}
					st.current = &c
					continue
				}
				c := st.current
				base := "/v1/carts/" + c.ID
				method, path, body := "POST", base+"/items", any(map[string]any{"sku": skus[rng.IntN(len(skus))], "quantity": 1 + rng.IntN(3)})
				if len(c.Items) > 0 {
					it := c.Items[rng.IntN(len(c.Items))]
					switch k := rng.IntN(10); {
					case k < 3:
					case k < 5:
						method, path, body = "PATCH", base+"/items/"+it.ID, map[string]any{"quantity": 1 + rng.IntN(4)}
					case k < 7:
						method, path, body = "PATCH", base+"/items/"+it.ID, map[string]any{"quantity_delta": []int{-1, 1, 2}[rng.IntN(3)]}
					case k < 8:
						method, path, body = "DELETE", base+"/items/"+it.ID, nil
					default:
						method, path, body = "POST", base+"/checkout", nil
					}
				}
				_, next, ok := send(w, method, path, body)
				if !ok {
					return
				}
				st.current = &next
			}
		}()
	}

	deadline := time.Now().Add(2 * time.Minute)
	for acks.Load() < minAcks {
		if time.Now().After(deadline) || t.Failed() {
			killed.Store(true)
			p.kill()
			close(stop)
			running.Wait()
			t.Fatalf("only %d calls answered before giving up\n%s", acks.Load(), p.log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond) // reservations lapse meanwhile
	killed.Store(true)
	p.kill()
	close(stop)
	running.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("killed after %d answered calls", acks.Load())

	// Restart on the same file, without the sweeper, so that nothing changes while the carts
	// and the stock are read one after the other.
	p = start("0")
	get := func(id string) lifeCart {
		var c lifeCart
		if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/carts/"+id, key, nil), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	held, checkedOut := map[string]int64{}, map[string]int64{}
	tally := func(c lifeCart) {
		if len(c.UnavailableItems) != 0 {
			t.Errorf("cart %s has unavailable items: nothing was withdrawn", c.ID)
		}
		for _, it := range c.Items {
			held[it.SKU] += it.ReservedQuantity
			if c.Status == "completed" {
				checkedOut[it.SKU] += it.Quantity
			}
		}
	}
	completed := 0
	for w, st := range state {
		for _, done := range st.completed {
			got := get(done.ID)
			if got.Status != "completed" || !maps.Equal(got.quantities(), done.quantities()) {
				t.Errorf("worker %d: the acknowledged checkout of %s is %s with %v after the restart, want completed with %v",
					w, done.ID, got.Status, got.quantities(), done.quantities())
			}
			tally(got)
			completed++
		}
		if st.current == nil {
			continue // the cart it was opening holds nothing, whether it exists or not
		}
		told := *st.current
		got := get(told.ID)
		same := got.Status == told.Status && maps.Equal(got.quantities(), told.quantities())
		switch {
		case got.Version < told.Version:
			t.Errorf("worker %d: cart %s at version %d after the restart; it was told %d", w, told.ID, got.Version, told.Version)
		case !same && !st.inFlight:
			t.Errorf("worker %d: cart %s is %s with %v after the restart; it was told %s with %v and had nothing in flight",
				w, told.ID, got.Status, got.quantities(), told.Status, told.quantities())
		}
		tally(got)
		if got.Status == "completed" {
			completed++
		}
	}
	for _, sku := range skus {
		var stock struct {
			OnHand   int64 `json:"on_hand"`
			Reserved int64 `json:"reserved"`
		}
		if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/inventory/"+sku, key, nil), &stock); err != nil {
			t.Fatal(err)
		}
		if stock.Reserved < 0 || stock.Reserved > stock.OnHand || stock.Reserved != held[sku] {
			t.Errorf("%s: on_hand %d reserved %d, but the carts hold %d", sku, stock.OnHand, stock.Reserved, held[sku])
		}
		if stock.OnHand != onHand-checkedOut[sku] {
			t.Errorf("%s: on_hand %d, but the completed carts took %d of %d", sku, stock.OnHand, checkedOut[sku], onHand)
		}
		t.Logf("%s after the restart: on_hand %d, reserved %d, checked out %d", sku, stock.OnHand, stock.Reserved, checkedOut[sku])
	}
	t.Logf("%d carts checked out", completed)
	p.stop(t)
}
