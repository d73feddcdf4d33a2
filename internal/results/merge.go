package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Merging the results of several load generators that drove one server at
// once (`echobench merge`, the orchestrator's load_procs). Counts add up,
// histograms add up bucket for bucket (every histogram of this project has
// one geometry, so nothing is lost), and every percentile is recomputed
// from the merged histogram: percentiles are never averaged. Results whose
// windows did not overlap, or that measured different loads, are refused
// with the figures, because their sum would describe no moment of the
// server's life (vegeta#210).

// MinOverlapShare is how much of the shortest window every window must
// share for a merge: with one --start-at the windows are the same to the
// microsecond; generators started by hand must still agree to 90%.
const MinOverlapShare = 0.9

// maxLoadBytes bounds one `echobench load --json` file: a result must fit
// in one line of results.jsonl, merged ones with their generators too.
const maxLoadBytes = maxLineBytes

// ReadLoad decodes one `echobench load --json` output (a results.Load) and
// checks what a merge relies on: sane figures, the window's wall-clock
// times, a histogram of this project's geometry. Garbage is an error,
// never a panic.
func ReadLoad(r io.Reader) (Load, error) {
	var l Load
	if err := readJSON(r, maxLoadBytes, "a load result (echobench load --json)", &l); err != nil {
		return Load{}, err
	}
	if err := l.checkMergeable(); err != nil {
		return Load{}, err
	}
	return l, nil
}

// readJSON decodes one JSON value of at most limit bytes from r into v,
// refusing a longer input before it is all in memory; what names the
// value in errors.
func readJSON(r io.Reader, limit int, what string, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return err
	}
	if len(b) > limit {
		return fmt.Errorf("longer than %d bytes: not %s", limit, what)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not %s: %w", what, err)
	}
	return nil
}

// checkMergeable is what Merge needs of one input.
func (l *Load) checkMergeable() error {
	if l.Mode == "" {
		return errors.New("no mode: not a load result (echobench load --json)")
	}
	if err := l.check(); err != nil {
		return err
	}
	if l.WindowStartUnixNs <= 0 || l.WindowEndUnixNs <= l.WindowStartUnixNs {
		return errors.New("no window times (window_start_unix_ns, window_end_unix_ns): written by an echobench load that predates them, or measured nothing")
	}
	if err := CheckHDR(l.HDR); err != nil {
		return err
	}
	return nil
}

// Merge adds up the results of generators that drove one server at once;
// names label them in errors and warnings ("gen1.json"), nil means "input
// N". One result comes back as it was. The rules, each stated where the
// figure is made:
//   - counts, connections and the open-loop rate add up;
//   - the latency, send lag and connect histograms add up bucket for bucket
//     and their percentiles are recomputed;
//   - the window runs from the earliest start to the latest end, so the
//     throughput (completed / window) is never overstated;
//   - client_bound if any generator was, rate_met if every one was,
//     client_cpu_util is the busiest generator's;
//   - Generators holds every input as given.
func Merge(loads []Load, names []string) (Load, error) {
	if len(loads) == 0 {
		return Load{}, errors.New("merge: no results")
	}
	label := func(i int) string {
		if i < len(names) && names[i] != "" {
			return names[i]
		}
		return fmt.Sprintf("input %d", i+1)
	}
	for i := range loads {
		if err := loads[i].checkMergeable(); err != nil {
			return Load{}, fmt.Errorf("merge: %s: %w", label(i), err)
		}
	}
	if err := sameLoad(loads, label); err != nil {
		return Load{}, err
	}
	if err := overlapping(loads, label); err != nil {
		return Load{}, err
	}
	m, err := mergeLoads(loads, label)
	if err != nil {
		return Load{}, err
	}
	if err := m.check(); err != nil {
		return Load{}, fmt.Errorf("merge: the sum is not a possible result: %w", err)
	}
	if len(loads) > 1 {
		m.Generators = append([]Load(nil), loads...)
	}
	return m, nil
}

