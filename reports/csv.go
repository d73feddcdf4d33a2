package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"echobench/internal/results"
)

// csvHeader is the flat schema of results.csv: one row per record, skipped
// and failed included. The encoded histogram and timelines are left out.
var csvHeader = slices.Concat([]string{
	"run_id", "point_id", "repeat", "status", "error",
	"server", "model", "loops", "kind", "mode", "conns", "size_bytes", "depth", "load_fraction", "rate_msgs_per_s", "duration_s", "warmup_s",
	"intended", "completed", "timed_out", "errored", "corrupted", "conn_failed", "reconnects", "completion_ratio",
	"throughput_msgs_per_s", "throughput_mib_per_s",
	"lat_min_us", "lat_p50_us", "lat_p90_us", "lat_p99_us", "lat_p999_us", "lat_p9999_us", "lat_max_us", "lat_mean_us", "latency_overflow",
	"send_lag_p50_us", "send_lag_p99_us", "client_cpu_util", "client_bound", "rate_met",
	"server_cpu_user_s", "server_cpu_sys_s", "server_cpu_util", "peak_rss_bytes", "base_rss_bytes", "rss_bytes_per_conn", "msgs_per_cpu_s",
	"voluntary_ctxsw", "involuntary_ctxsw", "threads", "warnings",
	// Appended last so existing column positions hold.
	"idle_conns", "slow_readers", "slow_read_bytes_per_s", "idle_failed", "slow_read_bytes", "slow_closed", "slow_corrupted",
	"noise_server_cpus_other", "noise_client_cpus_other", "noise_steal", "disturbed",
	"work",
}, churnCSVHeader, overloadCSVHeader, baselineCSVHeader)

// WriteCSV writes one row per record of the run.
func WriteCSV(w io.Writer, run *Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	base := newCSVBaseline(run)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for i := range run.Records {
		r := &run.Records[i]
		sc := r.Scenario
		row := []string{
			r.RunID, r.PointID, strconv.Itoa(r.Repeat), r.Status, r.Error,
			r.Server.Name, r.Server.Model, strconv.Itoa(r.Server.Loops), sc.Kind, sc.Mode, strconv.Itoa(sc.Conns), strconv.Itoa(sc.SizeBytes), strconv.Itoa(sc.Depth),
			f(sc.LoadFraction), f(sc.RateMsgsPerSec), f(sc.DurationS), f(sc.WarmupS),
		}
		warnings := r.Warnings
		if l := r.Load; l != nil {
			lat := l.LatencyUs
			row = append(row,
				i64(l.Intended), i64(l.Completed), i64(l.TimedOut), i64(l.Errored), i64(l.Corrupted), i64(l.ConnFailed), i64(l.Reconnects), f(l.CompletionRatio),
				f(l.ThroughputMsgsPerSec), f(l.ThroughputMiBPerSec),
				f(lat.Min), f(lat.P50), f(lat.P90), f(lat.P99), f(lat.P999), f(lat.P9999), f(lat.Max), f(lat.Mean), i64(l.LatencyOverflow),
				f(l.SendLagUs.P50), f(l.SendLagUs.P99), f(l.ClientCPUUtil), strconv.FormatBool(l.ClientBound), strconv.FormatBool(l.RateMet))
			warnings = append(warnings[:len(warnings):len(warnings)], l.Warnings...)
		} else {
			row = append(row, make([]string, 24)...)
		}
		if s := r.ServerStats; s != nil {
			row = append(row, f(s.CPUUserS), f(s.CPUSysS), f(s.CPUUtil), i64(s.PeakRSSBytes), i64(s.BaseRSSBytes), f(s.RSSBytesPerConn), f(s.MsgsPerCPUSecond),
				i64(s.VolCtxSw), i64(s.InvolCtxSw), strconv.Itoa(s.Threads))
		} else {
			row = append(row, make([]string, 10)...)
		}
		row = append(row, strings.Join(warnings, "; "))
		row = append(row, strconv.Itoa(sc.IdleConns), strconv.Itoa(sc.SlowReaders), strconv.Itoa(sc.SlowReadBytesPerSec))
		if l := r.Load; l != nil {
			row = append(row, i64(l.IdleFailed), i64(l.SlowReadBytes), i64(l.SlowClosed), i64(l.SlowCorrupted))
		} else {
			row = append(row, make([]string, 4)...)
		}
		if n := r.Noise; n != nil {
			row = append(row, f(n.ServerCPUsOther), f(n.ClientCPUsOther), f(n.Steal), strconv.FormatBool(n.Disturbed))
		} else {
			row = append(row, make([]string, 4)...)
		}
		row = append(row, workOrNone(sc.Work))
		row = append(row, churnCSVRow(r)...)
		row = append(row, overloadCSVRow(r)...)
		row = append(row, base.row(r)...)
		if len(row) != len(csvHeader) {
			return fmt.Errorf("csv: row %s has %d columns, header %d", r.PointID, len(row), len(csvHeader))
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	return nil
}

// workOrNone is a record's work, "none" when it has none (records written
// before work existed included).
func workOrNone(w string) string {
	if w == "" {
		return workNone
	}
	return w
}

// statusOf is used by the writers for a record that is not ok.
func statusOf(r *results.Record) string {
	s := r.Status
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}
