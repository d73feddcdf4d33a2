package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// Under overload: who keeps answering when offered more than it can serve.
// Overload points offer each model a factor (1.2, 2) of its reference rate:
// the most it completed per second at the same load earlier in the repeat,
// closed-loop capacity or any open-loop point that did more (bench records
// it as reference_msgs_per_s). The class ranks the completion ratio, the
// share of messages answered within the message timeout, per factor; beside
// it the report gives goodput (messages completed within the timeout per
// second: the load generator counts a late answer as timed out, so it is
// the throughput), p99 of the answered messages, and the server's kernel
// CPU share (system / (user + system)): the claim this class tests is that
// a model can be slower and still answer more of its clients, and load the
// kernel less.

// overloadCells are the overload points of plain echo.
func overloadCells(a *Analysis) []Cell {
	return a.Cells(func(s Cell) bool {
		return s.Kind == results.KindOverload && s.Work == "" && s.ConnLifetime == 0 && s.ConnectBurst == 0
	})
}

func overloadClassDef(a *Analysis) classDef {
	return classDef{Class{ID: "overload", Name: "Under overload",
		Rule: "open loop at factors above each model's reference rate (the most it completed per second at the same load earlier in the repeat: its closed-loop capacity, or an open-loop point that completed more); " +
			"completion ratio, the share of messages answered within the message timeout; goodput, p99 and the server's kernel CPU share beside it",
		Metric: "answered in time", Unit: "%", HigherIsBetter: true},
		overloadCells(a), completionSample}
}

// completionSample is the completion ratio over repeats, in percent; rate
// not met is the normal state under overload and does not unrank a point.
func completionSample(a *Analysis, model string, sc Cell) (stat.Summary, string, bool) {
	p := a.AggregateAt(model, sc)
	if p == nil {
		return stat.Summary{}, "", false
	}
	pct := make([]float64, len(p.CompletionRatio.Values))
	for i, v := range p.CompletionRatio.Values {
		pct[i] = 100 * v
	}
	return stat.Summarize(pct), p.Unranked, true
}

// overloadBehaviour gives, per overload cell, every model's completion,
// goodput, p99, kernel share and median reference rate, best answered
// first, and names the models the factor did not overload (they held the
// objective's completion: their reference was below what they can serve).
func overloadBehaviour(a *Analysis, cells []Cell) string {
	var parts []string
	for _, sc := range cells {
		aggs := overloadAggregates(a, sc)
		if len(aggs) == 0 {
			continue
		}
		var figs, held []string
		for _, p := range aggs {
			figs = append(figs, overloadFigures(p))
			if p.CompletionRatio.Median >= a.Options.SLOCompletion {
				held = append(held, p.Server)
			}
		}
		part := fmt.Sprintf("at %s: %s", sc.Label(), strings.Join(figs, "; "))
		if len(held) > 0 {
			part += fmt.Sprintf(" (%s held %s of completion: not overloaded at this factor, so its open-loop capacity is above its reference)",
				strings.Join(held, ", "), pctLabel(a.Options.SLOCompletion))
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return " Behaviour (medians over repeats; goodput = messages answered within the timeout per second; kernel = the server's system CPU share): " +
		strings.Join(parts, ". ") + "."
}

// overloadAggregates are the models' aggregates at sc with a completion
// figure, most answered first.
func overloadAggregates(a *Analysis, sc Cell) []*Aggregate {
	var out []*Aggregate
	for _, m := range a.candidates() {
		if p := a.AggregateAt(m, sc); p != nil && p.CompletionRatio.N > 0 {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(x, y *Aggregate) int { return -compareMedians(x.CompletionRatio, y.CompletionRatio) })
	return out
}

// overloadFigures is one model's figures at an overload point:
// "node answered 90% (goodput 64.1k msgs/s, p99 80.0 ms, kernel 45%, reference 71.2k msgs/s)".
func overloadFigures(p *Aggregate) string {
	s := fmt.Sprintf("%s answered %s (goodput %s msgs/s, p99 %s", p.Server, pctLabel(roundTo(p.CompletionRatio.Median, 3)),
		num(p.ThroughputMsgsPerSec.Median), usLabel(p.P99Us.Median))
	if p.KernelCPUShare.N > 0 {
		s += fmt.Sprintf(", kernel %.0f%%", 100*p.KernelCPUShare.Median)
	}
	if ref := referenceMedian(p); ref > 0 {
		s += fmt.Sprintf(", reference %s msgs/s", num(ref))
	}
	if p.Unranked != "" {
		s += "; not ranked: " + p.Unranked
	}
	return s + ")"
}

// referenceMedian is the median reference rate over the ok repeats, 0
// when the records carry none.
func referenceMedian(p *Aggregate) float64 {
	var refs []float64
	for _, r := range p.OK {
		if r.Scenario.ReferenceMsgsPerSec > 0 {
			refs = append(refs, r.Scenario.ReferenceMsgsPerSec)
		}
	}
	return stat.Summarize(refs).Median
}

// roundTo rounds a ratio to digits decimals, so that a percentage prints
// short ("90.2%", not "90.2137%").
func roundTo(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

// overloadAdvice is the sentence a user acts on, with this run's figures:
// at the lowest factor, who answered most and least; at the highest, the
// most any model answered.
func overloadAdvice(a *Analysis, cr ClassResult) string {
	const generic = "If your service can be pushed past its capacity (a burst, a retry storm, a slow dependency), " +
		"pick the model that keeps answering, and cap its queue (reject early, an admission limit) before the load gets there"
	if len(cr.Cells) == 0 {
		return generic + "."
	}
	low, high := cr.Cells[0].Cell, cr.Cells[0].Cell
	for _, v := range cr.Cells {
		if v.Cell.LoadFraction < low.LoadFraction {
			low = v.Cell
		}
		if v.Cell.LoadFraction > high.LoadFraction {
			high = v.Cell
		}
	}
	aggs := overloadAggregates(a, low)
	if len(aggs) == 0 {
		return generic + "."
	}
	within := "within the message timeout"
	if low.MsgTimeoutS > 0 {
		within = "within " + usLabel(low.MsgTimeoutS*1e6)
	}
	s := fmt.Sprintf("%s: at %s× its reference rate %s answered %s of messages %s", generic,
		strconv.FormatFloat(low.LoadFraction, 'g', -1, 64), aggs[0].Server, pctLabel(roundTo(aggs[0].CompletionRatio.Median, 3)), within)
	if last := aggs[len(aggs)-1]; len(aggs) > 1 {
		s += fmt.Sprintf(", %s %s", last.Server, pctLabel(roundTo(last.CompletionRatio.Median, 3)))
	}
	if hi := overloadAggregates(a, high); high != low && len(hi) > 0 {
		s += fmt.Sprintf("; at %s× no model answered more than %s", strconv.FormatFloat(high.LoadFraction, 'g', -1, 64),
			pctLabel(roundTo(hi[0].CompletionRatio.Median, 3)))
	}
	return s + "."
}

// overloadCSVHeader are results.csv's columns for the reference rate of an
// overload point and a scenario's own message timeout, after the churn
// columns.
var overloadCSVHeader = []string{"capacity_msgs_per_s", "reference_msgs_per_s", "reference_from", "msg_timeout_s"}

func overloadCSVRow(r *results.Record) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	sc := r.Scenario
	return []string{f(sc.CapacityMsgsPerSec), f(sc.ReferenceMsgsPerSec), sc.ReferenceFrom, f(sc.MsgTimeoutS)}
}
