package reports

import (
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot"
)

// Equal figures under 1 KiB on a log axis (every model holding an idle
// connection in 300 bytes) drew nothing and failed the whole report
// (issue #11 item 8). Now the chart is drawn and the report written.
func TestDegenerateMemoryChart(t *testing.T) {
	t.Parallel()
	run, err := ReadRun(testRun)
	if err != nil {
		t.Fatal(err)
	}
	for i := range run.Records {
		if s := run.Records[i].ServerStats; s != nil {
			s.RSSBytesPerConn = 300
		}
	}
	a, err := Analyze(run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := Write(a, dir, WriteOptions{SkipPNG: true})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if len(w.ChartNotes) != 0 {
		t.Errorf("charts not drawn: %v", w.ChartNotes)
	}
	for _, f := range []string{IndexFile, SummaryFile, CSVFile, filepath.Join(ChartsDir, "memory.svg")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestPadLogAxis(t *testing.T) {
	t.Parallel()
	p := plot.New()
	p.Y.Scale = plot.LogScale{}
	p.Y.Min, p.Y.Max = 0.3, 0.3
	padLogAxis(&p.Y)
	if p.Y.Min != 0.15 || p.Y.Max != 0.6 {
		t.Errorf("padded to [%v, %v], want [0.15, 0.6]", p.Y.Min, p.Y.Max)
	}
	p.X.Min, p.X.Max = 0.3, 0.3 // a linear axis is gonum's to pad
	padLogAxis(&p.X)
	if p.X.Min != 0.3 {
		t.Errorf("a linear axis was changed")
	}
}
