package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/catalogimport"
	"github.com/cartd/cartd/store/sqlite"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openEngine opens the database a command wrote, for the test to read it.
func openEngine(t *testing.T, path string) *engine.Engine {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return engine.New(st, engine.Config{})
}

func TestRunImport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cartd.db")
	db := "sqlite:" + path
	mustRun(t, "migrate", "--create", "--db", db)
	mixed := writeFile(t, "catalog.csv", strings.Join([]string{
		"product_id,product_name,variant_id,sku,price_USD,on_hand",
		"p1,One,v1,S1,100,5",
		"p2,Two,v2,S2,1.00,5",
		"p3,Three,v3,S3,300,-1",
		"p4,Four,v4,S4,400,9",
	}, "\n"))

	var out, errs bytes.Buffer
	// Flags may follow FILE.
	if code := run(ctx, []string{"import", mixed, "--db", db, "--batch", "2"}, env(nil), &out, &errs); code != 2 {
		t.Fatalf("exit %d, want 2 for bad rows; stderr: %s", code, errs.String())
	}
	for _, want := range []string{"line 3: price_USD must be a whole number", "line 4: on_hand of S3 must be between 0 and"} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs.String())
		}
	}
	if want := "4 rows: 2 imported, 0 unchanged, 2 bad"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout %q does not say %q", out.String(), want)
	}

	eng := openEngine(t, path)
	admin := operator()
	for sku, want := range map[string]int64{"S1": 5, "S2": 0, "S3": 0, "S4": 9} {
		st, err := eng.Inventory(ctx, admin, sku)
		if err != nil || st.OnHand != want {
			t.Errorf("stock of %s: %d (%v), want %d", sku, st.OnHand, err, want)
		}
	}
	if _, err := eng.Product(ctx, admin, "p2"); cart.ErrorCode(err) != cart.NotFound {
		t.Errorf("the product of a bad row: %v", err)
	}
	p1, err := eng.Product(ctx, admin, "p1")
	if err != nil {
		t.Fatal(err)
	}

	out.Reset()
	errs.Reset()
	good := writeFile(t, "good.txt", "{\"type\":\"product\",\"id\":\"p1\",\"name\":\"One\",\"variants\":[{\"id\":\"v1\",\"sku\":\"S1\",\"price\":{\"USD\":100},\"on_hand\":5}]}\n")
	if code := run(ctx, []string{"import", "--db", db, "--format", "ndjson", good}, env(nil), &out, &errs); code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", code, errs.String())
	}
	if want := "1 rows: 0 imported, 1 unchanged, 0 bad"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout %q does not say %q", out.String(), want)
	}
	again, err := eng.Product(ctx, admin, "p1")
	if err != nil || !again.UpdatedAt.Equal(p1.UpdatedAt) {
		t.Errorf("re-import rewrote p1: %v -> %v (%v)", p1.UpdatedAt, again.UpdatedAt, err)
	}

	t.Run("CARTD_DB names the database", func(t *testing.T) {
		var out, errs bytes.Buffer
		stock := writeFile(t, "stock.csv", "sku,on_hand\nS1,6\n")
		if code := run(ctx, []string{"import", stock}, env(map[string]string{"CARTD_DB": db}), &out, &errs); code != 0 {
			t.Fatalf("exit %d; stderr: %s", code, errs.String())
		}
		if st, err := eng.Inventory(ctx, admin, "S1"); err != nil || st.OnHand != 6 {
			t.Fatalf("S1: %+v (%v)", st, err)
		}
	})
}

func TestRunImportRefusals(t *testing.T) {
	t.Chdir(t.TempDir())
	db := "sqlite:" + filepath.Join(t.TempDir(), "cartd.db")
	mustRun(t, "migrate", "--create", "--db", db)
	csv := writeFile(t, "c.csv", "sku,on_hand\nA,1\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"import", "--db", db}, "exactly one FILE"},
		{"two files", []string{"import", "--db", db, csv, csv}, "exactly one FILE"},
		{"a file of no known format", []string{"import", "--db", db, writeFile(t, "c.txt", "x")}, "give --format ndjson or csv"},
		{"an unknown format", []string{"import", "--db", db, "--format", "xml", csv}, `format "xml"`},
		{"a batch of 0", []string{"import", "--db", db, "--batch", "0", csv}, "--batch must be 1 to"},
		{"a missing file", []string{"import", "--db", db, filepath.Join(t.TempDir(), "nope.csv")}, "no such file"},
		{"a bad header", []string{"import", "--db", db, writeFile(t, "h.csv", "sku,colour\n")}, `line 1: unknown column "colour"`},
		{"an empty file", []string{"import", "--db", db, writeFile(t, "e.ndjson", "")}, "the import is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" exits 1", func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), tt.args, env(nil), &out, &errs); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errs.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", errs.String(), tt.want)
			}
		})
	}
}

