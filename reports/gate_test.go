package reports

import (
	"errors"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"5%", 0.05, true},
		{" 2.5 %", 0.025, true},
		{"0%", 0, true},
		{"150%", 1.5, true},
		{"5", 0, false},
		{"0.05", 0, false},
		{"-5%", 0, false},
		{"NaN%", 0, false},
		{"Inf%", 0, false},
		{"%", 0, false},
		{"five%", 0, false},
	} {
		got, err := ParseThreshold(tt.in)
		if tt.ok != (err == nil) || (tt.ok && got != tt.want) {
			t.Errorf("ParseThreshold(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadThreshold) {
			t.Errorf("ParseThreshold(%q): %v does not wrap ErrBadThreshold", tt.in, err)
		}
	}
}

// A run compared with itself has no regression, whatever the threshold.
func TestRegressionsSameRun(t *testing.T) {
	t.Parallel()
	a := analyzeTestRun(t)
	if r := Regressions(a, a, 0); len(r) != 0 {
		t.Errorf("a run against itself: %d regressions, first %+v", len(r), r[0])
	}
}
