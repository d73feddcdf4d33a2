package reports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"echobench/internal/results"
)

// Each model's throughput is its median over c-epoll's at the same point,
// on closed-loop points only; c-epoll's own row says it is the baseline.
func TestVsBaseline(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	closed := Cell{Kind: results.KindClosed, Mode: "closed", Conns: 64, SizeBytes: 64, Depth: 1}
	epoll, base := a.AggregateAt("epoll", closed), a.AggregateAt(BaselineModel, closed)
	if epoll == nil || base == nil {
		t.Fatalf("the test run lacks epoll or %s at %s", BaselineModel, closed.Label())
	}
	want := fmt.Sprintf("%.2f×", epoll.ThroughputMsgsPerSec.Median/base.ThroughputMsgsPerSec.Median)
	if got := a.VsBaseline(epoll); got != want || want == "1.00×" {
		t.Errorf("epoll at %s: %q, want %q (and not 1.00: the test run makes them differ)", closed.Label(), got, want)
	}
	if got := a.VsBaseline(base); got != "baseline" {
		t.Errorf("c-epoll's own row: %q", got)
	}
	sweeps := 0
	for _, p := range a.Aggregates {
		if p.Cell.Kind == results.KindSweep {
			sweeps++
			if got := a.VsBaseline(p); got != "–" {
				t.Errorf("%s: %q; an open-loop point has no fraction", p.Key(), got)
			}
		}
	}
	if sweeps == 0 {
		t.Error("no sweep point in the test run")
	}
	// c-epoll was client-limited in every repeat of the pipelined point:
	// that measured the load generator, so nothing is a fraction of it.
	piped := closed
	piped.Depth = 16
	if got := a.VsBaseline(a.AggregateAt("gnet", piped)); got != "–" {
		t.Errorf("gnet at %s: %q, want no fraction of a client-limited baseline", piped.Label(), got)
	}
	if note := a.BaselineNote(); !strings.Contains(note, "median throughput over that of c-epoll") {
		t.Errorf("note: %q", note)
	}
}

// Without c-epoll in the run, no fraction is shown, and the report says
// why once: not in the matrix, or skipped with the reason.
func TestBaselineAbsent(t *testing.T) {
	t.Parallel()
	run, err := ReadRun(testRun)
	if err != nil {
		t.Fatal(err)
	}
	var without, skipped []results.Record
	for _, r := range run.Records {
		if r.Server.Name != BaselineModel {
			without = append(without, r)
			skipped = append(skipped, r)
		}
	}
	skip := results.Record{Schema: results.SchemaVersion, RunID: run.Records[0].RunID, PointID: "c-epoll/skipped",
		Server: results.ServerInfo{Name: BaselineModel}, Status: results.StatusSkipped,
		Error: "no C compiler (cc): run make deps (scripts/install-stacks.sh)"}
	skipped = append(skipped, skip)
	for name, tc := range map[string]struct {
		recs []results.Record
		want string
	}{
		"not in the run": {without, "it is not in this run"},
		"skipped":        {skipped, "it was skipped (no C compiler (cc): run make deps"},
	} {
		a, err := Analyze(&Run{Path: run.Path, Records: tc.recs}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var md, out bytes.Buffer
		if err := WriteSummary(&md, a); err != nil {
			t.Fatal(err)
		}
		if err := WriteCSV(&out, a.Run); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(md.String(), tc.want); n != 1 {
			t.Errorf("%s: summary.md says %q %d times, want once", name, tc.want, n)
		}
		if strings.Contains(md.String(), "×)") {
			t.Errorf("%s: summary.md shows a fraction of an absent baseline", name)
		}
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows[1:] {
			if v := row[len(row)-1]; v != "" {
				t.Fatalf("%s: %s has baseline_fraction %s", name, row[1], v)
			}
		}
	}
}
