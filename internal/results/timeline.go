package results

import "fmt"

// IntervalSpan is where interval i of l lies in the window, in seconds from
// its start: the last interval is cut at the window's end. It is (0, 0) for
// an index outside l.Intervals.
func (l *Load) IntervalSpan(i int) (startS, widthS float64) {
	if i < 0 || i >= len(l.Intervals) || l.IntervalMs <= 0 {
		return 0, 0
	}
	w := float64(l.IntervalMs) / 1e3
	startS = float64(i) * w
	return startS, max(0, min(w, l.DurationS-startS))
}

// Stalls returns the indices of the stalled intervals of l: those in which
// no message completed while some were outstanding (started in the window
// before the interval's end and not yet finished at its start). One
// definition for the load generator's warning and the report's charts. A
// stall is the server's (or the path's): the client keeps sending on
// schedule in open loop, and in closed loop the outstanding messages are
// ones the server has not answered.
func (l *Load) Stalls() []int {
	var out []int
	var started, finished int64 // before the interval
	for i, iv := range l.Intervals {
		outstanding := started + iv.Started - finished
		if iv.Completed == 0 && outstanding > 0 {
			out = append(out, i)
		}
		started += iv.Started
		finished += iv.Completed + iv.Failed()
	}
	return out
}

// checkIntervals bounds the interval figures and checks that they add up to
// the totals: they count the same messages.
func (l *Load) checkIntervals() error {
	if len(l.Intervals) == 0 && l.Drain == nil {
		return nil
	}
	if err := (namedFloat{"interval_ms", float64(l.IntervalMs), maxWindowS * 1000}).check(); err != nil {
		return err
	}
	if l.IntervalMs == 0 || len(l.Intervals) > maxIntervals {
		return fmt.Errorf("%d intervals of %d ms: want 1 to %d intervals of at least 1 ms", len(l.Intervals), l.IntervalMs, maxIntervals)
	}
	var sum Interval
	all := l.Intervals
	if l.Drain != nil {
		all = append(all[:len(all):len(all)], *l.Drain)
	}
	for i, iv := range all {
		for _, f := range []namedFloat{
			{"started", float64(iv.Started), maxMessages}, {"completed", float64(iv.Completed), maxMessages},
			{"timed_out", float64(iv.TimedOut), maxMessages}, {"errored", float64(iv.Errored), maxMessages},
			{"corrupted", float64(iv.Corrupted), maxMessages}, {"p99_us", iv.P99Us, maxLatencyUs},
		} {
			if err := f.check(); err != nil {
				return fmt.Errorf("intervals[%d].%w", i, err)
			}
		}
		sum.Started += iv.Started
		sum.Completed += iv.Completed
		sum.TimedOut += iv.TimedOut
		sum.Errored += iv.Errored
		sum.Corrupted += iv.Corrupted
	}
	if sum.Started != l.Intended || sum.Completed != l.Completed || sum.TimedOut != l.TimedOut ||
		sum.Errored != l.Errored || sum.Corrupted != l.Corrupted {
		return fmt.Errorf("intervals add up to started %d, completed %d, timed out %d, errored %d, corrupted %d; the totals are %d, %d, %d, %d, %d",
			sum.Started, sum.Completed, sum.TimedOut, sum.Errored, sum.Corrupted, l.Intended, l.Completed, l.TimedOut, l.Errored, l.Corrupted)
	}
	return nil
}

// checkServerIntervals bounds the server's CPU per interval: no more than
// 1024 CPUs for the interval's width.
func (s *ServerStats) checkServerIntervals(intervalMs int64) error {
	if len(s.Intervals) > maxIntervals {
		return fmt.Errorf("%d intervals, want at most %d", len(s.Intervals), maxIntervals)
	}
	limit := maxWindowS * 1024.0
	if intervalMs > 0 {
		limit = float64(intervalMs) / 1e3 * 1024
	}
	for i, iv := range s.Intervals {
		for _, f := range []namedFloat{{"cpu_user_s", iv.CPUUserS, limit}, {"cpu_sys_s", iv.CPUSysS, limit}} {
			if err := f.check(); err != nil {
				return fmt.Errorf("intervals[%d].%w", i, err)
			}
		}
	}
	return nil
}
