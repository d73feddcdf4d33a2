package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"echobench/bench/config"
	"echobench/bench/proc"
	"echobench/bench/supervise"
	"echobench/internal/results"
)

// Timing of a point beyond its warm-up and window.
const (
	// stopGrace is the server contract: exit within 2 s of SIGTERM.
	stopGrace = 2 * time.Second
	// loadSlack bounds the load generator beyond warm-up plus window:
	// connecting, closing and encoding its summary.
	loadSlack = 20 * time.Second
)

func lookPath(file string) (string, error) { return exec.LookPath(file) }

func runtimeVersion() string { return runtime.Version() }

// maxFiles is the open-file limit the children get: the hard limit, since
// the command raises the soft limit to it before starting any.
func maxFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Max > 1<<30 {
		return 1 << 30
	}
	return int(rl.Max)
}

var runIDPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}(-[0-9]+)?$`)

func validRunID(s string) bool { return runIDPattern.MatchString(s) }

// newRecord fills what every record of p has, whatever its outcome.
func (r *Runner) newRecord(p Point) *results.Record {
	return &results.Record{
		Schema:   results.SchemaVersion,
		RunID:    r.runID,
		PointID:  p.ID,
		Repeat:   p.Repeat,
		Start:    time.Now(),
		Env:      r.env,
		Server:   p.Server.Info,
		Scenario: p.Scenario,
	}
}

func fail(rec *results.Record, format string, args ...any) *results.Record {
	rec.Status = results.StatusFailed
	rec.Error = fmt.Sprintf(format, args...)
	rec.End = time.Now()
	return rec
}

// runPoint runs one point and returns its record; it never returns nil.
// Failures of the system under test are data: they become failed records.
func (r *Runner) runPoint(ctx context.Context, p Point) *results.Record {
	rec := r.newRecord(p)
	if p.Server.Skip != "" {
		rec.Status, rec.Error, rec.End = results.StatusSkipped, p.Server.Skip, time.Now()
		return rec
	}
	if p.Scenario.Kind == results.KindSweep || p.Scenario.Kind == results.KindSLO {
		if done := r.setRate(rec, p); done {
			return rec
		}
	}
	return r.measure(ctx, p, rec)
}

// setRate derives the offered rate of a sweep or SLO point from the
// capacity measured for the same server, repeat and family. It returns true
// when the point cannot run (the record is then complete).
func (r *Runner) setRate(rec *results.Record, p Point) bool {
	sc := &rec.Scenario
	sc.SLOP99Us = float64(r.cfg.SLOP99.Microseconds())
	sc.SLOCompletion = r.cfg.SLOCompletion
	capRec := r.records[capacityID(p)]
	switch {
	case capRec == nil:
		fail(rec, "no capacity point %s to derive the rate from", capacityID(p))
		return true
	case capRec.Status != results.StatusOK || capRec.Load == nil || capRec.Load.ThroughputMsgsPerSec <= 0:
		reason := capRec.Error
		if reason == "" {
			reason = "no throughput"
		}
		fail(rec, "capacity point %s did not measure a capacity: %s", capacityID(p), reason)
		return true
	}
	capacity := capRec.Load.ThroughputMsgsPerSec
	sc.CapacityMsgsPerSec = capacity
	if sc.Kind == results.KindSweep {
		sc.RateMsgsPerSec = sc.LoadFraction * capacity
		return false
	}
	sc.SLOStep = p.SLOStep
	sc.RateMsgsPerSec = nextSLORate(r.sloSamples(p), capacity)
	sc.LoadFraction = sc.RateMsgsPerSec / capacity
	return false
}

// sloSamples gathers what this repeat already knows about a server and
// family: its sweep points and the SLO steps before p.
func (r *Runner) sloSamples(p Point) []sloSample {
	var out []sloSample
	prefix := groupID(p.Repeat, p.Server.Name, "")
	p99 := float64(r.cfg.SLOP99.Microseconds())
	for _, q := range r.plan {
		if q.Repeat != p.Repeat || q.Server != p.Server || q.Group != p.Group || !strings.HasPrefix(q.ID, prefix) {
			continue
		}
		if q.Scenario.Kind != results.KindSweep && !(q.Scenario.Kind == results.KindSLO && q.SLOStep < p.SLOStep) {
			continue
		}
		rec := r.records[q.ID]
		if rec == nil || rec.Scenario.RateMsgsPerSec <= 0 {
			continue
		}
		if rec.Status != results.StatusOK {
			// A failed point is a miss, not an unknown: the rate broke
			// the server or the load generator.
			out = append(out, sloSample{rate: rec.Scenario.RateMsgsPerSec})
			continue
		}
		out = append(out, sloSample{rate: rec.Scenario.RateMsgsPerSec, met: meetsSLO(rec, p99, r.cfg.SLOCompletion)})
	}
	return out
}

// measure starts the server, runs the load against it while sampling the
// server's /proc, and stops the server.
func (r *Runner) measure(ctx context.Context, p Point, rec *results.Record) *results.Record {
	srv := p.Server
	argv := append(append([]string(nil), srv.Argv...), "--addr", srv.Addr)
	if srv.LoopsFlag {
		argv = append(argv, "--loops", strconv.Itoa(srv.Loops))
	}
	if srv.MaxPending > 0 {
		argv = append(argv, "--max-pending", strconv.Itoa(srv.MaxPending))
	}
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(len(r.srvCPUs)))
	env = append(env, srv.Env...)
	sp, err := supervise.Start(supervise.Spec{Argv: argv, Env: env, CPUs: r.srvCPUs})
	if err != nil {
		return fail(rec, "start server: %v", err)
	}
	stopped := false
	stopServer := func() supervise.StopResult {
		stopped = true
		return sp.Stop(stopGrace)
	}
	defer func() {
		if !stopped {
			sp.Stop(0)
		}
	}()
	serverFailed := func(format string, args ...any) *results.Record {
		res := stopServer()
		fail(rec, format, args...)
		code := res.ExitCode
		rec.ExitStatus = &code
		rec.StderrTail = sp.StderrTail()
		return rec
	}

	addr, err := sp.WaitLine(ctx, "LISTENING ", r.cfg.ReadyTimeout.Duration)
	if err != nil {
		if errors.Is(err, supervise.ErrExited) {
			_, code := sp.Exited()
			return serverFailed("server exited with status %d before it was ready", code)
		}
		return serverFailed("server not ready: %v", err)
	}
	if err := config.CheckLoopback(addr); err != nil {
		return serverFailed("server announced %v", err)
	}
	members, err := proc.GroupMembers(sp.PID)
	if err != nil {
		return serverFailed("list server processes: %v", err)
	}
	if _, err := proc.CheckLoopbackOnly(members); err != nil {
		return serverFailed("%v", err)
	}
	base, err := proc.ReadGroup(members, false)
	if err != nil {
		return serverFailed("sample server: %v", err)
	}

	load, lerr := r.runLoad(ctx, p, rec, addr, sp.PID)
	if ctx.Err() != nil {
		return rec
	}
	exitedEarly, code := sp.Exited()
	res := stopServer()
	rec.End = time.Now()
	if res.Killed {
		rec.Warnings = append(rec.Warnings, fmt.Sprintf("server did not exit within %v of SIGTERM and was killed", stopGrace))
	} else if !exitedEarly && res.ExitCode != 0 {
		rec.Warnings = append(rec.Warnings, fmt.Sprintf("server exited with status %d after SIGTERM, want 0", res.ExitCode))
	}
	if rec.ServerStats != nil {
		rec.ServerStats.BaseRSSBytes = base.RSS
		if held := heldConns(p.Scenario, load); held > 0 {
			rec.ServerStats.RSSBytesPerConn = float64(rec.ServerStats.PeakRSSBytes-base.RSS) / float64(held)
		}
	}
	rec.Load = load
	if exitedEarly {
		rec.Status = results.StatusFailed
		rec.Error = fmt.Sprintf("server exited with status %d during the load", code)
		rec.ExitStatus = &code
		rec.StderrTail = sp.StderrTail()
		return rec
	}
	if lerr != nil {
		rec.Status = results.StatusFailed
		rec.Error = lerr.Error()
		return rec
	}
	rec.Status = results.StatusOK
	return rec
}

// heldConns is every connection the server held during a point: active,
// idle and slow readers, as the load generator reports them (else as
// planned). RSS growth is divided by all of them.
func heldConns(sc results.Scenario, load *results.Load) int {
	if load != nil && load.Conns > 0 {
		return load.Conns + int(load.IdleConns) + int(load.SlowReaders)
	}
	return sc.Conns + sc.IdleConns + sc.SlowReaders
}

// runLoad runs the load generator against addr, pinned to the client CPUs,
// and samples the server group pgid during the measured window.
func (r *Runner) runLoad(ctx context.Context, p Point, rec *results.Record, addr string, pgid int) (*results.Load, error) {
	sc := rec.Scenario
	mode := config.ModeClosed
	if sc.Kind == results.KindSweep || sc.Kind == results.KindSLO {
		mode = config.ModeOpen
	}
	argv := []string{r.deps.Exe, "load",
		"--addr", addr,
		"--conns", strconv.Itoa(sc.Conns),
		"--size", strconv.Itoa(sc.SizeBytes),
		"--duration", r.cfg.Duration.String(),
		"--warmup", r.cfg.Warmup.String(),
		"--mode", mode,
		"--depth", strconv.Itoa(sc.Depth),
	}
	if mode == config.ModeOpen {
		argv = append(argv, "--rate", strconv.FormatFloat(sc.RateMsgsPerSec, 'f', 1, 64))
	}
	if r.cfg.MsgTimeout.Duration > 0 {
		argv = append(argv, "--timeout", r.cfg.MsgTimeout.String())
	}
	if p.SourceIPs != "" {
		argv = append(argv, "--source-ips", p.SourceIPs)
	}
	if sc.IdleConns > 0 {
		argv = append(argv, "--idle-conns", strconv.Itoa(sc.IdleConns))
	}
	if sc.SlowReaders > 0 {
		argv = append(argv, "--slow-readers", strconv.Itoa(sc.SlowReaders),
			"--slow-read-bytes-per-s", strconv.Itoa(sc.SlowReadBytesPerSec))
	}
	argv = append(argv, "--json")

	lp, err := supervise.Start(supervise.Spec{Argv: argv, CPUs: r.cliCPUs})
	if err != nil {
		return nil, fmt.Errorf("start load generator: %w", err)
	}
	defer lp.Stop(0)
	loadStart := time.Now()

	// The window starts when the load generator's warm-up ends, counted
	// from its start (it connects first, so this runs slightly early), and
	// ends after the window's duration or when the generator exits,
	// whichever comes first.
	// Connecting takes up to ~2 ms per connection on a loaded machine; the
	// idle connections' final echo takes up to one message timeout.
	limit := r.cfg.Warmup.Duration + r.cfg.Duration.Duration + loadSlack +
		time.Duration(sc.Conns+sc.IdleConns+sc.SlowReaders)*2*time.Millisecond
	if sc.IdleConns > 0 {
		limit += max(r.cfg.MsgTimeout.Duration, 2*time.Second)
	}
	probe := cpuProbe{srvCPUs: r.srvCPUs, cliCPUs: r.cliCPUs, clientTicks: func() (uint64, bool) {
		if st, err := proc.ReadStat(lp.PID); err == nil {
			return st.UTime + st.STime, true
		}
		// Gone from /proc: it exited, and its rusage arrives once it is
		// reaped, a moment later.
		select {
		case <-lp.Done():
		case <-time.After(time.Second):
		}
		if d, ok := lp.CPUTime(); ok {
			return uint64(d * proc.ClockTicks / time.Second), true
		}
		return 0, false
	}}
	win := sampleWindow(ctx, pgid, probe, loadStart.Add(r.cfg.Warmup.Duration), r.cfg.Duration.Duration, lp.Done(), r.opts.SampleInterval)

	t := time.NewTimer(max(0, limit-time.Since(loadStart)))
	defer t.Stop()
	select {
	case <-lp.Done():
	case <-t.C:
		lp.Stop(0)
		rec.ServerStats = win.stats(0)
		return nil, fmt.Errorf("load generator did not finish within %v (stderr: %s)", limit, lastLines(lp.StderrTail(), 5))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := lp.Stop(0)
	out := lp.Stdout()
	if res.ExitCode != 0 {
		rec.ServerStats = win.stats(0)
		return nil, fmt.Errorf("load generator exited with status %d: %s", res.ExitCode, lastLines(lp.StderrTail(), 5))
	}
	load, err := parseLoad(out)
	if err != nil {
		rec.ServerStats = win.stats(0)
		return nil, fmt.Errorf("load generator output: %w (stderr: %s)", err, lastLines(lp.StderrTail(), 5))
	}
	rec.ServerStats = win.stats(load.Completed)
	if rec.Noise = win.noise(); rec.Noise != nil && rec.Noise.Disturbed {
		rec.Warnings = append(rec.Warnings, fmt.Sprintf(
			"disturbed: other processes used %.0f%% of the server CPUs and %.0f%% of the client CPUs (steal %.0f%%) during the window",
			100*rec.Noise.ServerCPUsOther, 100*rec.Noise.ClientCPUsOther, 100*rec.Noise.Steal))
	}
	if load.ClientBound {
		rec.Warnings = append(rec.Warnings, "the load generator was the bottleneck (client_bound): the figure is the client's limit, not the server's")
	}
	return load, nil
}

// parseLoad decodes the load generator's JSON summary: the whole of stdout,
// or failing that its last line (in case something printed before it).
func parseLoad(out []byte) (*results.Load, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, errors.New("empty")
	}
	var l results.Load
	err := json.Unmarshal(out, &l)
	if err != nil {
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			if err2 := json.Unmarshal(out[i+1:], &l); err2 == nil {
				err = nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if l.Mode == "" {
		return nil, errors.New("summary has no mode: not a load summary")
	}
	return &l, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, " | ")
	if out == "" {
		return "(nothing on stderr)"
	}
	return out
}
