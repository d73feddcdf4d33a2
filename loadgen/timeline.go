package loadgen

import (
	"fmt"
	"time"

	"echobench/internal/results"
)

// TimelineInterval is the width of the window's timeline (results.Load
// Intervals): fine enough that a 100 ms stall or a GC pause stands out
// against a sub-second window, coarse enough that each interval of a busy
// point holds thousands of messages for its p99.
const TimelineInterval = 100 * time.Millisecond

// maxIntervals caps a window's intervals, so that a worker's timeline is
// bounded (2.1 KB an interval: 7.7 MB at most) however long the window. A longer window gets wider intervals (TimelineWidth).
const maxIntervals = 3600

// TimelineWidth is the interval width for a window: TimelineInterval, or
// the first of 200 ms, 500 ms, 1 s, 2 s, 5 s ... that keeps the window
// within maxIntervals. Each divides a second or is whole seconds, so the
// per-second timeline can be derived from the intervals up to 1 s wide.
func TimelineWidth(window time.Duration) time.Duration {
	for decade := time.Duration(1); ; decade *= 10 {
		for _, f := range []time.Duration{1, 2, 5} {
			if w := TimelineInterval * f * decade; window <= w*maxIntervals {
				return w
			}
		}
	}
}

// intervalCounts is one interval's messages by outcome.
type intervalCounts struct {
	started, completed, timedOut, errored, corrupted int64
}

// timelineRec is one worker's timeline: the window's intervals, then one
// slot for the drain after it. Sized for the configured window when the
// worker is made, so recording never allocates.
type timelineRec struct {
	widthNs int64
	counts  []intervalCounts
	lats    []logHist
}

func newTimelineRec(window time.Duration) timelineRec {
	width := TimelineWidth(window)
	n := max(int((window+width-1)/width), 1) + 1
	return timelineRec{widthNs: int64(width), counts: make([]intervalCounts, n), lats: make([]logHist, n)}
}

// slot is the interval of time t of a window [startNs, endNs): the drain
// slot from endNs on, the first interval before startNs.
func (t *timelineRec) slot(tNs, startNs, endNs int64) int {
	drain := len(t.counts) - 1
	if tNs >= endNs {
		return drain
	}
	return int(min(max((tNs-startNs)/t.widthNs, 0), int64(drain-1)))
}

// complete records a completed message's latency in slot i. Hot path: no
// allocation.
func (t *timelineRec) complete(i int, latencyNs int64) {
	t.counts[i].completed++
	t.lats[i].record(latencyNs)
}

// fail records a failed message of class in slot i.
func (t *timelineRec) fail(i int, class int) {
	c := &t.counts[i]
	switch class {
	case classTimedOut:
		c.timedOut++
	case classErrored:
		c.errored++
	case classCorrupted:
		c.corrupted++
	}
}

// openStarts puts the open loop's messages of the window into the
// intervals by intended time: each connection's due messages counted at
// every interval boundary. Once, at the end: the pacer is a pure function.
func (w *worker) openStarts() {
	t := &w.tl
	n := len(t.counts) - 1
	for _, c := range w.conns {
		prev := w.pacer.CountBefore(int(c.id), w.windowStartNs)
		for i := range n {
			end := w.windowEndNs
			if i < n-1 {
				end = min(end, w.windowStartNs+int64(i+1)*t.widthNs)
			}
			next := w.pacer.CountBefore(int(c.id), max(end, w.windowStartNs))
			t.counts[i].started += next - prev
			prev = next
			if end >= w.windowEndNs {
				break // a window cut short: no message is due after it
			}
		}
	}
}

// mergedTimeline is the workers' timelines added up over the real window.
type mergedTimeline struct {
	widthNs int64
	counts  []intervalCounts // the window's intervals, then the drain
	lats    []logHist
}

