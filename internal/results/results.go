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
	// Procs is the --procs the server was given: a foreign stack's worker
	// processes, each serving, under a parent (a Python supervisor, a Node
	// cluster's primary) that serves none. Omitted where no --procs was
	// passed, which means one process: a Go model (it scales with Loops), a
	// stack on one server CPU, and every record made before --procs.
	Procs int `json:"procs,omitempty"`
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
	// KindRate is open loop at an absolute rate, the same for every model,
	// so the client does the same work whatever the server.
	KindRate = "rate"
	// KindOverload is open loop above the model's reference rate (see
	// Scenario.ReferenceMsgsPerSec): who keeps answering under overload.
	KindOverload = "overload"
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
	// (open-loop sweep), or of the reference rate (overload: the factor,
	// above 1).
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
	// ReferenceMsgsPerSec is the rate an overload point's factor
	// (LoadFraction) multiplies: the most messages per second this model
	// completed within the timeout at the same load (connections, size,
	// depth, extras, work) earlier in the same repeat, in its closed-loop
	// capacity point or any open-loop point that did more. A closed-loop
	// capacity alone can be below what a model holds open-loop, and then
	// "1.2x capacity" would not overload it. ReferenceFrom is the PointID
	// that set it.
	ReferenceMsgsPerSec float64 `json:"reference_msgs_per_s,omitempty"`
	ReferenceFrom       string  `json:"reference_from,omitempty"`
	// MsgTimeoutS is the message timeout in seconds (load --timeout), set
	// when the point's [[scenarios]] entry sets its own msg_timeout, and on
	// every overload point, whose completion ratio means "answered within
	// it"; absent, the run's msg_timeout applied.
	MsgTimeoutS float64 `json:"msg_timeout_s,omitempty"`
	// LoadProcs is how many load generator processes shared the load
	// (each a share of the connections, the rate and the client CPUs, all
	// with one start barrier), merged into the record's Load; 0 means one.
	LoadProcs int `json:"load_procs,omitempty"`
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
	// WindowStartUnixNs and WindowEndUnixNs are the measured window on the
	// generator's wall clock (Unix ns): what `echobench merge` checks
	// results of several generators against, for an overlap. With
	// --start-at the start is that instant exactly. Zero in results
	// written before they existed.
	WindowStartUnixNs int64 `json:"window_start_unix_ns,omitempty"`
	WindowEndUnixNs   int64 `json:"window_end_unix_ns,omitempty"`

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
	// SendLagHDR is the open loop's send lag histogram (ns), encoded as
	// HDR, so that a merge of several generators recomputes SendLagUs
	// exactly. Empty in closed loop.
	SendLagHDR string `json:"send_lag_hdr,omitempty"`

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
	// CPUThrottle is how often a CPU quota stopped the load generator
	// during the window; nil when no quota applied to it (or its cgroup
	// could not be read).
	CPUThrottle *CPUThrottle `json:"cpu_throttle,omitempty"`
	// GOMAXPROCS and Workers are what the load generator ran with, so a
	// record can say so (results.Env).
	GOMAXPROCS int `json:"gomaxprocs,omitempty"`
	Workers    int `json:"workers,omitempty"`

	// HDR is the merged latency histogram (ns), HdrHistogram V2 compressed,
	// base64.
	HDR string `json:"hdr"`
	// Timeline has one entry per second of the measured window (messages
	// that finished in the drain after it count in its last second). It
	// is derived from Intervals, so it is left out when those are wider
	// than a second (windows longer than an hour).
	Timeline []Second `json:"timeline,omitempty"`
	// IntervalMs is the width of each entry of Intervals: 100 ms, or the
	// next of 200, 500, 1000, 2000, 5000 ... ms that keeps a long window
	// within the load generator's cap on intervals (3600), so its memory
	// stays bounded. The last interval is shorter when the window is not
	// a whole number of them.
	IntervalMs int64 `json:"interval_ms,omitempty"`
	// Intervals is the window in fixed-width intervals from its start,
	// finer than Timeline, so that a stall, a GC pause or a server slowing
	// down shows. Each message counts in the interval in which it finished
	// (started: in which it started); see Interval. Records written before
	// it existed have none.
	Intervals []Interval `json:"intervals,omitempty"`
	// Drain holds the window's messages that finished after it ended,
	// during the drain of up to the message timeout: Intervals plus Drain
	// add up to the totals above.
	Drain *Interval `json:"drain,omitempty"`
	// WindowStartMonoNs is CLOCK_MONOTONIC (ns) of this host when the
	// window began: the orchestrator aligns its /proc readings of the
	// server on it (ServerStats.Intervals). Meaningless on another host.
	WindowStartMonoNs int64    `json:"window_start_mono_ns,omitempty"`
	Warnings          []string `json:"warnings,omitempty"`

	// Generators holds, in a result merged from several load generators
	// (`echobench merge`, load_procs), each generator's own result as it
	// was given; the figures above are their exact merge (see Merge).
	Generators []Load `json:"generators,omitempty"`
}

// CPUThrottle is the CFS bandwidth controller's count for one cgroup over
// the measured window, from its cgroup v2 cpu.stat. A CPU quota (a
// Kubernetes CPU limit without the static CPU manager, docker --cpus) lets
// a process run for a share of each period and stops it for the rest of
// the period once that share is spent: a generator stopped so is a slower
// client, and its latencies include the stops, yet its CPU use looks
// moderate. On a shared machine this is the one neighbour effect a process
// can see for itself.
type CPUThrottle struct {
	// Periods is the enforcement periods (100 ms by default) in which the
	// cgroup ran; Throttled those in which it spent its quota and was
	// stopped until the next one.
	Periods   int64 `json:"periods"`
	Throttled int64 `json:"throttled"`
	// ThrottledUs is the time the cgroup's threads were stopped, summed
	// over the CPUs they were stopped on, in µs.
	ThrottledUs int64 `json:"throttled_us"`
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
	// FirstByteHDR is FirstByteUs's histogram, as in Connects.
	FirstByteHDR string `json:"first_byte_hdr,omitempty"`
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

// Interval is one interval of Load.Intervals: the window's messages that
// started and finished in it, by outcome.
type Interval struct {
	// Started is the window's messages that started in the interval: first
	// sent (closed loop) or due (open loop, its intended time).
	Started   int64 `json:"started"`
	Completed int64 `json:"completed"`
	TimedOut  int64 `json:"timed_out,omitempty"`
	Errored   int64 `json:"errored,omitempty"`
	Corrupted int64 `json:"corrupted,omitempty"`
	// P99Us is the p99 latency of the messages completed in the interval,
	// from a small log histogram (≈4% resolution); 0 when none completed.
	P99Us float64 `json:"p99_us,omitempty"`
}

// Failed is the interval's timed out, errored and corrupted messages.
func (iv Interval) Failed() int64 { return iv.TimedOut + iv.Errored + iv.Corrupted }

// ServerInterval is the server's CPU time in one interval of
// Load.Intervals.
type ServerInterval struct {
	CPUUserS float64 `json:"cpu_user_s"`
	CPUSysS  float64 `json:"cpu_sys_s"`
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
	// Intervals is the server's CPU time per interval of Load.Intervals
	// (same grid, aligned on Load.WindowStartMonoNs), from /proc readings
	// every 50 ms spread evenly over the time between two readings; the
	// kernel counts CPU time in 10 ms clock ticks, so a 100 ms interval
	// reads to about 0.1 CPU. It ends early when the readings did.
	Intervals []ServerInterval `json:"intervals,omitempty"`
}