func TestImportProgress(t *testing.T) {
	t.Run("the bar", func(t *testing.T) {
		for _, tt := range []struct {
			done, total, width int
			want               string
		}{
			{0, 100, 10, "[          ]"},
			{50, 100, 10, "[====>     ]"},
			{99, 100, 10, "[========> ]"},
			{100, 100, 10, "[==========]"},
			{7, 0, 10, "[          ]"},
			{5, 10, 2, "[====>     ]"}, // at least 10 cells
		} {
			if got := bar(tt.done, tt.total, tt.width); got != tt.want {
				t.Errorf("bar(%d, %d, %d) = %q, want %q", tt.done, tt.total, tt.width, got, tt.want)
			}
		}
	})
	t.Run("plain lines every 10,000 rows or 5 seconds", func(t *testing.T) {
		var w bytes.Buffer
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		p := newProgress(&w, 30000, func() time.Time { return now })
		sum := func(rows int) { p.last.Rows = rows; p.update(p.last) }
		sum(500)   // nothing yet
		sum(10000) // 10,000 rows
		now = now.Add(time.Second)
		sum(12000) // nothing
		now = now.Add(5 * time.Second)
		sum(13000) // 5 seconds
		p.badLine(catalogimport.LineError{Line: 7, Code: "invalid_value", Message: "bad"})
		p.done(p.last)
		want := "10000/30000 rows  0 rows/s  0 bad\n13000/30000 rows  2167 rows/s  0 bad\nline 7: bad\n"
		if got := w.String(); got != want {
			t.Errorf("progress wrote %q, want %q", got, want)
		}
	})
}

// TestImportWhileServing imports a catalog with the cartd binary into the SQLite file a
// running cartd serves, while clients change carts through it: both go on, the server's
// writes waiting for the import's batches, and nothing fails.
func TestImportWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cartd binary; skipped with -short")
	}
	bin := buildCartd(t)
	db := filepath.Join(t.TempDir(), "cartd.db")
	key := auth.NewSecret(auth.KeyPrefix)
	p := startCartd(t, bin, db, "normal", key)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	mustCall(t, client, 200, "PUT", p.URL+"/v1/products/prod_load", key, map[string]any{"name": "Load",
		"variants": []any{map[string]any{"id": "var_load", "sku": "LOAD", "price": map[string]int64{"USD": 100}}}})
	mustCall(t, client, 200, "PUT", p.URL+"/v1/inventory/LOAD", key, map[string]int64{"on_hand": 1000000})

	const products = 1500
	var csv strings.Builder
	csv.WriteString("product_id,product_name,variant_id,sku,price_USD,on_hand\n")
	// The product the carts use, as it is, with more stock: a server that kept the stock row
	// it read before the import would write the old count back at its next change.
	csv.WriteString("prod_load,Load,var_load,LOAD,100,2000000\n")
	for i := range products {
		for _, size := range []string{"S", "M"} {
			fmt.Fprintf(&csv, "p%d,Product %d,v%d%s,SKU-%d-%s,%d,%d\n", i, i, i, size, i, size, 100+i, i%7)
		}
	}
	file := writeFile(t, "catalog.csv", csv.String())

	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		added    int
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := call(client, "POST", p.URL+"/v1/carts", key, map[string]string{"currency": "USD"})
			if err != nil || code != 201 {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("worker %d: create cart: %d %v %s", w, code, err, body))
				mu.Unlock()
				return
			}
			c := decodeCartBody(t, body)
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := call(client, "POST", p.URL+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "LOAD", "quantity": 1})
				mu.Lock()
				if err != nil || code != 200 {
					failures = append(failures, fmt.Sprintf("add: %d %v %s", code, err, body))
				} else {
					added++
				}
				mu.Unlock()
			}
		}()
	}

	cmd := exec.Command(bin, "import", "--db", "sqlite:"+db, "--batch", "100", file)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("cartd import: %v\nstdout: %s\nstderr: %s", err, out.String(), errs.String())
	}
	if want := fmt.Sprintf("%d rows: %d imported, 0 unchanged, 0 bad", 2*products+1, 2*products+1); !strings.Contains(out.String(), want) {
		t.Errorf("import printed %q, want %q", out.String(), want)
	}
	if len(failures) > 0 {
		t.Fatalf("%d cart calls failed while the import ran, the first: %s", len(failures), failures[0])
	}
	if added == 0 {
		t.Fatal("no cart call got through while the import ran")
	}
	t.Logf("%d adds to carts while the import ran", added)
	// The server sees what the import wrote.
	for _, sku := range []string{"SKU-0-S", fmt.Sprintf("SKU-%d-M", products-1)} {
		var st struct {
			OnHand int64 `json:"on_hand"`
		}
		if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/inventory/"+sku, key, nil), &st); err != nil {
			t.Fatal(err)
		}
		if want := int64((products - 1) % 7); sku != "SKU-0-S" && st.OnHand != want {
			t.Errorf("%s on_hand %d, want %d", sku, st.OnHand, want)
		}
	}
	mustCall(t, client, 200, "GET", p.URL+"/v1/products/p0", key, nil)

	c := decodeCartBody(t, mustCall(t, client, 201, "POST", p.URL+"/v1/carts", key, map[string]string{"currency": "USD"}))
	mustCall(t, client, 200, "POST", p.URL+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "LOAD", "quantity": 1})
	var load struct {
		OnHand   int64 `json:"on_hand"`
		Reserved int64 `json:"reserved"`
	}
	if err := json.Unmarshal(mustCall(t, client, 200, "GET", p.URL+"/v1/inventory/LOAD", key, nil), &load); err != nil {
		t.Fatal(err)
	}
	if load.OnHand != 2000000 || load.Reserved != int64(added)+1 {
		t.Fatalf("LOAD after the import and one more add: %+v, want on_hand 2000000 and %d reserved", load, added+1)
	}
	p.stop(t)
}
