package reports

import (
	"math/rand/v2"
	"strings"
	"testing"

	"echobench/internal/results"
)

// openSample returns n open-loop records of server at one absolute rate
// (kind rate) with percentiles centred on p50, 2×p50 and 3×p50 µs (±4%
// noise from a fixed seed), every message completed and the rate met.
func openSample(seed uint64, server string, n int, rate, p50 float64) []results.Record {
	r := rand.New(rand.NewPCG(seed, 5))
	var out []results.Record
	for i := 1; i <= n; i++ {
		x := rec(server, 64, 64, 1, i, rate)
		x.Scenario.Kind, x.Scenario.Mode, x.Scenario.RateMsgsPerSec = results.KindRate, "open", rate
		x.Scenario.SLOP99Us, x.Scenario.SLOCompletion = 10e3, 0.999
		x.Load.Mode, x.Load.RateMsgsPerSec = "open", rate
		noise := func() float64 { return 1 + 0.08*(r.Float64()-0.5) }
		x.Load.LatencyUs = results.Latency{P50: p50 * noise(), P99: 2 * p50 * noise(), P999: 3 * p50 * noise()}
		out = append(out, x)
	}
	return out
}

func analyzeRecords(t *testing.T, recs []results.Record) *Analysis {
	t.Helper()
	a, err := Analyze(&Run{Path: "mem", Records: recs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// At absolute rates the latency class compares p50, p99 and p99.9: a model
// clearly faster on all three is picked; two that no statistic separates
// tie, and the text names each statistic and the figures; a model that did
// not hold a rate ranks behind with the reason; when no model held the
// rate the class is undecided and says why, with the figures.
func TestLatencyClassAtRates(t *testing.T) {
	t.Parallel()
	const label = "rate c=64 64B d=1 at 20000 msgs/s"
	tests := []struct {
		name       string
		records    []results.Record
		wantStatus string
		wantPick   string
		wantWhy    []string
	}{
		{"clearly better is picked", append(openSample(1, "a", 6, 20e3, 40), openSample(2, "b", 6, 20e3, 60)...),
			StatusPick, "a", []string{"a is significantly best at all 3 comparisons", label + " · p99: a latency"}},
		{"A/A cannot be separated", append(openSample(3, "a", 6, 20e3, 40), openSample(4, "b", 6, 20e3, 40)...),
			StatusTie, "a,b", []string{"Could not separate: p50 at " + label + ": ", " µs, ", "p=", "p99.9 at " + label}},
		{"a model that did not hold the rate ranks behind", append(openSample(5, "a", 6, 20e3, 60), func() []results.Record {
			s := openSample(6, "b", 6, 20e3, 40)
			for i := range s {
				s[i].Load.Completed, s[i].Load.TimedOut = 19400, 600
				s[i].Load.Intended, s[i].Load.CompletionRatio = 20000, 0.97
			}
			return s
		}()...), StatusPick, "a", []string{"Ranked behind, as they did not hold the rate: at " + label + ": b completed 97% (median), below the 99.9% objective"}},
		{"no model held the rate: undecided, with why", func() []results.Record {
			s := append(openSample(7, "a", 6, 20e3, 40), openSample(8, "b", 6, 20e3, 60)...)
			for i := range s {
				s[i].Load.ClientBound = true
			}
			return s
		}(), StatusUndecided, "", []string{label + " · p50: no model held this rate: a client-limited in 6 of 6 repeats; b client-limited in 6 of 6 repeats"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := classOf(t, analyzeRecords(t, tt.records), "latency")
			if c.Status != tt.wantStatus || strings.Join(c.Pick, ",") != tt.wantPick || c.Metric != "latency" {
				t.Fatalf("status %q pick %v metric %q, want %q %q\nwhy: %s", c.Status, c.Pick, c.Metric, tt.wantStatus, tt.wantPick, c.Why)
			}
			for _, w := range tt.wantWhy {
				if !strings.Contains(c.Why, w) {
					t.Errorf("why lacks %q:\n%s", w, c.Why)
				}
			}
			if len(c.Cells) != 3 || c.Cells[0].Facet != "p50" || c.Cells[2].Facet != "p99.9" {
				t.Errorf("cells %d, want p50, p99 and p99.9 at the one rate", len(c.Cells))
			}
		})
	}
}

// A model that did not hold a rate stands "behind" in the verdict grid,
// with why, not "not ranked" and not dropped.
func TestLatencyBehindInGrid(t *testing.T) {
	t.Parallel()
	recs := openSample(1, "a", 6, 20e3, 60)
	b := openSample(2, "b", 6, 20e3, 40)
	for i := range b {
		b[i].Load.RateMet = false
	}
	a := analyzeRecords(t, append(recs, b...))
	for _, row := range a.VerdictGrid() {
		for i, c := range row.Cells {
			if a.Classes[i].ID != "latency" {
				continue
			}
			want := map[string]string{"a": "best", "b": "behind: did not hold the rate"}[row.Model]
			if c.Text != want {
				t.Errorf("%s: %q, want %q", row.Model, c.Text, want)
			}
		}
	}
}

// Rate points keep their rate in their cell and label, so two rates are
// two points, and a run without them keeps the sweep's verdict.
func TestRateCellsAndFallback(t *testing.T) {
	t.Parallel()
	a := analyzeRecords(t, append(openSample(1, "a", 6, 20e3, 40), openSample(2, "a", 6, 50e3, 60)...))
	cells := rateCells(a)
	if len(cells) != 2 || cells[0].Label() != "rate c=64 64B d=1 at 20000 msgs/s" || cells[1].RateMsgsPerSec != 50e3 {
		t.Errorf("rate cells %+v", cells)
	}
	sw := rec("a", 64, 64, 1, 1, 1000)
	sw.Scenario.Kind, sw.Scenario.Mode, sw.Scenario.LoadFraction = results.KindSweep, "open", 0.5
	if c := classOf(t, analyzeRecords(t, []results.Record{sw}), "latency"); c.Metric != "sustained rate" {
		t.Errorf("without rate points the class ranks %q, want the sustained rate", c.Metric)
	}
}

// overloadSample returns n overload records of server at factor with the
// given completion and kernel CPU share, the rate never met (the normal
// state under overload), a 100 ms timeout and a reference of 100k msgs/s.
func overloadSample(server string, n int, factor, completion, kernel float64) []results.Record {
	var out []results.Record
	for i := 1; i <= n; i++ {
		rate := factor * 100e3
		c := completion
		x := rec(server, 64, 64, 1, i, rate*c)
		x.Scenario.Kind, x.Scenario.Mode, x.Scenario.LoadFraction = results.KindOverload, "open", factor
		x.Scenario.RateMsgsPerSec, x.Scenario.ReferenceMsgsPerSec, x.Scenario.MsgTimeoutS = rate, 100e3, 0.1
		x.Load.Mode, x.Load.RateMet = "open", false
		x.Load.Intended = int64(rate)
		x.Load.Completed = int64(rate * c)
		x.Load.TimedOut = x.Load.Intended - x.Load.Completed
		x.Load.CompletionRatio = float64(x.Load.Completed) / float64(x.Load.Intended)
		x.Load.LatencyUs.P99 = 80e3
		x.ServerStats.CPUUserS, x.ServerStats.CPUSysS = 1-kernel, kernel
		out = append(out, x)
	}
	return out
}

// The overload class ranks the share answered in time per factor, gives
// goodput, p99, kernel share and reference beside it, and its sentence
// carries the run's figures.
func TestOverloadClass(t *testing.T) {
	t.Parallel()
	recs := append(overloadSample("a", 6, 1.2, 0.9, 0.45), overloadSample("b", 6, 1.2, 0.5, 0.7)...)
	recs = append(recs, overloadSample("a", 6, 2, 0.06, 0.45)...)
	recs = append(recs, overloadSample("b", 6, 2, 0.03, 0.7)...)
	a := analyzeRecords(t, recs)
	c := classOf(t, a, "overload")
	if c.Status != StatusPick || strings.Join(c.Pick, ",") != "a" || len(c.Cells) != 2 {
		t.Fatalf("status %q pick %v, %d cells; why: %s", c.Status, c.Pick, len(c.Cells), c.Why)
	}
	for _, w := range []string{
		"at overload c=64 64B d=1 ×1.2 timeout=100ms: a answered 90% (goodput 108k msgs/s, p99 80 ms, kernel 45%, reference 100k msgs/s)",
		"; b answered 50% (goodput 60.0k msgs/s, p99 80 ms, kernel 70%",
	} {
		if !strings.Contains(c.Why, w) {
			t.Errorf("why lacks %q:\n%s", w, c.Why)
		}
	}
	for _, w := range []string{"at 1.2× its reference rate a answered 90% of messages within 100 ms, b 50%; at 2× no model answered more than 6%."} {
		if !strings.Contains(c.Advice, w) {
			t.Errorf("advice lacks %q:\n%s", w, c.Advice)
		}
	}
	for _, p := range a.Aggregates {
		if p.Unranked != "" {
			t.Errorf("%s: not ranked (%s): rate not met must not unrank an overload point", p.Key(), p.Unranked)
		}
	}
}
