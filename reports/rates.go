package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// Latency under a fixed load, decided at absolute rates. A sweep offers each
// model fractions of its own capacity, so the client does different work
// for each; on a 2-core machine the client then saturates before the
// servers separate and the class stays undecided. Rate points offer every
// model the same rate (msgs/s), below the client's limit, and the class
// compares p50, p99 and p99.9 there, each across repeats with the
// Mann–Whitney rules of every class. A model that did not hold a rate ranks
// behind the others at it, with the reason. Runs without rate points (older
// runs, sweeps alone) keep the sweep's verdict: the highest load held.

// latencyAdvice is what a user does with the verdict at fixed rates.
const latencyAdvice = "Most services run below their capacity most of the time: this is the latency their users see. " +
	"Read p50 for the typical request and p99.9 if a request fans out to many calls (it waits for the slowest)."

// latencyStat is one statistic the latency class compares at each rate.
type latencyStat struct {
	name string
	get  func(*Aggregate) stat.Summary
}

var latencyStats = []latencyStat{
	{"p50", func(p *Aggregate) stat.Summary { return p.P50Us }},
	{"p99", func(p *Aggregate) stat.Summary { return p.P99Us }},
	{"p99.9", func(p *Aggregate) stat.Summary { return p.P999Us }},
}

// rateLabel names an absolute rate, an overload factor and the message
// timeout a cell carries: " at 20000 msgs/s", " ×1.2 timeout=100ms"; empty
// for other cells, so existing labels are kept.
func (s Cell) rateLabel() string {
	var b string
	switch s.Kind {
	case results.KindRate:
		b = " at " + strconv.FormatFloat(s.RateMsgsPerSec, 'f', -1, 64) + " msgs/s"
	case results.KindOverload:
		b = " ×" + strconv.FormatFloat(s.LoadFraction, 'g', -1, 64)
	}
	if s.MsgTimeoutS > 0 {
		b += " timeout=" + time.Duration(s.MsgTimeoutS*float64(time.Second)).String()
	}
	return b
}

// rateCells are the points the latency class ranks on: absolute rates of
// plain echo (idle connections and slow readers beside them allowed, as in
// the sweep).
func rateCells(a *Analysis) []Cell {
	return a.Cells(func(s Cell) bool {
		return s.Kind == results.KindRate && s.Work == "" && s.ConnLifetime == 0 && s.ConnectBurst == 0
	})
}

// latencyClassDef is the latency class: at absolute rates when the run has
// them, else the highest load each model held in its sweep.
func latencyClassDef(a *Analysis) classDef {
	cells := rateCells(a)
	if len(cells) == 0 {
		return classDef{Class{ID: "latency", Name: "Latency under a fixed load",
			Rule: fmt.Sprintf("open-loop sweep and SLO-search points; per repeat, the highest offered rate that held: rate met, not client-limited, p99 ≤ %s, completion ≥ %s",
				usLabel(a.Options.SLOP99Us), pctLabel(a.Options.SLOCompletion)),
			Metric: "sustained rate", Unit: "msgs/s", HigherIsBetter: true},
			filterCells(sweepGroups(a), func(s Cell) bool { return s.Work == "" }), sustainedSample}
	}
	return classDef{Class{ID: "latency", Name: "Latency under a fixed load",
		Rule: fmt.Sprintf("open loop at absolute rates, the same for every model; p50, p99 and p99.9 of each repeat, compared across repeats at each rate; "+
			"a model that did not hold a rate (rate not met in most repeats, completion below %s, or client-limited in every repeat) ranks behind the others there, with why",
			pctLabel(a.Options.SLOCompletion)),
		Metric: "latency", Unit: "µs", Advice: latencyAdvice},
		cells, nil}
}

// rateVerdicts ranks the models at each rate cell on each statistic: one
// CellVerdict per cell and statistic.
func rateVerdicts(a *Analysis, d classDef) []CellVerdict {
	var out []CellVerdict
	for _, sc := range d.cells {
		for _, st := range latencyStats {
			v := CellVerdict{Cell: sc, Facet: st.name}
			for _, m := range a.candidates() {
				p := a.AggregateAt(m, sc)
				if p == nil {
					continue
				}
				e := Entry{Model: m, Sample: st.get(p)}
				if e.Unranked = brokenReason(p); e.Unranked != "" {
					v.Unranked = append(v.Unranked, e)
				} else if e.Behind = notHeld(p, a.Options); e.Behind != "" {
					v.Behind = append(v.Behind, e)
				} else {
					v.Ranked = append(v.Ranked, e)
				}
			}
			if len(v.Ranked)+len(v.Behind)+len(v.Unranked) == 0 {
				continue
			}
			d.rank(&v)
			slices.SortStableFunc(v.Behind, func(x, y Entry) int { return compareMedians(x.Sample, y.Sample) })
			if len(v.Ranked) == 0 && len(v.Behind) > 0 {
				v.Undecided = "no model held this rate: " + behindList(v.Behind)
			}
			out = append(out, v)
		}
	}
	return out
}

