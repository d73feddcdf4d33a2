// Package loadgen drives a TCP echo server and measures it: closed or open
// loop, every byte verified, every message classed (completed, timed out,
// errored, corrupted), latency in HDR histograms, its own CPU measured.
//
// Workers are raw epoll event loops (internal/poller), one per client CPU by
// default, each locked to an OS thread and owning many non-blocking
// connections, one read buffer and one histogram. The send, receive and
// record path allocates nothing per message.
//
// Accounting. A message belongs to the measured window when its start falls
// in [window start, window end): in closed loop the start is its first send,
// in open loop its intended send time (Pacer). Only such messages are
// intended; warm-up messages are sent but never counted. After the window no
// new message starts; messages in flight get a drain period of up to Timeout,
// and whatever has not finished by then is timed out. A message is timed out
// when its latency exceeds Timeout, whether it completes late or never; a
// socket whose oldest message has been on the wire longer than Timeout is
// closed. After an error, a corruption or a stuck socket the connection is
// re-established and the messages still in flight on it are sent again with
// their original start, so one fault costs one message.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"echobench/internal/results"
)

// ErrNoConnections means no connection could be established: nothing was
// measured. Run still returns a Result with ConnFailed set.
var ErrNoConnections = errors.New("no connection could be established")

// Thresholds for the flags in results.Load.
const (
	// ClientBoundUtil: at or above this share of its CPUs the client may be
	// what limits the figures.
	ClientBoundUtil = 0.9
	// RateMetShare: the open loop met its rate if it sent at least this
	// share of the target within the window ...
	RateMetShare = 0.99
	// MaxSendLagP99 ... and its p99 send lag stayed below this.
	MaxSendLagP99 = 5 * time.Millisecond
)

// Result is one run's outcome: the summary printed by `echobench load
// --json`, plus the merged histograms for callers that want more.
type Result struct {
	Load results.Load
	// Hist holds the latency (ns) of every completed message of the window.
	Hist *hdrhistogram.Histogram
	// SendLag holds actual minus intended send time (ns), open loop only.
	SendLag *hdrhistogram.Histogram
	// SentRateMsgsPerSec is the achieved send rate of the open loop: first
	// sends during the window, per second of the window.
	SentRateMsgsPerSec float64
	// ConnectedAtStart is how many connections were up when the schedule
	// began.
	ConnectedAtStart int
	// PollSeconds is the time the open loop's workers spent polling for a
	// send due within pollAheadNs while nothing else happened, during the
	// window: CPU time that Load.ClientCPUUtil leaves out.
	PollSeconds float64

	aux auxStats // the idle/slow loop's counts, with the failure causes
}

// Run executes one load run against cfg.Addr. It returns an error for an
// invalid Config (*ConfigError), when no connection could be established
// (ErrNoConnections, with a Result) or when the generator itself failed.
// Cancelling ctx ends the window early; the result covers the window up to
// then.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	fdLimit, err := OpenFileLimit()
	if err != nil {
		return nil, err
	}
	lp, err := newLoops(sh, int(min(fdLimit, 1<<20)))
	if err != nil {
		return nil, err
	}
	lp.start()
	// Set-up: every connection attempted once. Ctrl-C aborts it.
	if err := lp.awaitSetup(ctx); err != nil {
		lp.abandon()
		return nil, err
	}
	up := lp.connectedAtStart()
	if up == 0 {
		lp.abandon()
		res := assemble(cfg, lp.workers, lp.ax, 0, 0, 0)
		addChurnFigures(&res.Load, cfg, lp)
		res.Load.Warnings = append(res.Load.Warnings, fmt.Sprintf("no connection to %s could be established (%d attempts failed)", cfg.Addr, res.Load.ConnFailed))
		return res, ErrNoConnections
	}
	t, err := lp.awaitStart(ctx)
	if err != nil {
		lp.abandon()
		return nil, err
	}
	win := lp.runSchedule(ctx, t)
	if err := lp.wait(); err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	res := assemble(cfg, lp.workers, lp.ax, win.startNs, win.endNs, win.cpuSeconds)
	addChurnFigures(&res.Load, cfg, lp)
	addThrottle(&res.Load, win.throttle)
	res.ConnectedAtStart = up
	res.Load.WindowStartUnixNs = win.startNs + sh.wallMinusMonoNs
	res.Load.WindowEndUnixNs = win.endNs + sh.wallMinusMonoNs
	res.Load.Warnings = append(res.Load.Warnings, scheduleWarnings(cfg, t, win, res.Load.DurationS)...)
	return res, nil
}

