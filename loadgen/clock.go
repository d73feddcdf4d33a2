package loadgen

import (
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock: CLOCK_MONOTONIC through the
// vDSO, the clock timerfd uses, at about half the cost of time.Now (which
// also reads the wall clock); see BenchmarkClock. runtime.nanotime is kept
// linkable on purpose (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
