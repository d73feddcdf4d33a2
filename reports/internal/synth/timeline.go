package synth

import (
	"math"
	"math/rand/v2"

	"echobench/internal/results"
)

// Timelines: the window in 100 ms intervals for three points, every model,
// repeats 1 to 3: the headline point (closed, 1000 connections, 64 B), where
// node's GC pauses show as p99 spikes with a dip in throughput; closed 64
// connections, where netconn stalls for 300 ms in its disturbed repeat
// (a neighbour took the CPU); and the overloaded sweep point (1.1 of
// capacity), where every model slows down as its queue grows and times
// messages out more and more. The figures are invented, and add up to each
// record's totals as results.Record.Check requires.

const intervalMs = 100

// timelineShape is how a window goes, interval by interval: the share of
// completions and failures, and the p99 and server CPU against their means.
type timelineShape func(i, n int, r *rand.Rand) (done, fail, p99, cpu float64)

func steady(i, n int, r *rand.Rand) (float64, float64, float64, float64) {
	return 1 + 0.04*(r.Float64()-0.5), 0, 0.85 + 0.3*r.Float64(), 1 + 0.04*(r.Float64()-0.5)
}

// gcPauses: every 1.2 s a pause of a few ms delays the messages in flight.
func gcPauses(i, n int, r *rand.Rand) (float64, float64, float64, float64) {
	done, fail, p99, cpu := steady(i, n, r)
	if i%12 == 7 {
		return done * 0.8, fail, p99 * 6, cpu
	}
	return done, fail, p99, cpu
}

// stallAt: no echo in intervals from..from+2, then the held messages
// complete at once.
func stallAt(from int) timelineShape {
	return func(i, n int, r *rand.Rand) (float64, float64, float64, float64) {
		done, fail, p99, cpu := steady(i, n, r)
		switch {
		case i >= from && i < from+3:
			return 0, 0, 0, 0.02
		case i == from+3:
			return done * 1.6, fail, p99 * 40, cpu
		}
		return done, fail, p99, cpu
	}
}

// slowing: past capacity the queue grows all window: completions fall,
// timeouts rise, p99 climbs.
func slowing(i, n int, r *rand.Rand) (float64, float64, float64, float64) {
	x := float64(i) / float64(n-1)
	done, _, _, cpu := steady(i, n, r)
	return done * (1.1 - 0.2*x), 2 * x, 0.3 + 1.4*x, cpu
}

// addTimeline gives rec its intervals, drain and server CPU per interval in
// shape's form.
func addTimeline(rec *results.Record, shape timelineShape, r *rand.Rand) {
	l := rec.Load
	n := int(math.Round(l.DurationS * 1000 / intervalMs))
	done, fail, p99, cpu := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		done[i], fail[i], p99[i], cpu[i] = shape(i, n, r)
	}
	// Closed loop: the messages in flight at the window's end finish in the
	// drain; open loop: what the last intervals did not finish.
	inflight := min(int64(l.Conns*l.Depth), l.Completed)
	drainDone := inflight
	completed := spread(l.Completed-drainDone, done)
	failed := spread(l.TimedOut, fail)
	l.IntervalMs = intervalMs
	l.Intervals = make([]results.Interval, n)
	for i := range n {
		iv := &l.Intervals[i]
		iv.Completed, iv.TimedOut = completed[i], failed[i]
		if iv.Completed > 0 {
			iv.P99Us = math.Round(l.LatencyUs.P99*p99[i]*10) / 10
		}
	}
	starts(l, inflight)
	l.Drain = &results.Interval{Completed: drainDone}
	if rec.ServerStats != nil {
		st := rec.ServerStats
		rec.ServerStats.Intervals = make([]results.ServerInterval, n)
		for i := range n {
			share := cpu[i] * intervalMs / 1e3 / l.DurationS
			rec.ServerStats.Intervals[i] = results.ServerInterval{
				CPUUserS: math.Round(st.CPUUserS*share*1e4) / 1e4, CPUSysS: math.Round(st.CPUSysS*share*1e4) / 1e4,
			}
		}
	}
}

// starts fills the intervals' Started: in closed loop a message starts as
// one finishes, after the inflight that started with the window; in open
// loop on schedule, evenly.
func starts(l *results.Load, inflight int64) {
	n := int64(len(l.Intervals))
	if l.Mode == "open" {
		for i := range l.Intervals {
			l.Intervals[i].Started = l.Intended/n + b2i(int64(i) < l.Intended%n)
		}
		return
	}
	for i := range l.Intervals {
		iv := &l.Intervals[i]
		iv.Started = iv.Completed + iv.TimedOut
	}
	l.Intervals[0].Started += inflight
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// spread splits total in proportion to weights, exactly: the remainder of
// the rounding goes to the heaviest interval.
func spread(total int64, weights []float64) []int64 {
	out := make([]int64, len(weights))
	var sum float64
	heaviest := 0
	for i, w := range weights {
		sum += w
		if w > weights[heaviest] {
			heaviest = i
		}
	}
	if sum <= 0 || total <= 0 {
		return out
	}
	var given int64
	for i, w := range weights {
		out[i] = int64(float64(total) * w / sum)
		given += out[i]
	}
	out[heaviest] += total - given
	return out
}

// addTimelines gives the three points' records their timelines.
func addTimelines(recs []results.Record) {
	for i := range recs {
		rec := &recs[i]
		sc := rec.Scenario
		plain := sc.IdleConns == 0 && sc.SlowReaders == 0 && sc.Work == "" && sc.ConnLifetime == 0 && sc.ConnectBurst == 0
		// Repeats 1 to 3 only: the others stand for records made before
		// timelines existed, which the report must take beside them.
		if rec.Load == nil || !plain || sc.SizeBytes != 64 || sc.Depth != 1 || rec.Repeat > 3 {
			continue
		}
		var shape timelineShape
		switch {
		case sc.Kind == results.KindClosed && sc.Conns == 1000:
			shape = steady
			if rec.Server.Name == "node" {
				shape = gcPauses
			}
		case sc.Kind == results.KindClosed && sc.Conns == 64:
			shape = steady
			if rec.Server.Name == "netconn" && rec.Repeat == 3 {
				shape = stallAt(21)
			}
		case sc.Kind == results.KindSweep && sc.LoadFraction == 1.1:
			shape = slowing
		default:
			continue
		}
		addTimeline(rec, shape, rng(rec.PointID, "timeline"))
	}
}
