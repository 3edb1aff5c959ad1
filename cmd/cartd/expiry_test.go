package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// TestServeSweepsLapsedReservations runs cartd as configured by its flags, with a reservation
// TTL of one second and the default sweep interval, and waits (with a generous bound) for the
// background sweeper to give a lapsed reservation's stock back, with nobody touching the cart.
func TestServeSweepsLapsedReservations(t *testing.T) {
	addr := freeAddr(t)
	key := auth.NewSecret(auth.KeyPrefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	exited := make(chan int, 1)
	db := "sqlite:" + filepath.Join(t.TempDir(), "cartd.db")
	go func() {
		exited <- run(ctx, []string{"serve", "--addr", addr, "--db", db, "--reservation-ttl", "1s"},
			env(map[string]string{"CARTD_ADMIN_KEY": key}), &syncBuffer{}, stderr)
	}()
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	base := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; {
		if resp, err := client.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd exited %d before serving\n%s", code, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cartd did not serve within a minute\n%s", stderr)
		}
	}

	mustCall(t, client, 200, "PUT", base+"/v1/products/prod_e", key, map[string]any{"name": "E",
		"variants": []map[string]any{{"id": "var_E", "sku": "E", "price": map[string]int64{"USD": 500}}}})
	mustCall(t, client, 200, "PUT", base+"/v1/inventory/E", key, map[string]int64{"on_hand": 5})
	c := decodeCartBody(t, mustCall(t, client, 201, "POST", base+"/v1/carts", key, map[string]string{"currency": "USD"}))
	added := decodeCartBody(t, mustCall(t, client, 200, "POST", base+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "E", "quantity": 3}))

	type stock struct {
		Reserved  int64 `json:"reserved"`
		Available int64 `json:"available"`
	}
	var st stock
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := json.Unmarshal(mustCall(t, client, 200, "GET", base+"/v1/inventory/E", key, nil), &st); err != nil {
			t.Fatal(err)
		}
		if st.Reserved == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after a reservation of 1 s, E still has %d reserved\n%s", st.Reserved, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Available != 5 {
		t.Errorf("available = %d after the release, want 5", st.Available)
	}
	var after struct {
		Version   int64 `json:"version"`
		Expired   int64 `json:"expired"`
		ItemCount int64 `json:"item_count"`
		Items     []struct {
			Expired          bool  `json:"expired"`
			Quantity         int64 `json:"quantity"`
			ReservedQuantity int64 `json:"reserved_quantity"`
		} `json:"items"`
	}
	if err := json.Unmarshal(mustCall(t, client, 200, "GET", base+"/v1/carts/"+c.ID, key, nil), &after); err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != 1 || !after.Items[0].Expired || after.Items[0].Quantity != 3 || after.Items[0].ReservedQuantity != 0 {
		t.Errorf("the cart's item after the sweep: %+v, want 3 units, expired, holding nothing", after.Items)
	}
	if after.Expired != 3 || after.ItemCount != 0 || after.Version != added.Version+1 {
		t.Errorf("the cart after the sweep: expired %d, item_count %d, version %d (was %d); want 3, 0, one more",
			after.Expired, after.ItemCount, after.Version, added.Version)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("cartd exited %d\n%s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cartd did not stop within 30s of its context ending")
	}
}
