package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The user documentation (README.md and docs/*.md) is written against `cartd --demo`, and
// TestDocsExamples holds it to that: each page gets a fresh demo of the real binary in a
// scratch directory, and its examples run in the order they appear.
//
//   - A ```sh block runs under bash (-e, pipefail) with the demo's address in place of
//     127.0.0.1:8080, $KEY set to the demo's admin key ("KEY=sk_..." in a block means it too),
//     $CARTD to its address, the built cartd first on PATH, and
//     curl failing on any 4xx or 5xx answer. A comment line `# {...}` in the block is an
//     answer the block must print: some line of its output is a JSON object holding every
//     field the comment names, with the same values.
//   - A ```csv block, and a ```json block of NDJSON catalog rows ("type" on every line), is
//     imported into the demo's database with `cartd import`, and every row must go in.
//   - A block of nothing but `go` commands (building, testing, installing) is not run, nor one
//     whose fence is preceded by a line `<!-- not run: REASON -->` (an example that needs
//     PostgreSQL, or writes outside its directory).
//
// A block that reads cookies.txt continues the demo's storefront session, so the storefront
// line the demo prints runs before it, as the page says.

// docBlock is one fenced block of a page.
type docBlock struct {
	lang    string
	text    string
	line    int    // the line of its opening fence
	skipped string // the reason of a `<!-- not run: ... -->` before it
}

var notRun = regexp.MustCompile(`^<!-- not run: (.+) -->$`)

// docBlocks returns the fenced blocks of a Markdown file, in order.
func docBlocks(path string) ([]docBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []docBlock
	var cur *docBlock
	var body strings.Builder
	prev := ""
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &docBlock{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: i + 1}
			if m := notRun.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.skipped = m[1]
			}
			body.Reset()
		case cur != nil && strings.TrimSpace(l) == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(l + "\n")
		}
		if strings.TrimSpace(l) != "" {
			prev = l
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a fence that is never closed", path, cur.line)
	}
	return blocks, nil
}

// onlyGoCommands reports whether every command of a shell block is the go tool's.
func onlyGoCommands(text string) bool {
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "go ") {
			return false
		}
	}
	return true
}

// isNDJSONCatalog reports whether a json block is rows of a catalog import.
func isNDJSONCatalog(text string) bool {
	n := 0
	for l := range strings.Lines(text) {
		var row struct {
			Type string `json:"type"`
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		if json.Unmarshal([]byte(l), &row) != nil || row.Type == "" {
			return false
		}
		n++
	}
	return n > 0
}

// demo is a `cartd --demo` serving from a scratch directory.
type demo struct {
	dir, base, key string
	stdout         *syncBuffer
}

func startDemo(t *testing.T, bin, repo string) *demo {
	t.Helper()
	dir := t.TempDir()
	// The examples name files under examples/ as seen from the repository's root.
	if err := os.Symlink(filepath.Join(repo, "examples"), filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(bin, "--demo", "--addr", addr)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
	cmd.Env = append(os.Environ(), "CARTD_ADMIN_KEY=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })

	deadline := time.After(2 * time.Minute)
	for !strings.Contains(stdout.String(), "storefront:") || !strings.HasSuffix(stdout.String(), "\n") {
		select {
		case <-done:
			t.Fatalf("cartd --demo exited: %v\nstdout: %s\nstderr: %s", cmd.ProcessState, stdout, stderr)
		case <-deadline:
			t.Fatalf("cartd --demo printed no storefront line\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`admin API key: (sk_\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no admin key printed:\n%s", stdout)
	}
	return &demo{dir: dir, base: "http://" + addr, key: m[1], stdout: stdout}
}

// shell runs a script in the demo's directory and returns its output.
func (d *demo) shell(bin, script string) (string, error) {
	cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c",
		"curl() { command curl --fail-with-body --show-error \"$@\"; }\n"+script)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), "KEY="+d.key, "CARTD="+d.base, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
	}
	return out.String(), nil
}

// printedAnswers returns the JSON objects a shell block's comments say it prints.
func printedAnswers(text string) []map[string]any {
	var want []map[string]any
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "# {") {
			continue
		}
		var m map[string]any
		// The comment may go on after the object: only the object is the answer.
		if json.NewDecoder(strings.NewReader(strings.TrimPrefix(l, "# "))).Decode(&m) == nil {
			want = append(want, m)
		}
	}
	return want
}

// printsAnswer reports whether some line of out is a JSON object holding every field of want.
func printsAnswer(out string, want map[string]any) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var got map[string]any
		if json.Unmarshal(sc.Bytes(), &got) != nil {
			continue
		}
		all := true
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

func TestDocsExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the documentation's examples are shell and curl lines", tool)
		}
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(repo, "README.md")}, pages...)
	bin := buildCartd(t)

	ran := 0
	for _, page := range pages {
		rel, _ := filepath.Rel(repo, page)
		blocks, err := docBlocks(page)
		if err != nil {
			t.Fatal(err)
		}
		var runnable []docBlock
		for _, b := range blocks {
			switch {
			case b.skipped != "":
			case b.lang == "sh" && !onlyGoCommands(b.text), b.lang == "csv", b.lang == "json" && isNDJSONCatalog(b.text):
				runnable = append(runnable, b)
			}
		}
		if len(runnable) == 0 {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			d := startDemo(t, bin, repo)
			for _, b := range runnable {
				where := fmt.Sprintf("%s:%d", rel, b.line)
				switch b.lang {
				case "sh":
					script := strings.ReplaceAll(b.text, "http://127.0.0.1:8080", d.base)
					// A page's "KEY=sk_..." stands for the key the demo printed, which $KEY holds.
					script = strings.ReplaceAll(script, "KEY=sk_...", `KEY="$KEY"`)
					if strings.Contains(script, "cookies.txt") {
						if _, err := os.Stat(filepath.Join(d.dir, "cookies.txt")); err != nil {
							m := regexp.MustCompile(`(?m)storefront:\s+(curl .*)$`).FindStringSubmatch(d.stdout.String())
							if m == nil {
								t.Fatalf("%s reads cookies.txt, and the demo printed no storefront line", where)
							}
							if _, err := d.shell(bin, m[1]); err != nil {
								t.Fatalf("%s: the demo's storefront line: %v", where, err)
							}
						}
					}
					out, err := d.shell(bin, script)
					if err != nil {
						t.Fatalf("%s: %v\n%s", where, err, b.text)
					}
					for _, want := range printedAnswers(b.text) {
						if !printsAnswer(out, want) {
							t.Errorf("%s: no line of the output holds %v\noutput: %s", where, want, out)
						}
					}
				default:
					format, file := "csv", "example.csv"
					if b.lang == "json" {
						format, file = "ndjson", "example.ndjson"
					}
					if err := os.WriteFile(filepath.Join(d.dir, file), []byte(b.text), 0o644); err != nil {
						t.Fatal(err)
					}
					if _, err := d.shell(bin, "cartd import --format "+format+" "+file); err != nil {
						t.Fatalf("%s: importing the example: %v\n%s", where, err, b.text)
					}
				}
				ran++
			}
		})
	}
	if ran == 0 {
		t.Fatal("no example of the documentation ran")
	}
}
