package reports

import (
	"fmt"

	"echobench/internal/results"
)

// UnstableCV is the coefficient of variation across repeats at or above
// which a point is flagged as an unstable measurement: its repeats disagree
// by more than the differences a report usually has to judge.
const UnstableCV = 0.10

// Unstable says why the repeats of p disagree too much to trust its median
// alone, or "" when they agree. The figure is throughput, the measurement
// every point makes; an open-loop point's throughput is its offered rate
// when it holds, so there a flag means it held in some repeats and not in
// others. SLO-search steps are left out: their rate differs per repeat by
// design. (Tail latency varies more than 10% between repeats nearly
// always on a shared machine; it is not flagged.)
func (p *Aggregate) Unstable() string {
	s := p.ThroughputMsgsPerSec
	if p.Cell.Kind == results.KindSLO || s.N < 2 || s.CV < UnstableCV {
		return ""
	}
	return fmt.Sprintf("unstable: throughput varies %.0f%% across %d repeats (coefficient of variation ≥ %.0f%%)", 100*s.CV, s.N, 100*UnstableCV)
}

// unstableAggregates lists the points whose repeats disagree.
func (a *Analysis) unstableAggregates() []*Aggregate {
	var out []*Aggregate
	for _, p := range a.Aggregates {
		if p.Unstable() != "" {
			out = append(out, p)
		}
	}
	return out
}
