package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"echobench/internal/results"
)

// Two real `echobench load --json` outputs, recorded with one --start-at
// against one server (see internal/results/testdata/README).
var genFiles = []string{"../../internal/results/testdata/gen1.json", "../../internal/results/testdata/gen2.json"}

func readGen(t *testing.T, path string) results.Load {
	t.Helper()
	l, err := readLoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// writeGen writes l as a generator's output file in dir.
func writeGen(t *testing.T, dir, name string, l results.Load) string {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(b))
}

func runMergeCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(&out, &errb, append([]string{"merge"}, args...))
	return out.String(), errb.String() + errString(err), exitCode(err, &errb)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMergeCommand(t *testing.T) {
	t.Parallel()
	out, errs, code := runMergeCmd(t, genFiles...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m results.Load
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	a, b := readGen(t, genFiles[0]), readGen(t, genFiles[1])
	want, err := results.Merge([]results.Load{a, b}, genFiles)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, want) || m.Completed != a.Completed+b.Completed || len(m.Generators) != 2 {
		t.Errorf("merge printed completed %d of %d + %d, %d generators", m.Completed, a.Completed, b.Completed, len(m.Generators))
	}
	// --out writes the same; one input is itself.
	dir := t.TempDir()
	outFile := filepath.Join(dir, "m.json")
	if _, errs, code := runMergeCmd(t, "--out", outFile, genFiles[0]); code != 0 {
		t.Fatalf("--out: exit %d: %s", code, errs)
	}
	if one := readGen(t, outFile); !reflect.DeepEqual(one, a) {
		t.Errorf("merge of one result changed it")
	}
}

func TestMergeCommandRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := readGen(t, genFiles[0]), readGen(t, genFiles[1])
	later := b
	later.WindowStartUnixNs += 10e9
	later.WindowEndUnixNs += 10e9
	other := b
	other.SizeBytes = 1024
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"windows apart", []string{genFiles[0], writeGen(t, dir, "later.json", later)}, 1,
			[]string{"the windows share 0.000 s", "later.json", genFiles[0] + " " + time.Unix(0, a.WindowStartUnixNs).UTC().Format(time.RFC3339Nano)}},
		{"other size", []string{genFiles[0], writeGen(t, dir, "other.json", other)}, 1, []string{"size_bytes 64 vs 1024", "other.json"}},
		{"not a result", []string{genFiles[0], writeFile(t, dir, "junk.json", `{"hello":1}`)}, 1, []string{"junk.json", "not a load result"}},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, 1, []string{"nope.json"}},
		{"no inputs", nil, 2, []string{"no results given"}},
		{"model without run", []string{"--model", "epoll", genFiles[0]}, 2, []string{"need --run"}},
		{"run without model", []string{"--run", dir, genFiles[0]}, 2, []string{"--run needs --model"}},
		{"bad model name", []string{"--run", dir, "--model", "a/b", genFiles[0]}, 2, []string{`--model "a/b"`}},
	} {
		out, errs, code := runMergeCmd(t, tt.args...)
		if code != tt.code || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want %d and nothing", tt.name, code, out, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: %q does not say %q", tt.name, errs, w)
			}
		}
	}
}

// --run appends one record per merge, numbered as repeats, with the
// server's own figures, and `echobench report` reads the run.
func TestMergeRunRecord(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "two-hosts")
	usage := writeFile(t, t.TempDir(), "usage.json",
		`{"cpu_user_s":1.5,"cpu_sys_s":0.5,"peak_rss_bytes":8388608,"voluntary_ctxsw":10,"involuntary_ctxsw":2,"wall_s":4}`+"\n")
	for range 2 {
		if _, errs, code := runMergeCmd(t, append([]string{"--run", dir, "--model", "epoll", "--server-usage", usage}, genFiles...)...); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	}
	recs := readRecords(t, dir).Records
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r := recs[1]
	if r.Repeat != 2 || r.PointID != "r2/epoll/closed/c8-s64-d1-procs2" || r.Scenario.LoadProcs != 2 || r.Server.Model != "epoll" {
		t.Errorf("record %s repeat %d, procs %d, model %q", r.PointID, r.Repeat, r.Scenario.LoadProcs, r.Server.Model)
	}
	if s := r.ServerStats; s == nil || s.CPUUserS != 1.5 || s.CPUUtil != 0.5 || s.PeakRSSBytes != 8<<20 || len(r.Warnings) == 0 {
		t.Errorf("server figures %+v, warnings %q", s, r.Warnings)
	}
	if _, err := os.Stat(filepath.Join(dir, "env.json")); err != nil {
		t.Error(err)
	}
	open := readGen(t, genFiles[0])
	open.Mode, open.RateMsgsPerSec = "open", 1000
	out, errs, code := runMergeCmd(t, "--run", dir, "--model", "epoll", writeGen(t, t.TempDir(), "open.json", open))
	if code != 1 || out == "" || !strings.Contains(errs, "closed-loop points only") || len(readRecords(t, dir).Records) != 2 {
		t.Errorf("open loop with --run: exit %d, stdout %d bytes, %s", code, len(out), errs)
	}
	var stdout, stderr bytes.Buffer
	if err := run(&stdout, &stderr, []string{"report", dir}); err != nil {
		t.Fatalf("report of a merged run: %v\n%s", err, stderr.String())
	}
}
