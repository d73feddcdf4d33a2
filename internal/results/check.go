package results

import "fmt"

// Bounds a record's figures must respect. A record outside them was not
// written by bench (or was damaged): it is refused whole, so that no report
// figure comes from it. Each bound is far beyond anything measurable here
// and keeps sums over a whole run (at most bench's 100,000 points) exact.
const (
	// maxMessages bounds the message counts of one window: the load
	// generator's top rate (50M msgs/s) for its longest window (24 h) is
	// 4.3e12.
	maxMessages = 1e13
	// maxThroughputMsgsPerSec is 20x the load generator's top rate.
	maxThroughputMsgsPerSec = 1e9
	// maxLatencyUs is the histograms' top (60 s), in µs.
	maxLatencyUs = float64(HistHighestNs / 1000)
	// maxWindowS is a day: bench's longest window is 24 h.
	maxWindowS = 86400 + 3600
	// maxIntervals is far above the load generator's cap on a window's
	// intervals (3600), and keeps a damaged record from holding millions.
	maxIntervals = 100_000
	// maxThrottlePeriods: a CFS period is at least 1 ms, and a merged
	// record sums up to 1,000 generators' counts; maxThrottledUs is that
	// many generators stopped on 1,024 CPUs each for the whole window.
	maxThrottlePeriods = maxWindowS * 1000 * 1000
	maxThrottledUs     = maxWindowS * 1e6 * 1024 * 1000
	// maxGenerators bounds the generators merged into one result: far
	// beyond any cluster that drives one server.
	maxGenerators = 4096
	// maxProcs is far beyond servers.MaxProcs (256), the most processes
	// a server is started with.
	maxProcs = 4096
	// maxNetworkRTTMs is a minute: bench emulates at most 10 s.
	maxNetworkRTTMs = 60_000
)

// Check refuses a record whose identity is missing or whose figures cannot
// be true (issue #11: a completion ratio of 5, negative percentiles, a
// throughput of 1e308, counts whose sum overflows). It names the field.
func (r *Record) Check() error {
	switch {
	case r.RunID == "" || r.PointID == "":
		return fmt.Errorf("record without run_id or point_id")
	case r.Repeat < 0 || r.Repeat > 1_000_000:
		return fmt.Errorf("point %s: repeat %d is outside [0, 1000000]", r.PointID, r.Repeat)
	case r.Status != StatusOK && r.Status != StatusFailed && r.Status != StatusSkipped:
		return fmt.Errorf("point %s: status %q, want %q, %q or %q", r.PointID, r.Status, StatusOK, StatusFailed, StatusSkipped)
	case r.Status == StatusOK && r.Load == nil:
		return fmt.Errorf("point %s: status ok without a load summary", r.PointID)
	case r.Scenario.LoadProcs < 0 || r.Scenario.LoadProcs > maxGenerators:
		return fmt.Errorf("point %s: scenario.load_procs %d is outside [0, %d]", r.PointID, r.Scenario.LoadProcs, maxGenerators)
	}
	if err := r.Scenario.check(); err != nil {
		return fmt.Errorf("point %s: scenario.%w", r.PointID, err)
	}
	if p := r.Server.Procs; p < 0 || p > maxProcs {
		return fmt.Errorf("point %s: server.procs %d is outside [0, %d]", r.PointID, p, maxProcs)
	}
	for _, f := range []namedFloat{
		{"network_rtt_ms", r.Env.NetworkRTTMs, maxNetworkRTTMs}, {"network_loss_fraction", r.Env.NetworkLossFraction, 1},
	} {
		if err := f.check(); err != nil {
			return fmt.Errorf("point %s: env.%w", r.PointID, err)
		}
	}
	if r.Load != nil {
		if err := r.Load.check(); err != nil {
			return fmt.Errorf("point %s: load.%w", r.PointID, err)
		}
	}
	if s := r.ServerStats; s != nil {
		for _, f := range []namedFloat{
			{"cpu_user_s", s.CPUUserS, maxWindowS * 1024}, {"cpu_sys_s", s.CPUSysS, maxWindowS * 1024},
			{"cpu_util", s.CPUUtil, 1024}, {"msgs_per_cpu_s", s.MsgsPerCPUSecond, maxThroughputMsgsPerSec * 100},
			{"peak_rss_bytes", float64(s.PeakRSSBytes), 1 << 50}, {"base_rss_bytes", float64(s.BaseRSSBytes), 1 << 50},
		} {
			if err := f.check(); err != nil {
				return fmt.Errorf("point %s: server_stats.%w", r.PointID, err)
			}
		}
		var intervalMs int64
		if r.Load != nil {
			intervalMs = r.Load.IntervalMs
		}
		if err := s.checkServerIntervals(intervalMs); err != nil {
			return fmt.Errorf("point %s: server_stats.%w", r.PointID, err)
		}
	}
	return nil
}

