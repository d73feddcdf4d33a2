package servers_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"echobench/servers/all"
	"echobench/servers/external"
)

// Every model a user can name (a Go model of servers/all, a foreign stack
// of servers/external) is in the README's model table and described in
// docs/servers.md (Go) or docs/stacks.md (foreign): registering a model is
// not finished until a newcomer can find it.
func TestModelsDocumented(t *testing.T) {
	t.Parallel()
	readme := readDoc(t, "../README.md")
	table := firstCellNames(section(t, readme, "## Server models"))
	goDoc := documented(readDoc(t, "../docs/servers.md"))
	stackDoc := documented(readDoc(t, "../docs/stacks.md"))

	names := map[string]map[string]bool{}
	for _, n := range all.Models.Names() {
		names[n] = goDoc
	}
	for _, n := range external.Names() {
		names[n] = stackDoc
	}
	if len(names) < 2 {
		t.Fatalf("only %d models registered: the test checks nothing", len(names))
	}
	for n, doc := range names {
		if !table[n] {
			t.Errorf("model %s has no row in the README's model table (## Server models)", n)
		}
		if !doc[n] {
			t.Errorf("model %s has no section (## %s) or table row (| `%s` |) in its docs page", n, n, n)
		}
	}
	for n := range table {
		if _, ok := names[n]; !ok {
			t.Errorf("the README's model table lists %s, which is not registered", n)
		}
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section is the text from the heading to the next heading of the same or
// a higher level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("no %q heading", heading)
	}
	rest := doc[i+len(heading)+2:]
	level := strings.Count(strings.Fields(heading)[0], "#")
	for _, m := range regexp.MustCompile(`(?m)^#{1,`+string(rune('0'+level))+`} `).FindAllStringIndex(rest, 1) {
		rest = rest[:m[0]]
	}
	return rest
}

var (
	tableRow = regexp.MustCompile("(?m)^\\|([^|]*)\\|")
	codeName = regexp.MustCompile("`([^`]+)`")
	heading  = regexp.MustCompile("(?m)^#{2,3} `?([a-z0-9-]+)`?")
)

// firstCellNames is every `name` in the first cell of the tables of doc.
func firstCellNames(doc string) map[string]bool {
	out := map[string]bool{}
	for _, row := range tableRow.FindAllStringSubmatch(doc, -1) {
		for _, m := range codeName.FindAllStringSubmatch(row[1], -1) {
			out[m[1]] = true
		}
	}
	return out
}

// documented is every name that starts a heading of doc or a table's
// first cell.
func documented(doc string) map[string]bool {
	out := firstCellNames(doc)
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		out[m[1]] = true
	}
	return out
}
