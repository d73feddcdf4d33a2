package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/ from the code")

// regressedCopy writes, beside the fixed run, a copy in which each watched
// figure got worse for one model at one point: at closed c=4, epoll's
// throughput -20%, netconn's p99 +50%, gnet's CPU per message +25% and
// node's memory per connection +50%; and evio's open-loop rates -30% (so
// its SLO rate drops).
func regressedCopy(t *testing.T, root string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(copyRun(t, root, "old"), "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(src), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		worsen(rec)
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(b, '\n'))
	}
	d := filepath.Join(root, "new")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "results.jsonl"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func worsen(rec map[string]any) {
	scale := func(m any, key string, f float64) {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm[key].(float64); ok {
				mm[key] = v * f
			}
		}
	}
	load, stats := rec["load"], rec["server_stats"]
	sc := rec["scenario"].(map[string]any)
	mode, _ := sc["mode"].(string)
	name := rec["server"].(map[string]any)["name"]
	if name != "evio" && (sc["kind"] != "closed" || sc["conns"] != 4.0 || sc["idle_conns"] != nil || sc["slow_readers"] != nil) {
		return
	}
	switch name {
	case "epoll":
		scale(load, "throughput_msgs_per_s", 0.8)
	case "netconn":
		if l, ok := load.(map[string]any); ok {
			scale(l["latency_us"], "p99", 1.5)
		}
	case "gnet":
		scale(stats, "msgs_per_cpu_s", 0.8)
	case "node":
		scale(stats, "rss_bytes_per_conn", 1.5)
	case "evio":
		if mode == "open" {
			scale(load, "rate_msgs_per_s", 0.7)
		}
	}
}

// The regression gate's exit codes: 0 for a run against itself and for
// changes within the threshold, 1 with every regression listed (golden),
// 2 naming the flag for a bad threshold.
func TestCompareRegressionGate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	newDir := regressedCopy(t, root)
	oldDir := filepath.Join(root, "old")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		golden string
	}{
		{"same run", []string{oldDir, oldDir, "--fail-on-regression", "5%"}, 0, "", "gate-same.golden"},
		{"regressed", []string{oldDir, newDir, "--fail-on-regression", "5%"}, 1, "5 regression(s) beyond --fail-on-regression 5%", "gate-regressed.golden"},
		{"improved", []string{newDir, oldDir, "--fail-on-regression", "5%"}, 0, "", "gate-same.golden"},
		{"within a wide threshold", []string{oldDir, newDir, "--fail-on-regression=60%"}, 0, "", ""},
		{"no gate", []string{oldDir, newDir}, 0, "", ""},
		{"no percent sign", []string{oldDir, newDir, "--fail-on-regression", "5"}, 2, "--fail-on-regression", ""},
		{"negative", []string{oldDir, newDir, "--fail-on-regression", "-5%"}, 2, "--fail-on-regression", ""},
		{"not a number", []string{oldDir, newDir, "--fail-on-regression", "NaN%"}, 2, "--fail-on-regression", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := exitCode(run(&stdout, &stderr, append([]string{"compare"}, tt.args...)), &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q\nstdout:\n%s", code, stderr.String(), tt.code, tt.stderr, stdout.String())
			}
			if tt.golden != "" {
				checkGolden(t, tt.golden, gateSection(stdout.String()))
			}
		})
	}
}

// gateSection is the gate's part of compare's output: the tables before it
// are compare's own, tested elsewhere.
func gateSection(out string) string {
	if i := strings.Index(out, "\nregression gate:"); i >= 0 {
		return out[i+1:]
	}
	return "no gate section in:\n" + out
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/echobench -run Gate -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// compare warns on stderr about every difference between the runs'
// environments, and about none for a run against itself.
func TestCompareWarnsOnEnvironment(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	oldDir := copyRun(t, root, "old")
	src, err := os.ReadFile(filepath.Join(oldDir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.ReplaceAll(src, []byte(`"thp_mode":"madvise"`), []byte(`"thp_mode":"always"`))
	changed = bytes.ReplaceAll(changed, []byte(`"kernel":"6.18.0-echobench"`), []byte(`"kernel":"6.19.0"`))
	changed = bytes.ReplaceAll(changed, []byte(`"load_gomaxprocs":3`), []byte(`"load_gomaxprocs":4`))
	newDir := filepath.Join(root, "new")
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, "results.jsonl"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run2(&stdout, &stderr, "compare", oldDir, newDir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kernel: 6.18.0-echobench → 6.19.0",
		"Transparent huge pages: madvise → always",
		"load generator: GOMAXPROCS 2–3, workers 1",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if n := strings.Count(stderr.String(), "warning"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, stderr.String())
	}
	stderr.Reset()
	if err := run2(&stdout, &stderr, "compare", oldDir, oldDir); err != nil || stderr.Len() > 0 {
		t.Errorf("a run against itself: %v, stderr %q", err, stderr.String())
	}
}
