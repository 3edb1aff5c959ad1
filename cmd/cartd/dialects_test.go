package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunDemoServesTheDialects runs `cartd --demo` with a public URL and sends the SourceHub
// and eBay requests of the curl lines it prints: each dialect answers on its seed's path, in
// its seed's shape, and eBay's links start with the public URL.
func TestRunDemoServesTheDialects(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--demo", "--addr", addr, "--public-url", "https://shop.example/"}, env(nil), stdout, stderr)
	}()

	lines := map[string]string{}
	deadline := time.After(2 * time.Minute)
	for lines["eBay"] == "" {
		for line := range strings.Lines(stdout.String()) {
			if name, curl, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasSuffix(line, "\n") && (name == "SourceHub" || name == "eBay") {
				lines[name] = strings.TrimSpace(curl)
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd --demo exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		case <-deadline:
			t.Fatalf("cartd --demo printed no dialect lines\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}

	send := func(curl string) map[string]any {
		t.Helper()
		req, err := curlRequest(curl)
		if err != nil {
			t.Fatalf("%v: %s", err, curl)
		}
		if req.URL.Host != addr {
			t.Errorf("%s targets %s, the server listens on %s", curl, req.URL.Host, addr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", curl, resp.StatusCode, body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	sh := send(lines["SourceHub"])
	if q := sh["data"].(map[string]any)["total_cart_quantity"]; q != 3.0 || sh["message"] != "Cart item quantity updated" {
		t.Errorf("SourceHub answered %v", sh)
	}
	eb := send(lines["eBay"])
	if q := eb["cartItems"].([]any)[0].(map[string]any)["quantity"]; q != 4.0 {
		t.Errorf("eBay answered %v", eb)
	}
	if u, _ := eb["cartWebUrl"].(string); !regexp.MustCompile(`^https://shop\.example/cart/cart_[0-9]+$`).MatchString(u) {
		t.Errorf("cartWebUrl = %q, want it under --public-url", u)
	}

	// Everything else is the native API's, in its own error shape; each dialect answers its
	// own unknown paths in its seed's.
	for path, want := range map[string]string{
		"/v1/nothing":                     `"code":"route_not_found"`,
		"/api/cart/nothing":               `"code":"NOT_FOUND"`,
		"/buy/browse/v1/shopping_cart/up": `"errorId":2004`,
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET %s: %d %s, want 404 with %s", path, resp.StatusCode, body, want)
		}
	}

	cancel()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("cartd did not stop within 30s of its context ending")
	}
}

func TestRunRefusesABadPublicURL(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, u := range []string{"shop.example", "ftp://shop.example", "https://", "https://shop.example/?a=1"} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"--public-url", u, "--db", "sqlite:cartd.db"}, env(nil), &out, &errs); code != 1 {
			t.Errorf("--public-url %q: exit %d, want 1", u, code)
		}
		if !strings.Contains(errs.String(), "--public-url must be") {
			t.Errorf("--public-url %q: stderr %q", u, errs.String())
		}
	}
}
