package results

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// t0 is a window start on the wall clock (2026-11-27T15:00:00Z).
var t0 = time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC).UnixNano()

// genLoad is a load result as `echobench load --json` makes it: latencies
// (ns) of its completed messages in a histogram, the figures derived from
// it the way the load generator derives them.
func genLoad(t testing.TB, startNs int64, window time.Duration, latsNs []int64, failed int64) Load {
	t.Helper()
	h := NewHDR()
	for _, v := range latsNs {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := EncodeHDR(h)
	if err != nil {
		t.Fatal(err)
	}
	windowS := window.Seconds()
	completed := int64(len(latsNs))
	l := Load{Mode: "closed", Conns: 4, SizeBytes: 64, Depth: 1, DurationS: windowS,
		WindowStartUnixNs: startNs, WindowEndUnixNs: startNs + int64(window),
		Intended: completed + failed, Completed: completed, TimedOut: failed,
		ThroughputMsgsPerSec: float64(completed) / windowS,
		ThroughputMiBPerSec:  float64(completed) * 64 / windowS / (1 << 20),
		LatencyUs:            LatencyOf(h), HDR: enc, RateMet: true, ClientCPUUtil: 0.4, GOMAXPROCS: 2, Workers: 1,
		Timeline: []Second{{ElapsedS: 0, Completed: completed / 2}, {ElapsedS: 1, Completed: completed - completed/2, Failed: failed}},
	}
	if l.Intended > 0 {
		l.CompletionRatio = float64(completed) / float64(l.Intended)
	}
	// 100 ms intervals, as the load generator records them: the
	// completions spread over them, the failures in the last.
	n := int((window + 99*time.Millisecond) / (100 * time.Millisecond))
	l.IntervalMs = 100
	l.Intervals = make([]Interval, n)
	for i := range completed {
		iv := &l.Intervals[int(i)%n]
		iv.Started++
		iv.Completed++
		iv.P99Us = float64(20 + int(i)%n)
	}
	l.Intervals[n-1].Started += failed
	l.Intervals[n-1].TimedOut += failed
	return l
}

// lats is n latencies from lo ns in steps of step ns.
func lats(n int, lo, step int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = lo + int64(i)*step
	}
	return out
}

func decode(t *testing.T, s string) *hdrhistogram.Histogram {
	t.Helper()
	h, err := DecodeHDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkBucketSum fails unless every bucket of sum holds the counts of that
// bucket in parts, added.
func checkBucketSum(t *testing.T, sum *hdrhistogram.Histogram, parts ...*hdrhistogram.Histogram) {
	t.Helper()
	got := sum.Export().Counts
	want := make([]int64, len(got))
	for _, p := range parts {
		c := p.Export().Counts
		if len(c) != len(got) {
			t.Fatalf("%d buckets in a part, %d in the sum", len(c), len(got))
		}
		for i, n := range c {
			want[i] += n
		}
	}
	nonZero := 0
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("bucket %d: %d, want %d", i, got[i], want[i])
		}
		if got[i] != 0 {
			nonZero++
		}
	}
	if nonZero < 2 {
		t.Fatalf("only %d buckets hold values: the comparison shows nothing", nonZero)
	}
}

