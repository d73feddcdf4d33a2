package reports

import (
	"strings"
	"testing"

	"echobench/internal/results"
	"echobench/reports/stat"
)

func TestUnstable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kind   string
		values []float64
		flag   string
	}{
		{results.KindClosed, []float64{100, 101, 99, 100}, ""},
		{results.KindClosed, []float64{100, 130, 95, 100}, "throughput varies 15% across 4 repeats"},
		{results.KindSweep, []float64{500, 500, 380}, "throughput varies 15% across 3 repeats"},
		{results.KindSLO, []float64{100, 200, 400}, ""}, // bisection steps differ by design
		{results.KindClosed, []float64{100}, ""},
	} {
		p := &Aggregate{Cell: Cell{Kind: tt.kind}, ThroughputMsgsPerSec: stat.Summarize(tt.values)}
		got := p.Unstable()
		if (tt.flag == "") != (got == "") || !strings.Contains(got, tt.flag) {
			t.Errorf("%s %v: %q, want %q", tt.kind, tt.values, got, tt.flag)
		}
	}
}
