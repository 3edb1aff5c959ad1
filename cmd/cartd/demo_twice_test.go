package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// startDemoOn runs `cartd --demo` in the working directory until the test stops it, and returns
// what it printed once it printed its last line.
func startDemoOn(t *testing.T, addr string) (printed string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"--demo", "--addr", addr}, env(nil), stdout, stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if code := <-exited; code != 0 {
				t.Errorf("cartd --demo exited %d: %s", code, stderr)
			}
		})
	}
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(stdout.String(), "storefront:") || !strings.HasSuffix(stdout.String(), "\n") {
		select {
		case code := <-exited:
			t.Fatalf("cartd --demo exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		case <-deadline:
			stop()
			t.Fatalf("cartd --demo did not print its dialect lines\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return stdout.String(), stop
}

// TestDemoTwiceOnOneDatabase: a second `cartd --demo` on the same file leaves one working demo
// admin key, and prints the same cart and item ids, which work.
func TestDemoTwiceOnOneDatabase(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ids := regexp.MustCompile(`cart_\d+|ci_\d+`)
	keyOf := regexp.MustCompile(`admin API key: (sk_\S+)`)

	first, stop := startDemoOn(t, addr)
	stop()
	second, stop := startDemoOn(t, addr)
	defer stop()

	if a, b := ids.FindAllString(first, -1), ids.FindAllString(second, -1); strings.Join(a, " ") != strings.Join(b, " ") || len(a) < 3 {
		t.Errorf("the second demo printed ids %v, the first %v", b, a)
	}
	key1, key2 := keyOf.FindStringSubmatch(first)[1], keyOf.FindStringSubmatch(second)[1]
	if key1 == key2 {
		t.Fatal("both demos printed the same key")
	}
	cartID := ids.FindString(second)
	get := func(key string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/carts/"+cartID, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(key2); got != http.StatusOK {
		t.Errorf("GET %s with the key the second demo printed: %d", cartID, got)
	}
	if got := get(key1); got != http.StatusUnauthorized {
		t.Errorf("GET %s with the first demo's key: %d, want 401 (revoked)", cartID, got)
	}

	// Every dialect line the second demo printed works.
	for line := range strings.Lines(second) {
		l := strings.TrimSpace(line)
		if i := strings.Index(l, "curl "); i >= 0 && !strings.Contains(l, "storefront") {
			req, err := curlRequest(l[i:])
			if err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s\nanswered %d", l, resp.StatusCode)
			}
		}
	}
	stop()
	list := mustRun(t, "keys", "list", "--db", "sqlite:cartd.db")
	active := regexp.MustCompile(`(?m)^\d+\s+demo\s+admin\s+\S+\s+-$`).FindAllString(list, -1)
	if len(active) != 1 {
		t.Errorf("%d active demo admin keys, want 1:\n%s", len(active), list)
	}
}