// compareMedians orders samples by median, lowest first, empty ones last.
func compareMedians(x, y stat.Summary) int {
	switch {
	case x.N == 0 || y.N == 0:
		return y.N - x.N
	case x.Median < y.Median:
		return -1
	case x.Median > y.Median:
		return 1
	}
	return 0
}

// brokenReason is why a point's figures cannot be compared at all: no
// successful repeat, a failed one, or corrupted echoes. Empty when none.
func brokenReason(p *Aggregate) string {
	switch {
	case len(p.OK) == 0:
		return "no successful repeat"
	case len(p.Failed) > 0:
		return fmt.Sprintf("failed in %d of %d repeats", len(p.Failed), p.Repeats())
	case p.Corrupted > 0:
		return fmt.Sprintf("echoed %d corrupted messages", p.Corrupted)
	}
	return ""
}

// notHeld is why a model did not hold the rate of its point, empty when it
// did: the client-limited repeats measured the client, a rate missed in
// most repeats queued messages in the client, and a completion below the
// objective lost messages whose latency the percentiles leave out.
func notHeld(p *Aggregate, opt Options) string {
	n := len(p.OK)
	switch {
	case p.ClientLimitedRepeats == n:
		return fmt.Sprintf("did not hold the rate: client-limited in %d of %d repeats", p.ClientLimitedRepeats, n)
	case 2*p.RateNotMetRepeats > n:
		return fmt.Sprintf("did not hold the rate: rate not met in %d of %d repeats", p.RateNotMetRepeats, n)
	case p.CompletionRatio.N > 0 && p.CompletionRatio.Median < opt.SLOCompletion:
		return fmt.Sprintf("did not hold the rate: completed %s (median), below the %s objective",
			pctLabel(roundTo(p.CompletionRatio.Median, 3)), pctLabel(opt.SLOCompletion))
	}
	return ""
}

// behindList names each model behind, with its reason.
func behindList(es []Entry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.Model+" "+strings.TrimPrefix(e.Behind, "did not hold the rate: "))
	}
	return strings.Join(parts, "; ")
}

// separationNote says, for the latency class at absolute rates, which
// statistic could not separate which models, with their medians and the
// test's p, and which models did not hold a rate: a tie or "no claim" is
// then evidence a user can read, not a shrug. Empty when every statistic
// separated every model and every model held every rate.
func separationNote(cr ClassResult) string {
	var tied, behind []string
	for _, v := range cr.Cells {
		if v.Undecided != "" || len(v.Ranked) == 0 {
			continue
		}
		if len(v.Winners) > 1 {
			tied = append(tied, winnersFigures(v, cr.Unit))
		}
		if v.Facet == latencyStats[0].name && len(v.Behind) > 0 {
			behind = append(behind, fmt.Sprintf("at %s: %s", v.Cell.Label(), behindList(v.Behind)))
		}
	}
	var b string
	if len(tied) > 0 {
		b += " Could not separate: " + strings.Join(tied, "; ") + "."
	}
	if len(behind) > 0 {
		b += " Ranked behind, as they did not hold the rate: " + strings.Join(behind, "; ") + "."
	}
	return b
}

// winnersFigures is "p99 at rate c=64 64B d=1 at 50000 msgs/s: epoll 85.2
// µs, gnet 86.0 µs (+0.9% ~, p=0.589 n=6+6)": the winners of one cell that
// the test could not tell apart.
func winnersFigures(v CellVerdict, unit string) string {
	best := v.Ranked[0]
	parts := []string{fmt.Sprintf("%s %s %s", best.Model, num(best.Sample.Median), unit)}
	for _, e := range v.Ranked[1:] {
		if slices.Contains(v.Winners, e.Model) {
			parts = append(parts, fmt.Sprintf("%s %s %s (%s, %s)", e.Model, num(e.Sample.Median), unit, signedPct(e.VsBest), e.VsBest))
		}
	}
	return fmt.Sprintf("%s at %s: %s", v.Facet, v.Cell.Label(), strings.Join(parts, ", "))
}
