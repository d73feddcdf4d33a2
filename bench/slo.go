package bench

import (
	"math"

	"echobench/bench/config"
	"echobench/internal/results"
)

// slo is the run's objective. Whether a point held it is
// results.SLO.Held, the rule the report judges by too.
func (r *Runner) slo() results.SLO {
	return results.SLO{P99Us: float64(r.cfg.SLOP99.Microseconds()), Completion: r.cfg.SLOCompletion}
}

// nextSLORate is one bisection step of the search for the highest rate that
// meets the objective. The bracket is (highest rate held, lowest rate missed
// above it); a miss below a success is noise and ignored. With no miss yet
// the upper end is twice the best success (at least the capacity); with no
// success the lower end is 0. The rate never exceeds MaxLoadFraction times
// capacity.
func nextSLORate(tries []results.RateTry, capacity float64) float64 {
	lo, hi := results.HighestRateHeld(tries), math.Inf(1)
	for _, t := range tries {
		if !t.Held && t.RateMsgsPerSec > lo && t.RateMsgsPerSec < hi {
			hi = t.RateMsgsPerSec
		}
	}
	if math.IsInf(hi, 1) {
		hi = math.Max(2*lo, capacity)
	}
	hi = math.Min(hi, config.MaxLoadFraction*capacity)
	return (lo + hi) / 2
}
