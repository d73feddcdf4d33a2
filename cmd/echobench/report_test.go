package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyRun copies the reports' fixed results file into dir/name.
func copyRun(t *testing.T, dir, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "reports", "testdata", "run", "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "results.jsonl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := copyRun(t, root, "20261101T120000Z")
	var stdout, stderr bytes.Buffer
	// PNG rendering is the slow part (tens of seconds under -race); the
	// reports package tests it.
	if err := run2(&stdout, &stderr, "report", root, "--latest", "--png=false"); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"index.html", "summary.md", "results.csv", "charts/throughput.svg", "charts/spectrum.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), filepath.Join(dir, "index.html")) {
		t.Errorf("report must print where the report is:\n%s", stdout.String())
	}

	out := filepath.Join(root, "elsewhere")
	stdout.Reset()
	// --timeline: a record's point_id (its repeat is shown) and a point
	// label whose records have no timeline (made before they existed).
	stderr.Reset()
	if err := run2(&stdout, &stderr, "report", filepath.Join(dir, "results.jsonl"), "--out", out, "--slo-p99", "1ms", "--png=false",
		"--timeline", "evio/closed/c64/s64/d1/r2,sweep c=64 64B d=1 load=0.95"); err != nil {
		t.Fatalf("report --out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Errorf("--out ignored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "charts", "timeline-closed-c-64-64b-d-1.svg")); err != nil {
		t.Errorf("--timeline: chart not written: %v", err)
	}
	if !strings.Contains(stderr.String(), "Timeline of sweep c=64 64B d=1 load=0.95: no repeat recorded its window in intervals") {
		t.Errorf("--timeline of a point without timelines: no note on stderr:\n%s", stderr.String())
	}
	if sum, _ := os.ReadFile(filepath.Join(out, "summary.md")); !strings.Contains(string(sum), "evio repeat 2:") ||
		strings.Contains(string(sum), "timeline-closed-c-1000") {
		t.Errorf("--timeline: summary.md does not show evio's repeat 2, or shows an unpicked point")
	}
}

func TestReportAndCompareUsage(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := copyRun(t, root, "r1")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"report without a path", []string{"report"}, 2, "missing RESULTS"},
		{"report of a missing path", []string{"report", filepath.Join(root, "nope")}, 1, "no such file"},
		{"report with a bad SLO", []string{"report", dir, "--slo-completion", "2"}, 2, "slo-completion"},
		{"report with a NaN SLO", []string{"report", dir, "--slo-completion", "NaN"}, 2, "slo-completion"},
		{"report of an unknown timeline point", []string{"report", dir, "--png=false", "--timeline", "closed c=3 64B d=1"}, 2, "--timeline"},
		{"report with an empty timeline point", []string{"report", dir, "--timeline", "a,,b"}, 2, "timeline"},
		{"compare with one run", []string{"compare", dir}, 2, "want OLD and NEW"},
		{"compare a run with itself", []string{"compare", dir, dir}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := exitCode(run(&stdout, &stderr, tt.args), &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
			if tt.code == 0 && !strings.Contains(stdout.String(), "~") {
				t.Errorf("a run compared with itself must show no significant change:\n%s", stdout.String())
			}
		})
	}
}

func run2(stdout, stderr io.Writer, args ...string) error { return run(stdout, stderr, args) }

// Two results files in one folder are two runs: compare reads each file,
// not the folder's results.jsonl twice (issue #11 item 7).
func TestCompareFilesInOneFolder(t *testing.T) {
	t.Parallel()
	dir := copyRun(t, t.TempDir(), "run")
	src, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The same run with every throughput halved.
	var halved bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(src), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if l, ok := rec["load"].(map[string]any); ok {
			l["throughput_msgs_per_s"] = l["throughput_msgs_per_s"].(float64) / 2
		}
		b, _ := json.Marshal(rec)
		halved.Write(append(b, '\n'))
	}
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(a, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, halved.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	compare := func(x, y string) string {
		var stdout, stderr bytes.Buffer
		if err := run2(&stdout, &stderr, "compare", x, y); err != nil {
			t.Fatalf("compare %s %s: %v\n%s", x, y, err, stderr.String())
		}
		return stdout.String()
	}
	same, differ := compare(a, a), compare(a, b)
	if same == differ || !strings.Contains(differ, "-50") {
		t.Errorf("compare of a.jsonl and b.jsonl (every throughput halved) printed:\n%s\nwhich does not show the halving; a against itself:\n%s", differ, same)
	}
}

// A results file with every line written three times reports as the file
// written once (issue #11 item 6), says so, and compares as equal to it; a
// file holding two runs is refused.
func TestReportDuplicatedLines(t *testing.T) {
	t.Parallel()
	dir := copyRun(t, t.TempDir(), "run")
	src, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tripled := filepath.Join(dir, "tripled.jsonl")
	if err := os.WriteFile(tripled, bytes.Repeat(src, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run2(&stdout, &stderr, "report", tripled, "--out", t.TempDir(), "--png=false"); err != nil {
		t.Fatalf("report: %v", err)
	}
	if !strings.Contains(stderr.String(), "repeats") || !strings.Contains(stderr.String(), "counted once") {
		t.Errorf("the duplicates were not reported:\n%s", stderr.String())
	}
	stdout.Reset()
	if err := run2(&stdout, &stderr, "compare", filepath.Join(dir, "results.jsonl"), tripled); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.Contains(out, "n=6+6") || strings.Contains(out, "+18") {
		t.Errorf("the tripled file's repeats were counted more than once:\n%s", out)
	}
	other := bytes.ReplaceAll(src, []byte(`"run_id":"`), []byte(`"run_id":"other-`))
	mixed := filepath.Join(dir, "mixed.jsonl")
	if err := os.WriteFile(mixed, append(append([]byte{}, src...), other...), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run2(&stdout, &stderr, "report", mixed, "--out", t.TempDir(), "--png=false")
	if err == nil || !strings.Contains(err.Error(), "a report reads one run") {
		t.Errorf("a file of two runs: %v", err)
	}
}
