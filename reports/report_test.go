package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echobench/internal/results"
	"echobench/reports/internal/synth"
)

var update = flag.Bool("update", false, "rewrite testdata/run/results.jsonl from the synth package and the golden files from the code")

const testRun = "testdata/run"

// TestMain regenerates the fixed results file before any test reads it.
func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := writeSynthRun(testRun); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

func writeSynthRun(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := filepath.Join(dir, results.FileName)
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	w, err := results.OpenWriter(p)
	if err != nil {
		return err
	}
	recs := synth.Records()
	for i := range recs {
		if err := w.Append(&recs[i]); err != nil {
			return err
		}
	}
	return w.Close()
}

func analyzeTestRun(t testing.TB) *Analysis {
	t.Helper()
	run, err := ReadRun(testRun)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %q\nwant: %q\n(run go test ./reports -update if the change is intended)", name, i+1, g, w)
			}
		}
	}
}

func TestGoldenSummary(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteSummary(&b, analyzeTestRun(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.md", b.Bytes())
}

func TestGoldenCSV(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	var b bytes.Buffer
	if err := WriteCSV(&b, a.Run); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(b.String(), "\n"); rows != len(a.Run.Records)+1 {
		t.Errorf("results.csv has %d lines, want one per record plus a header: %d", rows, len(a.Run.Records)+1)
	}
	golden(t, "results.csv", b.Bytes())
}

// TestGoldenHTML checks the HTML's structure and text with every chart
// replaced by a placeholder; the charts themselves are checked in a browser.
func TestGoldenHTML(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	var charts []Chart
	for _, n := range []string{"throughput", "latency", "sweep", "completion", "cpu", "memory", "spectrum"} {
		charts = append(charts, Chart{Name: n, Title: n + " title", Caption: n + " caption"})
	}
	var b bytes.Buffer
	if err := writeHTML(&b, a, charts, []string{"a note"}, htmlOptions{placeholders: true}); err != nil {
		t.Fatal(err)
	}
	golden(t, "index.html", b.Bytes())
}
