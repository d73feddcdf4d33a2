package results

import (
	"slices"
	"strings"
	"testing"
)

// A stall is an interval without a completion while messages were
// outstanding; an idle interval (nothing outstanding) is not one.
func TestStalls(t *testing.T) {
	t.Parallel()
	l := Load{IntervalMs: 100, DurationS: 0.6, Intervals: []Interval{
		{Started: 5, Completed: 5},
		{Started: 0, Completed: 0}, // idle: nothing outstanding
		{Started: 3, Completed: 1},
		{Started: 0, Completed: 0, TimedOut: 1}, // one outstanding, none completed
		{Started: 0, Completed: 0},              // still one outstanding
		{Started: 0, Completed: 1},
	}}
	if got := l.Stalls(); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("stalls = %v, want [3 4]", got)
	}
	if got := (&Load{}).Stalls(); got != nil {
		t.Errorf("no timeline, stalls %v", got)
	}
}

// The last interval is cut at the window's end.
func TestIntervalSpan(t *testing.T) {
	t.Parallel()
	l := Load{IntervalMs: 100, DurationS: 0.25, Intervals: make([]Interval, 3)}
	for i, want := range [][2]float64{{0, 0.1}, {0.1, 0.1}, {0.2, 0.05}, {0, 0}} {
		s, w := l.IntervalSpan(i)
		if s < want[0]-1e-12 || s > want[0]+1e-12 || w < want[1]-1e-12 || w > want[1]+1e-12 {
			t.Errorf("interval %d: [%v, +%v), want [%v, +%v)", i, s, w, want[0], want[1])
		}
	}
}

// Intervals must count the record's messages: a timeline that adds up to
// other totals, or with an impossible figure, is refused, naming it.
func TestCheckIntervals(t *testing.T) {
	t.Parallel()
	good := func() Record {
		r := goodRecord("p", 1) // intended 10: completed 9, timed out 1
		r.Load.IntervalMs = 100
		r.Load.Intervals = []Interval{{Started: 6, Completed: 5}, {Started: 4, Completed: 3, TimedOut: 1, P99Us: 20}}
		r.Load.Drain = &Interval{Completed: 1}
		r.ServerStats.Intervals = []ServerInterval{{CPUUserS: 0.05, CPUSysS: 0.02}}
		return r
	}
	r := good()
	if err := r.Check(); err != nil {
		t.Fatalf("a consistent timeline: %v", err)
	}
	for _, tt := range []struct {
		name   string
		break_ func(r *Record)
		msg    string
	}{
		{"a message missing", func(r *Record) { r.Load.Drain = nil }, "intervals add up to started 10, completed 8"},
		{"a start too many", func(r *Record) { r.Load.Intervals[0].Started++ }, "started 11"},
		{"negative count", func(r *Record) { r.Load.Intervals[1].Errored = -1 }, "intervals[1].errored -1"},
		{"p99 beyond the histogram", func(r *Record) { r.Load.Intervals[0].P99Us = 1e12 }, "intervals[0].p99_us"},
		{"no width", func(r *Record) { r.Load.IntervalMs = 0 }, "intervals of 0 ms"},
		{"server CPU beyond 1024 CPUs", func(r *Record) { r.ServerStats.Intervals[0].CPUSysS = 200 }, "server_stats.intervals[0].cpu_sys_s"},
	} {
		r := good()
		tt.break_(&r)
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want an error naming %q", tt.name, err, tt.msg)
		}
	}
}