// sameLoad refuses results that measured different things: their sum
// would be no load anyone ran.
func sameLoad(loads []Load, label func(int) string) error {
	a := &loads[0]
	for i := 1; i < len(loads); i++ {
		b := &loads[i]
		var diff []string
		if a.Mode != b.Mode {
			diff = append(diff, fmt.Sprintf("mode %s vs %s", a.Mode, b.Mode))
		}
		if a.SizeBytes != b.SizeBytes {
			diff = append(diff, fmt.Sprintf("size_bytes %d vs %d", a.SizeBytes, b.SizeBytes))
		}
		if a.Depth != b.Depth {
			diff = append(diff, fmt.Sprintf("depth %d vs %d", a.Depth, b.Depth))
		}
		if a.SlowReaders > 0 && b.SlowReaders > 0 && a.SlowReadBytesPerSec != b.SlowReadBytesPerSec {
			diff = append(diff, fmt.Sprintf("slow_read_bytes_per_s %d vs %d", a.SlowReadBytesPerSec, b.SlowReadBytesPerSec))
		}
		if la, lb := connLifetime(a), connLifetime(b); la != lb {
			diff = append(diff, fmt.Sprintf("conn_lifetime %d vs %d", la, lb))
		}
		if len(diff) > 0 {
			return fmt.Errorf("merge: %s and %s measured different loads (%s): their sum would be no load that ran",
				label(0), label(i), strings.Join(diff, ", "))
		}
	}
	return nil
}

func connLifetime(l *Load) int64 {
	if l.Connects == nil {
		return 0
	}
	return l.Connects.ConnLifetime
}

// overlapping refuses windows that share less than MinOverlapShare of the
// shortest, with every window's figures.
func overlapping(loads []Load, label func(int) string) error {
	maxStart, minEnd := loads[0].WindowStartUnixNs, loads[0].WindowEndUnixNs
	shortest := minEnd - maxStart
	for _, l := range loads[1:] {
		maxStart = max(maxStart, l.WindowStartUnixNs)
		minEnd = min(minEnd, l.WindowEndUnixNs)
		shortest = min(shortest, l.WindowEndUnixNs-l.WindowStartUnixNs)
	}
	shared := max(minEnd-maxStart, 0)
	if float64(shared) >= MinOverlapShare*float64(shortest) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "merge: the windows share %.3f s, less than %.0f%% of the shortest (%.3f s): they did not measure the same moment",
		float64(shared)/1e9, 100*MinOverlapShare, float64(shortest)/1e9)
	for i, l := range loads {
		fmt.Fprintf(&b, "; %s %s to %s (%.3f s)", label(i), unixNs(l.WindowStartUnixNs), unixNs(l.WindowEndUnixNs),
			float64(l.WindowEndUnixNs-l.WindowStartUnixNs)/1e9)
	}
	b.WriteString(". Start the generators with one --start-at")
	return errors.New(b.String())
}

