package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLI runs cartd with args in an empty environment and returns its exit code and output.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = run(context.Background(), args, env(nil), &out, &errs)
	return code, out.String(), errs.String()
}

func TestHelpExitsZeroAndShowsOnlyTheCommandsOwnFlags(t *testing.T) {
	t.Chdir(t.TempDir()) // no help may create ./cartd.db
	tests := []struct {
		args    []string
		want    []string // in stdout
		notWant []string // flags of other commands
	}{
		{[]string{"--help"}, []string{"usage: cartd [serve]", "migrate", "healthcheck", "version"}, nil},
		{[]string{"-h"}, []string{"usage: cartd [serve]"}, nil},
		{[]string{"help"}, []string{"usage: cartd [serve]", "keys"}, nil},
		{[]string{"serve", "--help"}, []string{"usage: cartd [serve] [flags]", "-addr", "-shutdown-drain", "CARTD_ADDR"}, []string{"-scopes", "-create"}},
		{[]string{"--addr", "127.0.0.1:0", "-h"}, []string{"usage: cartd [serve] [flags]", "-reservation-ttl"}, nil},
		{[]string{"help", "serve"}, []string{"usage: cartd [serve] [flags]", "-durability"}, nil},
		{[]string{"migrate", "--help"}, []string{"usage: cartd migrate", "-db", "-create", "CARTD_DB"}, []string{"-addr", "-reservation-ttl", "-durability"}},
		{[]string{"help", "migrate"}, []string{"usage: cartd migrate", "-create"}, []string{"-addr"}},
		{[]string{"keys", "--help"}, []string{"cartd keys create", "cartd keys list", "cartd keys revoke"}, []string{"-addr"}},
		{[]string{"keys", "create", "-h"}, []string{"usage: cartd keys create", "-scopes", "-label", "-db"}, []string{"-addr", "-format"}},
		{[]string{"help", "keys", "create"}, []string{"usage: cartd keys create", "-scopes"}, nil},
		{[]string{"keys", "list", "--help"}, []string{"usage: cartd keys list", "-db"}, []string{"-scopes", "-addr"}},
		{[]string{"keys", "revoke", "--help"}, []string{"usage: cartd keys revoke ID", "-db"}, []string{"-scopes", "-addr"}},
		{[]string{"import", "--help"}, []string{"usage: cartd import", "-format", "-batch", "-db"}, []string{"-addr", "-scopes"}},
		{[]string{"backup", "--help"}, []string{"usage: cartd backup FILE", "-db"}, []string{"-addr", "-format"}},
		{[]string{"healthcheck", "--help"}, []string{"usage: cartd healthcheck", "-url", "-timeout"}, []string{"-addr", "-db"}},
		{[]string{"version", "--help"}, []string{"usage: cartd version"}, []string{"-addr", "-db"}},
		{[]string{"help", "help"}, []string{"usage: cartd [serve]"}, nil},
	}
	for _, tt := range tests {
		t.Run("cartd "+strings.Join(tt.args, " ")+" prints its usage and exits 0", func(t *testing.T) {
			code, out, errs := runCLI(tt.args...)
			if code != 0 {
				t.Errorf("exit %d, want 0; stderr: %s", code, errs)
			}
			if errs != "" {
				t.Errorf("help wrote to stderr: %q", errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not show %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(w) + `\b`).MatchString(out) {
					t.Errorf("stdout lists another command's flag %q:\n%s", w, out)
				}
			}
		})
	}
	if _, err := os.Stat("cartd.db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a help created ./cartd.db (%v)", err)
	}
}

func TestCommandLineMistakesExitTwoWithAOneLineHint(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		args []string
		want string // the whole of stderr
	}{
		{[]string{"--frobnicate"}, "cartd: flag provided but not defined: -frobnicate (run 'cartd serve --help' for usage)\n"},
		{[]string{"serve", "--addr"}, "cartd: flag needs an argument: -addr (run 'cartd serve --help' for usage)\n"},
		{[]string{"serve", "extra"}, "cartd: unexpected argument \"extra\" (run 'cartd serve --help' for usage)\n"},
		{[]string{"--reservation-ttl", "soon"}, "cartd: invalid value \"soon\" for flag -reservation-ttl: parse error (run 'cartd serve --help' for usage)\n"},
		{[]string{"migrate", "--frobnicate"}, "cartd: flag provided but not defined: -frobnicate (run 'cartd migrate --help' for usage)\n"},
		{[]string{"migrate", "--addr", "127.0.0.1:0"}, "cartd: flag provided but not defined: -addr (run 'cartd migrate --help' for usage)\n"},
		{[]string{"keys", "list", "--all"}, "cartd: flag provided but not defined: -all (run 'cartd keys list --help' for usage)\n"},
		{[]string{"keys", "create", "--scopes"}, "cartd: flag needs an argument: -scopes (run 'cartd keys create --help' for usage)\n"},
		{[]string{"keys"}, "cartd: keys needs a subcommand: create, list or revoke (run 'cartd keys --help' for usage)\n"},
		{[]string{"keys", "rotate"}, "cartd: unknown keys subcommand \"rotate\" (want create, list or revoke) (run 'cartd keys --help' for usage)\n"},
		{[]string{"import", "--batch", "many", "x.csv"}, "cartd: invalid value \"many\" for flag -batch: parse error (run 'cartd import --help' for usage)\n"},
		{[]string{"backup", "--to", "x"}, "cartd: flag provided but not defined: -to (run 'cartd backup --help' for usage)\n"},
		{[]string{"version", "--json"}, "cartd: flag provided but not defined: -json (run 'cartd version --help' for usage)\n"},
		{[]string{"frobnicate"}, "cartd: unknown command \"frobnicate\" (run 'cartd help' for usage)\n"},
		{[]string{"help", "frobnicate"}, "cartd: unknown command \"frobnicate\" (run 'cartd help' for usage)\n"},
	}
	for _, tt := range tests {
		t.Run("cartd "+strings.Join(tt.args, " ")+" exits 2", func(t *testing.T) {
			code, out, errs := runCLI(tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if errs != tt.want {
				t.Errorf("stderr:\n%q\nwant:\n%q", errs, tt.want)
			}
			if out != "" {
				t.Errorf("stdout: %q, want nothing", out)
			}
		})
	}
	if _, err := os.Stat("cartd.db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused command line created ./cartd.db (%v)", err)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCLI(args...)
		if code != 0 || errs != "" {
			t.Errorf("cartd %s: exit %d, stderr %q", args[0], code, errs)
		}
		// A test binary has no VCS stamp: version "(devel)" or a module version.
		if !regexp.MustCompile(`^cartd \S+ \(commit \S+, built \S+, go1\.\d+\S* \w+/\w+\)\n$`).MatchString(out) {
			t.Errorf("cartd %s printed %q", args[0], out)
		}
	}
}

