package reports

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"echobench/reports/stat"
)

// ErrBadThreshold is wrapped by ParseThreshold's errors, so a command can
// report a bad threshold as a usage error.
var ErrBadThreshold = errors.New("bad regression threshold")

// ParseThreshold reads a regression threshold written as a percentage,
// "5%" or "2.5%", and returns it as a fraction (0.05). The percent sign is
// required: "5" could mean 5% or 500%, and a gate that guesses fails the
// wrong builds.
func ParseThreshold(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%w %q: write it as a percentage, e.g. 5%%", ErrBadThreshold, s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%w %q: want a percentage ≥ 0%%, e.g. 5%%", ErrBadThreshold, s)
	}
	return v / 100, nil
}

// Regression is one figure at one point that is significantly worse in the
// new run than in the old by more than the threshold.
type Regression struct {
	Metric string // e.g. "throughput"
	Unit   string
	Key    string // "server / point"
	Old    stat.Summary
	New    stat.Summary
	// Cmp compares Old with New: Delta is (new-old)/old of the medians.
	Cmp stat.Comparison
}

// gateMetric is one figure the gate watches, with the points it applies to.
type gateMetric struct {
	name, unit     string
	higherIsBetter bool
	keep           func(Cell) bool
	get            func(*Aggregate) stat.Summary
}

// gateMetrics are the per-point figures of the gate; the SLO rate, a figure
// per sweep group rather than per point, is handled by sloRegressions.
var gateMetrics = []gateMetric{
	{"throughput", "msgs/s", true, func(s Cell) bool { return s.Mode != "open" },
		func(p *Aggregate) stat.Summary { return p.ThroughputMsgsPerSec }},
	{"p99 latency", "µs", false, func(Cell) bool { return true },
		func(p *Aggregate) stat.Summary { return p.P99Us }},
	{"CPU per message", "µs", false, func(Cell) bool { return true },
		func(p *Aggregate) stat.Summary { return p.CPUPerMsgUs }},
	{"memory per connection", "bytes", false, func(s Cell) bool { return s.Mode != "open" },
		func(p *Aggregate) stat.Summary { return p.RSSBytesPerConn }},
}

// Regressions lists every figure where new is significantly worse than old
// (Mann–Whitney U, as compare and the recommendation judge) by more than
// threshold, a fraction: throughput, p99, CPU per message and memory per
// connection at every point in both runs, and the SLO rate (the highest
// offered rate held, per repeat) of every open-loop group. A change within
// the threshold, or one the test cannot tell from noise, is not listed.
func Regressions(old, new *Analysis, threshold float64) []Regression {
	newIdx := map[string]*Aggregate{}
	for _, p := range new.Aggregates {
		newIdx[p.Key()] = p
	}
	var out []Regression
	for _, m := range gateMetrics {
		for _, op := range old.Aggregates {
			np := newIdx[op.Key()]
			if np == nil || !m.keep(op.Cell) {
				continue
			}
			if r, ok := regressed(m.name, m.unit, m.higherIsBetter, op.Key(), m.get(op), m.get(np), threshold); ok {
				out = append(out, r)
			}
		}
	}
	return append(out, sloRegressions(old, new, threshold)...)
}

// sloRegressions compares the SLO rate of every open-loop group and model
// present in both runs.
func sloRegressions(old, new *Analysis, threshold float64) []Regression {
	var out []Regression
	newGroups := map[Cell]bool{}
	for _, g := range sweepGroups(new) {
		newGroups[g] = true
	}
	for _, g := range sweepGroups(old) {
		if !newGroups[g] {
			continue
		}
		for _, m := range old.Models {
			so, _, okOld := sustainedSample(old, m, g)
			sn, _, okNew := sustainedSample(new, m, g)
			if !okOld || !okNew {
				continue
			}
			if r, ok := regressed("SLO rate", "msgs/s", true, m+" / "+g.Label(), so, sn, threshold); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// regressed reports whether sn is significantly worse than so by more than
// threshold.
func regressed(metric, unit string, higherIsBetter bool, key string, so, sn stat.Summary, threshold float64) (Regression, bool) {
	if so.N == 0 || sn.N == 0 {
		return Regression{}, false
	}
	c := stat.Compare(so, sn)
	if c.Verdict != stat.Differ || math.IsNaN(c.Delta) {
		return Regression{}, false
	}
	worse := c.Delta
	if higherIsBetter {
		worse = -c.Delta
	}
	if worse <= threshold {
		return Regression{}, false
	}
	return Regression{Metric: metric, Unit: unit, Key: key, Old: so, New: sn, Cmp: c}, true
}

// WriteRegressions lists the regressions found beyond threshold, one a
// line, or says there are none.
func WriteRegressions(w io.Writer, regs []Regression, threshold float64) error {
	var b strings.Builder
	thr := strconv.FormatFloat(100*threshold, 'g', -1, 64) + "%"
	if len(regs) == 0 {
		fmt.Fprintf(&b, "\nregression gate: no figure significantly worse by more than %s\n", thr)
	} else {
		fmt.Fprintf(&b, "\nregression gate: %d figure(s) significantly worse by more than %s\n", len(regs), thr)
	}
	for _, r := range regs {
		fmt.Fprintf(&b, "REGRESSION %s: %s %s → %s %s (%+.1f%%, %s)\n",
			r.Key, r.Metric, num(r.Old.Median), num(r.New.Median), r.Unit, 100*r.Cmp.Delta, r.Cmp)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}
