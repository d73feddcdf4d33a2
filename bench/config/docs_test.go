package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Every key the matrix file accepts has a row in docs/bench.md, under the
// table of its level (top level, [[servers]], [[scenarios]]): a key added
// to Config is not finished until it is documented.
func TestKeysDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/bench.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	levels := map[string]string{
		"":          "### Top level",
		"servers":   "### `[[servers]]`",
		"scenarios": "### `[[scenarios]]`",
	}
	keys := tomlKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 20 {
		t.Fatalf("found %d keys: the reflection walk is broken", len(keys))
	}
	for _, k := range keys {
		level, key, _ := strings.Cut(k, ".")
		if key == "" {
			level, key = "", level
		}
		head, ok := levels[level]
		if !ok {
			t.Errorf("key %s: no table for [[%s]] in docs/bench.md; add one to this test and the page", k, level)
			continue
		}
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(key) + "` \\|").MatchString(keysTable(t, doc, head)) {
			t.Errorf("key %q has no row (| `%s` | ...) under %q in docs/bench.md", k, key, head)
		}
	}
}

// tomlKeys lists the TOML keys of struct type typ, "table.key" inside an
// array of tables.
func tomlKeys(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			out = append(out, tomlKeys(f.Type.Elem(), name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// keysTable is the text under heading, up to the next heading.
func keysTable(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/bench.md has no %q heading", heading)
	}
	rest := doc[i+len(heading)+2:]
	if j := strings.Index(rest, "\n#"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
