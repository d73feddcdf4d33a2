package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/architecture.md names files and packages for a newcomer to open;
// every one must exist, so that a move or a rename updates the map too.
func TestArchitecturePathsExist(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	// `bench/plan.go`, `servers/all`, `servers/NAME` (a placeholder: its
	// parent must exist).
	re := regexp.MustCompile("`((?:cmd|bench|servers|loadgen|reports|internal|configs|docs)/[A-Za-z0-9_./]*)`")
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		p := m[1]
		if strings.Contains(p, "NAME") {
			p = filepath.Dir(p)
		}
		n++
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Errorf("docs/architecture.md names %s: %v", m[1], err)
		}
	}
	if n < 10 {
		t.Errorf("found %d paths in docs/architecture.md: the pattern no longer matches the page", n)
	}
}
