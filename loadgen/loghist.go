package loadgen

import "math/bits"

// logHist is a small log-bucketed latency histogram (16 buckets per power of
// two, about 4% resolution) for the window's timeline, where an HDR
// histogram per interval would cost too much memory. Values are ns, up to
// 2^36 ns (68.7 s, above the HDR histograms' 60 s); a longer latency counts
// in the top bucket (record).
const (
	logSub     = 16
	logBuckets = (36 - 3) * logSub
)

type logHist [logBuckets]uint32

func logBucket(v int64) int {
	if v < logSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(uint64(v)) // v >= 16, so e >= 4
	return (e-3)*logSub + int((uint64(v)>>(e-4))&(logSub-1))
}

// logBucketValue is the upper edge of bucket b: a conservative reading.
func logBucketValue(b int) int64 {
	if b < logSub {
		return int64(b)
	}
	e := b/logSub + 3
	return int64(logSub+b%logSub+1)<<(e-4) - 1
}

// record counts one latency. Hot path: no allocation.
func (h *logHist) record(latencyNs int64) {
	h[min(logBucket(latencyNs), logBuckets-1)]++
}

// add adds o's counts to h.
func (h *logHist) add(o *logHist) {
	for b, n := range o {
		h[b] += n
	}
}

// quantile returns the value at quantile q (0..1) over count values.
func (h *logHist) quantile(q float64, count int64) int64 {
	if count == 0 {
		return 0
	}
	rank := int64(q*float64(count) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for b, n := range h {
		seen += int64(n)
		if seen >= rank {
			return logBucketValue(b)
		}
	}
	return logBucketValue(logBuckets - 1)
}
