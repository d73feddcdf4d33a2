package results

// The SLO rate is the highest open-loop rate a model held within an
// objective. The orchestrator's search steers by it, `echobench run` prints
// it and the report ranks, charts and gates on it: each takes the rules
// below, so the three cannot disagree on what "held" means.

// ServerSaturatedShare is the share of its CPUs a server must use to count
// as at capacity itself (see ClientLimited).
const ServerSaturatedShare = 0.9

// ClientLimited reports whether a record's figure is the load generator's
// limit rather than the server's: the generator flagged itself client_bound
// (≥ 90% of its CPUs) and the server had CPU to spare. On a 2-core machine
// echo costs client and server about the same per message, so at capacity
// both run near 100%; then the figure is the server's capacity under this
// client, the same client every model faced. Without server figures a
// client_bound record counts as limited.
func (r *Record) ClientLimited() bool {
	if r.Load == nil || !r.Load.ClientBound {
		return false
	}
	cpus := r.Env.ServerGOMAXPROCS
	if r.ServerStats == nil || cpus <= 0 {
		return true
	}
	return r.ServerStats.CPUUtil < ServerSaturatedShare*float64(cpus)
}

// SLO is the objective of the open-loop search: p99 latency at most P99Us
// and a completion ratio of at least Completion (Scenario.SLOP99Us and
// Scenario.SLOCompletion in the records).
type SLO struct {
	P99Us      float64
	Completion float64
}

// Held reports whether r held its offered load within o: the point ran, the
// load generator met its rate (else the load was not offered) and was not
// the limit, nothing came back corrupted, and p99 and completion met o.
func (o SLO) Held(r *Record) bool {
	if r == nil || r.Status != StatusOK || r.Load == nil {
		return false
	}
	l := r.Load
	return l.RateMet && !r.ClientLimited() && l.Corrupted == 0 &&
		l.LatencyUs.P99 <= o.P99Us && l.CompletionRatio >= o.Completion
}

// OfferedRate is the open-loop rate r offered: the load generator's, else
// the scenario's.
func OfferedRate(r *Record) float64 {
	if r.Load != nil && r.Load.RateMsgsPerSec > 0 {
		return r.Load.RateMsgsPerSec
	}
	return r.Scenario.RateMsgsPerSec
}

// RateTry is one open-loop rate tried in a repeat, and whether it held.
type RateTry struct {
	RateMsgsPerSec float64
	Held           bool
}

// HighestRateHeld is a repeat's SLO rate: the highest rate that held, 0 if
// none did. A miss below a success is noise (a rate held above it), not a
// limit.
func HighestRateHeld(tries []RateTry) float64 {
	best := 0.0
	for _, t := range tries {
		if t.Held && t.RateMsgsPerSec > best {
			best = t.RateMsgsPerSec
		}
	}
	return best
}