// scheduleWarnings says where the schedule differed from the one asked
// for: a window cut short, a warm-up shortened by a late set-up.
func scheduleWarnings(cfg Config, t timing, win windowRun, windowS float64) []string {
	var ws []string
	if warm := time.Duration(t.windowStartNs - t.warmStartNs); warm < cfg.Warmup {
		ws = append(ws, fmt.Sprintf("warm-up cut to %v of %v: the set-up ended that close to --start-at", warm.Round(time.Microsecond), cfg.Warmup))
	}
	if win.interrupted {
		ws = append(ws, fmt.Sprintf("interrupted: the window was cut to %.3f s", windowS))
	}
	return ws
}

// addChurnFigures puts the connect figures and the burst into l, with
// their warnings; nothing when the run measures no connects.
func addChurnFigures(l *results.Load, cfg Config, lp *loops) {
	var ws []string
	l.Connects, ws = connectsFigures(cfg, lp.workers, l.DurationS)
	l.Warnings = append(l.Warnings, ws...)
	if lp.bu != nil && lp.bu.st.startNs != 0 { // the burst ran
		l.Burst, ws = lp.bu.figures()
		l.Warnings = append(l.Warnings, ws...)
	}
}

// newShared builds the read-only run description from a validated cfg.
func newShared(cfg Config) (*shared, error) {
	dst, err := ResolveAddr(cfg.Addr, cfg.AllowRemote)
	if err != nil {
		return nil, err
	}
	sh := &shared{
		cfg:              cfg,
		sizeBytes:        int64(cfg.SizeBytes),
		depth:            int64(cfg.Depth),
		timeoutNs:        int64(cfg.Timeout),
		connectTimeoutNs: int64(cfg.ConnectTimeout),
		scanEveryNs:      min(max(int64(cfg.Timeout)/4, int64(5*time.Millisecond)), int64(250*time.Millisecond)),
		pl:               newPayload(cfg.SizeBytes),
	}
	sh.dst, sh.srcs = dst, cfg.SourceIPs
	sh.endNs.Store(math.MaxInt64)
	// Read back to back, so the two clocks agree to well under a µs.
	wallNs := time.Now().UnixNano()
	sh.wallMinusMonoNs = wallNs - nanotime()
	if !cfg.StartAt.IsZero() {
		sh.startAtNs = cfg.StartAt.UnixNano() - sh.wallMinusMonoNs
	}
	return sh, nil
}

// sleepUntil waits for the monotonic time t; false if ctx ended first.
func sleepUntil(ctx context.Context, t int64) bool {
	d := time.Duration(t - nanotime())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// assemble merges the workers' figures into one Result.
func assemble(cfg Config, workers []*worker, ax *aux, windowStartNs, windowEndNs int64, cpuS float64) *Result {
	windowS := float64(windowEndNs-windowStartNs) / 1e9
	l := results.Load{
		Mode: string(cfg.Mode), Conns: cfg.Conns, SizeBytes: cfg.SizeBytes, Depth: cfg.Depth,
		RateMsgsPerSec: cfg.RateMsgsPerSec, DurationS: windowS, RateMet: true,
	}
	m := mergeWorkers(&l, workers)
	if l.Intended > 0 {
		l.CompletionRatio = float64(l.Completed) / float64(l.Intended)
	}
	var auxSt auxStats
	if ax != nil {
		auxSt = ax.st
		addAuxFigures(&l, cfg, auxSt)
	}
	res := &Result{Hist: m.hist, PollSeconds: float64(m.pollNs) / 1e9}
	if windowS > 0 {
		addRates(&l, cfg, windowS, cpuS, m.pollNs)
	}
	l.LatencyUs = results.LatencyOf(m.hist)
	if cfg.Mode == Open {
		res.SendLag = m.lag
		if windowS > 0 {
			res.SentRateMsgsPerSec = float64(m.sentInWindow) / windowS
		}
		addSendLag(&l, cfg, m.lag, res.SentRateMsgsPerSec)
	}
	if enc, err := m.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		l.HDR = string(enc)
	} else {
		l.Warnings = append(l.Warnings, fmt.Sprintf("encode histogram: %v", err))
	}
	if windowS > 0 {
		// nanotime is CLOCK_MONOTONIC: the orchestrator reads the same
		// clock to align its /proc readings of the server on the window.
		l.WindowStartMonoNs = windowStartNs
	}
	mergeTimelines(workers, windowEndNs-windowStartNs).addTo(&l)
	l.Warnings = append(l.Warnings, runWarnings(&l, m, auxSt)...)
	res.Load = l
	res.aux = auxSt
	return res
}

