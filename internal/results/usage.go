package results

import (
	"fmt"
	"io"
)

// ServerUsage is a server process's own account of its resources over its
// whole life, read with getrusage when it exits: one JSON line that
// `echobench serve --usage-out` and `echobench wrap --usage-out` write and
// `echobench merge --server-usage` reads. It stands in for the /proc
// sampling of ServerStats where the orchestrator cannot see the server's
// host. Names as in ServerStats.
type ServerUsage struct {
	CPUUserS     float64 `json:"cpu_user_s"`
	CPUSysS      float64 `json:"cpu_sys_s"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	VolCtxSw     int64   `json:"voluntary_ctxsw"`
	InvolCtxSw   int64   `json:"involuntary_ctxsw"`
	// WallS is the life the figures cover, from start to exit: more than
	// the measured window (start-up, connecting, warm-up, shutdown).
	WallS float64 `json:"wall_s"`
}

// maxUsageBytes bounds a usage file: one short line.
const maxUsageBytes = 1 << 16

// ReadServerUsage decodes a usage line and checks its figures.
func ReadServerUsage(r io.Reader) (ServerUsage, error) {
	var u ServerUsage
	if err := readJSON(r, maxUsageBytes, "a usage line (echobench serve --usage-out)", &u); err != nil {
		return ServerUsage{}, err
	}
	for _, f := range []namedFloat{
		{"cpu_user_s", u.CPUUserS, maxWindowS * 1024}, {"cpu_sys_s", u.CPUSysS, maxWindowS * 1024},
		{"peak_rss_bytes", float64(u.PeakRSSBytes), 1 << 50}, {"wall_s", u.WallS, 366 * 86400},
		{"voluntary_ctxsw", float64(u.VolCtxSw), maxMessages}, {"involuntary_ctxsw", float64(u.InvolCtxSw), maxMessages},
	} {
		if err := f.check(); err != nil {
			return ServerUsage{}, err
		}
	}
	if u.WallS == 0 {
		return ServerUsage{}, fmt.Errorf("wall_s 0: not a usage line (echobench serve --usage-out)")
	}
	return u, nil
}

// Stats is the record's ServerStats from u, for completed messages. The
// figures cover the server's whole life: CPUUtil is its average over
// WallS, and MsgsPerCPUSecond counts the CPU of start-up and warm-up too,
// so both understate the window's (the record's warning says so).
func (u ServerUsage) Stats(completed int64) *ServerStats {
	s := &ServerStats{CPUUserS: u.CPUUserS, CPUSysS: u.CPUSysS, PeakRSSBytes: u.PeakRSSBytes,
		VolCtxSw: u.VolCtxSw, InvolCtxSw: u.InvolCtxSw}
	cpu := u.CPUUserS + u.CPUSysS
	if u.WallS > 0 {
		s.CPUUtil = cpu / u.WallS
	}
	if cpu > 0 {
		s.MsgsPerCPUSecond = float64(completed) / cpu
	}
	return s
}
