package bench

import (
	"echobench/bench/config"
	"echobench/internal/results"
)

// Overload points offer each model a factor above its reference rate. The
// reference is the most messages per second the model completed (within
// the timeout) at the same load, earlier in the same repeat: its
// closed-loop capacity, or any open-loop point (sweep, absolute rate, SLO
// step) that completed more. A closed-loop capacity alone is not enough:
// at depth 1 some models hold 1.06-1.19x of it open-loop, so "1.2x
// capacity" would not overload them. Overload points never set the
// reference, so every factor of a repeat multiplies the same rate.

// setOverloadRate derives the offered rate of an overload point from its
// reference and records both. It returns true when the point cannot run
// (the record is then complete): no closed-loop measurement of the load
// succeeded in this repeat before it.
func (r *Runner) setOverloadRate(rec *results.Record, p Point) bool {
	sc := &rec.Scenario
	r.setObjective(sc)
	ref, from, capacity := r.overloadReference(p)
	if capacity <= 0 {
		fail(rec, "no closed-loop measurement of load %s succeeded in repeat %d before this point: the overload rate needs one (its capacity point failed or did not run)", p.LoadKey, p.Repeat)
		return true
	}
	sc.CapacityMsgsPerSec = capacity
	sc.ReferenceMsgsPerSec, sc.ReferenceFrom = ref, from
	sc.RateMsgsPerSec = sc.LoadFraction * ref
	return false
}

// overloadReference scans the points of p's server and repeat that ran
// before p with the same load (any kind but overload, any timeout) and
// returns the highest throughput among those that succeeded, the PointID
// that had it, and the highest closed-loop throughput (0 when none
// succeeded).
func (r *Runner) overloadReference(p Point) (ref float64, from string, capacity float64) {
	for _, q := range r.plan {
		if q.ID == p.ID {
			break
		}
		if q.Repeat != p.Repeat || q.Server != p.Server || q.LoadKey != p.LoadKey || q.Scenario.Kind == results.KindOverload {
			continue
		}
		rec := r.records[q.ID]
		if rec == nil || rec.Status != results.StatusOK || rec.Load == nil {
			continue
		}
		tput := rec.Load.ThroughputMsgsPerSec
		if q.Scenario.Mode == config.ModeClosed {
			capacity = max(capacity, tput)
		}
		if tput > ref {
			ref, from = tput, q.ID
		}
	}
	return ref, from, capacity
}
