package api_test

// The stock lifecycle under real concurrent load: 64 HTTP clients, each with carts of its own,
// add, set, change, remove and check out a few scarce SKUs for several seconds, while the
// store's clock jumps past the reservation TTL every few hundred milliseconds (so that
// reservations lapse in bulk, are swept, taken back by carts short of stock and re-reserved
// when touched), deliveries add stock, and eight more clients add +1 to one shared line.
// Afterwards invariant 1 must hold for every SKU (0 <= reserved <= on_hand, reserved equal to
// what the items hold, and on_hand lower by exactly the units checked out, deliveries aside)
// and invariant 2 for the shared line.
//
// The run lasts a fixed time, so it does less work under the race detector, never more time;
// nothing is judged by how long anything took.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// warpClock is the wall clock moved forward by jumps, for a server whose reservations must
// lapse while real clients run. It never goes back.
type warpClock struct{ offset atomic.Int64 }

func (c *warpClock) Now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *warpClock) Jump(d time.Duration) { c.offset.Add(int64(d)) }

func TestLifecycleUnderConcurrentLoad(t *testing.T) {
	const (
		clients       = 64
		sharedClients = 8
		sharedStart   = 500
		sharedMaxOps  = 50 // per shared client: 500 + 8*50 stays under the per-item limit
		onHand        = 40
		plenty        = 1_000_000
		reservation   = time.Minute
	)
	runFor := 4 * time.Second
	if underRace {
		runFor = 6 * time.Second // the race detector slows SQLite about twentyfold
	}
	hot := []string{"HOT-1", "HOT-2", "HOT-3"}
	clock := &warpClock{}
	s := mustServer(t, serverOptions{ReservationTTL: reservation, Now: clock.Now, SweepEvery: 10 * time.Millisecond})
	s.mustProduct(t, "prod_hot", 2500, onHand, hot...)
	s.mustProduct(t, "prod_plenty", 100, plenty, "PLENTY")
	shared := s.mustCart(t)
	sharedItem := s.mustAdd(t, shared, "PLENTY", sharedStart)
	client := concurrentClient(t, clients+sharedClients+2)

	var (
		mu        sync.Mutex
		carts     []string             // every cart the clients opened
		committed = map[string]int64{} // units of each SKU in acknowledged checkouts
		restocked = map[string]int64{} // units of each SKU added by acknowledged deliveries
		completed []string
		counts    = map[string]int{} // outcomes, for the log
	)
	count := func(what string) {
		mu.Lock()
		counts[what]++
		mu.Unlock()
	}
	open := func() (string, error) {
		r, err := concurrentDo(client, s, "POST", "/v1/carts", map[string]string{"currency": "USD"})
		if err != nil {
			return "", err
		}
		if r.Status != 201 {
			return "", fmt.Errorf("open a cart: status %d: %s", r.Status, r.Body)
		}
		c, err := decodeCart(t, r)
		if err != nil {
			return "", err
		}
		mu.Lock()
		carts = append(carts, c.ID)
		mu.Unlock()
		return c.ID, nil
	}

	deadline := time.Now().Add(runFor)
	done := make(chan struct{})
	var background sync.WaitGroup
	// Reservations lapse in bulk after every jumpEvery answers to the clients (a few ops of
	// each), so that they lapse as often, in work done, with or without the race detector.
	var answered atomic.Int64
	jumpEvery := int64(4 * clients)
	if underRace {
		jumpEvery = 2 * clients // fewer ops in all: lapse more often, still some checkouts
	}
	background.Go(func() {
		for next := jumpEvery; ; {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if answered.Load() >= next {
				clock.Jump(reservation + time.Second)
				count("clock jumps")
				next += jumpEvery
			}
		}
	})
	background.Go(func() { // deliveries: relative stock writes racing the checkouts
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			sku := hot[n%len(hot)]
			r, err := concurrentDo(client, s, "PATCH", "/v1/inventory/"+sku, map[string]int64{"on_hand_delta": 3})
			if err != nil || r.Status != 200 {
				t.Errorf("delivery of %s: %v %d %s", sku, err, r.Status, r.Body)
				return
			}
			mu.Lock()
			restocked[sku] += 3
			mu.Unlock()
			count("deliveries")
		}
	})
	background.Go(func() { // no reading of the stock may ever show an oversell
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, sku := range hot {
				r, err := concurrentDo(client, s, "GET", "/v1/inventory/"+sku, nil)
				if err != nil || r.Status != 200 {
					t.Errorf("sampling %s: %v %d %s", sku, err, r.Status, r.Body)
					return
				}
				var st stockDoc
				if err := json.Unmarshal(r.Body, &st); err != nil {
					t.Errorf("stock body: %v", err)
					return
				}
				if st.Reserved < 0 || st.Reserved > st.OnHand || st.Available != st.OnHand-st.Reserved {
					t.Errorf("stock sample of %s: on_hand %d reserved %d available %d", sku, st.OnHand, st.Reserved, st.Available)
				}
			}
		}
	})

	var sharedAcked atomic.Int64
	runClients(clients+sharedClients, func(i int) {
		if i >= clients { // invariant 2: +1s on one shared line, every one acknowledged
			for n := 0; n < sharedMaxOps && time.Now().Before(deadline); n++ {
				r, err := concurrentDo(client, s, "PATCH", "/v1/carts/"+shared+"/items/"+sharedItem, map[string]int64{"quantity_delta": 1})
				if err != nil || r.Status != 200 {
					t.Errorf("shared +1: %v %d %s", err, r.Status, r.Body)
					return
				}
				if _, err := decodeCart(t, r); err != nil {
					t.Errorf("shared +1: %v", err)
					return
				}
				sharedAcked.Add(1)
			}
			return
		}

		rng := rand.New(rand.NewPCG(uint64(i), 0x11fe))
		id, err := open()
		if err != nil {
			t.Errorf("client %d: %v", i, err)
			return
		}
		var c cartDoc  // the cart as last answered
		retry := false // check out again at once, after touching expired items
		for op := 0; time.Now().Before(deadline) && !t.Failed(); op++ {
			policy := "reject"
			if rng.IntN(2) == 0 {
				policy = "clamp"
			}
			base := "/v1/carts/" + id
			var (
				kind         string
				method, path = "POST", base + "/items"
				body         any
			)
			var line itemDoc
			if len(c.Items) > 0 {
				line = c.Items[rng.IntN(len(c.Items))]
			}
			switch k := rng.IntN(20); {
			case retry:
				kind, path, retry = "checkout", base+"/checkout", false
			case len(c.Items) == 0 || k < 5:
				kind, body = "add", map[string]any{"sku": hot[rng.IntN(len(hot))], "quantity": 1 + rng.IntN(3), "stock_policy": policy}
			case k < 9:
				kind, method, path = "set", "PATCH", base+"/items/"+line.ID
				body = map[string]any{"quantity": rng.IntN(5), "stock_policy": policy}
			case k < 13:
				d := []int{-2, -1, 1, 2, 3}[rng.IntN(5)]
				kind, method, path = "delta", "PATCH", base+"/items/"+line.ID
				body = map[string]any{"quantity_delta": d, "stock_policy": policy}
			case k < 15:
				kind, method, path = "remove", "DELETE", base+"/items/"+line.ID
			case k < 18:
				kind, path = "checkout", base+"/checkout"
			default:
				kind, method, path = "read", "GET", base
			}
			r, err := concurrentDo(client, s, method, path, body)
			if err != nil {
				t.Errorf("client %d op %d %s: %v", i, op, kind, err)
				return
			}
			answered.Add(1)
			switch r.Status {
			case 200:
				if c, err = decodeCart(t, r); err != nil {
					t.Errorf("client %d op %d %s: %v", i, op, kind, err)
					return
				}
				count(kind)
				if kind != "checkout" {
					continue
				}
				if len(c.Items) == 0 {
					t.Errorf("client %d: a checkout of an empty cart succeeded: %s", i, r.Body)
					return
				}
				mu.Lock()
				for _, it := range c.Items {
					committed[it.SKU] += it.Quantity
				}
				completed = append(completed, id)
				mu.Unlock()
				if id, err = open(); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				c = cartDoc{}
			case 409:
				p, err := decodeProblem(t, r)
				if err != nil {
					t.Errorf("client %d op %d %s: %v", i, op, kind, err)
					return
				}
				allowed := map[string][]string{
					"add": {"insufficient_stock"}, "set": {"insufficient_stock"}, "delta": {"insufficient_stock"},
					"checkout": {"insufficient_stock", "checkout_items_expired", "cart_empty"},
				}[kind]
				if !slices.Contains(allowed, p.Code) || p.Cart == nil || (p.Code == "insufficient_stock" && kind != "checkout" && policy != "reject") {
					t.Errorf("client %d op %d: %s under %s: 409 %s: %s", i, op, kind, policy, p.Code, r.Body)
					return
				}
				count(kind + " refused: " + p.Code)
				c = *p.Cart
				if p.Code != "checkout_items_expired" {
					continue
				}
				// Touch the expired items, as a shopper told so would: each reserves again
				// what is available.
				var changes []map[string]any
				for _, it := range c.Items {
					if it.Expired {
						changes = append(changes, map[string]any{"item_id": it.ID, "quantity": it.Quantity, "stock_policy": "clamp"})
					}
				}
				r, err := concurrentDo(client, s, "PATCH", base+"/items", map[string]any{"changes": changes})
				if err != nil || r.Status != 200 {
					t.Errorf("client %d: touching expired items: %v %d %s", i, err, r.Status, r.Body)
					return
				}
				if c, err = decodeCart(t, r); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				count("expired items touched")
				retry = true
			default:
				t.Errorf("client %d op %d: %s %s %v: status %d: %s", i, op, method, path, body, r.Status, r.Body)
				return
			}
		}
	})
	close(done)
	background.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// No more jumps: one sweep that finds nothing means every lapsed reservation was given
	// back, and the server's sweeper has nothing left to change while the state is read.
	for {
		n, err := s.Engine.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("%-45s %d", k, counts[k])
	}
	t.Logf("%d carts, %d checked out, %d shared +1s", len(carts), len(completed), sharedAcked.Load())

	// Invariant 1, from what every cart holds and what every checkout was acknowledged.
	held, checkedOut := map[string]int64{}, map[string]int64{}
	for _, id := range append(carts, shared) {
		var c struct {
			Status string    `json:"status"`
			Items  []itemDoc `json:"items"`
		}
		if err := json.Unmarshal(s.do(t, "GET", "/v1/carts/"+id, s.Admin, nil).mustStatus(t, 200).Body, &c); err != nil {
			t.Fatal(err)
		}
		for _, it := range c.Items {
			held[it.SKU] += it.ReservedQuantity
			if c.Status == "completed" {
				checkedOut[it.SKU] += it.Quantity
				if it.ReservedQuantity != 0 {
					t.Errorf("cart %s is completed but item %s holds %d", id, it.ID, it.ReservedQuantity)
				}
			}
			if it.Expired && it.ReservedQuantity != 0 {
				t.Errorf("cart %s: expired item %s still holds %d after the sweep", id, it.ID, it.ReservedQuantity)
			}
		}
	}
	for _, sku := range append(slices.Clone(hot), "PLENTY") {
		initial := int64(onHand)
		if sku == "PLENTY" {
			initial = plenty
		}
		st := s.mustStock(t, sku)
		if st.Reserved < 0 || st.Reserved > st.OnHand {
			t.Errorf("%s: reserved %d outside [0, on_hand %d]", sku, st.Reserved, st.OnHand)
		}
		if st.Reserved != held[sku] {
			t.Errorf("%s: reserved %d, but the items hold %d", sku, st.Reserved, held[sku])
		}
		if st.OnHand != initial+restocked[sku]-committed[sku] || checkedOut[sku] != committed[sku] {
			t.Errorf("%s: on_hand %d from %d with %d delivered; acknowledged checkouts took %d, completed carts hold %d",
				sku, st.OnHand, initial, restocked[sku], committed[sku], checkedOut[sku])
		}
		t.Logf("%s: on_hand %d (delivered %d, checked out %d), reserved %d", sku, st.OnHand, restocked[sku], committed[sku], st.Reserved)
	}

	// Invariant 2 on the shared line.
	c := s.mustCartDoc(t, shared)
	if it, _ := c.item("PLENTY"); it.Quantity != sharedStart+sharedAcked.Load() {
		t.Errorf("shared line: quantity %d after %d acknowledged +1s from %d", it.Quantity, sharedAcked.Load(), sharedStart)
	}
}
