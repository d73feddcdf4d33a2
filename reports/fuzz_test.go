package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"echobench/internal/results"
)

// FuzzReport feeds any results file to the report: it must give a clear
// error or a whole report, never a panic or a hang (issue #11).
func FuzzReport(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join(testRun, results.FileName))
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(seed, []byte("\n"))
	f.Add(bytes.Join(lines[:min(12, len(lines))], nil))
	f.Add(lines[0])
	f.Add([]byte(`{"schema":2,"run_id":"r","point_id":"p","repeat":1,"status":"ok","load":{"mode":"closed","conns":1,"size_bytes":1,"duration_s":1,"intended":1,"completed":1,"completion_ratio":1,"throughput_msgs_per_s":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := results.Read(bytes.NewReader(b))
		if err != nil || len(res.Records) == 0 {
			return
		}
		a, err := Analyze(&Run{Path: "fuzz.jsonl", Records: res.Records}, Options{})
		if err != nil {
			return
		}
		// The text outputs always; the charts (slow to draw) for small
		// inputs, where the degenerate cases live.
		var out bytes.Buffer
		if err := WriteSummary(&out, a); err != nil {
			t.Fatalf("summary of records Read accepted: %v", err)
		}
		if err := WriteCSV(&out, a.Run); err != nil {
			t.Fatalf("CSV of records Read accepted: %v", err)
		}
		var charts []Chart
		var notes []string
		if len(res.Records) <= 4 {
			charts, notes, _ = a.charts(false)
		}
		if err := WriteHTML(&out, a, charts, notes); err != nil {
			t.Fatalf("HTML of records Read accepted: %v", err)
		}
	})
}
