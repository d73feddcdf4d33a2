package bench

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"echobench/bench/proc"
	"echobench/internal/results"
	"echobench/loadgen"
)

// monoNowNs is CLOCK_MONOTONIC, the clock the load generator stamps its
// window with (results.Load.WindowStartMonoNs): both processes read the
// same host clock, so our readings fall on its interval grid.
func monoNowNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// sampleEvery is the /proc reading period for a window: half its timeline
// interval, so that each interval's CPU comes mostly from readings inside
// it, but at least 50 ms (the kernel counts CPU in 10 ms ticks: a shorter
// period reads mostly zeros and ones) and at most 200 ms (the peaks of RSS
// and threads are read as often).
func sampleEvery(window time.Duration) time.Duration {
	return min(max(loadgen.TimelineWidth(window)/2, 50*time.Millisecond), 200*time.Millisecond)
}

// sampleTail keeps reading the group's CPU after the window's end reading,
// at the same period, until the load generator exits (stop) or ctx ends.
// The readings only place the CPU on the load's interval grid.
func (w *window) sampleTail(ctx context.Context, pgid int, stop <-chan struct{}, tick <-chan time.Time) {
	for {
		select {
		case <-tick:
			if s, ok := w.readGroup(pgid, false); ok {
				w.tail = append(w.tail, newTick(s))
			}
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// cpuIntervals is the server's CPU per interval of the load's timeline,
// aligned on its window start (or on our first reading for a load that
// did not report one); nil without a timeline or readings.
func (w *window) cpuIntervals(l *results.Load) []results.ServerInterval {
	<-w.done
	if !w.ok || len(l.Intervals) == 0 || l.IntervalMs <= 0 {
		return nil
	}
	readings := append(append([]tick(nil), w.ticks...), w.tail...)
	origin := l.WindowStartMonoNs
	if origin == 0 || readings[0].monoNs == 0 {
		origin = readings[0].monoNs
	}
	return spreadCPU(readings, origin, l.IntervalMs*1e6, int64(l.DurationS*1e9), len(l.Intervals))
}

// spreadCPU puts the CPU time between consecutive readings into n
// intervals of widthNs from originNs (the last cut at windowNs), each share
// in proportion to the overlap: the kernel says how much CPU a span used,
// not when within it. Time outside the window is left out; so are spans
// where a member left the group (its counters went back). The intervals end
// with the last one the readings reach.
func spreadCPU(readings []tick, originNs, widthNs, windowNs int64, n int) []results.ServerInterval {
	out := make([]results.ServerInterval, n)
	reached := 0
	endNs := originNs + min(windowNs, int64(n)*widthNs)
	for k := 1; k < len(readings); k++ {
		a, b := readings[k-1], readings[k]
		if b.monoNs <= a.monoNs || b.user < a.user || b.sys < a.sys {
			continue
		}
		spanNs := float64(b.monoNs - a.monoNs)
		userS := float64(b.user-a.user) / proc.ClockTicks
		sysS := float64(b.sys-a.sys) / proc.ClockTicks
		lo, hi := max(a.monoNs, originNs), min(b.monoNs, endNs)
		for i := int((max(lo, originNs) - originNs) / widthNs); i < n && lo < hi; i++ {
			ivStart := originNs + int64(i)*widthNs
			overlap := min(hi, ivStart+widthNs) - max(lo, ivStart)
			if overlap <= 0 {
				break
			}
			share := float64(overlap) / spanNs
			out[i].CPUUserS += userS * share
			out[i].CPUSysS += sysS * share
			reached = max(reached, i+1)
		}
	}
	return out[:reached]
}
