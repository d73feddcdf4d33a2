package reports

import (
	"fmt"
	"strconv"

	"echobench/internal/results"
)

// BaselineModel is the native baseline (servers/external's c-epoll: one
// epoll loop in C). Every report shows each model's throughput as a
// fraction of its median at the same point in the same run: runs on a
// shared machine differ by 15-30%, so a fraction of a baseline measured
// beside the model, interleaved with it, is the figure that carries from
// one run to another, and the nearest thing to the machine's limit a
// reader can see.
const BaselineModel = "c-epoll"

// candidates are the models the recommendation ranks and the verdict grid
// shows: every model but the baseline. c-epoll is the yardstick, a loop
// written for measuring, not a server model a user would pick; it stays in
// the charts and tables, and every model's throughput is given as a
// fraction of it.
func (a *Analysis) candidates() []string {
	out := make([]string, 0, len(a.Models))
	for _, m := range a.Models {
		if m != BaselineModel {
			out = append(out, m)
		}
	}
	return out
}

// baselineCSVHeader is results.csv's column for it: the record's
// throughput over the baseline's median at the record's point; empty where
// there is none (see baselineComparable and baselineMedian).
var baselineCSVHeader = []string{"baseline_fraction"}

// baselineComparable says whether throughput at sc is the server's own
// capacity (closed loop, and the open loop's capacity step), the figure a
// fraction of the baseline's means something for. An open-loop sweep or
// SLO point runs at a rate derived from each model's own capacity, so its
// throughput is that rate and is not compared.
func baselineComparable(sc Cell) bool {
	return sc.Kind == results.KindClosed || sc.Kind == results.KindCapacity
}

// baselineMedian is the baseline's median throughput in p, its aggregate
// at a point, or false where it has none: no ok repeat, or only
// client-limited ones (they measured the load generator, not c-epoll).
func baselineMedian(p *Aggregate) (float64, bool) {
	if p == nil || !baselineComparable(p.Cell) || p.ThroughputMsgsPerSec.N == 0 ||
		p.ThroughputMsgsPerSec.Median <= 0 || p.ClientLimitedRepeats == len(p.OK) {
		return 0, false
	}
	return p.ThroughputMsgsPerSec.Median, true
}

// baselineFraction is p's median throughput over the baseline's at p's
// point, or false where either is missing.
func (a *Analysis) baselineFraction(p *Aggregate) (float64, bool) {
	if p == nil || p.ThroughputMsgsPerSec.N == 0 {
		return 0, false
	}
	base, ok := baselineMedian(a.AggregateAt(BaselineModel, p.Cell))
	if !ok {
		return 0, false
	}
	return p.ThroughputMsgsPerSec.Median / base, true
}

// VsBaseline is the HTML table's "× c-epoll" cell for p: "0.93×",
// "baseline" on c-epoll's own row, "–" where there is no fraction.
func (a *Analysis) VsBaseline(p *Aggregate) string {
	if p.Server == BaselineModel {
		if _, ok := baselineMedian(p); ok {
			return "baseline"
		}
		return "–"
	}
	if f, ok := a.baselineFraction(p); ok {
		return fmt.Sprintf("%.2f×", f)
	}
	return "–"
}

// vsBaselineMD is what the Markdown throughput table adds to p's cell:
// " (0.93×)", or nothing.
func (a *Analysis) vsBaselineMD(p *Aggregate) string {
	if p == nil || p.Server == BaselineModel {
		return ""
	}
	if f, ok := a.baselineFraction(p); ok {
		return fmt.Sprintf(" (%.2f×)", f)
	}
	return ""
}

// BaselineNote says once what the fractions are, or why there are none:
// c-epoll not in the run, skipped (no C compiler), or without a figure at
// some points.
func (a *Analysis) BaselineNote() string {
	for _, r := range a.Skipped {
		if r.Server.Name == BaselineModel {
			return fmt.Sprintf("No model is shown as a fraction of %s, the native baseline: it was skipped (%s).", BaselineModel, orDash(r.Error))
		}
	}
	missing, present := 0, false
	for _, sc := range a.Cells(baselineComparable) {
		p := a.AggregateAt(BaselineModel, sc)
		present = present || p != nil
		if _, ok := baselineMedian(p); !ok {
			missing++
		}
	}
	if !present {
		return fmt.Sprintf("No model is shown as a fraction of %s, the native baseline: it is not in this run (add it to the matrix's [[servers]]).", BaselineModel)
	}
	note := fmt.Sprintf("A fraction such as 0.93× is the model's median throughput over that of %[1]s, the native baseline (one epoll loop in C), at the same point in this run; closed-loop and capacity points only. %[1]s itself is the yardstick, not ranked.", BaselineModel)
	if missing > 0 {
		note += fmt.Sprintf(" %s has no figure (failed, not run or client-limited) at %d of those points, so they have no fraction.", BaselineModel, missing)
	}
	return note
}

// csvBaseline is the baseline's median throughput per point label, from
// the run's records grouped exactly as the report groups them.
type csvBaseline map[string]float64

func newCSVBaseline(run *Run) csvBaseline {
	byKey, _ := (&Analysis{Run: run}).group(run.Records)
	base := csvBaseline{}
	for _, p := range byKey {
		if p.Server != BaselineModel {
			continue
		}
		p.summarizeFigures()
		if m, ok := baselineMedian(p); ok {
			base[p.Cell.Label()] = m
		}
	}
	return base
}

// row is r's baseline_fraction cell.
func (b csvBaseline) row(r *results.Record) []string {
	base, ok := b[cellOf(r).Label()]
	if !ok || r.Load == nil || r.Status != results.StatusOK {
		return []string{""}
	}
	return []string{strconv.FormatFloat(r.Load.ThroughputMsgsPerSec/base, 'g', 4, 64)}
}