// mergedWorkers is what the workers measured, merged, beyond the counts
// that go straight into results.Load.
type mergedWorkers struct {
	hist, lag                  *hdrhistogram.Histogram
	dropped, recordErrs, stray int64 // histogram values lost; stray echoes
	sentInWindow, pollNs       int64
}

// mergeWorkers adds the workers' counts to l and merges the rest (their
// timelines: mergeTimelines).
func mergeWorkers(l *results.Load, workers []*worker) mergedWorkers {
	m := mergedWorkers{
		hist: hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs),
		lag:  hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs),
	}
	for _, w := range workers {
		st := &w.st
		l.Intended += st.intended
		l.Completed += st.completed
		l.TimedOut += st.timedOut
		l.Errored += st.errored
		l.Corrupted += st.corrupted
		l.ConnFailed += st.connFailed
		l.Reconnects += st.reconnects
		l.LatencyOverflow += st.overflow
		m.recordErrs += st.recordErrs
		m.stray += st.stray
		m.sentInWindow += st.sentInWindow
		m.pollNs += st.pollNs
		m.dropped += m.hist.Merge(st.hist)
		if st.lag != nil {
			m.dropped += m.lag.Merge(st.lag)
		}
	}
	return m
}

// addAuxFigures puts the idle/slow loop's counts into l.
func addAuxFigures(l *results.Load, cfg Config, st auxStats) {
	l.IdleConns, l.IdleFailed = st.idleConns, st.idleFailed
	l.SlowReaders, l.SlowReadBytes = st.slowReaders, st.slowReadBytes
	l.SlowClosed, l.SlowCorrupted = st.slowClosed, st.slowCorrupted
	if l.SlowReaders > 0 {
		l.SlowReadBytesPerSec = int64(cfg.SlowReadBytesPerSec)
	}
}

// addRates puts the window's throughput and the client's CPU use into l.
func addRates(l *results.Load, cfg Config, windowS, cpuS float64, pollNs int64) {
	l.ThroughputMsgsPerSec = float64(l.Completed) / windowS
	l.ThroughputMiBPerSec = float64(l.Completed) * float64(cfg.SizeBytes) / windowS / (1 << 20)
	cpus := float64(UsableCPUs())
	// The open loop polls while a send is due soon; that is waiting, not
	// work, and would otherwise make every open-loop point look
	// client-bound.
	l.ClientCPUUtil = max(cpuS-float64(pollNs)/1e9, 0) / (windowS * cpus)
	l.ClientBound = l.ClientCPUUtil >= ClientBoundUtil
}

// addSendLag puts the open loop's send lag into l and decides whether it met
// its rate.
func addSendLag(l *results.Load, cfg Config, lag *hdrhistogram.Histogram, sentRateMsgsPerSec float64) {
	l.SendLagUs = results.SendLagOf(lag)
	l.SendLagHDR = encodeHist(lag)
	lagP99 := time.Duration(lag.ValueAtQuantile(99))
	if sentRateMsgsPerSec < RateMetShare*cfg.RateMsgsPerSec || lagP99 > MaxSendLagP99 {
		l.RateMet = false
		l.Warnings = append(l.Warnings, fmt.Sprintf(
			"rate not met: sent %.0f of %.0f msgs/s in the window, send lag p99 %v (limit %v): the client, its depth %d per connection, or the server could not keep up",
			sentRateMsgsPerSec, cfg.RateMsgsPerSec, lagP99, MaxSendLagP99, cfg.Depth))
	}
}

