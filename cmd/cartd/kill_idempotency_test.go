package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
)

// mustCallKeyed sends a JSON body with an Idempotency-Key and returns the whole answer; any
// other status than want fails the test.
func mustCallKeyed(t *testing.T, c *http.Client, want int, method, url, key, idemKey string, body any) (http.Header, []byte) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, out)
	}
	return resp.Header, out
}

// An acknowledged call's idempotency record is as durable as its change: after kill -9 and a
// restart, a retry of the call is answered from the record, and the change is not made twice.
func TestKill9KeepsIdempotencyRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary and kills it; skipped with -short")
	}
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := startCartd(t, bin, db, "normal", key)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	mustCall(t, client, 200, "PUT", p.URL+"/v1/products/prod_idem", key, map[string]any{"name": "Idempotency",
		"variants": []map[string]any{{"id": "var_IDEM-1", "sku": "IDEM-1", "price": map[string]int64{"USD": 500}}}})
	mustCall(t, client, 200, "PUT", p.URL+"/v1/inventory/IDEM-1", key, map[string]int64{"on_hand": 100})
	c := decodeCartBody(t, mustCall(t, client, 201, "POST", p.URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
	c = decodeCartBody(t, mustCall(t, client, 200, "POST", p.URL+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "IDEM-1", "quantity": 1}))
	item, _ := c.quantity("IDEM-1")
	url := p.URL + "/v1/carts/" + c.ID + "/items/" + item.ID
	delta := map[string]int64{"quantity_delta": 1}

	header, body := mustCallKeyed(t, client, 200, "PATCH", url, key, "before-the-kill", delta)
	if got := header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("the first call has Idempotent-Replayed: %q", got)
	}
	applied := decodeCartBody(t, body)
	if it, _ := applied.quantity("IDEM-1"); it.Quantity != 2 {
		t.Fatalf("quantity %d after +1, want 2", it.Quantity)
	}

	p.kill()
	client.CloseIdleConnections()
	p = startCartd(t, bin, db, "normal", key)
	url = p.URL + "/v1/carts/" + c.ID + "/items/" + item.ID

	retryHeader, retryBody := mustCallKeyed(t, client, 200, "PATCH", url, key, "before-the-kill", delta)
	if got := retryHeader.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("the retry after the restart has Idempotent-Replayed: %q, want true", got)
	}
	if !bytes.Equal(retryBody, body) {
		t.Errorf("the retry's body differs from the first call's\nfirst: %s\nretry: %s", body, retryBody)
	}
	if got, want := retryHeader.Get("ETag"), header.Get("ETag"); got != want {
		t.Errorf("the retry's ETag is %s, the first call's %s", got, want)
	}
	after := decodeCartBody(t, mustCall(t, client, 200, "GET", p.URL+"/v1/carts/"+c.ID, key, nil))
	if it, _ := after.quantity("IDEM-1"); it.Quantity != 2 || after.Version != applied.Version {
		t.Errorf("after the retry: quantity %d at version %d, want 2 at %d (applied once)", it.Quantity, after.Version, applied.Version)
	}
	var st struct {
		Reserved int64 `json:"reserved"`
	}
	if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/inventory/IDEM-1", key, nil), &st); err != nil {
		t.Fatal(err)
	}
	if st.Reserved != 2 {
		t.Errorf("IDEM-1 reserved %d after the retry, want 2", st.Reserved)
	}
	p.stop(t)
}
