package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/store/postgres/postgrestest"
)

// TestPostgresNodesHoldMaxPerCustomer adds one unit at a time of a variant limited to 5 per
// customer to four carts of one customer, through two cartd nodes at once: whatever the
// interleaving, the customer ends with exactly 5 units, every add past them refused with
// quantity_not_allowed (the count of the customer's carts holds until each change commits,
// on whichever node it runs).
func TestPostgresNodesHoldMaxPerCustomer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and runs two of them; skipped with -short")
	}
	url := postgrestest.URL(t)
	bin := buildCartd(t)
	key := auth.NewSecret(auth.KeyPrefix)
	nodes := startNodes(t, bin, url, key, 2)
	client := &http.Client{Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()

	const limit, carts, adds = 5, 4, 24
	mustCall(t, client, 200, "PUT", nodes[0].URL+"/v1/products/prod_ltd", key, map[string]any{"name": "Limited",
		"quantity_rule": map[string]any{"max_per_customer": limit},
		"variants":      []any{map[string]any{"id": "var_ltd", "sku": "LTD", "price": map[string]int64{"USD": 9900}}}})
	mustCall(t, client, 200, "PUT", nodes[1].URL+"/v1/inventory/LTD", key, map[string]int64{"on_hand": 1000})
	var ids []string
	for range carts {
		c := decodeCartBody(t, mustCall(t, client, 201, "POST", nodes[0].URL+"/v1/carts", key, map[string]string{"customer_id": "cust_ltd"}))
		ids = append(ids, c.ID)
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted int
	)
	for i := range adds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node, id := nodes[i%len(nodes)], ids[i%carts]
			status, raw, err := call(client, "POST", node.URL+"/v1/carts/"+id+"/items", key, map[string]any{"sku": "LTD", "quantity": 1})
			switch {
			case err != nil:
				t.Errorf("add: %v", err)
			case status == 200:
				mu.Lock()
				accepted++
				mu.Unlock()
			case status != 422 || problemCode(raw) != "quantity_not_allowed":
				t.Errorf("add: %d %s", status, raw)
			}
		}()
	}
	wg.Wait()
	var held int64
	for _, id := range ids {
		c := decodeCartBody(t, mustCall(t, client, 200, "GET", nodes[1].URL+"/v1/carts/"+id, key, nil))
		held += c.ItemCount
	}
	if held != limit || accepted != limit {
		t.Fatalf("the customer holds %d units after %d accepted adds; want %d", held, accepted, limit)
	}
}
