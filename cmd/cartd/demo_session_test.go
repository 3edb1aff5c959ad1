package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// TestRunDemoServesJackThreadsAndStorefront runs `cartd --demo` and sends the JackThreads and
// storefront requests of the curl lines it prints, the storefront's twice with one cookie jar,
// as the printed line's -c/-b cookies.txt does: the first add starts a session, the second
// adds to its cart.
func TestRunDemoServesJackThreadsAndStorefront(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"--demo", "--addr", addr}, env(nil), stdout, stderr) }()

	lines := map[string]string{}
	deadline := time.After(2 * time.Minute)
	for lines["storefront"] == "" {
		for line := range strings.Lines(stdout.String()) {
			if name, curl, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasSuffix(line, "\n") && (name == "JackThreads" || name == "storefront") {
				lines[name] = strings.TrimSpace(curl)
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd --demo exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		case <-deadline:
			t.Fatalf("cartd --demo printed no JackThreads and storefront lines\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	send := func(curl string) map[string]any {
		t.Helper()
		// curlRequest reads -s, -X, -H and -d; the cookie jar's flags are the client's.
		curl = strings.NewReplacer(" -c cookies.txt", "", " -b cookies.txt", "").Replace(curl)
		req, err := curlRequest(curl)
		if err != nil {
			t.Fatalf("%v: %s", err, curl)
		}
		if req.URL.Host != addr {
			t.Errorf("%s targets %s, the server listens on %s", curl, req.URL.Host, addr)
		}
		resp, err := client.Do(req)
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

	jt := send(lines["JackThreads"])
	if c, _ := jt["cart"].(map[string]any); jt["success"] != true || c == nil || c["qty"] != 5.0 {
		t.Errorf("JackThreads answered %v", jt)
	}
	sf := send(lines["storefront"])
	if sf["success"] != true || sf["message"] != "Item added to cart" {
		t.Errorf("storefront answered %v", sf)
	}
	sf = send(lines["storefront"])
	items, _ := sf["cart"].(map[string]any)["items"].([]any)
	if sf["message"] != "Quantity updated" || len(items) != 1 || items[0].(map[string]any)["quantity"] != 2.0 {
		t.Errorf("storefront's second add answered %v", sf)
	}

	cancel()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("cartd did not stop within 30s of its context ending")
	}
}
