package main

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
)

// TestSystemdUnitStartsAValidServe parses the ExecStart of deploy/cartd.service as serve's
// flags, so that the example cannot drift from the flags cartd has; and checks that it drains
// on SIGTERM within the stop timeout.
func TestSystemdUnitStartsAValidServe(t *testing.T) {
	unit := readLines(t, "../../deploy/cartd.service")
	exec := directive(t, unit, "ExecStart")
	words := strings.Fields(exec)
	if len(words) < 2 || !strings.HasSuffix(words[0], "/cartd") || words[1] != "serve" {
		t.Fatalf("ExecStart=%s: want /PATH/cartd serve FLAGS", exec)
	}
	c, _, err := parseConfig("serve", words[2:], env(nil), io.Discard)
	if err != nil {
		t.Fatalf("ExecStart's flags do not parse: %v", err)
	}
	if c.limits.shutdownDrain <= 0 {
		t.Error("the unit sets no --shutdown-drain: a load balancer polling /readyz would not see the node leave")
	}
	if directive(t, unit, "KillSignal") != "SIGTERM" {
		t.Error("the unit does not stop cartd with SIGTERM")
	}
}

// TestDockerfileEnvironmentAndHealthcheck reads the Dockerfile's ENV as cartd's environment
// (no Docker engine runs on the machines the tests run on: the image itself is not built
// here), and checks that its HEALTHCHECK runs cartd's healthcheck command at the address
// serve listens on.
func TestDockerfileEnvironmentAndHealthcheck(t *testing.T) {
	lines := readLines(t, "../../Dockerfile")
	vars := map[string]string{}
	var health, user string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case strings.HasPrefix(l, "ENV "):
			for _, kv := range strings.Fields(strings.TrimPrefix(l, "ENV ")) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
		case strings.HasPrefix(l, "HEALTHCHECK "):
			health = l
		case strings.HasPrefix(l, "USER "):
			user = strings.TrimPrefix(l, "USER ")
		}
	}
	if _, _, err := parseConfig("serve", nil, env(vars), io.Discard); err != nil {
		t.Errorf("the image's environment does not configure serve: %v", err)
	}
	if !strings.Contains(health, `CMD ["/cartd", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK does not run cartd healthcheck: %q", health)
	}
	if got := readyURL(vars["CARTD_ADDR"]); got != "http://127.0.0.1:8080/readyz" {
		t.Errorf("the healthcheck would GET %s", got)
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("the image runs as %q, want a non-root user", user)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func directive(t *testing.T, lines []string, name string) string {
	t.Helper()
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= line", name)
	return ""
}
