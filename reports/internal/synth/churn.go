package synth

import (
	"fmt"
	"time"

	"echobench/internal/results"
)

// Short-lived connections: 64 connections with a lifetime of 1 and of 10
// messages. Each model pays a connect cost per connection (connectUs of
// server time, from its serviceUs: the accept path is dearer where the echo
// is), so throughput falls as the lifetime shortens; connect latency to the
// first echoed byte grows with it.
var churnLifetimes = []int{1, 10}

// churnRecords are every profile's churn points, after the other records
// so those keep their times.
func churnRecords(next func() (time.Time, time.Time)) []results.Record {
	var out []results.Record
	for _, p := range profiles {
		for _, life := range churnLifetimes {
			for r := 1; r <= extraRepeats; r++ {
				s, e := next()
				out = append(out, churnRecord(p, life, r, s, e))
			}
		}
	}
	return out
}

func churnRecord(p profile, life, repeat int, s, e time.Time) results.Record {
	rec := closedRecord(p, closedPoint{64, 64, 1, extraRepeats}, repeat, s, e)
	r := rng(p.name, "churn", life, repeat)
	rec.PointID = fmt.Sprintf("%s/closed/c64/s64/d1/life%d/r%d", p.name, life, repeat)
	rec.Scenario.ConnLifetime = life
	// Server time per message: the echo (1/peak) plus a connect's share.
	connectUs := 4 * p.serviceUs
	perMsgUs := 1e6/p.peak + connectUs/float64(life)
	tput := 1e6 / perMsgUs * (1 + 0.03*(r.Float64()-0.5))
	completed := int64(tput * durationS)
	l := loadFor("closed", 64, 64, 1, 0, completed, completed, 64/tput*1e6, p.tail, r)
	l.ClientCPUUtil, l.RateMet = rec.Load.ClientCPUUtil, true
	connects := completed / int64(life)
	connectP99 := 30 + 10*p.tail*(1+0.05*r.Float64())
	firstByteP99 := connectP99 + connectUs*p.tail*(1+0.05*r.Float64())
	l.Connects = &results.Connects{
		ConnLifetime:   int64(life),
		Established:    connects,
		ConnectsPerSec: float64(connects) / durationS,
		ConnectUs:      results.Latency{P50: connectP99 / 3, P99: connectP99, Max: 2 * connectP99},
		FirstByteUs:    results.Latency{P50: firstByteP99 / 3, P99: firstByteP99, Max: 2 * firstByteP99},
	}
	rec.Load = l
	rec.ServerStats.MsgsPerCPUSecond = float64(completed) / (rec.ServerStats.CPUUserS + rec.ServerStats.CPUSysS)
	return rec
}
