package stat

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

// noisy returns n values around center with ±2% uniform noise, seeded so the
// test is deterministic.
func noisy(seed uint64, n int, center float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float64, n)
	for i := range v {
		v[i] = center * (1 + 0.04*(r.Float64()-0.5))
	}
	return v
}

func TestCompareVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []float64
		want Verdict
	}{
		{"A/A same distribution is a tie", noisy(1, 6, 100e3), noisy(2, 6, 100e3), Same},
		{"A/A identical values is a tie", []float64{5, 5, 5, 5, 5, 5}, []float64{5, 5, 5, 5, 5, 5}, Same},
		{"20% faster with 6 repeats is detected", noisy(3, 6, 100e3), noisy(4, 6, 120e3), Differ},
		{"20% slower with 6 repeats is detected", noisy(5, 6, 100e3), noisy(6, 6, 80e3), Differ},
		{"20% faster with 3 repeats cannot be claimed", noisy(7, 3, 100e3), noisy(8, 3, 120e3), TooFew},
		{"2x faster with 3 repeats cannot be claimed", noisy(9, 3, 100e3), noisy(10, 3, 200e3), TooFew},
		{"4 repeats can detect a clean shift", noisy(11, 4, 100e3), noisy(12, 4, 150e3), Differ},
		{"one side empty", nil, noisy(13, 6, 1), TooFew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Compare(Summarize(tt.a), Summarize(tt.b))
			if c.Verdict != tt.want {
				t.Fatalf("Compare = %v (%v), want %v", c.Verdict, c, tt.want)
			}
			if tt.want != Differ && c.DeltaString() != "~" {
				t.Errorf("DeltaString = %q for a non-significant result, want ~", c.DeltaString())
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         []float64
		median     float64
		min, max   float64
		hasCI      bool
		ciContains string
	}{
		{"six repeats have a CI", []float64{6, 1, 5, 2, 4, 3}, 3.5, 1, 6, true, "±"},
		{"five repeats have none", []float64{5, 1, 4, 2, 3}, 3, 1, 5, false, "no CI"},
		{"one repeat", []float64{7}, 7, 7, 7, false, "no CI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Summarize(tt.in)
			if s.Median != tt.median || s.Min != tt.min || s.Max != tt.max || s.HasCI != tt.hasCI {
				t.Fatalf("Summarize(%v) = %+v", tt.in, s)
			}
			if s.Lo > s.Median || s.Hi < s.Median {
				t.Errorf("interval [%v, %v] does not contain the median %v", s.Lo, s.Hi, s.Median)
			}
			if got := s.CIString(); !strings.Contains(got, tt.ciContains) {
				t.Errorf("CIString = %q, want it to contain %q", got, tt.ciContains)
			}
		})
	}
	if s := Summarize(nil); s.N != 0 || s.CIString() != "no data" {
		t.Errorf("Summarize(nil) = %+v", s)
	}
}

// TestThresholdsMatchBenchmath keeps MinForCI and MinForDifference honest: they
// must be exactly where benchmath stops warning.
func TestThresholdsMatchBenchmath(t *testing.T) {
	t.Parallel()
	seq := func(n int, off float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = off + float64(i)
		}
		return v
	}
	for n := 2; n <= 8; n++ {
		s := benchmath.AssumeNothing.Summary(benchmath.NewSample(seq(n, 0), &benchmath.DefaultThresholds), Confidence)
		finite := !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0)
		if finite != (n >= MinForCI) {
			t.Errorf("n=%d: benchmath CI finite=%v, MinForCI=%d", n, finite, MinForCI)
		}
		// Fully separated samples give the smallest p-value possible at n.
		c := benchmath.AssumeNothing.Compare(benchmath.NewSample(seq(n, 0), &benchmath.DefaultThresholds), benchmath.NewSample(seq(n, 100), &benchmath.DefaultThresholds))
		if detectable := c.P < Alpha; detectable != (n >= MinForDifference) {
			t.Errorf("n=%d: separated samples p=%v, MinForDifference=%d", n, c.P, MinForDifference)
		}
	}
}
