package loadgen

import (
	"strings"
	"testing"
	"time"

	"echobench/internal/results"
)

// The interval widens along 100 ms, 200 ms, 500 ms, 1 s, 2 s, ... so that a
// window never has more than maxIntervals.
func TestTimelineWidth(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		window, want time.Duration
	}{
		{time.Millisecond, 100 * time.Millisecond},
		{2 * time.Second, 100 * time.Millisecond},
		{360 * time.Second, 100 * time.Millisecond},
		{361 * time.Second, 200 * time.Millisecond},
		{15 * time.Minute, 500 * time.Millisecond},
		{time.Hour, time.Second},
		{time.Hour + time.Second, 2 * time.Second},
		{MaxDuration, 50 * time.Second},
	} {
		got := TimelineWidth(tt.window)
		if got != tt.want {
			t.Errorf("TimelineWidth(%v) = %v, want %v", tt.window, got, tt.want)
		}
		if n := (tt.window + got - 1) / got; n > maxIntervals {
			t.Errorf("a %v window has %d intervals of %v, more than %d", tt.window, n, got, maxIntervals)
		}
	}
}

// A window cut short (Ctrl-C) has fewer intervals than the workers were
// sized for: the later ones fold into its last, the drain stays apart, and
// no message is lost; the per-second timeline adds the intervals up, with
// the drain in its last second.
func TestMergeTimelines(t *testing.T) {
	t.Parallel()
	mk := func() *worker {
		w := &worker{tl: newTimelineRec(time.Second)} // 10 intervals and the drain
		for i := range w.tl.counts {
			w.tl.counts[i] = intervalCounts{started: 1, completed: int64(10 * (i + 1)), timedOut: int64(i)}
			for range 10 * (i + 1) {
				w.tl.lats[i].record(int64(1000 * (i + 1)))
			}
		}
		return w
	}
	m := mergeTimelines([]*worker{mk(), mk()}, int64(145*time.Millisecond)) // 2 intervals
	var l results.Load
	l.DurationS = 0.145
	m.addTo(&l)
	if l.IntervalMs != 100 || len(l.Intervals) != 2 || l.Drain == nil {
		t.Fatalf("%d intervals of %d ms, drain %v; want 2 of 100 ms and a drain", len(l.Intervals), l.IntervalMs, l.Drain)
	}
	want := []results.Interval{
		{Started: 2, Completed: 20, TimedOut: 0},
		{Started: 18, Completed: 2 * (20 + 30 + 40 + 50 + 60 + 70 + 80 + 90 + 100), TimedOut: 2 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9)},
	}
	for i, w := range want {
		got := l.Intervals[i]
		got.P99Us = 0
		if got != w {
			t.Errorf("interval %d = %+v, want %+v", i, got, w)
		}
	}
	if d := *l.Drain; d.Completed != 220 || d.TimedOut != 20 || d.P99Us < 11 || d.P99Us > 11*1.07 {
		t.Errorf("drain = %+v, want the workers' last slots: 220 completed, 20 timed out, p99 ≈ 11 µs", d)
	}
	if len(l.Timeline) != 1 || l.Timeline[0].Completed != 20+1080+220 || l.Timeline[0].Failed != 90+20 {
		t.Errorf("timeline = %+v, want one second with every message, the drain's too: 1320 completed, 110 failed", l.Timeline)
	}
	if got := l.Intervals[1].P99Us; got < 10 || got > 10*1.07 {
		t.Errorf("interval 1 p99 = %v µs, want ≈ 10 (the folded intervals' latencies go up to 10 µs)", got)
	}
	if mergeTimelines([]*worker{mk()}, 0) != nil {
		t.Error("an empty window has a timeline")
	}
}

// A window past the cap gets wider intervals, and a warning says so; those
// wider than a second cannot make the per-second timeline: it is left out.
func TestTimelineCoarsened(t *testing.T) {
	t.Parallel()
	w := &worker{tl: newTimelineRec(2 * time.Hour)}
	var l results.Load
	l.DurationS = 7200
	mergeTimelines([]*worker{w}, int64(2*time.Hour)).addTo(&l)
	if l.IntervalMs != 2000 || len(l.Intervals) != 3600 || l.Timeline != nil || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "left out") {
		t.Errorf("2 h window: %d intervals of %d ms, %d seconds, warnings %q; want 3600 of 2000 ms, none, one warning",
			len(l.Intervals), l.IntervalMs, len(l.Timeline), l.Warnings)
	}
	w = &worker{tl: newTimelineRec(10 * time.Minute)}
	l = results.Load{DurationS: 600}
	mergeTimelines([]*worker{w}, int64(10*time.Minute)).addTo(&l)
	if l.IntervalMs != 200 || len(l.Timeline) != 600 || len(l.Warnings) != 1 || strings.Contains(l.Warnings[0], "left out") {
		t.Errorf("10 min window: %d intervals of %d ms, %d seconds, warnings %q; want 200 ms intervals, 600 seconds, one warning",
			len(l.Intervals), l.IntervalMs, len(l.Timeline), l.Warnings)
	}
}

// The warning names the stalls (results.Load.Stalls decides them).
func TestStallWarning(t *testing.T) {
	t.Parallel()
	l := results.Load{IntervalMs: 100, DurationS: 0.3, Intervals: []results.Interval{
		{Started: 5, Completed: 4}, {}, {Completed: 1},
	}}
	if w := stallWarning(&l); !strings.Contains(w, "1 interval(s) of 100 ms") || !strings.Contains(w, "at 0.1 s") {
		t.Errorf("warning %q, want one stall at 0.1 s", w)
	}
	l.Intervals[0].Completed = 5
	if w := stallWarning(&l); w != "" {
		t.Errorf("no message outstanding, yet %q", w)
	}
}
