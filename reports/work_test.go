package reports

import (
	"slices"
	"strings"
	"testing"

	"echobench/internal/results"
)

// withWork sets the work of every record, and its p99.
func withWork(rs []results.Record, work string, p99Us float64) []results.Record {
	for i := range rs {
		rs[i].Scenario.Work = work
		rs[i].Load.LatencyUs.P99 = p99Us
	}
	return rs
}

func TestCompareWork(t *testing.T) {
	t.Parallel()
	// none first; by kind (cpu, wait, block), fixed before exp, by mean;
	// specs this reader does not know last.
	want := []string{"", "cpu:20µs", "cpu:100µs", "cpu:1ms:exp", "wait:500µs", "wait:10ms", "wait:1ms:exp", "block:10ms", "block:1s", "future:1ms", "zzz"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, compareWork)
	if !slices.Equal(got, want) {
		t.Errorf("sorted work = %q\nwant %q", got, want)
	}
	for _, s := range []string{"", "none", "cpu", "cpu:", "cpu:1ms:normal", "nap:1ms", "cpu:-1ms", "cpu:1ms:exp:x"} {
		if _, ok := parseWork(s); ok {
			t.Errorf("parseWork(%q) accepted it", s)
		}
	}
	if w, ok := parseWork("block:1.5ms:exp"); !ok || w.kind != "block" || w.mean.Microseconds() != 1500 || !w.exp {
		t.Errorf("parseWork(block:1.5ms:exp) = %+v, %v", w, ok)
	}
}

// Work points have classes of their own: they stay out of the echo classes
// (a blocked server is not a slow echo), each kind is ranked by its metric,
// and a record that says "none" is the plain point.
func TestWorkClasses(t *testing.T) {
	t.Parallel()
	var recs []results.Record
	// Plain echo: b is faster.
	recs = append(recs, sample(1, "a", 64, 6, 100e3)...)
	recs = append(recs, withWork(sample(2, "b", 64, 6, 120e3), "none", 200)...)
	// Blocking handlers: a serialises (one loop), b does not.
	recs = append(recs, withWork(sample(3, "a", 64, 6, 99), "block:10ms", 640e3)...)
	recs = append(recs, withWork(sample(4, "b", 64, 6, 5800), "block:10ms", 12e3)...)
	// Waiting handlers: a tie.
	recs = append(recs, withWork(sample(5, "a", 64, 6, 5800), "wait:10ms", 12e3)...)
	recs = append(recs, withWork(sample(6, "b", 64, 6, 5800), "wait:10ms", 12e3)...)
	// CPU: a is above the physical bound of 1 CPU / 20 µs.
	recs = append(recs, withWork(sample(7, "a", 64, 6, 80e3), "cpu:20µs", 2e3)...)
	recs = append(recs, withWork(sample(8, "b", 64, 6, 40e3), "cpu:20µs", 2e3)...)
	// Heavy-tailed: a has the higher throughput, b the lower p99, and p99
	// decides.
	ea := withWork(sample(9, "a", 64, 6, 11e3), "wait:5ms:exp", 0)
	eb := withWork(sample(10, "b", 64, 6, 10e3), "wait:5ms:exp", 0)
	for i := range ea {
		ea[i].Load.LatencyUs.P99 = 40e3 + float64(i)*100
		eb[i].Load.LatencyUs.P99 = 25e3 + float64(i)*100
	}
	recs = append(append(recs, ea...), eb...)
	for i := range recs {
		recs[i].Env.ServerGOMAXPROCS = 1
	}
	a, err := Analyze(&Run{Path: "mem", Records: recs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if many := classOf(t, a, "many"); len(many.Cells) != 1 || !many.Cells[0].Cell.Plain() || many.Headline != "b" {
		t.Errorf("many connections: %d points, headline %q: work points leaked into an echo class", len(many.Cells), many.Headline)
	}
	for _, c := range a.Classes {
		for _, v := range c.Cells {
			if isWork := v.Cell.Work != ""; isWork != slices.Contains([]string{"cpu", "wait", "block", "exp"}, c.ID) {
				t.Errorf("class %s has point %s", c.ID, v.Cell.Label())
			}
		}
	}
	plain := a.Cells(func(s Cell) bool { return s.Plain() })
	if len(plain) != 1 || plain[0].Label() != "closed c=64 64B d=1" || a.AggregateAt("b", plain[0]) == nil {
		t.Errorf("plain points %v: a record with work \"none\" is not the plain point", plain)
	}
	tests := []struct {
		class, headline string
		why             []string
	}{
		{"block", "b", []string{"block:10ms: a 2%, b 90%", "(a serialises blocking handlers", "give the event loop an offload pool"}},
		{"wait", "tie: a, b", []string{"share of the ideal 6.40k msgs/s"}},
		{"cpu", "a", []string{"a 160% (above the bound: is it doing the work?), b 80%", "ideal 50.0k msgs/s"}},
		{"exp", "b", []string{"p99 latency 25.2k µs"}},
	}
	for _, tt := range tests {
		c := classOf(t, a, tt.class)
		if c.Headline != tt.headline {
			t.Errorf("%s: headline %q, want %q (why %s)", tt.class, c.Headline, tt.headline, c.Why)
		}
		if c.Advice == "" {
			t.Errorf("%s: no advice", tt.class)
		}
		for _, w := range tt.why {
			if !strings.Contains(c.Advice+" "+c.Why, w) {
				t.Errorf("%s: advice and why lack %q:\n%s %s", tt.class, w, c.Advice, c.Why)
			}
		}
	}
	f, note := a.workFigure()
	if f == nil {
		t.Fatalf("no work chart: %s", note)
	}
	if len(f.plots) != 1 || len(f.plots[0]) != 2 {
		t.Errorf("work chart: %d rows, want one group with a throughput and a p99 panel", len(f.plots))
	}
	g := a.workGroups()
	var works []string
	for _, c := range g[0] {
		works = append(works, c.Work)
	}
	if want := []string{"", "cpu:20µs", "wait:10ms", "wait:5ms:exp", "block:10ms"}; len(g) != 1 || !slices.Equal(works, want) {
		t.Errorf("work groups %d, categories %q, want one group of %q", len(g), works, want)
	}
}

// A run without work has no work chart, and its work classes say so.
func TestNoWork(t *testing.T) {
	t.Parallel()
	a, err := Analyze(&Run{Path: "mem", Records: append(sample(1, "a", 1, 6, 100e3), sample(2, "b", 1, 6, 100e3)...)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f, note := a.workFigure(); f != nil || !strings.Contains(note, "no closed-loop point with work") {
		t.Errorf("work figure %v, note %q", f, note)
	}
	for _, id := range []string{"cpu", "wait", "block", "exp"} {
		if c := classOf(t, a, id); c.Status != StatusNoData {
			t.Errorf("%s: status %q without work points", id, c.Status)
		}
	}
}
