// Package stat turns repeated measurements of one matrix point into the
// figures a report may show and the claims it may make.
//
// Descriptive statistics (median, min, max) come from
// github.com/montanaflynn/stats; the 95% confidence interval of the median and
// the Mann–Whitney U test come from golang.org/x/perf/benchmath with
// AssumeNothing, exactly as benchstat computes them. Nothing here assumes a
// normal distribution: benchmark results rarely are.
package stat

import (
	"fmt"
	"math"
	"slices"

	"github.com/montanaflynn/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of every confidence interval in the reports.
const Confidence = 0.95

// Alpha is the significance level of every comparison.
const Alpha = 0.05

// MinForCI is the number of repeats benchmath needs for a finite 95%
// confidence interval of the median; MinForDifference is the number each side
// needs before the U test can reject "no difference" at Alpha. They are what
// benchmath computes; tests check that the two agree.
const (
	MinForCI         = 6
	MinForDifference = 4
)

// Summary describes one sample: the repeats of one point.
type Summary struct {
	N      int
	Values []float64 // ascending
	Median float64
	Min    float64
	Max    float64
	// Lo and Hi bound the 95% confidence interval of the median. HasCI is
	// false when there are fewer than MinForCI values; Lo and Hi then equal
	// Min and Max so that charts still show the spread.
	Lo, Hi float64
	HasCI  bool
	// CV is the coefficient of variation (sample standard deviation over
	// mean) of two or more positive values, else 0: how much the repeats
	// disagree, whatever the unit.
	CV float64
}

// Summarize describes values. It returns the zero Summary for no values.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	s := Summary{N: len(v), Values: v, Min: v[0], Max: v[len(v)-1]}
	// The errors of montanaflynn/stats only report empty input, ruled out above.
	s.Median, _ = stats.Median(v)
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(v, &benchmath.DefaultThresholds), Confidence)
	s.Lo, s.Hi = sum.Lo, sum.Hi
	s.HasCI = !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0)
	if !s.HasCI {
		s.Lo, s.Hi = s.Min, s.Max
	}
	if mean, _ := stats.Mean(v); len(v) >= 2 && mean > 0 {
		sd, _ := stats.StandardDeviationSample(v)
		s.CV = sd / mean
	}
	return s
}

// CIString formats the interval as benchstat does, "±3%", or "no CI" when
// there are fewer than MinForCI repeats.
func (s Summary) CIString() string {
	if s.N == 0 {
		return "no data"
	}
	if !s.HasCI {
		return "no CI"
	}
	if s.Median == 0 {
		return "±0%"
	}
	d := math.Max(s.Median-s.Lo, s.Hi-s.Median)
	return fmt.Sprintf("±%.0f%%", 100*d/math.Abs(s.Median))
}

// Verdict is what a comparison lets a report claim.
type Verdict int

// Verdicts of Compare.
const (
	// Same means no significant difference: the report says the two tie.
	Same Verdict = iota
	// Differ means the U test rejects "same distribution" at Alpha.
	Differ
	// TooFew means neither side has enough repeats for the test to ever
	// reject: the report says it cannot claim anything.
	TooFew
)

func (v Verdict) String() string {
	switch v {
	case Differ:
		return "differ"
	case TooFew:
		return "too few repeats"
	default:
		return "tie"
	}
}

// Comparison is the outcome of comparing two samples.
type Comparison struct {
	Verdict Verdict
	P       float64
	N1, N2  int
	// Delta is (median2 - median1) / median1; NaN when median1 is 0.
	Delta float64
}

// Compare tests whether a and b come from different distributions with the
// Mann–Whitney U test (benchmath.AssumeNothing).
func Compare(a, b Summary) Comparison {
	c := Comparison{N1: a.N, N2: b.N, P: 1, Delta: math.NaN()}
	if a.Median != 0 {
		c.Delta = (b.Median - a.Median) / math.Abs(a.Median)
	}
	if a.N == 0 || b.N == 0 {
		c.Verdict = TooFew
		return c
	}
	th := benchmath.DefaultThresholds
	th.CompareAlpha = Alpha
	r := benchmath.AssumeNothing.Compare(benchmath.NewSample(a.Values, &th), benchmath.NewSample(b.Values, &th))
	c.P = r.P
	switch {
	case r.P < Alpha:
		c.Verdict = Differ
	case a.N < MinForDifference && b.N < MinForDifference:
		c.Verdict = TooFew
	default:
		c.Verdict = Same
	}
	return c
}

// DeltaString formats the change like benchstat: "+12.3%", or "~" when the
// difference is not significant.
func (c Comparison) DeltaString() string {
	if c.Verdict != Differ {
		return "~"
	}
	if math.IsNaN(c.Delta) {
		return "?"
	}
	return fmt.Sprintf("%+.1f%%", 100*c.Delta)
}

// String is "p=0.002 n=6+6", the evidence a claim cites.
func (c Comparison) String() string {
	return fmt.Sprintf("p=%.3f n=%d+%d", c.P, c.N1, c.N2)
}
