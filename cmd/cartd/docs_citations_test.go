package main

import (
	"bytes"
	"fmt"
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

// architectureCitation matches a citation of a section of ARCHITECTURE.md, with the number of
// an item of that section's list when it names one ("ARCHITECTURE.md §Invariants 4").
var architectureCitation = regexp.MustCompile(`ARCHITECTURE\.md §([A-Z][A-Za-z]*)(?: (\d+)(?: and (\d+))?)?`)

// markdownLink matches an inline Markdown link's target.
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// headingSlug is the anchor a code host gives a Markdown heading: lower case, punctuation
// dropped, spaces as hyphens.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markdownAnchors returns the anchors of a Markdown file's headings, and the first-level list
// items of each second-level section by number ("Invariants" -> {1, 2, ...}).
func markdownAnchors(data string) (anchors map[string]bool, items map[string]map[string]bool) {
	anchors, items = map[string]bool{}, map[string]map[string]bool{}
	fence, section := false, ""
	item := regexp.MustCompile(`^(\d+)\. `)
	for _, line := range strings.Split(data, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence {
			continue
		}
		if h := strings.TrimLeft(line, "#"); h != line && strings.HasPrefix(h, " ") {
			anchors[headingSlug(strings.TrimSpace(h))] = true
			if strings.HasPrefix(line, "## ") {
				section = strings.TrimSpace(h)
				items[section] = map[string]bool{}
			}
		}
		if m := item.FindStringSubmatch(line); m != nil && section != "" {
			items[section][m[1]] = true
		}
	}
	return anchors, items
}

// TestDocsReferencesResolve holds the repository's cross-references to what they name: every
// citation of ARCHITECTURE.md by section (and item number) names a section of it and an item
// of that section's list,
// every docs/<page>.md named in a file exists, and every relative link of a Markdown file
// reaches a file, and a heading of it when it names one.
func TestDocsReferencesResolve(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	arch, err := os.ReadFile(filepath.Join(repo, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sections := markdownAnchors(string(arch))
	docPage := regexp.MustCompile(`\bdocs/([a-z0-9-]+\.md)\b`)
	cited := 0
	err = filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "migrations" || name == "node_modules" || name == "testdata" {
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
			return nil
		}
		rel, _ := filepath.Rel(repo, path)
		isMarkdown := strings.HasSuffix(path, ".md")
		var anchors map[string]bool
		if isMarkdown {
			anchors, _ = markdownAnchors(string(data))
		}
		for i, line := range strings.Split(string(data), "\n") {
			where := fmt.Sprintf("%s:%d", rel, i+1)
			for _, m := range architectureCitation.FindAllStringSubmatch(line, -1) {
				cited++
				items, ok := sections[m[1]]
				if !ok {
					t.Errorf("%s cites ARCHITECTURE.md §%s, which has no such section", where, m[1])
					continue
				}
				for _, n := range m[2:] {
					if n != "" && !items[n] {
						t.Errorf("%s cites ARCHITECTURE.md §%s %s, which has no item %s", where, m[1], n, n)
					}
				}
			}
			for _, m := range docPage.FindAllStringSubmatch(line, -1) {
				if _, err := os.Stat(filepath.Join(repo, "docs", m[1])); err != nil {
					t.Errorf("%s names docs/%s, which does not exist", where, m[1])
				}
			}
			if !isMarkdown {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				targetAnchors := anchors
				if file != "" {
					full := filepath.Join(filepath.Dir(path), file)
					if _, err := os.Stat(full); err != nil {
						t.Errorf("%s links to %s, which does not exist", where, target)
						continue
					}
					targetAnchors = nil
					if anchor != "" {
						linked, err := os.ReadFile(full)
						if err != nil {
							t.Errorf("%s links to %s: %v", where, target, err)
							continue
						}
						targetAnchors, _ = markdownAnchors(string(linked))
					}
				}
				if anchor != "" && !targetAnchors[anchor] {
					t.Errorf("%s links to %s, whose heading #%s does not exist", where, target, anchor)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited == 0 {
		t.Fatal("no citation of ARCHITECTURE.md found: the pattern no longer matches how code cites it")
	}
}