// runWarnings are the warnings about how the run went that l's figures do
// not say on their own.
func runWarnings(l *results.Load, m mergedWorkers, auxSt auxStats) []string {
	var ws []string
	if w := stallWarning(l); w != "" {
		ws = append(ws, w)
	}
	if l.ClientBound {
		ws = append(ws, fmt.Sprintf("client-bound: the load generator used %.0f%% of its CPUs; the figures may be the client's limit", 100*l.ClientCPUUtil))
	}
	if l.LatencyOverflow > 0 {
		ws = append(ws, fmt.Sprintf("%d latencies above %v recorded at the top of the range", l.LatencyOverflow, time.Duration(results.HistHighestNs)))
	}
	if m.dropped > 0 || m.recordErrs > 0 {
		ws = append(ws, fmt.Sprintf("histograms lost %d values (merge dropped %d, record errors %d)", m.dropped+m.recordErrs, m.dropped, m.recordErrs))
	}
	if m.stray > 0 {
		ws = append(ws, fmt.Sprintf("%d times the server sent bytes that were never sent to it (connection re-established)", m.stray))
	}
	if l.ConnFailed > 0 {
		ws = append(ws, fmt.Sprintf("%d connection attempts failed", l.ConnFailed))
	}
	if auxSt.slowConnectFailed > 0 {
		ws = append(ws, fmt.Sprintf("%d of %d slow readers could not connect", auxSt.slowConnectFailed, l.SlowReaders))
	}
	return ws
}

// WritePercentiles writes the latency distribution in the text format
// HdrHistogram's plotter reads ("Value Percentile TotalCount
// 1/(1-Percentile)"), values in microseconds.
func (r *Result) WritePercentiles(w io.Writer) error {
	if _, err := r.Hist.PercentilesPrint(w, 5, 1e3); err != nil {
		return fmt.Errorf("write percentile distribution: %w", err)
	}
	return nil
}

// Summary is a readable report of the run.
func (r *Result) Summary() string {
	l := &r.Load
	var b strings.Builder
	fmt.Fprintf(&b, "%s loop, %d conns, %d B, depth %d", l.Mode, l.Conns, l.SizeBytes, l.Depth)
	if l.Mode == string(Open) {
		fmt.Fprintf(&b, ", target %.0f msgs/s", l.RateMsgsPerSec)
	}
	fmt.Fprintf(&b, ", window %.2f s\n", l.DurationS)
	fmt.Fprintf(&b, "  messages   intended %d  completed %d  timed out %d  errored %d  corrupted %d  (completion %.4f)\n",
		l.Intended, l.Completed, l.TimedOut, l.Errored, l.Corrupted, l.CompletionRatio)
	fmt.Fprintf(&b, "  conns      failed attempts %d  reconnects %d\n", l.ConnFailed, l.Reconnects)
	fmt.Fprintf(&b, "  throughput %.0f msgs/s  %.2f MiB/s (payload, one direction)\n", l.ThroughputMsgsPerSec, l.ThroughputMiBPerSec)
	lat := l.LatencyUs
	fmt.Fprintf(&b, "  latency µs min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f  mean %.1f\n",
		lat.Min, lat.P50, lat.P90, lat.P99, lat.P999, lat.P9999, lat.Max, lat.Mean)
	if l.Mode == string(Open) {
		fmt.Fprintf(&b, "  send lag µs p50 %.1f  p99 %.1f  sent %.0f msgs/s  rate met %v\n", l.SendLagUs.P50, l.SendLagUs.P99, r.SentRateMsgsPerSec, l.RateMet)
	}
	if l.IdleConns > 0 {
		a := r.aux
		fmt.Fprintf(&b, "  idle       %d conns  %d failed (connect %d, closed by server %d, final echo %d)  %d proved served at the end\n",
			l.IdleConns, l.IdleFailed, a.idleConnectFailed, a.idleClosed, a.idleCheckFailed, l.IdleConns-l.IdleFailed)
	}
	if l.SlowReaders > 0 {
		rate := 0.0
		if l.DurationS > 0 {
			rate = float64(l.SlowReadBytes) / l.DurationS / float64(l.SlowReaders)
		}
		fmt.Fprintf(&b, "  slow       %d readers at most %d B/s each  read %d B verified (%.0f B/s each)  closed by server %d  corrupted %d\n",
			l.SlowReaders, l.SlowReadBytesPerSec, l.SlowReadBytes, rate, l.SlowClosed, l.SlowCorrupted)
	}
	writeChurnSummary(&b, l)
	fmt.Fprintf(&b, "  client CPU %.0f%% of usable CPUs", 100*l.ClientCPUUtil)
	if l.Mode == string(Open) && l.DurationS > 0 {
		fmt.Fprintf(&b, " (+%.0f%% polling for due sends, not counted)", 100*r.PollSeconds/(l.DurationS*float64(UsableCPUs())))
	}
	fmt.Fprintf(&b, "  client-bound %v\n", l.ClientBound)
	for _, w := range l.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}
