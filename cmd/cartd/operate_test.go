package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/sqlite"
)

// mustRun runs cartd with args and fails the test unless it exits 0; it returns stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	if code := run(context.Background(), args, env(nil), &out, &errs); code != 0 {
		t.Fatalf("cartd %s: exit %d: %s", strings.Join(args, " "), code, errs.String())
	}
	return out.String()
}

func TestRunKeysListAndRevoke(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cartd.db")
	db := "sqlite:" + path
	mustRun(t, "migrate", "--create", "--db", db)
	web := strings.TrimSpace(mustRun(t, "keys", "create", "--db", db, "--scopes", "carts:read,carts:write", "--label", "web"))
	ops := strings.TrimSpace(mustRun(t, "keys", "create", "--db", db, "--scopes", "admin"))

	list := mustRun(t, "keys", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^ID\s+LABEL\s+SCOPES\s+CREATED\s+REVOKED$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^1\s+web\s+carts:read,carts:write\s+\d{4}-\d\d-\d\dT\S+Z\s+-$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^2\s+-\s+admin\s+\S+\s+-$`).MatchString(lines[2]) {
		t.Errorf("keys list printed:\n%s", list)
	}
	for _, secret := range []string{web, ops} {
		h := auth.Hash(secret)
		for _, leak := range []string{secret, strings.TrimPrefix(secret, auth.KeyPrefix), hex.EncodeToString(h[:])} {
			if strings.Contains(list, leak) {
				t.Errorf("keys list shows a secret or its digest (%s):\n%s", leak, list)
			}
		}
	}

	// The revoked key stops authenticating; the other still does.
	out := mustRun(t, "keys", "revoke", "1", "--db", db)
	if !regexp.MustCompile(`^key 1 \(web\) revoked at \S+Z\n$`).MatchString(out) {
		t.Errorf("keys revoke printed %q", out)
	}
	again := mustRun(t, "keys", "revoke", "--db", db, "key:1")
	if again != out {
		t.Errorf("revoking again printed %q, want the first revocation's %q", again, out)
	}
	if list := mustRun(t, "keys", "list", "--db", db); !regexp.MustCompile(`(?m)^1\s+web\s+\S+\s+\S+Z\s+\S+Z$`).MatchString(list) {
		t.Errorf("keys list after the revocation:\n%s", list)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(st, engine.Config{})
	if _, err := eng.Authenticate(ctx, web); cart.ErrorCode(err) != cart.Unauthorized {
		t.Errorf("the revoked key authenticates: %v", err)
	}
	if _, err := eng.Authenticate(ctx, ops); err != nil {
		t.Errorf("the other key no longer authenticates: %v", err)
	}
}

func TestRunRefusesBadOperatorInvocations(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "cartd.db")
	db := "sqlite:" + path
	mustRun(t, "migrate", "--create", "--db", db)
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"keys revoke without an id", []string{"keys", "revoke", "--db", db}, nil, "usage: cartd keys revoke ID"},
		{"keys revoke of two ids", []string{"keys", "revoke", "1", "2", "--db", db}, nil, "usage: cartd keys revoke ID"},
		{"keys revoke of something not an id", []string{"keys", "revoke", "sk_abc", "--db", db}, nil, `"sk_abc" is not a key id`},
		{"keys revoke of an unknown key", []string{"keys", "revoke", "42", "--db", db}, nil, "API key 42 not found"},
		{"keys list with an argument", []string{"keys", "list", "all", "--db", db}, nil, "usage: cartd keys list"},
		{"backup without a file", []string{"backup", "--db", db}, nil, "usage: cartd backup FILE"},
		{"backup to two files", []string{"backup", "a.db", "b.db", "--db", db}, nil, "usage: cartd backup FILE"},
		{"backup of PostgreSQL", []string{"backup", "out.db", "--db", "postgres://cartd@127.0.0.1:1/cartd"}, nil, "pg_dump"},
		{"backup of a database that is not there", []string{"backup", "out.db", "--db", "sqlite:" + filepath.Join(dir, "nope.db")}, nil, "no database at"},
		{"backup over an existing file", []string{"backup", existing, "--db", db}, nil, "already exists"},
		{"a shutdown timeout of 0", []string{"--shutdown-timeout", "0s", "--db", db}, nil, "--shutdown-timeout must be positive"},
		{"a shutdown timeout that is no duration", []string{"--db", db}, map[string]string{"CARTD_SHUTDOWN_TIMEOUT": "soon"}, "CARTD_SHUTDOWN_TIMEOUT"},
		{"a negative guest cart ttl", []string{"--guest-cart-ttl", "-1h", "--db", db}, nil, "--guest-cart-ttl must not be negative"},
		{"a guest cart ttl that is no duration", []string{"--db", db}, map[string]string{"CARTD_GUEST_CART_TTL": "a month"}, "CARTD_GUEST_CART_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" exits 1 with a message", func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), tt.args, env(tt.env), &out, &errs); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errs.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", errs.String(), tt.want)
			}
		})
	}
	if raw, err := os.ReadFile(existing); err != nil || string(raw) != "keep me" {
		t.Errorf("the existing file now holds %q (%v)", raw, err)
	}
	for _, name := range []string{"out.db", "a.db", "cartd.db", filepath.Join(dir, "nope.db")} {
		if _, err := os.Stat(name); err == nil {
			t.Errorf("a refused invocation created %s", name)
		}
	}
}

// TestRunBackupWhileServing backs up the database of a serving cartd while clients write to
// it, and opens the copy: a complete database holding at least everything acknowledged before
// the backup began.
func TestRunBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cartd.db")
	addr := freeAddr(t)
	key := auth.NewSecret(auth.KeyPrefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--addr", addr, "--db", "sqlite:" + path},
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

	mustCall(t, client, 200, "PUT", base+"/v1/products/prod_b", key, map[string]any{"name": "B",
		"variants": []map[string]any{{"id": "var_B", "sku": "B", "price": map[string]int64{"USD": 500}}}})
	mustCall(t, client, 200, "PUT", base+"/v1/inventory/B", key, map[string]int64{"on_hand": 1000000})
	c := decodeCartBody(t, mustCall(t, client, 201, "POST", base+"/v1/carts", key, map[string]string{"currency": "USD"}))
	c = decodeCartBody(t, mustCall(t, client, 200, "POST", base+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "B", "quantity": 7}))
	item, _ := c.quantity("B")

	// Writers keep going while the backup runs.
	var (
		stop    atomic.Bool
		writers sync.WaitGroup
		acked   atomic.Int64
	)
	for range 4 {
		writers.Go(func() {
			for !stop.Load() {
				status, raw, err := call(client, "PATCH", base+"/v1/carts/"+c.ID+"/items/"+item.ID, key, map[string]int64{"quantity_delta": 1})
				if err != nil || status != 200 {
					t.Errorf("a write during the backup: %d %v %s", status, err, raw)
					return
				}
				acked.Add(1)
			}
		})
	}
	for acked.Load() < 20 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	before := acked.Load()
	file := filepath.Join(dir, "backup.db")
	out := mustRun(t, "backup", file, "--db", "sqlite:"+path)
	stop.Store(true)
	writers.Wait()
	if !strings.Contains(out, "backed up "+path+" to "+file) {
		t.Errorf("backup printed %q", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 { // the database, its -wal and -shm, the backup
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the directory holds %v after the backup, want the database's files and the backup only", names)
	}

	// The copy is a database cartd opens, with the cart as of some moment during the backup.
	st, err := sqlite.Open(context.Background(), file, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got cart.Cart
	var lines []cart.Line
	var stock cart.Stock
	num := mustCartNum(t, c.ID)
	err = st.Read(context.Background(), func(tx store.ReadTx) error {
		var err error
		if got, err = tx.Cart(context.Background(), num); err != nil {
			return err
		}
		if lines, err = tx.Lines(context.Background(), num); err != nil {
			return err
		}
		stock, err = tx.Stock(context.Background(), "B")
		return err
	})
	if err != nil {
		t.Fatalf("reading the backup: %v", err)
	}
	if len(lines) != 1 {
		t.Fatalf("the backed-up cart has %d lines, want 1", len(lines))
	}
	q := lines[0].Item.Quantity
	if q < 7+before || q > 7+acked.Load() {
		t.Errorf("the backed-up line holds %d units, want between %d (acknowledged before the backup) and %d", q, 7+before, 7+acked.Load())
	}
	// One consistent snapshot: the version counts the changes the line shows, and the stock
	// holds what the line holds.
	if got.Version != 2+(q-7) || lines[0].Item.ReservedQuantity != q || stock.Reserved != q {
		t.Errorf("backup not consistent: cart version %d, line quantity %d holding %d, stock reserved %d",
			got.Version, q, lines[0].Item.ReservedQuantity, stock.Reserved)
	}

	// A second backup to the same file is refused, and the server serves on.
	var errs bytes.Buffer
	if code := run(context.Background(), []string{"backup", file, "--db", "sqlite:" + path}, env(nil), &bytes.Buffer{}, &errs); code != 1 || !strings.Contains(errs.String(), "already exists") {
		t.Errorf("a second backup to %s: exit %d, %q", file, code, errs.String())
	}
	mustCall(t, client, 200, "GET", base+"/v1/carts/"+c.ID, key, nil)
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("cartd exited %d\n%s", code, stderr)
	}
}

// mustCartNum is the number in a cart id (cart_42).
func mustCartNum(t *testing.T, id string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscanf(id, "cart_%d", &n); err != nil {
		t.Fatalf("cart id %q: %v", id, err)
	}
	return n
}
