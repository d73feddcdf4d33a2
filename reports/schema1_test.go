package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echobench/internal/results"
)

// v2ToV1 maps, per JSON object, the schema-2 names back to the names schema
// 1 used, to rebuild a schema-1 file from the fixed run.
var v2ToV1 = map[string]map[string]string{
	"scenario": {"size_bytes": "size", "load_fraction": "load", "rate_msgs_per_s": "rate", "capacity_msgs_per_s": "capacity"},
	"load":     {"size_bytes": "size", "rate_msgs_per_s": "rate"},
	"timeline": {"elapsed_s": "t_s"},
}

// TestSchema1Run checks that a run recorded in schema 1 gives the same
// report as the fixed run it was rebuilt from, and compares with it as equal.
func TestSchema1Run(t *testing.T) {
	t.Parallel()
	dir := writeSchema1Run(t)
	run, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sum, csv bytes.Buffer
	if err := WriteSummary(&sum, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&csv, a.Run); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"summary.md": sum.Bytes(), "results.csv": csv.Bytes()} {
		want, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s of the schema-1 run differs from the golden file", name)
		}
	}
	var cmp bytes.Buffer
	if err := CompareRuns(&cmp, a, analyzeTestRun(t)); err != nil {
		t.Fatal(err)
	}
	out, rows := cmp.String(), 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "p=") {
			rows++
			if !strings.Contains(l, " ~ ") || !strings.Contains(l, "p=1.000") {
				t.Errorf("a run compared with itself rebuilt in schema 1 differs:\n%s", l)
			}
		}
	}
	if rows == 0 || strings.Contains(out, "only in") || !strings.Contains(out, "load=1.10") {
		t.Errorf("a run compared with itself rebuilt in schema 1 shows other points:\n%s", out)
	}
}

// writeSchema1Run writes the fixed run under the schema-1 names into a
// temporary run directory and returns it.
func writeSchema1Run(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(testRun, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		renameKeys(m, "")
		m["schema"] = 1
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(b, '\n'))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte(`"size_bytes"`)) || !bytes.Contains(out.Bytes(), []byte(`"capacity":`)) {
		t.Fatal("the rebuilt file is not in the schema-1 names")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, results.FileName), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// renameKeys renames, in place, the keys of m (found under key parent) and
// of the objects it holds, per v2ToV1.
func renameKeys(m map[string]any, parent string) {
	for name, old := range v2ToV1[parent] {
		if v, ok := m[name]; ok {
			delete(m, name)
			m[old] = v
		}
	}
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			renameKeys(v, k)
		case []any:
			for _, e := range v {
				if o, ok := e.(map[string]any); ok {
					renameKeys(o, k)
				}
			}
		}
	}
}