// maxTimeoutS is the load generator's longest message timeout (10 min).
const maxTimeoutS = 600

// check bounds the scenario's figures that reports compute with.
func (s *Scenario) check() error {
	for _, f := range []namedFloat{
		{"reference_msgs_per_s", s.ReferenceMsgsPerSec, maxThroughputMsgsPerSec},
		{"msg_timeout_s", s.MsgTimeoutS, maxTimeoutS},
	} {
		if err := f.check(); err != nil {
			return err
		}
	}
	return nil
}

type namedFloat struct {
	name  string
	v     float64
	limit float64
}

func (f namedFloat) check() error {
	if !(f.v >= 0 && f.v <= f.limit) { // NaN too
		return fmt.Errorf("%s %v is outside [0, %g]", f.name, f.v, f.limit)
	}
	return nil
}

func (l *Load) check() error {
	counts := []namedFloat{
		{"intended", float64(l.Intended), maxMessages}, {"completed", float64(l.Completed), maxMessages},
		{"timed_out", float64(l.TimedOut), maxMessages}, {"errored", float64(l.Errored), maxMessages},
		{"corrupted", float64(l.Corrupted), maxMessages}, {"conn_failed", float64(l.ConnFailed), maxMessages},
		{"reconnects", float64(l.Reconnects), maxMessages},
		{"completion_ratio", l.CompletionRatio, 1},
		{"throughput_msgs_per_s", l.ThroughputMsgsPerSec, maxThroughputMsgsPerSec},
		{"throughput_mib_per_s", l.ThroughputMiBPerSec, maxThroughputMsgsPerSec},
		{"rate_msgs_per_s", l.RateMsgsPerSec, maxThroughputMsgsPerSec},
		{"duration_s", l.DurationS, maxWindowS},
		{"client_cpu_util", l.ClientCPUUtil, 1024},
		{"conns", float64(l.Conns), 1 << 30}, {"size_bytes", float64(l.SizeBytes), 1 << 30},
	}
	lat := l.LatencyUs
	for _, p := range []namedFloat{
		{"min", lat.Min, maxLatencyUs}, {"p50", lat.P50, maxLatencyUs}, {"p90", lat.P90, maxLatencyUs},
		{"p99", lat.P99, maxLatencyUs}, {"p999", lat.P999, maxLatencyUs}, {"p9999", lat.P9999, maxLatencyUs},
		{"max", lat.Max, maxLatencyUs}, {"mean", lat.Mean, maxLatencyUs},
	} {
		p.name = "latency_us." + p.name
		counts = append(counts, p)
	}
	if t := l.CPUThrottle; t != nil {
		counts = append(counts, namedFloat{"cpu_throttle.periods", float64(t.Periods), maxThrottlePeriods},
			namedFloat{"cpu_throttle.throttled", float64(t.Throttled), float64(t.Periods)},
			namedFloat{"cpu_throttle.throttled_us", float64(t.ThrottledUs), maxThrottledUs})
	}
	for _, f := range counts {
		if err := f.check(); err != nil {
			return err
		}
	}
	if sum := l.Completed + l.TimedOut + l.Errored + l.Corrupted; sum != l.Intended {
		return fmt.Errorf("completed + timed_out + errored + corrupted = %d, but intended = %d", sum, l.Intended)
	}
	if err := l.checkIntervals(); err != nil {
		return err
	}
	if err := l.checkWindow(); err != nil {
		return err
	}
	return l.checkGenerators()
}

// checkWindow: the window's wall-clock times, when given, run forwards and
// no longer than the longest window.
func (l *Load) checkWindow() error {
	start, end := l.WindowStartUnixNs, l.WindowEndUnixNs
	if start == 0 && end == 0 {
		return nil // written before the window times existed
	}
	if start <= 0 || end < start || float64(end-start) > maxWindowS*1e9 {
		return fmt.Errorf("window_start_unix_ns %d and window_end_unix_ns %d are not a window of at most %d s", start, end, int(maxWindowS))
	}
	return nil
}

// checkGenerators checks each generator's own result of a merged one.
func (l *Load) checkGenerators() error {
	if len(l.Generators) > maxGenerators {
		return fmt.Errorf("generators: %d, more than %d", len(l.Generators), maxGenerators)
	}
	for i := range l.Generators {
		if err := l.Generators[i].check(); err != nil {
			return fmt.Errorf("generators[%d].%w", i, err)
		}
	}
	return nil
}