// Two generators: counts add up, the histogram is the bucket-for-bucket
// sum, and the percentiles come from it, not from averaging.
func TestMergeAddsUpExactly(t *testing.T) {
	t.Parallel()
	// A fast generator and a slow one: averaging their p99s would be far
	// from the p99 of all their messages.
	a := genLoad(t, t0, 2*time.Second, lats(9000, 20_000, 3), 5)
	b := genLoad(t, t0+int64(time.Millisecond), 2*time.Second, lats(1000, 5_000_000, 1000), 2)
	b.ClientBound, b.ClientCPUUtil, b.Warnings = true, 0.95, []string{"client-bound"}
	m, err := Merge([]Load{a, b}, []string{"a.json", "b.json"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Completed != a.Completed+b.Completed || m.Intended != a.Intended+b.Intended || m.TimedOut != 7 || m.Conns != 8 {
		t.Errorf("counts: completed %d intended %d timed out %d conns %d", m.Completed, m.Intended, m.TimedOut, m.Conns)
	}
	hm := decode(t, m.HDR)
	checkBucketSum(t, hm, decode(t, a.HDR), decode(t, b.HDR))
	// 10% of the messages are slow: the merged p99 is a slow one's.
	if m.LatencyUs.P99 < 5000 || m.LatencyUs != LatencyOf(hm) {
		t.Errorf("p99 %v µs, want the slow generator's range (≥ 5000), from the merged histogram", m.LatencyUs.P99)
	}
	wantWindow := 2.001
	if m.DurationS != wantWindow || m.ThroughputMsgsPerSec != float64(m.Completed)/wantWindow {
		t.Errorf("window %v s, throughput %v; want %v s and completed over it", m.DurationS, m.ThroughputMsgsPerSec, wantWindow)
	}
	if !m.ClientBound || m.ClientCPUUtil != 0.95 || !m.RateMet || m.Workers != 2 {
		t.Errorf("flags: client_bound %v util %v rate_met %v workers %d", m.ClientBound, m.ClientCPUUtil, m.RateMet, m.Workers)
	}
	if len(m.Generators) != 2 || !reflect.DeepEqual(m.Generators[1], b) {
		t.Errorf("generators not kept as given: %d", len(m.Generators))
	}
	if len(m.Warnings) != 1 || m.Warnings[0] != "b.json: client-bound" {
		t.Errorf("warnings %q", m.Warnings)
	}
	if m.Timeline[1].Completed != a.Timeline[1].Completed+b.Timeline[1].Completed || m.Timeline[1].Failed != 7 {
		t.Errorf("timeline %+v", m.Timeline)
	}
	rec := Record{RunID: "r", PointID: "p", Status: StatusOK, Load: &m}
	if err := rec.Check(); err != nil {
		t.Errorf("the merged result fails Check: %v", err)
	}
}

// The 100 ms intervals add up per interval, aligned by each generator's
// window start (so the merge still adds up to its totals and passes Check),
// and CPU quota counts add up.
func TestMergeIntervalsAndThrottle(t *testing.T) {
	t.Parallel()
	a := genLoad(t, t0, time.Second, lats(1000, 20_000, 3), 4)
	b := genLoad(t, t0+int64(100*time.Millisecond), time.Second, lats(500, 30_000, 3), 0)
	a.CPUThrottle = &CPUThrottle{Periods: 10, Throttled: 2, ThrottledUs: 5000}
	b.CPUThrottle = &CPUThrottle{Periods: 10, Throttled: 1, ThrottledUs: 100}
	m, err := Merge([]Load{a, b}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if m.IntervalMs != 100 || len(m.Intervals) != 11 {
		t.Fatalf("%d intervals of %d ms, want 11 of 100 (b starts one interval late)", len(m.Intervals), m.IntervalMs)
	}
	if got, want := m.Intervals[1].Completed, a.Intervals[1].Completed+b.Intervals[0].Completed; got != want {
		t.Errorf("interval 1 completed %d, want a's interval 1 + b's interval 0 = %d", got, want)
	}
	if m.Intervals[9].TimedOut != 4 || m.Intervals[9].P99Us != max(a.Intervals[9].P99Us, b.Intervals[8].P99Us) {
		t.Errorf("interval 9: %+v", m.Intervals[9])
	}
	if *m.CPUThrottle != (CPUThrottle{Periods: 20, Throttled: 3, ThrottledUs: 5100}) {
		t.Errorf("cpu_throttle %+v", *m.CPUThrottle)
	}
	rec := Record{RunID: "r", PointID: "p", Status: StatusOK, Load: &m}
	if err := rec.Check(); err != nil {
		t.Errorf("the merged result fails Check: %v", err)
	}
	b.IntervalMs = 200
	if m, err := Merge([]Load{a, b}, []string{"a", "b"}); err != nil || m.Intervals != nil {
		t.Errorf("different widths: %d intervals, %v; want none and a warning", len(m.Intervals), err)
	}
}

// One result merges into itself: every figure the merge recomputes is the
// load generator's own.
func TestMergeOneIsIdentity(t *testing.T) {
	t.Parallel()
	a := genLoad(t, t0, 1500*time.Millisecond, lats(777, 30_000, 97), 3)
	m, err := Merge([]Load{a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, a) {
		t.Errorf("merge of one result changed it:\n%+v\nwant\n%+v", m, a)
	}
}

func TestMergeRefusesWindowsApart(t *testing.T) {
	t.Parallel()
	a := genLoad(t, t0, time.Second, lats(10, 1000, 1), 0)
	b := genLoad(t, t0+int64(800*time.Millisecond), time.Second, lats(10, 1000, 1), 0)
	_, err := Merge([]Load{a, b}, []string{"a.json", "b.json"})
	for _, want := range []string{"share 0.200 s", "less than 90% of the shortest (1.000 s)",
		"a.json 2026-11-27T15:00:00Z to 2026-11-27T15:00:01Z (1.000 s)", "b.json 2026-11-27T15:00:00.8Z to 2026-11-27T15:00:01.8Z", "--start-at"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("windows 0.8 s apart: %v, want it to say %q", err, want)
		}
	}
	// 95% of the shortest is enough.
	b = genLoad(t, t0+int64(50*time.Millisecond), 2*time.Second, lats(10, 1000, 1), 0)
	if _, err := Merge([]Load{a, b}, nil); err != nil {
		t.Errorf("a window inside another, 95%% shared: %v", err)
	}
}

func TestMergeRefusesDifferentLoads(t *testing.T) {
	t.Parallel()
	base := genLoad(t, t0, time.Second, lats(10, 1000, 1), 0)
	for _, tt := range []struct {
		name   string
		change func(l *Load)
		want   string
	}{
		{"size", func(l *Load) { l.SizeBytes = 1024 }, "size_bytes 64 vs 1024"},
		{"mode", func(l *Load) { l.Mode, l.RateMsgsPerSec = "open", 100 }, "mode closed vs open"},
		{"depth", func(l *Load) { l.Depth = 4 }, "depth 1 vs 4"},
		{"no window", func(l *Load) { l.WindowStartUnixNs, l.WindowEndUnixNs = 0, 0 }, "no window times"},
		{"no histogram", func(l *Load) { l.HDR = "" }, "hdr: empty"},
		{"impossible", func(l *Load) { l.Completed++ }, "but intended"},
	} {
		other := base
		tt.change(&other)
		_, err := Merge([]Load{base, other}, []string{"a.json", "b.json"})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "b.json") {
			t.Errorf("%s: %v, want an error naming b.json and %q", tt.name, err, tt.want)
		}
	}
	if _, err := Merge(nil, nil); err == nil {
		t.Error("merge of nothing succeeded")
	}
}

// Open loop: the send lag histograms add up too; without them the send
// lag is the largest generator's, and the merge says so.
func TestMergeSendLag(t *testing.T) {
	t.Parallel()
	open := func(lagNs int64) Load {
		l := genLoad(t, t0, time.Second, lats(100, 50_000, 10), 0)
		l.Mode, l.RateMsgsPerSec = "open", 100
		h := NewHDR()
		for i := range int64(100) {
			_ = h.RecordValue(lagNs + i)
		}
		l.SendLagUs, l.SendLagHDR = SendLagOf(h), encodeNonEmpty(h)
		return l
	}
	a, b := open(1000), open(900_000)
	m, err := Merge([]Load{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := NewHDR()
	want.Merge(decode(t, a.SendLagHDR))
	want.Merge(decode(t, b.SendLagHDR))
	if m.SendLagUs != SendLagOf(want) || m.RateMsgsPerSec != 200 {
		t.Errorf("send lag %+v, want %+v; rate %v", m.SendLagUs, SendLagOf(want), m.RateMsgsPerSec)
	}
	b.SendLagHDR = ""
	m, err = Merge([]Load{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.SendLagUs != b.SendLagUs || !strings.Contains(strings.Join(m.Warnings, "|"), "upper bound") {
		t.Errorf("without a histogram: send lag %+v (want the larger %+v), warnings %q", m.SendLagUs, b.SendLagUs, m.Warnings)
	}
}

// Connects and bursts merge from their histograms too.
func TestMergeConnects(t *testing.T) {
	t.Parallel()
	churn := func(lo int64) Load {
		l := genLoad(t, t0, time.Second, lats(100, 50_000, 10), 0)
		h := NewHDR()
		for i := range int64(50) {
			_ = h.RecordValue(lo + i*100)
		}
		l.Connects = &Connects{ConnLifetime: 10, Established: 50, ConnectsPerSec: 50, ConnectUs: LatencyOf(h),
			ConnectHDR: encodeNonEmpty(h), Failed: ConnectFailures{Refused: 1}, TimeWaitSockets: 40, EphemeralPorts: 28232}
		l.Burst = &Burst{Conns: 10, Echoed: 10, DurationS: float64(lo) / 1e9, ConnectUs: LatencyOf(h), ConnectHDR: encodeNonEmpty(h)}
		return l
	}
	a, b := churn(10_000), churn(2_000_000)
	m, err := Merge([]Load{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Connects
	if c.Established != 100 || c.Failed.Refused != 2 || c.ConnectsPerSec != 100 || c.TimeWaitSockets != 40 {
		t.Errorf("connects %+v", c)
	}
	if got := decode(t, c.ConnectHDR).TotalCount(); got != 100 || c.ConnectUs.Max < 2000 || c.ConnectUs.Min > 11 {
		t.Errorf("connect histogram holds %d, latency %+v", got, c.ConnectUs)
	}
	if m.Burst.Conns != 20 || m.Burst.DurationS != 0.002 || decode(t, m.Burst.ConnectHDR).TotalCount() != 100 {
		t.Errorf("burst %+v", m.Burst)
	}
	if _, err := Merge([]Load{a, genLoad(t, t0, time.Second, lats(10, 1000, 1), 0)}, nil); err == nil || !strings.Contains(err.Error(), "conn_lifetime 10 vs 0") {
		t.Errorf("churn merged with no churn: %v", err)
	}
}

func TestReadLoad(t *testing.T) {
	t.Parallel()
	a := genLoad(t, t0, time.Second, lats(10, 1000, 1), 0)
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadLoad(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("ReadLoad = %+v, %v", got, err)
	}
	for _, in := range []string{"", "{}", "[1]", `{"mode":"closed"}`} {
		if _, err := ReadLoad(strings.NewReader(in)); err == nil {
			t.Errorf("ReadLoad(%q) succeeded", in)
		}
	}
	// ReadLoad's limit, at a size a test reads in no time.
	var l Load
	if err := readJSON(io.LimitReader(spaces{}, 1001), 1000, "a load", &l); err == nil || !strings.Contains(err.Error(), "longer than 1000 bytes: not a load") {
		t.Errorf("readJSON past the limit: %v", err)
	}
}

// spaces reads as endless blanks.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// FuzzReadLoad: whatever ReadLoad accepts merges with itself into exactly
// twice its counts and histogram; nothing panics.
func FuzzReadLoad(f *testing.F) {
	l := genLoad(f, t0, time.Second, lats(20, 1000, 77), 1)
	b, _ := json.Marshal(l)
	f.Add(b)
	f.Add([]byte(`{"mode":"open","window_start_unix_ns":1,"window_end_unix_ns":2}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ReadLoad(bytes.NewReader(in))
		if err != nil {
			return
		}
		m, err := Merge([]Load{l, l}, nil)
		if err != nil {
			return // e.g. a Completed so large that twice it fails Check
		}
		if m.Completed != 2*l.Completed || decode(t, m.HDR).TotalCount() != 2*decode(t, l.HDR).TotalCount() {
			t.Fatalf("merged with itself: completed %d of %d", m.Completed, l.Completed)
		}
	})
}

// Two real `echobench load --json` outputs with one --start-at
// (testdata/README.md): the merge adds their counts and their histograms
// bucket for bucket, and each alone merges into itself.
func TestMergeRealLoads(t *testing.T) {
	t.Parallel()
	var loads []Load
	for _, name := range []string{"testdata/gen1.json", "testdata/gen2.json"} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ReadLoad(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if one, err := Merge([]Load{l}, nil); err != nil || !reflect.DeepEqual(one, l) {
			t.Errorf("%s merged alone changed (%v)", name, err)
		}
		loads = append(loads, l)
	}
	m, err := Merge(loads, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := loads[0], loads[1]
	if a.WindowStartUnixNs != b.WindowStartUnixNs {
		t.Fatalf("the fixtures do not share a --start-at: %d, %d", a.WindowStartUnixNs, b.WindowStartUnixNs)
	}
	if m.Completed != a.Completed+b.Completed || m.Intended != a.Intended+b.Intended || m.DurationS != a.DurationS ||
		m.ThroughputMsgsPerSec != float64(m.Completed)/a.DurationS {
		t.Errorf("completed %d (%d + %d), window %v s, throughput %v", m.Completed, a.Completed, b.Completed, m.DurationS, m.ThroughputMsgsPerSec)
	}
	checkBucketSum(t, decode(t, m.HDR), decode(t, a.HDR), decode(t, b.HDR))
	if got := decode(t, m.HDR).TotalCount(); got != m.Completed {
		t.Errorf("merged histogram holds %d, completed %d", got, m.Completed)
	}
}
