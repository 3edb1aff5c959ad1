package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// env returns a getenv over a fixed environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// syncBuffer is a bytes.Buffer that run's goroutine may write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunMigrateThenCreateKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cartd.db")
	var out, errs bytes.Buffer
	if code := run(ctx, []string{"migrate", "--create", "--db", "sqlite:" + path}, env(nil), &out, &errs); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("migrate printed %q", out.String())
	}

	out.Reset()
	if code := run(ctx, []string{"keys", "create", "--db", "sqlite:" + path, "--scopes", "carts:read"}, env(nil), &out, &errs); code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errs.String())
	}
	key := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^sk_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("keys create printed %q, want one sk_ key of 32 random bytes", out.String())
	}

	// The key exists in that database with exactly the scope asked for.
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := engine.New(st, engine.Config{}).Authenticate(ctx, key)
	if err != nil {
		t.Fatalf("the printed key does not authenticate: %v", err)
	}
	if !p.Can(auth.CartsRead) || p.Can(auth.CartsWrite) || p.Can(auth.Admin) {
		t.Errorf("the key's principal is %+v, want carts:read only", p)
	}
}

func TestRunRefusesBadInvocations(t *testing.T) {
	t.Chdir(t.TempDir()) // nothing here may create ./cartd.db where the tests run
	db := "sqlite:" + filepath.Join(t.TempDir(), "cartd.db")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"a durability that is neither normal nor full", []string{"--durability", "sometimes", "--db", db}, nil, "--durability must be normal or full"},
		{"a negative reservation ttl", []string{"--reservation-ttl", "-1s", "--db", db}, nil, "--reservation-ttl must not be negative"},
		{"a reservation ttl that is no duration", []string{"--db", db}, map[string]string{"CARTD_RESERVATION_TTL": "soon"}, "CARTD_RESERVATION_TTL"},
		{"a negative pool size", []string{"--db-max-conns", "-1", "--db", db}, nil, "--db-max-conns must be between 0 and"},
		{"a pool size that is no number", []string{"--db", db}, map[string]string{"CARTD_DB_MAX_CONNS": "many"}, "CARTD_DB_MAX_CONNS"},
		{"no stock bucket", []string{"--stock-buckets", "0", "--db", db}, nil, "--stock-buckets must be between 1 and 64"},
		{"more stock buckets than allowed", []string{"--stock-buckets", "65", "--db", db}, nil, "--stock-buckets must be between 1 and 64"},
		{"a stock bucket count that is no number", []string{"--db", db}, map[string]string{"CARTD_STOCK_BUCKETS": "some"}, "CARTD_STOCK_BUCKETS"},
		{"a PostgreSQL server that does not answer", []string{"migrate", "--db", "postgres://cartd:secret@127.0.0.1:1/cartd?connect_timeout=5"}, nil, "postgres: open"},
		{"a negative sweep interval", []string{"--sweep-interval", "-1s", "--db", db}, nil, "--sweep-interval must not be negative"},
		{"a sweep interval that is no duration", []string{"--db", db}, map[string]string{"CARTD_SWEEP_INTERVAL": "often"}, "CARTD_SWEEP_INTERVAL"},
		{"a database of an unknown kind", []string{"migrate", "--db", "mysql://localhost/cartd"}, nil, "want sqlite:PATH"},
		{"keys create with an unknown scope", []string{"keys", "create", "--db", db, "--scopes", "carts:fly"}, nil, `unknown scope "carts:fly"`},
		{"keys create without scopes", []string{"keys", "create", "--db", db}, nil, "no scopes given"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" exits 1 with a message", func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), tt.args, env(tt.env), &out, &errs)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errs.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", errs.String(), tt.want)
			}
		})
	}
	if _, err := os.Stat("cartd.db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused invocation created ./cartd.db (%v)", err)
	}
}

// TestRunDemoServesWhatItPrints runs `cartd --demo` as a new user would, in a fresh working
// directory, and sends the request of the curl line it prints.
func TestRunDemoServesWhatItPrints(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"--demo", "--addr", addr}, env(nil), stdout, stderr) }()

	var curl string
	deadline := time.After(2 * time.Minute)
	for curl == "" {
		for line := range strings.Lines(stdout.String()) {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "curl ") && strings.HasSuffix(line, "\n") {
				curl = l
			}
		}
		if curl != "" {
			break
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd --demo exited %d before printing a curl line\nstdout: %s\nstderr: %s", code, stdout, stderr)
		case <-deadline:
			t.Fatalf("cartd --demo printed no curl line\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`admin API key: (sk_\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "cartd.db")); err != nil {
		t.Errorf("the demo database is not ./cartd.db: %v", err)
	}

	req, err := curlRequest(curl)
	if err != nil {
		t.Fatalf("%v: %s", err, curl)
	}
	if req.URL.Host != addr {
		t.Errorf("the curl line targets %s, the server listens on %s", req.URL.Host, addr)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+m[1] {
		t.Errorf("the curl line authenticates with %q, not the printed key %s", got, m[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		ID    string `json:"id"`
		Items []struct {
			SKU       string `json:"sku"`
			Quantity  int64  `json:"quantity"`
			UnitPrice int64  `json:"unit_price"`
		} `json:"items"`
		Total int64 `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("the curl line's request got %d", resp.StatusCode)
	}
	if !strings.Contains(req.URL.Path, "/"+c.ID+"/") || len(c.Items) != 1 || c.Items[0].SKU != "CABLE-USBC-1M" || c.Items[0].Quantity != 10 {
		t.Errorf("the curl line's request answered cart %+v", c)
	}
	if c.Items[0].UnitPrice != 1599 {
		t.Errorf("10 cables cost %d each, want the tier price 1599", c.Items[0].UnitPrice)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("cartd exited %d after its context ended, want 0\n%s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cartd did not stop within 30s of its context ending")
	}
}

// curlRequest builds the request a curl command line describes, for the options the demo
// prints (-s, -X, -H, -d), without needing a curl binary.
func curlRequest(line string) (*http.Request, error) {
	words, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 || words[0] != "curl" {
		return nil, errors.New("not a curl command")
	}
	method, url, body := "", "", ""
	var headers []string
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch w {
		case "-s", "--silent":
			continue
		case "-X", "--request", "-H", "--header", "-d", "--data":
			if i+1 == len(words) {
				return nil, errors.New(w + " without a value")
			}
			i++
			switch w {
			case "-X", "--request":
				method = words[i]
			case "-H", "--header":
				headers = append(headers, words[i])
			default:
				body = words[i]
			}
		default:
			if strings.HasPrefix(w, "-") || url != "" {
				return nil, errors.New("unexpected curl argument " + w)
			}
			url = w
		}
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST"
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, errors.New("bad header " + h)
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return req, nil
}

// shellWords splits a POSIX shell command line into words: blanks separate, single quotes
// keep everything literally, double quotes keep all but \" \\ \$ \`, a backslash outside
// quotes escapes the next character.
func shellWords(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; ch {
		case ' ', '\t', '\n':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
		case '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i, in = i+1+end, true
		case '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New("unterminated double quote")
			}
			in = true
		case '\\':
			if i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
			}
			in = true
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
