// Package results is the contract between the orchestrator (bench), which
// writes one Record per matrix point and repeat, and the reports, which read
// them back. It also holds Load, the summary that `echobench load --json`
// prints: its JSON names are a contract other tools rely on.
//
// Every latency histogram in this project records nanoseconds between
// HistLowestNs and HistHighestNs at HistSigFigs significant digits, so
// histograms from any run can be merged exactly.
package results

import "time"

// SchemaVersion is written in every Record. Bump it when a field changes
// name or meaning; readers reject versions they do not know.
//
// Version 2 gave every quantity one name, with its unit, in Go and JSON
// alike (size_bytes, rate_msgs_per_s, load_fraction, capacity_msgs_per_s,
// elapsed_s). Version-1 records, written under the old names, are still
// read: see upgradeV1.
const SchemaVersion = 2

// HDR histogram parameters shared by the load generator and the reports.
const (
	HistLowestNs  = 1
	HistHighestNs = int64(60 * time.Second)
	HistSigFigs   = 3
)

// Record status values.
const (
	StatusOK     = "ok"     // the point ran; Load and ServerStats are set
	StatusFailed = "failed" // the server or the load generator failed; Error says why
	// StatusSkipped marks a server that is not available on this machine (a
	// foreign stack that is not installed); Error says why. Reports list it.
	StatusSkipped = "skipped"
)

