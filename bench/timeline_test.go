package bench

import (
	"math"
	"testing"
	"time"

	"echobench/internal/results"
)

// The server's CPU lands on the load's 100 ms grid: a span between two
// readings is shared among the intervals it overlaps in proportion, time
// before the window's start and after its end is left out, a span whose
// counters went back (a member left) is skipped, and the intervals end
// where the readings do.
func TestSpreadCPU(t *testing.T) {
	t.Parallel()
	const ms = int64(time.Millisecond)
	origin := int64(1_000) * ms
	at := func(offMs int64, user, sys uint64) tick {
		return tick{monoNs: origin + offMs*ms, user: user, sys: sys}
	}
	readings := []tick{
		at(-50, 0, 0),  // before the window: half of the next span is outside
		at(50, 10, 2),  // 100 ms: 10 ticks user, 2 sys; 50 ms of it in interval 0
		at(150, 20, 2), // 10 ticks user over [50, 150): half in 0, half in 1
		at(160, 5, 0),  // counters went back: skipped
		at(250, 14, 1), // from the skipped reading: 9 user, 1 sys over [160, 250), in 1 and 2
	}
	got := spreadCPU(readings, origin, 100*ms, 1_000*ms, 10)
	want := []results.ServerInterval{
		{CPUUserS: 0.05 + 0.05, CPUSysS: 0.01},
		{CPUUserS: 0.05 + 0.09*40/90, CPUSysS: 0.01 * 40 / 90},
		{CPUUserS: 0.09 * 50 / 90, CPUSysS: 0.01 * 50 / 90},
	}
	if len(got) != len(want) {
		t.Fatalf("%d intervals %v, want %d: up to the last reading", len(got), got, len(want))
	}
	for i := range want {
		if math.Abs(got[i].CPUUserS-want[i].CPUUserS) > 1e-9 || math.Abs(got[i].CPUSysS-want[i].CPUSysS) > 1e-9 {
			t.Errorf("interval %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// A window of 120 ms ends inside interval 1: CPU after it is left out.
	short := spreadCPU(readings[:3], origin, 100*ms, 120*ms, 2)
	if len(short) != 2 || math.Abs(short[1].CPUUserS-0.1*20/100) > 1e-9 {
		t.Errorf("120 ms window: %+v, want interval 1 to hold 20 of the span's 100 ms of user CPU", short)
	}
}

// Half the timeline's interval, within 50–200 ms.
func TestSampleEvery(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ window, want time.Duration }{
		{2 * time.Second, 50 * time.Millisecond},
		{30 * time.Minute, 200 * time.Millisecond},
		{24 * time.Hour, 200 * time.Millisecond},
	} {
		if got := sampleEvery(tt.window); got != tt.want {
			t.Errorf("sampleEvery(%v) = %v, want %v", tt.window, got, tt.want)
		}
	}
}