// TestOperatorCommandsRefuseAMissingSQLiteFile: a typo in --db must not leave a new database
// behind and act on it.
func TestOperatorCommandsRefuseAMissingSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	csv := writeFile(t, "c.csv", "sku,on_hand\nA,1\n")
	for _, args := range [][]string{
		{"keys", "list"},
		{"keys", "create", "--scopes", "admin"},
		{"keys", "revoke", "1"},
		{"import", csv},
		{"backup", filepath.Join(dir, "out.db")},
		{"migrate"},
	} {
		t.Run("cartd "+strings.Join(args, " ")+" exits 1 naming the path", func(t *testing.T) {
			code, _, errs := runCLI(append(args, "--db", "sqlite:"+missing)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errs, "no database at "+missing) {
				t.Errorf("stderr %q does not name %s", errs, missing)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				t.Errorf("left %s behind", e.Name())
			}
		})
	}
	t.Run("migrate --create makes the database", func(t *testing.T) {
		if code, out, errs := runCLI("migrate", "--create", "--db", "sqlite:"+missing); code != 0 || !strings.Contains(out, "up to date") {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
		if code, out, errs := runCLI("keys", "list", "--db", "sqlite:"+missing); code != 0 || !strings.HasPrefix(out, "ID") {
			t.Errorf("keys list on the new database: exit %d: %s%s", code, out, errs)
		}
	})
}

func TestHealthcheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cartd.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--addr", addr, "--db", "sqlite:" + path}, env(nil), stdout, stderr)
	}()
	t.Cleanup(func() { cancel(); <-exited })
	waitReady(t, "http://"+addr, exited, stderr)

	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, env(map[string]string{"CARTD_ADDR": addr}), &out, &errs); code != 0 {
		t.Errorf("healthcheck of a ready cartd (CARTD_ADDR=%s): exit %d: %s", addr, code, errs.String())
	}
	if code, out, errs := runCLI("healthcheck", "--url", "http://"+addr+"/readyz"); code != 0 || !strings.Contains(out, "200") {
		t.Errorf("healthcheck --url: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs := runCLI("healthcheck", "--url", "http://"+addr+"/nope"); code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("healthcheck of a 404: exit %d, stderr %q; want 1 naming the status", code, errs)
	}
	cancel()
	<-exited
	exited <- 0 // for the cleanup
	if code, _, errs := runCLI("healthcheck", "--url", "http://"+addr+"/readyz", "--timeout", "5s"); code != 1 || errs == "" {
		t.Errorf("healthcheck of a stopped cartd: exit %d, stderr %q; want 1", code, errs)
	}
}

func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/readyz",
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://[::1]:8080/readyz",
		"cartd:8080":     "http://cartd:8080/readyz",
	} {
		if got := readyURL(addr); got != want {
			t.Errorf("readyURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// waitReady waits until the cartd at base answers /readyz with 200.
func waitReady(t *testing.T, base string, exited <-chan int, stderr *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd exited %d: %s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cartd at %s not ready: %v\n%s", base, err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeNamesItsBuild: the start-up log line and the cartd_build_info metric say which
// build runs, as cartd version does.
func TestServeNamesItsBuild(t *testing.T) {
	s := startServed(t, nil)
	resp, err := s.client.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if !regexp.MustCompile(`(?m)^cartd_build_info\{commit="[^"]+",date="[^"]+",go_version="go1\.[^"]+",version="[^"]+"\} 1$`).MatchString(body.String()) {
		t.Errorf("no cartd_build_info in /metrics:\n%s", body.String())
	}
	if !regexp.MustCompile(`"msg":"cartd starting","version":"[^"]+","commit":"[^"]+","date":"[^"]+","go":"go1\.`).MatchString(s.stderr.String()) {
		t.Errorf("no start-up line naming the build:\n%s", s.stderr)
	}
}