func unixNs(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// mergeLoads computes the merged figures of loads that passed the checks.
func mergeLoads(loads []Load, label func(int) string) (Load, error) {
	m := Load{Mode: loads[0].Mode, SizeBytes: loads[0].SizeBytes, Depth: loads[0].Depth, RateMet: true,
		WindowStartUnixNs: loads[0].WindowStartUnixNs, WindowEndUnixNs: loads[0].WindowEndUnixNs}
	for i := range loads {
		addCounts(&m, &loads[i])
	}
	windowS := float64(m.WindowEndUnixNs-m.WindowStartUnixNs) / 1e9
	m.DurationS = windowS
	if m.Intended > 0 {
		m.CompletionRatio = float64(m.Completed) / float64(m.Intended)
	}
	m.ThroughputMsgsPerSec = float64(m.Completed) / windowS
	m.ThroughputMiBPerSec = float64(m.Completed) * float64(m.SizeBytes) / windowS / (1 << 20)
	if err := mergeLatency(&m, loads); err != nil {
		return Load{}, err
	}
	m.Timeline = mergeTimelines(loads)
	mergeIntervals(&m, loads)
	m.CPUThrottle = mergeThrottle(loads)
	m.Connects = mergeConnects(loads, windowS)
	m.Burst = mergeBursts(loads)
	for i, l := range loads {
		for _, w := range l.Warnings {
			if len(loads) > 1 {
				w = label(i) + ": " + w
			}
			m.Warnings = append(m.Warnings, w)
		}
	}
	if len(loads) > 1 && m.Mode == "open" && !hasAll(loads, func(l *Load) string { return l.SendLagHDR }) {
		m.Warnings = append(m.Warnings, "send lag: not every generator recorded its histogram; send_lag_us is the largest generator's, an upper bound")
	}
	return m, nil
}

// addCounts adds l's counts and flags into m and widens m's window.
func addCounts(m, l *Load) {
	m.Conns += l.Conns
	m.RateMsgsPerSec += l.RateMsgsPerSec
	m.WindowStartUnixNs = min(m.WindowStartUnixNs, l.WindowStartUnixNs)
	m.WindowEndUnixNs = max(m.WindowEndUnixNs, l.WindowEndUnixNs)
	m.Intended += l.Intended
	m.Completed += l.Completed
	m.TimedOut += l.TimedOut
	m.Errored += l.Errored
	m.Corrupted += l.Corrupted
	m.ConnFailed += l.ConnFailed
	m.Reconnects += l.Reconnects
	m.LatencyOverflow += l.LatencyOverflow
	m.IdleConns += l.IdleConns
	m.IdleFailed += l.IdleFailed
	m.SlowReaders += l.SlowReaders
	m.SlowReadBytes += l.SlowReadBytes
	m.SlowClosed += l.SlowClosed
	m.SlowCorrupted += l.SlowCorrupted
	if l.SlowReaders > 0 {
		m.SlowReadBytesPerSec = l.SlowReadBytesPerSec
	}
	// Each generator's share of its own CPUs: the busiest is the one that
	// may have limited the figures.
	m.ClientCPUUtil = max(m.ClientCPUUtil, l.ClientCPUUtil)
	m.ClientBound = m.ClientBound || l.ClientBound
	m.RateMet = m.RateMet && l.RateMet
	m.GOMAXPROCS = max(m.GOMAXPROCS, l.GOMAXPROCS)
	m.Workers += l.Workers
}

// mergeLatency adds the latency and send lag histograms up and
// recomputes their percentiles.
func mergeLatency(m *Load, loads []Load) error {
	h, err := sumHDR(loads, func(l *Load) string { return l.HDR })
	if err != nil {
		return fmt.Errorf("merge: latency histogram: %w", err)
	}
	m.LatencyUs = LatencyOf(h)
	if m.HDR, err = EncodeHDR(h); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if m.Mode != "open" {
		return nil
	}
	if !hasAll(loads, func(l *Load) string { return l.SendLagHDR }) {
		for _, l := range loads {
			m.SendLagUs.P50 = max(m.SendLagUs.P50, l.SendLagUs.P50)
			m.SendLagUs.P99 = max(m.SendLagUs.P99, l.SendLagUs.P99)
		}
		return nil
	}
	lag, err := sumHDR(loads, func(l *Load) string { return l.SendLagHDR })
	if err != nil {
		return fmt.Errorf("merge: send lag histogram: %w", err)
	}
	m.SendLagUs = SendLagOf(lag)
	m.SendLagHDR = encodeNonEmpty(lag)
	return nil
}

// hasAll: every load has the histogram field of get.
func hasAll(loads []Load, get func(*Load) string) bool {
	for i := range loads {
		if get(&loads[i]) == "" {
			return false
		}
	}
	return true
}

// sumHDR decodes and adds up one histogram of every load; an empty field
// is an empty histogram. Histograms of one geometry lose nothing in a
// merge: a value dropped is an error.
func sumHDR(loads []Load, get func(*Load) string) (*hdrhistogram.Histogram, error) {
	sum := NewHDR()
	for i := range loads {
		s := get(&loads[i])
		if s == "" {
			continue
		}
		h, err := DecodeHDR(s)
		if err != nil {
			return nil, err
		}
		if dropped := sum.Merge(h); dropped != 0 {
			return nil, fmt.Errorf("%d values dropped", dropped)
		}
	}
	return sum, nil
}

// encodeNonEmpty encodes h, or "" when it holds nothing: the load
// generator leaves an empty histogram of connects out.
func encodeNonEmpty(h *hdrhistogram.Histogram) string {
	if h.TotalCount() == 0 {
		return ""
	}
	s, err := EncodeHDR(h)
	if err != nil {
		return ""
	}
	return s
}

// mergeTimelines adds the generators' seconds up, each aligned by its
// window's start to the nearest second of the merged window. A second's
// p99 is the largest generator's: the timeline keeps no histogram per
// second, and the largest p99 is an upper bound of the merged one.
func mergeTimelines(loads []Load) []Second {
	start := loads[0].WindowStartUnixNs
	for _, l := range loads[1:] {
		start = min(start, l.WindowStartUnixNs)
	}
	var out []Second
	for _, l := range loads {
		shift := int((l.WindowStartUnixNs - start + int64(time.Second)/2) / int64(time.Second))
		for i, s := range l.Timeline {
			j := i + shift
			for len(out) <= j {
				out = append(out, Second{ElapsedS: float64(len(out))})
			}
			out[j].Completed += s.Completed
			out[j].Failed += s.Failed
			out[j].P99Us = max(out[j].P99Us, s.P99Us)
		}
	}
	return out
}

// mergeIntervals adds the generators' intervals up, each aligned by its
// window's start to the nearest interval of the merged window, and their
// drains; an interval's p99 is the largest generator's (an upper bound of
// the merged one: an interval keeps no histogram). Generators that cut
// their windows into intervals of different widths leave the merge without
// intervals, and it says so. The monotonic start is the earliest
// generator's: on one host (load_procs) it aligns the server's CPU.
func mergeIntervals(m *Load, loads []Load) {
	width := loads[0].IntervalMs
	for _, l := range loads {
		if l.IntervalMs != width || len(l.Intervals) == 0 {
			if width > 0 {
				m.Warnings = append(m.Warnings, "intervals: the generators recorded different interval widths (or none); the merge has no intervals")
			}
			return
		}
	}
	if width <= 0 {
		return
	}
	m.IntervalMs = width
	first := 0
	for i, l := range loads {
		if l.WindowStartUnixNs < loads[first].WindowStartUnixNs {
			first = i
		}
	}
	m.WindowStartMonoNs = loads[first].WindowStartMonoNs
	step := width * int64(time.Millisecond)
	drain := Interval{}
	for _, l := range loads {
		shift := int((l.WindowStartUnixNs - loads[first].WindowStartUnixNs + step/2) / step)
		for i, iv := range l.Intervals {
			j := i + shift
			for len(m.Intervals) <= j {
				m.Intervals = append(m.Intervals, Interval{})
			}
			addInterval(&m.Intervals[j], iv)
		}
		if l.Drain != nil {
			addInterval(&drain, *l.Drain)
		}
	}
	if drain != (Interval{}) {
		m.Drain = &drain
	}
}

func addInterval(dst *Interval, iv Interval) {
	dst.Started += iv.Started
	dst.Completed += iv.Completed
	dst.TimedOut += iv.TimedOut
	dst.Errored += iv.Errored
	dst.Corrupted += iv.Corrupted
	dst.P99Us = max(dst.P99Us, iv.P99Us)
}

// mergeThrottle sums the generators' CPU quota counts; nil when none ran
// under a quota.
func mergeThrottle(loads []Load) *CPUThrottle {
	var t *CPUThrottle
	for _, l := range loads {
		if l.CPUThrottle == nil {
			continue
		}
		if t == nil {
			t = &CPUThrottle{}
		}
		t.Periods += l.CPUThrottle.Periods
		t.Throttled += l.CPUThrottle.Throttled
		t.ThrottledUs += l.CPUThrottle.ThrottledUs
	}
	return t
}

// mergeConnects merges the connection churn figures; nil when no
// generator measured connects.
func mergeConnects(loads []Load, windowS float64) *Connects {
	var cs []*Connects
	for _, l := range loads {
		if l.Connects != nil {
			cs = append(cs, l.Connects)
		}
	}
	if len(cs) == 0 {
		return nil
	}
	m := &Connects{ConnLifetime: cs[0].ConnLifetime, TimeWaitSockets: -1}
	var connect, first []hdrPart
	for _, c := range cs {
		m.Established += c.Established
		addFailures(&m.Failed, c.Failed)
		// Each is its host's count: on one host the largest is the
		// closest, on several their sum would be; neither is exact.
		m.TimeWaitSockets = max(m.TimeWaitSockets, c.TimeWaitSockets)
		m.EphemeralPorts = max(m.EphemeralPorts, c.EphemeralPorts)
		connect = append(connect, hdrPart{c.ConnectHDR, c.ConnectUs})
		first = append(first, hdrPart{c.FirstByteHDR, c.FirstByteUs})
	}
	if windowS > 0 {
		m.ConnectsPerSec = float64(m.Established) / windowS
	}
	m.ConnectUs, m.ConnectHDR = mergeParts(connect)
	m.FirstByteUs, m.FirstByteHDR = mergeParts(first)
	return m
}

// mergeBursts merges the connect bursts; nil when no generator had one.
// The bursts start together with the windows: the merged one lasts as
// long as the longest.
func mergeBursts(loads []Load) *Burst {
	var m *Burst
	var connect, first []hdrPart
	for _, l := range loads {
		b := l.Burst
		if b == nil {
			continue
		}
		if m == nil {
			m = &Burst{}
		}
		m.Conns += b.Conns
		m.Echoed += b.Echoed
		m.DurationS = max(m.DurationS, b.DurationS)
		m.EchoFailed += b.EchoFailed
		addFailures(&m.Failed, b.Failed)
		connect = append(connect, hdrPart{b.ConnectHDR, b.ConnectUs})
		first = append(first, hdrPart{b.FirstByteHDR, b.FirstByteUs})
	}
	if m != nil {
		m.ConnectUs, m.ConnectHDR = mergeParts(connect)
		m.FirstByteUs, m.FirstByteHDR = mergeParts(first)
	}
	return m
}

func addFailures(dst *ConnectFailures, f ConnectFailures) {
	dst.Refused += f.Refused
	dst.Reset += f.Reset
	dst.TimedOut += f.TimedOut
	dst.PortsExhausted += f.PortsExhausted
	dst.Other += f.Other
}

// hdrPart is one generator's histogram of a figure and its percentiles.
type hdrPart struct {
	hdr string
	lat Latency
}

// mergeParts adds the parts' histograms up. An empty histogram field with
// no figures is an empty histogram; a part with figures but no (valid)
// histogram, from an older generator, leaves only bounds: each percentile
// and the max is the largest part's, the min the smallest's, the mean the
// largest's, and no histogram is given.
func mergeParts(parts []hdrPart) (Latency, string) {
	sum := NewHDR()
	exact := true
	for _, p := range parts {
		if p.hdr == "" {
			exact = exact && p.lat == (Latency{})
			continue
		}
		h, err := DecodeHDR(p.hdr)
		if err != nil || sum.Merge(h) != 0 {
			exact = false
		}
	}
	if exact {
		return LatencyOf(sum), encodeNonEmpty(sum)
	}
	var b Latency
	for i, p := range parts {
		l := p.lat
		if i == 0 || l.Min < b.Min {
			b.Min = l.Min
		}
		b.P50, b.P90, b.P99 = max(b.P50, l.P50), max(b.P90, l.P90), max(b.P99, l.P99)
		b.P999, b.P9999, b.Max = max(b.P999, l.P999), max(b.P9999, l.P9999), max(b.Max, l.Max)
		b.Mean = max(b.Mean, l.Mean)
	}
	return b, ""
}
