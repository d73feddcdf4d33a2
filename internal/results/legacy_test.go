package results

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// schema1File holds real version-1 lines: the first three from a run of the
// version-1 binary (/work/benchres/before/20261127-122222: a sweep point, an
// idle-connections point, a slow-readers point), the others from the
// version-1 synthetic run of reports/testdata (an SLO step, a failed and a
// skipped point).
const schema1File = "testdata/schema1.jsonl"

// v1Renames maps, per JSON object, the version-1 names to the version-2
// names of the same quantity. It is written out here, independently of
// upgradeV1, so that the test checks the mapping rather than repeating it.
var v1Renames = map[string]map[string]string{
	"scenario": {"size": "size_bytes", "load": "load_fraction", "rate": "rate_msgs_per_s", "capacity": "capacity_msgs_per_s"},
	"load":     {"size": "size_bytes", "rate": "rate_msgs_per_s"},
	"timeline": {"t_s": "elapsed_s"},
}

// schema1Lines returns the lines of schema1File and one more: the real
// sweep line with a timeline of three seconds instead of its one (the real
// windows last half a second), so that a non-zero t_s is seen to move.
func schema1Lines(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(schema1File)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	m := decodeGeneric(t, lines[0])
	// Its own point: one point and repeat is recorded once.
	m["point_id"] = m["point_id"].(string) + "-long"
	m["load"].(map[string]any)["timeline"] = []any{
		map[string]any{"t_s": 0, "completed": 10, "failed": 0, "p99_us": 80.5},
		map[string]any{"t_s": 1, "completed": 11, "failed": 1, "p99_us": 90.5},
		map[string]any{"t_s": 2, "completed": 12, "failed": 0, "p99_us": 70.5},
	}
	long, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(lines, long)
}

// TestReadSchema1 decodes version-1 lines and checks that each, encoded
// again, is exactly the original under the version-2 names: every renamed
// value moved to its new name unchanged, and nothing else changed.
func TestReadSchema1(t *testing.T) {
	t.Parallel()
	lines := schema1Lines(t)
	res, err := Read(bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n')))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != len(lines) || res.TornTail {
		t.Fatalf("read %d records (torn %v) from %d lines", len(res.Records), res.TornTail, len(lines))
	}
	seen := map[string]bool{} // "object.oldname" with a non-zero value
	for i, line := range lines {
		rec := &res.Records[i]
		if rec.Schema != SchemaVersion {
			t.Errorf("%s: schema %d after reading, want %d", rec.PointID, rec.Schema, SchemaVersion)
		}
		want := decodeGeneric(t, line)
		renameV1(want, "", seen)
		want["schema"] = float64(SchemaVersion)
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeGeneric(t, b)
		for _, k := range differingKeys(got, want) {
			t.Errorf("%s: %q re-encoded as %v, want the version-1 value under the new names: %v", rec.PointID, k, got[k], want[k])
		}
	}
	// The lines must exercise every rename with a value that would show a
	// dropped field, or the comparison above proves nothing for it.
	for obj, names := range v1Renames {
		for old := range names {
			if !seen[obj+"."+old] {
				t.Errorf("no test line has a non-zero %s.%s", obj, old)
			}
		}
	}
}

// TestReadSchema1Fields spells out, on the real sweep line, the Go fields
// that carry the renamed values.
func TestReadSchema1Fields(t *testing.T) {
	t.Parallel()
	res, err := Read(bytes.NewReader(schema1Lines(t)[0]))
	if err != nil {
		t.Fatal(err)
	}
	r := res.Records[0]
	sc, l := r.Scenario, r.Load
	if sc.SizeBytes != 64 || sc.LoadFraction != 0.9 || sc.RateMsgsPerSec != 100278 || sc.CapacityMsgsPerSec != 111420 {
		t.Errorf("scenario = %+v", sc)
	}
	if l == nil || l.SizeBytes != 64 || l.RateMsgsPerSec != 100278 || len(l.Timeline) != 1 || l.Timeline[0].Completed != 50118 {
		t.Errorf("load = %+v", l)
	}
	if s := r.ServerStats; s == nil || s.PeakRSSBytes != 15523840 || s.BaseRSSBytes == 0 {
		t.Errorf("server stats = %+v", s)
	}
}

// TestReadMixedSchemas reads a version-1 file that a newer binary resumed:
// version-1 lines followed by version-2 ones. Both must give the same
// records.
func TestReadMixedSchemas(t *testing.T) {
	t.Parallel()
	lines := schema1Lines(t)
	v1 := append(bytes.Join(lines, []byte("\n")), '\n')
	first, err := Read(bytes.NewReader(v1))
	if err != nil {
		t.Fatal(err)
	}
	var v2 bytes.Buffer
	for i := range first.Records {
		b, err := json.Marshal(&first.Records[i])
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"size":`)) || bytes.Contains(b, []byte(`"t_s":`)) {
			t.Fatalf("version-2 encoding still has a version-1 name: %s", b)
		}
		v2.Write(append(b, '\n'))
	}
	both, err := Read(strings.NewReader(string(v1) + v2.String()))
	if err != nil {
		t.Fatal(err)
	}
	// Each version-2 line is the same record as its version-1 line: a
	// duplicate, dropped and counted, never a second repeat.
	n := len(first.Records)
	if len(both.Records) != n || both.Duplicates != n {
		t.Fatalf("read %d records and %d duplicates, want %d and %d", len(both.Records), both.Duplicates, n, n)
	}
	if !reflect.DeepEqual(both.Records, first.Records) {
		t.Errorf("records read with their version-2 duplicates differ from the version-1 records")
	}
}

// differingKeys returns the keys of the two objects whose values differ,
// sorted, so that a failure names the object rather than dumping the record.
func differingKeys(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		if !reflect.DeepEqual(a[k], b[k]) {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func decodeGeneric(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// renameV1 renames, in place, the version-1 keys of m (an object found under
// key parent) and of the objects it holds, noting in seen each old name that
// held a non-zero value.
func renameV1(m map[string]any, parent string, seen map[string]bool) {
	for old, name := range v1Renames[parent] {
		if v, ok := m[old]; ok {
			delete(m, old)
			m[name] = v
			if v != float64(0) {
				seen[parent+"."+old] = true
			}
		}
	}
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			renameV1(v, k, seen)
		case []any:
			for _, e := range v {
				if o, ok := e.(map[string]any); ok {
					renameV1(o, k, seen)
				}
			}
		}
	}
}
