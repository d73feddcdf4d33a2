package work

import (
	"math"
	"time"
)

// golden is SplitMix64's increment (2^64 / φ), also the seed's mask.
const golden = 0x9E3779B97F4A7C15

// Rand is one connection's stream of exponential draws: SplitMix64 seeded
// from the connection's ordinal, as the contract fixes it, so the Python and
// Node servers draw exactly the same durations (testdata/vectors.json holds
// reference draws all three check). Not safe for concurrent use: each
// connection owns one. Its zero value is not seeded; use NewRand.
type Rand struct{ s uint64 }

// NewRand seeds the generator of the connection accepted n-th (from 0) by
// this server process (or by this loop, where a model counts per loop).
func NewRand(n uint64) Rand { return Rand{s: n ^ golden} }

// Uint64 is the next raw SplitMix64 output.
func (r *Rand) Uint64() uint64 {
	r.s += golden
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Next draws an exponential duration of the given mean: -mean × ln(1 − u)
// with u = the top 53 bits × 2^-53, capped at 100 × mean, truncated to a
// whole nanosecond. 1 − u is exact in float64, so the only rounding that
// can differ between languages is the logarithm's last bit (the vectors
// test allows the resulting 1 ns). It does not allocate.
func (r *Rand) Next(mean time.Duration) time.Duration {
	u := float64(r.Uint64()>>11) * (1.0 / (1 << 53))
	d := -float64(mean) * math.Log(1-u)
	if limit := 100 * float64(mean); d > limit {
		d = limit
	}
	return time.Duration(d)
}

// Spin burns the calling thread's CPU for d, reading the monotonic clock:
// the `cpu` kind. The handler's thread stays busy (no yield, no sleep), as a
// CPU-bound handler would keep it; the Go scheduler may still preempt it.
func Spin(d time.Duration) {
	if d <= 0 {
		return
	}
	start := time.Now()
	for time.Since(start) < d {
	}
}
