package reports

import (
	"strings"
	"testing"
)

// The grid has a cell per model and class, read from the recommendation:
// a class appended to Classes appears without more code.
func TestVerdictGrid(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	grid := a.VerdictGrid()
	if len(grid) != len(a.candidates()) || len(grid) != len(a.Models)-1 {
		t.Fatalf("%d rows for %d models (the baseline %s has none)", len(grid), len(a.Models), BaselineModel)
	}
	at := map[string]VerdictCell{}
	for _, row := range grid {
		if len(row.Cells) != len(a.Classes) {
			t.Fatalf("%s: %d cells for %d classes", row.Model, len(row.Cells), len(a.Classes))
		}
		for i, c := range row.Cells {
			at[row.Model+"/"+a.Classes[i].ID] = c
		}
	}
	for key, want := range map[string]string{
		"netconn/few":      StandBest,
		"epoll/few":        StandBehind,
		"epoll/latency":    StandBest,
		"gnet/latency":     StandBehind,
		"node/latency":     StandBehind,
		"node/overload":    StandBest,
		"netconn/overload": StandBehind,
		"evio/many":        StandNotRanked,
		"epoll/large":      StandNotRanked,
		"epoll/pipelined":  StandNotRanked,
		"python-trio/slow": StandNotMeasured,
	} {
		if c := at[key]; c.Standing != want || c.Text == "" || c.Anchor == "" {
			t.Errorf("%s: %+v, want %s", key, c, want)
		}
	}
	if c := at["evio/many"]; !strings.Contains(c.Text, "failed") {
		t.Errorf("a not-ranked cell must say why: %q", c.Text)
	}

	// A class with no point: every model not measured in it.
	b := *a
	b.Classes = append(append([]ClassResult(nil), a.Classes...), ClassResult{Class: Class{ID: "new", Name: "New class"}, Status: StatusNoData})
	for _, row := range b.VerdictGrid() {
		if c := row.Cells[len(row.Cells)-1]; c.Standing != StandNotMeasured || c.Anchor != "class-new" {
			t.Errorf("%s in a class without data: %+v", row.Model, c)
		}
	}
}
