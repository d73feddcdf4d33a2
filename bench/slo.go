package bench

import (
	"math"

	"echobench/bench/config"
	"echobench/internal/results"
)

// sloSample is one open-loop measurement of a model: the offered rate and
// whether it met the objective.
type sloSample struct {
	rate float64
	met  bool
}

// meetsSLO reports whether an open-loop record kept p99 at or under p99Us
// with a completion ratio of at least completion.
func meetsSLO(rec *results.Record, p99Us, completion float64) bool {
	return rec != nil && rec.Status == results.StatusOK && rec.Load != nil &&
		rec.Load.LatencyUs.P99 <= p99Us && rec.Load.CompletionRatio >= completion
}

// nextSLORate is one bisection step of the search for the highest rate that
// meets the objective. The bracket is (highest rate met, lowest rate missed
// above it); a miss below a success is noise and ignored. With no miss yet
// the upper end is twice the best success (at least the capacity); with no
// success the lower end is 0. The rate never exceeds MaxLoadFraction times
// capacity.
func nextSLORate(samples []sloSample, capacity float64) float64 {
	lo, hi := foundSLORate(samples), math.Inf(1)
	for _, s := range samples {
		if !s.met && s.rate > lo && s.rate < hi {
			hi = s.rate
		}
	}
	if math.IsInf(hi, 1) {
		hi = math.Max(2*lo, capacity)
	}
	hi = math.Min(hi, config.MaxLoadFraction*capacity)
	return (lo + hi) / 2
}

// foundSLORate is the highest rate that met the objective, 0 if none did.
func foundSLORate(samples []sloSample) float64 {
	best := 0.0
	for _, s := range samples {
		if s.met && s.rate > best {
			best = s.rate
		}
	}
	return best
}