// mergeTimelines adds the workers' timelines over a window of windowNs. A
// window cut short (Ctrl-C) has fewer intervals than the workers were sized
// for: their later intervals fold into its last; the drain stays the drain.
// Nil for an empty window.
func mergeTimelines(workers []*worker, windowNs int64) *mergedTimeline {
	if windowNs <= 0 || len(workers) == 0 {
		return nil
	}
	widthNs := workers[0].tl.widthNs
	n := int((windowNs + widthNs - 1) / widthNs)
	m := &mergedTimeline{widthNs: widthNs, counts: make([]intervalCounts, n+1), lats: make([]logHist, n+1)}
	for _, w := range workers {
		src := &w.tl
		drain := len(src.counts) - 1
		for i := range src.counts {
			d := min(i, n-1)
			if i == drain {
				d = n
			}
			m.counts[d].add(src.counts[i])
			m.lats[d].add(&src.lats[i])
		}
	}
	return m
}

// interval is slot i as the results report it.
func (m *mergedTimeline) interval(i int) results.Interval {
	c := m.counts[i]
	iv := results.Interval{Started: c.started, Completed: c.completed, TimedOut: c.timedOut, Errored: c.errored, Corrupted: c.corrupted}
	if c.completed > 0 {
		iv.P99Us = float64(m.lats[i].quantile(0.99, c.completed)) / 1e3
	}
	return iv
}

// addTo puts the intervals, the drain and the per-second timeline derived
// from them into l.
func (m *mergedTimeline) addTo(l *results.Load) {
	if m == nil {
		return
	}
	n := len(m.counts) - 1
	l.IntervalMs = m.widthNs / 1e6
	l.Intervals = make([]results.Interval, n)
	for i := range n {
		l.Intervals[i] = m.interval(i)
	}
	drain := m.interval(n)
	l.Drain = &drain
	l.Timeline = m.seconds(l.DurationS)
	if m.widthNs > int64(TimelineInterval) {
		w := fmt.Sprintf("the window is longer than %d intervals of %v: its timeline is in intervals of %d ms", maxIntervals, TimelineInterval, l.IntervalMs)
		if l.Timeline == nil {
			w += ", and the per-second timeline is left out"
		}
		l.Warnings = append(l.Warnings, w)
	}
}

// seconds is the per-second timeline: whole groups of intervals, the drain
// in the last second (as the timeline has always counted it). Nil when an
// interval is wider than a second.
func (m *mergedTimeline) seconds(windowS float64) []results.Second {
	per := int64(time.Second) / m.widthNs
	if per == 0 || windowS <= 0 {
		return nil
	}
	secs := int(max(1, int64(windowS+1-1e-9))) // ceil, as the window's whole seconds
	counts := make([]intervalCounts, secs)
	lats := make([]logHist, secs)
	for i := range m.counts {
		s := min(int64(i)/per, int64(secs-1))
		counts[s].add(m.counts[i])
		lats[s].add(&m.lats[i])
	}
	tl := make([]results.Second, secs)
	for s, c := range counts {
		tl[s] = results.Second{ElapsedS: float64(s), Completed: c.completed, Failed: c.failed()}
		if c.completed > 0 {
			tl[s].P99Us = float64(lats[s].quantile(0.99, c.completed)) / 1e3
		}
	}
	return tl
}

// add adds o's counts to c.
func (c *intervalCounts) add(o intervalCounts) {
	c.started += o.started
	c.completed += o.completed
	c.timedOut += o.timedOut
	c.errored += o.errored
	c.corrupted += o.corrupted
}

func (c intervalCounts) failed() int64 { return c.timedOut + c.errored + c.corrupted }

// stallWarning says how many intervals stalled (results.Load.Stalls);
// empty when none did.
func stallWarning(l *results.Load) string {
	stalls := l.Stalls()
	if len(stalls) == 0 {
		return ""
	}
	startS, _ := l.IntervalSpan(stalls[0])
	return fmt.Sprintf("stalled: in %d interval(s) of %d ms no message completed while some were outstanding (the first at %.1f s into the window)",
		len(stalls), l.IntervalMs, startS)
}
