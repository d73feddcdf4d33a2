package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"testing"
)

// docFlags returns the flags named in the first column of the Markdown
// table rows of a doc page: "| `--name` | ...".
func docFlags(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\|").FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// helpFlags returns the flags a command's -h lists: what it really takes.
func helpFlags(t *testing.T, command string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := exitCode(run(&stdout, &stderr, []string{command, "-h"}), &stderr); code != 0 {
		t.Fatalf("%s -h: exit %d", command, code)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllSubmatch(stderr.Bytes(), -1) {
		out = append(out, string(m[1]))
	}
	if len(out) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", command, stderr.String())
	}
	return out
}

// The flag tables in the docs list exactly the flags the commands take.
func TestFlagsDocumented(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ command, doc string }{
		{"load", "../../docs/loadgen.md"},
		{"serve", "../../docs/servers.md"},
		{"check", "../../docs/conformance.md"},
	} {
		docs, flags := docFlags(t, tt.doc), helpFlags(t, tt.command)
		for _, f := range flags {
			if !slices.Contains(docs, f) {
				t.Errorf("--%s is a flag of echobench %s but has no row in %s", f, tt.command, tt.doc)
			}
		}
		for _, d := range docs {
			if !slices.Contains(flags, d) {
				t.Errorf("%s documents --%s, which echobench %s does not take", tt.doc, d, tt.command)
			}
		}
	}
}
