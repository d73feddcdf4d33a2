package synth

import (
	"fmt"
	"math"
	"time"

	"echobench/internal/results"
)

// Absolute rates: every model offered the same 20k and 50k msgs/s at 64
// connections, the latency class's points. epoll and gnet have nearly the
// same service time, so the tails cannot separate them; node cannot hold
// 50k (a GC pause times out messages: completion below the objective).
var synthRates = []float64{20000, 50000}

// Overload: each model offered 1.2x and 2x its reference rate (its
// capacity point of the repeat) at 64 connections, with a 100 ms message
// timeout. keep is the share of messages answered in time at each factor;
// kernel the server's system CPU share. node answers the most and loads the
// kernel least (the claim the class tests), the Go models queue FIFO.
var (
	overloadFactors = []float64{1.2, 2}
	overloadTimeout = 100 * time.Millisecond
	overloadKeep    = map[string][2]float64{
		"epoll": {0.55, 0.05}, "gnet": {0.53, 0.05}, "evio": {0.41, 0.03}, "netconn": {0.31, 0.02}, "node": {0.91, 0.07},
	}
	overloadKernel = map[string]float64{"epoll": 0.66, "gnet": 0.67, "evio": 0.70, "netconn": 0.62, "node": 0.44}
)

// rateRecords are every profile's absolute-rate and overload points, after
// the other records so those keep their times.
func rateRecords(next func() (time.Time, time.Time)) []results.Record {
	var out []results.Record
	for _, p := range profiles {
		for r := 1; r <= sweepRepeats; r++ {
			for _, rate := range synthRates {
				s, e := next()
				out = append(out, rateRecord(p, r, rate, s, e))
			}
			capRec := closedRecord(p, closedPoint{sweepConns, sweepSize, 1, 1}, r, time.Time{}, time.Time{})
			for _, f := range overloadFactors {
				s, e := next()
				out = append(out, overloadRecord(p, r, f, capRec.Load.ThroughputMsgsPerSec, s, e))
			}
		}
	}
	return out
}

// openRecord is an ok open-loop record of p at rate, without its load.
func openRecord(p profile, repeat int, kind, id string, rate float64, s, e time.Time) results.Record {
	return results.Record{
		Schema: results.SchemaVersion, RunID: RunID, Repeat: repeat, Start: s, End: e,
		PointID: id, Env: Env, Server: server(p),
		Scenario: results.Scenario{Kind: kind, Mode: "open", Conns: sweepConns, SizeBytes: sweepSize, Depth: 1,
			RateMsgsPerSec: rate, DurationS: durationS, WarmupS: warmupS, SLOP99Us: sloP99Us, SLOCompletion: sloCompletion},
		Status: results.StatusOK,
	}
}

func rateRecord(p profile, repeat int, rate float64, s, e time.Time) results.Record {
	r := rng(p.name, "rate", rate, repeat)
	rec := openRecord(p, repeat, results.KindRate, fmt.Sprintf("%s/rate/c%d/s%d/d1/rate%.0f/r%d", p.name, sweepConns, sweepSize, rate, repeat), rate, s, e)
	rho := rate / p.peak * (1 + 0.02*(r.Float64()-0.5))
	// epoll and gnet differ by 1 µs of service time: within the noise.
	medUs := p.serviceUs / (1 - rho)
	intended := int64(rate * durationS)
	completed := intended
	if p.name == "node" && rate >= 50000 {
		completed = int64(float64(intended) * (0.968 + 0.004*r.Float64()))
	}
	l := loadFor("open", sweepConns, sweepSize, 1, rate, intended, completed, medUs, p.tail*(1+2*rho*rho), r)
	l.TimedOut = intended - completed
	l.RateMet, l.ClientCPUUtil = true, 0.3+0.4*rate/1e5
	l.SendLagUs = results.SendLag{P50: 3, P99: 40}
	rec.Load = l
	rec.ServerStats = serverStats(p, sweepConns, sweepSize, completed, math.Min(0.98, rho), r)
	return rec
}

func overloadRecord(p profile, repeat int, factor, capacity float64, s, e time.Time) results.Record {
	r := rng(p.name, "overload", factor, repeat)
	rate := factor * capacity
	rec := openRecord(p, repeat, results.KindOverload, fmt.Sprintf("%s/overload/c%d/s%d/d1-timeout100ms/x%g/r%d", p.name, sweepConns, sweepSize, factor, repeat), rate, s, e)
	sc := &rec.Scenario
	sc.LoadFraction, sc.CapacityMsgsPerSec, sc.ReferenceMsgsPerSec = factor, capacity, capacity
	sc.ReferenceFrom = fmt.Sprintf("%s/capacity/c%d/s%d/d1/r%d", p.name, sweepConns, sweepSize, repeat)
	sc.MsgTimeoutS = overloadTimeout.Seconds()
	keep := overloadKeep[p.name][0]
	if factor >= 2 {
		keep = overloadKeep[p.name][1]
	}
	keep *= 1 + 0.04*(r.Float64()-0.5)
	intended := int64(rate * durationS)
	completed := int64(float64(intended) * keep)
	// The answered messages queued for most of the timeout.
	l := loadFor("open", sweepConns, sweepSize, 1, rate, intended, completed, 0.45*float64(overloadTimeout.Microseconds()), 1.9, r)
	l.TimedOut = intended - completed
	l.CompletionRatio = float64(completed) / float64(intended)
	l.RateMet, l.ClientCPUUtil = false, 0.7
	l.SendLagUs = results.SendLag{P50: 900, P99: 45000}
	l.Warnings = []string{"sends fell behind the schedule: rate not met"}
	rec.Load = l
	st := serverStats(p, sweepConns, sweepSize, completed, 0.98, r)
	cpu := st.CPUUserS + st.CPUSysS
	st.CPUSysS = cpu * overloadKernel[p.name]
	st.CPUUserS = cpu - st.CPUSysS
	rec.ServerStats = st
	return rec
}
