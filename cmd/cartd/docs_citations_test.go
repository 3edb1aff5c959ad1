package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// foreignCitation matches a citation of a document that is not in the repository: the design
// contract and the library and style notes cartd was started from. The repository explains
// itself: code and docs cite ARCHITECTURE.md or docs/ instead. (The pattern is written so
// that it does not match its own source.)
var foreignCitation = regexp.MustCompile(`DESIGN(\.md| ?§)|LIBRARIES\.md|STYLE\.md|(\.\./|/work/)share[d]\b`)

// TestNoCitationsOutsideTheRepository reads every file of the repository but the migrations
// (which are never edited once applied) and fails on each line citing a document the
// repository does not hold.
func TestNoCitationsOutsideTheRepository(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	err = filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "migrations" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return nil // not text: a database file, a built binary
		}
		read++
		rel, _ := filepath.Rel(repo, path)
		for i, line := range strings.Split(string(data), "\n") {
			if m := foreignCitation.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q, which is not in the repository: cite ARCHITECTURE.md §... or docs/... instead", rel, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if read < 100 {
		t.Fatalf("read %d files under %s: not the repository", read, repo)
	}
}
