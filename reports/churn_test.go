package reports

import (
	"strings"
	"testing"

	"echobench/internal/results"
)

// A churn point is its own cell, never a plain one, and labels say so; a
// point without churn keeps its label.
func TestChurnCells(t *testing.T) {
	t.Parallel()
	plain := Cell{Kind: results.KindClosed, Conns: 64, SizeBytes: 64, Depth: 1}
	life := plain
	life.ConnLifetime = 1
	burst := plain
	burst.ConnectBurst = 5000
	if !plain.Plain() || life.Plain() || burst.Plain() {
		t.Errorf("Plain: plain %v, lifetime %v, burst %v", plain.Plain(), life.Plain(), burst.Plain())
	}
	for _, tc := range []struct {
		c    Cell
		want string
	}{
		{plain, "closed c=64 64B d=1"},
		{life, "closed c=64 life=1 64B d=1"},
		{burst, "closed c=64 +5000 burst 64B d=1"},
	} {
		if got := tc.c.Label(); got != tc.want {
			t.Errorf("label %q, want %q", got, tc.want)
		}
	}
	if !churnCell(life) || churnCell(burst) || churnCell(plain) {
		t.Error("churnCell: only a closed point with a lifetime and nothing beside it belongs to the class")
	}
}

// The short-lived class's verdict names each model's slowest connect burst.
func TestBurstNote(t *testing.T) {
	t.Parallel()
	rec := func(durS float64, refused, echoFailed int64) *results.Record {
		return &results.Record{Load: &results.Load{Burst: &results.Burst{Conns: 1000, Echoed: 1000 - refused - echoFailed,
			DurationS: durS, Failed: results.ConnectFailures{Refused: refused}, EchoFailed: echoFailed}}}
	}
	a := &Analysis{Models: []string{"epoll", "node"}, Aggregates: []*Aggregate{
		{Server: "epoll", OK: []*results.Record{rec(0.12, 0, 0), rec(0.31, 0, 0)}},
		{Server: "node", OK: []*results.Record{rec(0.9, 5, 2)}},
	}}
	got := burstNote(a)
	for _, want := range []string{"epoll served its slowest burst in 0.310 s (0 of 2000", "node served its slowest burst in 0.900 s (7 of 1000"} {
		if !strings.Contains(got, want) {
			t.Errorf("burst note %q lacks %q", got, want)
		}
	}
	if burstNote(&Analysis{Models: []string{"epoll"}}) != "" {
		t.Error("a note without bursts")
	}
}
