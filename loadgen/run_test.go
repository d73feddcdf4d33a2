package loadgen

import "testing"

// A window cut short (Ctrl-C) has fewer seconds than the workers counted:
// the later ones fold into its last, so no message is lost from the
// timeline.
func TestFoldSeconds(t *testing.T) {
	t.Parallel()
	src := make([]second, 4)
	for i := range src {
		src[i] = second{completed: int64(10 * (i + 1)), failed: int64(i)}
	}
	src[3].lat = new(logHist)
	src[3].lat[logBucket(5000)] = 7
	dst := make([]second, 2)
	foldSeconds(dst, src)
	foldSeconds(dst, src[:1])
	if dst[0].completed != 20 || dst[0].failed != 0 {
		t.Errorf("second 0: completed %d failed %d, want 20 and 0", dst[0].completed, dst[0].failed)
	}
	if dst[1].completed != 90 || dst[1].failed != 6 {
		t.Errorf("last second: completed %d failed %d, want 20+30+40 and 1+2+3", dst[1].completed, dst[1].failed)
	}
	if dst[0].lat != nil || dst[1].lat == nil || dst[1].lat[logBucket(5000)] != 7 {
		t.Errorf("latencies: second 0 has some %v, last second has some %v; want only the last second's 7", dst[0].lat != nil, dst[1].lat != nil)
	}
}
