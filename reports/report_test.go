package reports

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/plot/vg"

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

var (
	testAnalysisOnce sync.Once
	testAnalysis     *Analysis
	testAnalysisErr  error
)

// analyzeTestRun analyses the fixed run once per test binary; an Analysis is
// read-only once built, so parallel tests share it.
func analyzeTestRun(t testing.TB) *Analysis {
	t.Helper()
	testAnalysisOnce.Do(func() {
		run, err := ReadRun(testRun)
		if err != nil {
			testAnalysisErr = err
			return
		}
		testAnalysis, testAnalysisErr = Analyze(run, Options{})
	})
	if testAnalysisErr != nil {
		t.Fatal(testAnalysisErr)
	}
	return testAnalysis
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
	for _, n := range []string{"throughput", "latency", "sweep", "work", "completion", "cpu", "memory", "spectrum", "churn", "slo",
		"timeline-closed-c-1000-64b-d-1", "timeline-closed-c-64-64b-d-1", "timeline-sweep-c-64-64b-d-1-load-1.10"} {
		charts = append(charts, Chart{Name: n, Title: n + " title", Caption: n + " caption"})
	}
	var b bytes.Buffer
	if err := writeHTML(&b, a, charts, []string{"a note"}, htmlOptions{placeholders: true}); err != nil {
		t.Fatal(err)
	}
	golden(t, "index.html", b.Bytes())
}

// TestChartsRender renders one chart of each kind as SVG and one as PNG too,
// and checks that what comes out is an image of the promised size.
func TestChartsRender(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	charts, notes, err := a.charts(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("the fixed run has data for every chart, but: %v", notes)
	}
	var names []string
	for _, c := range charts {
		names = append(names, c.Name)
		if !bytes.Contains(c.SVG, []byte("<svg")) || c.PNG != nil {
			t.Errorf("%s: SVG %d bytes, PNG %d bytes; want an SVG only", c.Name, len(c.SVG), len(c.PNG))
		}
	}
	if got := strings.Join(names, ","); got != "throughput,latency,sweep,work,completion,cpu,memory,spectrum,churn,slo,"+
		"timeline-closed-c-1000-64b-d-1,timeline-closed-c-64-64b-d-1,timeline-sweep-c-64-64b-d-1-load-1.10" {
		t.Errorf("charts = %s", got)
	}
	f, _ := a.spectrumFigure()
	if f == nil {
		t.Fatal("no spectrum figure")
	}
	f.a, f.footnote = a, a.EnvLine()
	c, err := f.render(true)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(c.PNG))
	if err != nil {
		t.Fatalf("spectrum PNG: %v", err)
	}
	if cfg.Width != 1100 {
		t.Errorf("spectrum PNG is %dx%d, want 10 in at 110 dpi = 1100 px wide", cfg.Width, cfg.Height)
	}
}

// The full study's 13 models do not fit in one legend row: the legend must
// wrap, keep every model once and in order, and fit each row in the figure.
func TestLegendWraps(t *testing.T) {
	models := []string{"asyncio-protocol", "asyncio-streams", "epoll", "evio", "gevent", "gnet",
		"netconn", "node", "tornado", "trio", "twisted", "uvloop-protocol", "uvloop-streams"}
	f := figure{legend: models, a: &Analysis{Models: models}}
	rows := f.legendRows()
	if len(rows) < 2 {
		t.Fatalf("13 models in %d legend row(s), want a wrap", len(rows))
	}
	var all []string
	sty := legendStyle()
	for i, row := range rows {
		w := vg.Length(0)
		for _, m := range row {
			w += legendEntryWidth(sty, m)
		}
		if w-legendGap > figWidth-2*legendMargin {
			t.Errorf("row %d is %v wide, the figure allows %v: %v", i, w-legendGap, figWidth-2*legendMargin, row)
		}
		all = append(all, row...)
	}
	if !slices.Equal(all, models) {
		t.Errorf("legend rows %v lose or reorder models", rows)
	}
	if got := f.legendHeight(); got != vg.Length(len(rows))*legendRow {
		t.Errorf("legend height %v for %d rows", got, len(rows))
	}
	if rows := (figure{legend: models[:4]}).legendRows(); len(rows) != 1 {
		t.Errorf("4 models took %d rows", len(rows))
	}
}

// The sweep chart's lines hold only the fixed load fractions: an SLO step
// runs at a different rate in every repeat, so its median mixes rates.
func TestSweepLinesLeaveOutSLOSteps(t *testing.T) {
	a := analyzeTestRun(t)
	slo := 0
	for _, p := range a.Aggregates {
		if p.Cell.Kind == results.KindSLO {
			slo++
		}
	}
	if slo == 0 {
		t.Fatal("the test run has no SLO points: this test would prove nothing")
	}
	lines := 0
	for _, g := range sweepGroups(a) {
		for _, m := range a.Models {
			pts := a.sweepAggregates(g, m)
			for i, p := range pts {
				if p.Cell.Kind != results.KindSweep {
					t.Errorf("%s: %s point in the sweep line", m, p.Cell.Kind)
				}
				if i > 0 && p.RateMsgsPerSec.Median < pts[i-1].RateMsgsPerSec.Median {
					t.Errorf("%s: sweep line not ordered by offered rate", m)
				}
			}
			lines += len(pts)
		}
	}
	if lines == 0 {
		t.Error("no sweep points at all")
	}
}
