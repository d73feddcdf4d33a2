package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every fuzz target runs in `make test` (Makefile FUZZ_TARGETS): a fuzz
// target that never runs checks nothing.
func TestEveryFuzzTargetRuns(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FUZZ_TARGETS := (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no FUZZ_TARGETS line")
	}
	listed := strings.Fields(string(m[1]))
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	found := 0
	err = filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, fm := range fuzzFunc.FindAllSubmatch(b, -1) {
			found++
			want := "./" + filepath.ToSlash(filepath.Dir(strings.TrimPrefix(p, "../../"))) + ":" + string(fm[1])
			if !strings.Contains(" "+strings.Join(listed, " ")+" ", " "+want+" ") {
				t.Errorf("%s (%s) is not in the Makefile's FUZZ_TARGETS", fm[1], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(listed) {
		t.Errorf("the Makefile lists %d fuzz targets, the code has %d", len(listed), found)
	}
}
