package loadgen

import (
	"bytes"
	"testing"
)

// message returns a fresh copy of message (id, seq).
func (p *payload) message(id int32, seq int64) []byte {
	b := make([]byte, p.size)
	p.copyMessage(b, id, seq, 0)
	return b
}

func TestPayloadStream(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 7, 64, 1000, 16 << 10} {
		pl := newPayload(size)
		// The stream of messages base.. cut at any offsets is the messages
		// back to back.
		var want []byte
		for s := int64(5); s < 9; s++ {
			want = append(want, pl.message(3, s)...)
		}
		got := make([]byte, len(want))
		for _, step := range []int{1, 3, size, size + 1, len(want)} {
			for off := 0; off < len(want); off += step {
				n := min(step, len(want)-off)
				pl.fill(got[off:off+n], 3, 5, int64(off))
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d step %d: fill differs from the concatenated messages", size, step)
			}
		}
		for off := 0; off < len(want); off++ {
			k := off / size
			if !pl.matches(want[off:off+1], 3, int64(5+k), int64(off-k*size)) {
				t.Fatalf("size %d: byte %d does not match itself", size, off)
			}
		}
	}
}

// Messages differ between connections and sequence numbers, so a misplaced
// echo is caught.
func TestPayloadDistinct(t *testing.T) {
	t.Parallel()
	pl := newPayload(64)
	seen := map[string]bool{}
	for id := int32(0); id < 50; id++ {
		for seq := int64(0); seq < 50; seq++ {
			m := string(pl.message(id, seq))
			if seen[m] {
				t.Fatalf("message (%d, %d) equals an earlier one", id, seq)
			}
			seen[m] = true
		}
	}
	m := append([]byte(nil), pl.message(1, 1)...)
	for i := range m {
		bad := append([]byte(nil), m...)
		bad[i] ^= 1
		if pl.matches(bad, 1, 1, 0) {
			t.Fatalf("a flipped bit at %d went unnoticed", i)
		}
	}
}

func TestLogHist(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, 15, 16, 17, 100, 1000, 123456, 1e9, 59e9} {
		b := logBucket(v)
		if hi := logBucketValue(b); hi < v || float64(hi-v) > 0.07*float64(v)+1 {
			t.Errorf("value %d: bucket %d upper edge %d, want within 7%% above", v, b, hi)
		}
		if b > 0 && logBucketValue(b-1) >= v {
			t.Errorf("value %d: the bucket below (%d) already reaches %d", v, b-1, logBucketValue(b-1))
		}
	}
	var h logHist
	for v := int64(1); v <= 1000; v++ {
		h[logBucket(v*1000)]++
	}
	if p99 := h.quantile(0.99, 1000); p99 < 990_000 || p99 > 990_000*1.07 {
		t.Errorf("p99 of 1..1000 µs = %d ns, want about 990000", p99)
	}
}