// Record is one line of results.jsonl: one matrix point, one repeat.
type Record struct {
	Schema int    `json:"schema"`
	RunID  string `json:"run_id"`
	// PointID identifies the matrix point and repeat; --resume skips the
	// PointIDs already present.
	PointID string    `json:"point_id"`
	Repeat  int       `json:"repeat"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`

	Env      Env        `json:"env"`
	Server   ServerInfo `json:"server"`
	Scenario Scenario   `json:"scenario"`

	Status string `json:"status"`
	// Error, ExitStatus and StderrTail describe a failed point.
	Error      string `json:"error,omitempty"`
	ExitStatus *int   `json:"exit_status,omitempty"`
	StderrTail string `json:"stderr_tail,omitempty"`

	Load        *Load        `json:"load,omitempty"`
	ServerStats *ServerStats `json:"server_stats,omitempty"`
	// Noise is what else ran on the pinned CPUs during the window.
	Noise    *Noise   `json:"noise,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// DisturbedShare is the share of the pinned CPUs' time that other processes
// (or the hypervisor, as steal) may take during a window before the record
// is flagged: beyond it, the figures measure the neighbours as much as the
// server.
const DisturbedShare = 0.10

// Noise measures, from /proc/stat, how much of the pinned CPUs' time went to
// anything but the server and the load generator during the measured window.
// Each figure is a share (0..1) of those CPUs' time.
type Noise struct {
	// ServerCPUsOther is time other tasks ran on the server's CPUs.
	ServerCPUsOther float64 `json:"server_cpus_other"`
	// ClientCPUsOther is time other tasks ran on the load generator's CPUs.
	ClientCPUsOther float64 `json:"client_cpus_other"`
	// Steal is hypervisor steal on the server and client CPUs together.
	Steal float64 `json:"steal"`
	// Disturbed is true when any of the above exceeds DisturbedShare.
	Disturbed bool `json:"disturbed"`
}

// Env describes where a record was measured.
type Env struct {
	CPUModel         string            `json:"cpu_model"`
	Cores            int               `json:"cores"`
	Kernel           string            `json:"kernel"`
	GoVersion        string            `json:"go_version"`
	ServerCPUs       string            `json:"server_cpus"` // e.g. "0"
	ClientCPUs       string            `json:"client_cpus"` // e.g. "1"
	ServerGOMAXPROCS int               `json:"server_gomaxprocs"`
	StackVersions    map[string]string `json:"stack_versions,omitempty"`

	// What else explains a figure. Each is empty (0, false) when it could
	// not be read, and Unknown then says why; records written before these
	// existed have none of them.

	// EchobenchCommit is the VCS revision the echobench binary was built
	// from, EchobenchDirty whether its tree had uncommitted changes.
	EchobenchCommit string `json:"echobench_commit,omitempty"`
	EchobenchDirty  bool   `json:"echobench_dirty,omitempty"`
	// CPUGovernor is the cpufreq governor of the pinned CPUs, e.g.
	// "performance", or "cpu0 performance, cpu1 powersave" when they differ.
	CPUGovernor string `json:"cpu_governor,omitempty"`
	// SMT is the kernel's SMT control: "on", "off", "forceoff", "notsupported".
	SMT string `json:"smt,omitempty"`
	// THPMode is the transparent huge pages mode: "always", "madvise", "never".
	THPMode   string `json:"thp_mode,omitempty"`
	NUMANodes int    `json:"numa_nodes,omitempty"`
	// NoFileLimit is the soft RLIMIT_NOFILE, in file descriptors: what
	// bounds the connections a process can hold.
	NoFileLimit uint64 `json:"rlimit_nofile,omitempty"`
	// Virtualization is "none detected" or "virtual machine", with the
	// DMI system vendor when known, e.g. "virtual machine (QEMU)".
	Virtualization string `json:"virtualization,omitempty"`
	// LoadGOMAXPROCS and LoadWorkers are what the load generator ran with
	// at this record's point, as it reported them (its workers follow the
	// connections, up to one per client CPU).
	LoadGOMAXPROCS int `json:"load_gomaxprocs,omitempty"`
	LoadWorkers    int `json:"load_workers,omitempty"`
	// Network is the path between load generator and server: "loopback"
	// or "netns" (veth pairs between network namespaces the run created).
	// Empty in records written before it existed: those ran on loopback.
	Network string `json:"network,omitempty"`
	// NetworkRTTMs and NetworkLossFraction are what netem added on the
	// server's side of each veth pair: a round trip (once, not twice) and
	// the share of the server's packets dropped.
	NetworkRTTMs        float64 `json:"network_rtt_ms,omitempty"`
	NetworkLossFraction float64 `json:"network_loss_fraction,omitempty"`
	// PythonVersion and NodeVersion are set when a stack of that runtime ran.
	PythonVersion string `json:"python_version,omitempty"`
	NodeVersion   string `json:"node_version,omitempty"`
	// Unknown names each figure above that could not be read, and why:
	// "cpu_governor: no cpufreq in /sys (…)".
	Unknown []string `json:"env_unknown,omitempty"`
}

// ServerInfo names the server model of a record.
type ServerInfo struct {
	// Name is the display name, unique within a run: the Go model name or the
	// configured name of a foreign server.
	Name string `json:"name"`
	// Model is the Go model name; empty for a foreign command.
	Model   string   `json:"model,omitempty"`
	Command []string `json:"command,omitempty"`
	Loops   int      `json:"loops"`
	// MaxPendingBytes is the per-connection output cap the server ran with.
	MaxPendingBytes int    `json:"max_pending_bytes,omitempty"`
	Version         string `json:"version,omitempty"`
}

// Scenario kinds.
const (
	KindClosed   = "closed"   // closed loop: capacity at a fixed depth
	KindCapacity = "capacity" // closed-loop capacity measured for an open-loop sweep
	KindSweep    = "sweep"    // open loop at a fraction of the measured capacity
	KindSLO      = "slo"      // open loop during the search for the highest rate within the SLO
)

// Scenario is the load a record measured.
type Scenario struct {
	Kind      string `json:"kind"`
	Mode      string `json:"mode"` // "closed" or "open"
	Conns     int    `json:"conns"`
	SizeBytes int    `json:"size_bytes"`
	Depth     int    `json:"depth"`
	// IdleConns and SlowReaders are the extra connections the load held
	// beside the Conns active ones (see Load); SlowReadBytesPerSec is the
	// slow readers' read rate.
	IdleConns           int `json:"idle_conns,omitempty"`
	SlowReaders         int `json:"slow_readers,omitempty"`
	SlowReadBytesPerSec int `json:"slow_read_bytes_per_s,omitempty"`
	// Work is what the server's handler did per request of SizeBytes (the
	// server contract's --work, in its canonical form: "cpu:20µs",
	// "wait:10ms:exp"). Empty means none, plain echo: records written
	// before work existed have none.
	Work string `json:"work,omitempty"`
	// LoadFraction is the offered rate as a fraction of the measured capacity
	// (open-loop sweep only).
	LoadFraction   float64 `json:"load_fraction,omitempty"`
	RateMsgsPerSec float64 `json:"rate_msgs_per_s,omitempty"`
	DurationS      float64 `json:"duration_s"`
	WarmupS        float64 `json:"warmup_s"`
	// CapacityMsgsPerSec is the closed-loop capacity the rate of a sweep or
	// SLO point was derived from (rate = load fraction × capacity).
	CapacityMsgsPerSec float64 `json:"capacity_msgs_per_s,omitempty"`
	// SLOP99Us and SLOCompletion are the objective in force for sweep and
	// SLO points: a point meets it when p99 <= SLOP99Us and completion ratio
	// >= SLOCompletion. The highest rate that meets it is the SLO rate.
	SLOP99Us      float64 `json:"slo_p99_us,omitempty"`
	SLOCompletion float64 `json:"slo_completion,omitempty"`
	// SLOStep is the 1-based bisection step of an SLO point.
	SLOStep int `json:"slo_step,omitempty"`
	// ConnLifetime is the messages each connection carries before it is
	// closed and replaced (0: the whole window); ConnectBurst the extra
	// connections that all connect at the start of the window, echo one
	// message and close. See Load.Connects and Load.Burst.
	ConnLifetime int `json:"conn_lifetime,omitempty"`
	ConnectBurst int `json:"connect_burst,omitempty"`
}

// Latency holds latency percentiles in microseconds.
type Latency struct {
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	P9999 float64 `json:"p9999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// SendLag is how late sends were against their intended times (open loop),
// in microseconds.
type SendLag struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Load is the load generator's summary of one measured window, exactly what
// `echobench load --json` prints. Warm-up is excluded from every figure.
// Completed + TimedOut + Errored + Corrupted == Intended, always.
type Load struct {
	Mode      string `json:"mode"`
	Conns     int    `json:"conns"`
	SizeBytes int    `json:"size_bytes"`
	Depth     int    `json:"depth"`
	// RateMsgsPerSec is the target rate of an open loop; 0 for a closed loop.
	RateMsgsPerSec float64 `json:"rate_msgs_per_s"`
	DurationS      float64 `json:"duration_s"`

	Intended   int64 `json:"intended"`
	Completed  int64 `json:"completed"`
	TimedOut   int64 `json:"timed_out"`
	Errored    int64 `json:"errored"`
	Corrupted  int64 `json:"corrupted"`
	ConnFailed int64 `json:"conn_failed"`
	Reconnects int64 `json:"reconnects"`

	CompletionRatio      float64 `json:"completion_ratio"`
	ThroughputMsgsPerSec float64 `json:"throughput_msgs_per_s"`
	ThroughputMiBPerSec  float64 `json:"throughput_mib_per_s"`

	LatencyUs Latency `json:"latency_us"`
	// LatencyOverflow counts latencies above HistHighestNs; they are
	// recorded at the top of the range, never dropped.
	LatencyOverflow int64   `json:"latency_overflow"`
	SendLagUs       SendLag `json:"send_lag_us"`

	// Idle connections (--idle-conns) are opened with the others, send
	// nothing during the window and each echoes one small message at the
	// end. IdleFailed counts those that could not connect, were closed or
	// reset by the server, or failed that final echo. Neither touches the
	// active connections' counts above.
	IdleConns  int64 `json:"idle_conns,omitempty"`
	IdleFailed int64 `json:"idle_failed,omitempty"`
	// Slow readers (--slow-readers) write a verified stream continuously
	// and read their echo at no more than SlowReadBytesPerSec.
	// SlowReadBytes is the verified bytes they read back during the window;
	// SlowClosed the slow readers the server closed or reset (a server's
	// behaviour, e.g. gnet past --max-pending); SlowCorrupted those whose
	// echo differed from what they sent.
	SlowReaders         int64 `json:"slow_readers,omitempty"`
	SlowReadBytesPerSec int64 `json:"slow_read_bytes_per_s,omitempty"`
	SlowReadBytes       int64 `json:"slow_read_bytes,omitempty"`
	SlowClosed          int64 `json:"slow_closed,omitempty"`
	SlowCorrupted       int64 `json:"slow_corrupted,omitempty"`

	// Connects describes the connection churn of a run with a connection
	// lifetime (--conn-lifetime) or a connect burst; nil otherwise, so
	// echo-only records are unchanged.
	Connects *Connects `json:"connects,omitempty"`
	// Burst is the connect burst (--connect-burst); nil without one.
	Burst *Burst `json:"burst,omitempty"`

	// ClientCPUUtil is the load generator's CPU over the window, 0..1 of
	// the CPUs it may use. In open loop it leaves out the time the
	// generator only polled for a send due within 100 µs (see
	// docs/loadgen.md), so in both modes it is the client's work.
	ClientCPUUtil float64 `json:"client_cpu_util"`
	// ClientBound: ClientCPUUtil ≥ 0.9, the client may be what limits the
	// figures.
	ClientBound bool `json:"client_bound"`
	RateMet     bool `json:"rate_met"`
	// GOMAXPROCS and Workers are what the load generator ran with, so a
	// record can say so (results.Env).
	GOMAXPROCS int `json:"gomaxprocs,omitempty"`
	Workers    int `json:"workers,omitempty"`

	// HDR is the merged latency histogram (ns), HdrHistogram V2 compressed,
	// base64.
	HDR string `json:"hdr"`
	// Timeline has one entry per second of the measured window.
	Timeline []Second `json:"timeline,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ConnectFailures splits failed connection attempts by cause. Ports
// exhausted (EADDRNOTAVAIL: no free ephemeral port for the source address)
// is the client's limit, not the server's fault, and is kept apart so a
// report never blames the server for it.
type ConnectFailures struct {
	Refused        int64 `json:"refused,omitempty"`         // ECONNREFUSED: nothing listening, or the accept queue refused it
	Reset          int64 `json:"reset,omitempty"`           // ECONNRESET during the handshake
	TimedOut       int64 `json:"timed_out,omitempty"`       // not established within --connect-timeout
	PortsExhausted int64 `json:"ports_exhausted,omitempty"` // EADDRNOTAVAIL: the client ran out of ephemeral ports
	Other          int64 `json:"other,omitempty"`           // any other error (e.g. the client's file limit)
}

// Total is every failed attempt.
func (f ConnectFailures) Total() int64 {
	return f.Refused + f.Reset + f.TimedOut + f.PortsExhausted + f.Other
}

// Connects is the connection lifecycle of a run's active connections:
// connections opened during the window (a connection lifetime replaces
// each connection after its N-th message; faults reconnect too) and how
// long they took. A connect belongs to the window when its attempt started
// in it, as a message does.
type Connects struct {
	// ConnLifetime is messages per connection; 0 means the whole window.
	ConnLifetime int64 `json:"conn_lifetime"`
	// Established is connects started in the window that succeeded;
	// ConnectsPerSec is Established per second of the window.
	Established    int64   `json:"established"`
	ConnectsPerSec float64 `json:"connects_per_s"`
	// ConnectUs runs from connect(2) (the SYN) to the client seeing the
	// connection established; FirstByteUs from connect(2) to the first
	// echoed byte of the connection's first message. Same histogram
	// parameters and percentiles as message latency.
	ConnectUs   Latency `json:"connect_us"`
	FirstByteUs Latency `json:"first_byte_us"`
	// ConnectHDR and FirstByteHDR are the histograms (ns), V2 compressed,
	// base64, so reports can merge repeats exactly.
	ConnectHDR   string `json:"connect_hdr,omitempty"`
	FirstByteHDR string `json:"first_byte_hdr,omitempty"`
	// Failed is the window's failed attempts by cause (their sum is part of
	// Load.ConnFailed).
	Failed ConnectFailures `json:"failed"`
	// TimeWaitSockets is the host's TCP sockets in TIME_WAIT when the
	// window ended (/proc/net/sockstat and sockstat6, the whole host, not
	// this run alone): the ephemeral-port pressure the churn left behind.
	// With --conn-lifetime the client closes first, so the client keeps
	// them; near the ports of the source addresses, spread the sources.
	// -1 when /proc could not be read.
	TimeWaitSockets int64 `json:"time_wait_sockets"`
	// EphemeralPorts is the host's local port range, for scale.
	EphemeralPorts int64 `json:"ephemeral_ports,omitempty"`
}

// Burst is the connect burst: Conns extra connections that all started
// connecting at the start of the window, each echoed one message and
// closed. It is not part of Intended or any message figure.
type Burst struct {
	Conns int64 `json:"conns"`
	// Echoed is the connections that connected and echoed their message
	// intact within the message timeout.
	Echoed int64 `json:"echoed"`
	// DurationS runs from the start of the burst until its last connection
	// echoed or failed: how long the server took to serve the storm.
	DurationS float64 `json:"duration_s"`
	// ConnectUs and FirstByteUs as in Connects, over the burst's
	// connections.
	ConnectUs   Latency `json:"connect_us"`
	FirstByteUs Latency `json:"first_byte_us"`
	ConnectHDR  string  `json:"connect_hdr,omitempty"`
	// Failed is the connects that failed, by cause; EchoFailed the
	// connections that connected but were closed, reset, answered wrongly
	// or not within the timeout.
	Failed     ConnectFailures `json:"failed"`
	EchoFailed int64           `json:"echo_failed,omitempty"`
}

// Second is one second of a measured window.
type Second struct {
	ElapsedS  float64 `json:"elapsed_s"` // seconds since the window began
	Completed int64   `json:"completed"`
	Failed    int64   `json:"failed"` // timed out + errored + corrupted
	P99Us     float64 `json:"p99_us"`
}

// ServerStats is sampled from /proc for the server process during the
// measured window.
type ServerStats struct {
	CPUUserS     float64 `json:"cpu_user_s"`
	CPUSysS      float64 `json:"cpu_sys_s"`
	CPUUtil      float64 `json:"cpu_util"` // (user+sys)/window, in CPUs
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	// BaseRSSBytes is sampled before the load connected.
	BaseRSSBytes int64 `json:"base_rss_bytes"`
	VolCtxSw     int64 `json:"voluntary_ctxsw"`
	InvolCtxSw   int64 `json:"involuntary_ctxsw"`
	Threads      int   `json:"threads"`
	// MsgsPerCPUSecond is completed messages per server CPU-second.
	MsgsPerCPUSecond float64 `json:"msgs_per_cpu_s"`
	// RSSBytesPerConn is (PeakRSSBytes-BaseRSSBytes) divided by every
	// connection the server held: active + idle + slow readers.
	RSSBytesPerConn float64 `json:"rss_bytes_per_conn"`
	// CPUTimeline is server CPU utilisation per second of the window.
	CPUTimeline []float64 `json:"cpu_timeline,omitempty"`
}
