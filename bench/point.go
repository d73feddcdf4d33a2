package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"echobench/bench/config"
	"echobench/bench/proc"
	"echobench/bench/supervise"
	"echobench/internal/results"
	"echobench/loadgen"
	"echobench/servers"
	"echobench/servers/work"
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

// workRefusal is why the point's server, a built-in model or stack, does
// not implement the point's --work kind, or "". A command's servers are not
// known: they run, and a refusal is their failed record.
func (r *Runner) workRefusal(p Point) string {
	if p.Scenario.Work == "" || p.Server.Info.Model == "" || r.deps.CheckWork == nil {
		return ""
	}
	spec, err := work.Parse(p.Scenario.Work)
	if err != nil {
		return "" // validated before the run: checkWork
	}
	if err := r.deps.CheckWork(p.Server.Info.Model, spec); err != nil {
		return err.Error()
	}
	return ""
}

// runPoint runs one point and returns its record; it never returns nil.
// Failures of the system under test are data: they become failed records.
func (r *Runner) runPoint(ctx context.Context, p Point) *results.Record {
	rec := r.newRecord(p)
	if p.Server.Skip != "" {
		rec.Status, rec.Error, rec.End = results.StatusSkipped, p.Server.Skip, time.Now()
		return rec
	}
	if reason := r.workRefusal(p); reason != "" {
		rec.Status, rec.Error, rec.End = results.StatusSkipped, reason, time.Now()
		return rec
	}
	switch p.Scenario.Kind {
	case results.KindSweep, results.KindSLO:
		if done := r.setRate(rec, p); done {
			return rec
		}
	case results.KindRate:
		r.setObjective(&rec.Scenario)
	case results.KindOverload:
		if done := r.setOverloadRate(rec, p); done {
			return rec
		}
	}
	return r.measure(ctx, p, rec)
}

// setObjective records the latency objective in force on an open-loop
// point, so a report judges it as the run did.
func (r *Runner) setObjective(sc *results.Scenario) {
	sc.SLOP99Us = float64(r.cfg.SLOP99.Microseconds())
	sc.SLOCompletion = r.cfg.SLOCompletion
}

// setRate derives the offered rate of a sweep or SLO point from the
// capacity measured for the same server, repeat and family. It returns true
// when the point cannot run (the record is then complete).
func (r *Runner) setRate(rec *results.Record, p Point) bool {
	sc := &rec.Scenario
	r.setObjective(sc)
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
// family: its sweep and absolute-rate points and the SLO steps before p.
func (r *Runner) sloSamples(p Point) []results.RateTry {
	var out []results.RateTry
	prefix := groupID(p.Repeat, p.Server.Name, "")
	for _, q := range r.plan {
		if q.Repeat != p.Repeat || q.Server != p.Server || q.Group != p.Group || !strings.HasPrefix(q.ID, prefix) {
			continue
		}
		switch k := q.Scenario.Kind; {
		case k == results.KindSweep, k == results.KindRate, k == results.KindSLO && q.SLOStep < p.SLOStep:
		default:
			continue
		}
		rec := r.records[q.ID]
		if rec == nil || rec.Scenario.RateMsgsPerSec <= 0 {
			continue
		}
		// A failed point is a miss, not an unknown: the rate broke the
		// server or the load generator (Held says so).
		out = append(out, results.RateTry{RateMsgsPerSec: results.OfferedRate(rec), Held: r.slo().Held(rec)})
	}
	return out
}

// measure starts the server, runs the load against it while sampling the
// server's /proc, and stops the server.
func (r *Runner) measure(ctx context.Context, p Point, rec *results.Record) *results.Record {
	sp, err := r.startServer(p)
	if err != nil {
		return fail(rec, "start server: %v", err)
	}
	srv := &serverRun{proc: sp, rec: rec}
	defer srv.kill()
	addr, base, ok := r.awaitServer(ctx, srv)
	if !ok {
		return rec
	}
	load, lerr := r.runLoad(ctx, p, rec, loadTarget(addr), sp.PID)
	if ctx.Err() != nil {
		return rec
	}
	exitedEarly, code := sp.Exited()
	res := srv.stop()
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
	switch {
	case exitedEarly:
		rec.Status = results.StatusFailed
		rec.Error = fmt.Sprintf("server exited with status %d during the load", code)
		rec.ExitStatus = &code
		rec.StderrTail = sp.StderrTail()
	case lerr != nil:
		rec.Status = results.StatusFailed
		rec.Error = lerr.Error()
	default:
		rec.Status = results.StatusOK
	}
	return rec
}

// startServer starts p's server pinned to the server CPUs, with the
// contract flags built from one servers.Config by the contract's own flag
// table.
func (r *Runner) startServer(p Point) (*supervise.Proc, error) {
	srv := p.Server
	cfg, err := serverConfig(srv, p.Scenario)
	if err != nil {
		return nil, err
	}
	argv := append(slices.Clone(srv.Argv), cfg.Args()...)
	if srv.RemoteFlag && r.allowRemote() {
		argv = append(argv, "--allow-remote")
	}
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(len(r.srvCPUs)))
	env = append(env, srv.Env...)
	return supervise.Start(supervise.Spec{Argv: r.inServerNetns(argv), Env: env, CPUs: r.srvCPUs})
}

// serverConfig is the server contract's configuration for a point of srv.
// With work, each message of the point is one request: --request-size is
// the point's size. A point without work passes neither flag, so a command
// that predates the work contract still runs every echo point.
func serverConfig(srv *Target, sc results.Scenario) (servers.Config, error) {
	cfg := servers.Config{Addr: srv.Addr, MaxPendingBytes: srv.MaxPending}
	if srv.LoopsFlag {
		cfg.Loops = srv.Loops
	}
	if srv.ProcsFlag {
		cfg.Procs = srv.Procs
	}
	if sc.Work != "" {
		w, err := work.Parse(sc.Work)
		if err != nil {
			return cfg, fmt.Errorf("work: %w", err)
		}
		cfg.Work, cfg.RequestSizeBytes = w, sc.SizeBytes
	}
	return cfg, nil
}

// serverRun is a started server process and the record it belongs to.
type serverRun struct {
	proc    *supervise.Proc
	rec     *results.Record
	stopped bool
}

// stop ends the server within the contract's grace period.
func (s *serverRun) stop() supervise.StopResult {
	s.stopped = true
	return s.proc.Stop(stopGrace)
}

// kill ends a server that was not stopped, at once.
func (s *serverRun) kill() {
	if !s.stopped {
		s.proc.Stop(0)
	}
}

// failed stops the server and fails the record with its exit status and
// the tail of its stderr.
func (s *serverRun) failed(format string, args ...any) {
	res := s.stop()
	fail(s.rec, format, args...)
	code := res.ExitCode
	s.rec.ExitStatus = &code
	s.rec.StderrTail = s.proc.StderrTail()
}

// awaitServer waits for the server's LISTENING line and checks that it
// listens on loopback only; it returns the announced address and the
// server's /proc figures before any load. On failure the record is failed
// and ok is false.
func (r *Runner) awaitServer(ctx context.Context, srv *serverRun) (addr string, base proc.Sample, ok bool) {
	sp := srv.proc
	addr, err := sp.WaitLine(ctx, "LISTENING ", r.cfg.ReadyTimeout.Duration)
	if err != nil {
		if errors.Is(err, supervise.ErrExited) {
			_, code := sp.Exited()
			srv.failed("server exited with status %d before it was ready", code)
		} else {
			srv.failed("server not ready: %v", err)
		}
		return "", base, false
	}
	if err := r.checkAnnounced(addr); err != nil {
		srv.failed("server announced %v", err)
		return "", base, false
	}
	members, err := proc.GroupMembers(sp.PID)
	if err != nil {
		srv.failed("list server processes: %v", err)
		return "", base, false
	}
	socks, err := r.checkListeners(members)
	if err == nil {
		err = announcedOwnListener(addr, socks)
	}
	if err != nil {
		srv.failed("%v", err)
		return "", base, false
	}
	if base, err = proc.ReadGroup(members, false); err != nil {
		srv.failed("sample server: %v", err)
		return "", base, false
	}
	return addr, base, true
}

// announcedOwnListener checks that the address a server announced is one of
// its own listening sockets: otherwise the load would measure whatever
// process does listen there.
func announcedOwnListener(addr string, socks []proc.Socket) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server announced %q: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("server announced %q: bad port", addr)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	var own []string
	for _, s := range socks {
		if s.Port == port && (s.IP.Equal(ip) || s.IP.IsUnspecified()) {
			return nil
		}
		own = append(own, net.JoinHostPort(s.IP.String(), strconv.Itoa(s.Port)))
	}
	return fmt.Errorf("server announced %s, but its own listening sockets are %s: the load would go to another process", addr, strings.Join(own, ", "))
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

// runLoad runs the load generators of p against addr, pinned to the
// client CPUs, and samples the server group pgid during the measured
// window.
func (r *Runner) runLoad(ctx context.Context, p Point, rec *results.Record, addr string, pgid int) (*results.Load, error) {
	cfg, err := r.loadConfig(p, rec.Scenario, addr)
	if err != nil {
		return nil, err
	}
	gens, windowStart, err := r.startLoads(cfg, max(rec.Scenario.LoadProcs, 1))
	if err != nil {
		return nil, err
	}
	defer gens.stop()
	loadStart := time.Now()

	// The window starts at the generators' --start-at, or when the one
	// generator's warm-up ends, and ends after the window's duration or
	// when a generator exits, whichever comes first.
	probe := cpuProbe{srvCPUs: r.srvCPUs, cliCPUs: r.cliCPUs, clientTicks: gens.clientTicks()}
	every := r.opts.SampleInterval
	if every <= 0 {
		every = sampleEvery(cfg.Duration)
	}
	win := sampleWindow(ctx, pgid, probe, windowStart, cfg.Duration, gens.anyDone(), every)

	// Several generators wait for their --start-at: that lead is theirs too.
	limit := loadLimit(cfg) + max(0, windowStart.Sub(loadStart)-cfg.Warmup)
	stuck, err := gens.await(ctx, loadStart.Add(limit))
	switch {
	case err != nil:
		return nil, err
	case stuck != nil:
		gens.stop()
		rec.ServerStats = win.stats(0)
		return nil, fmt.Errorf("load generator did not finish within %v (stderr: %s)", limit, lastLines(stuck.StderrTail(), 5))
	}
	return finishLoad(gens, rec, win)
}

// loadConfig is the load of point p against addr. The orchestrator passes
// it to `echobench load` through loadgen's one flag table (Config.Args), so
// what runs is exactly this Config.
func (r *Runner) loadConfig(p Point, sc results.Scenario, addr string) (loadgen.Config, error) {
	cfg := loadgen.Config{
		Addr: addr, Conns: sc.Conns, SizeBytes: sc.SizeBytes, Depth: sc.Depth,
		Duration: r.cfg.Duration.Duration, Warmup: r.cfg.Warmup.Duration,
		Mode: loadgen.Closed, Timeout: cmp.Or(p.MsgTimeout, r.cfg.MsgTimeout.Duration),
		IdleConns: sc.IdleConns, SlowReaders: sc.SlowReaders,
		ConnLifetime: sc.ConnLifetime, ConnectBurst: sc.ConnectBurst,
		AllowRemote: r.allowRemote(),
	}
	if sc.Mode == config.ModeOpen {
		cfg.Mode, cfg.RateMsgsPerSec = loadgen.Open, sc.RateMsgsPerSec
	}
	if sc.SlowReaders > 0 {
		cfg.SlowReadBytesPerSec = sc.SlowReadBytesPerSec
	}
	if p.SourceIPs != "" {
		ips, err := loadgen.ParseSourceIPs(p.SourceIPs)
		if err != nil {
			return cfg, fmt.Errorf("source_ips: %w", err)
		}
		cfg.SourceIPs = ips
	}
	return cfg, nil
}

// loadLimit bounds the load generator's run: warm-up and window, plus
// connecting (up to ~2 ms per connection on a loaded machine), the idle
// connections' final echo (up to one message timeout) and a connect burst
// (its connect timeout and one message timeout at most).
func loadLimit(cfg loadgen.Config) time.Duration {
	limit := cfg.Warmup + cfg.Duration + loadSlack +
		time.Duration(cfg.Conns+cfg.IdleConns+cfg.SlowReaders)*2*time.Millisecond
	if cfg.IdleConns > 0 {
		limit += max(cfg.Timeout, 2*time.Second)
	}
	if cfg.ConnectBurst > 0 {
		limit += max(cfg.ConnectTimeout, loadgen.DefaultConnectTimeout) + max(cfg.Timeout, loadgen.DefaultTimeout)
	}
	return limit
}

// clientTicks reads the load generator's CPU time in clock ticks, from /proc
// while it runs and from its rusage once it has exited.
func clientTicks(lp *supervise.Proc) func() (uint64, bool) {
	return func() (uint64, bool) {
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
	}
}

// finishLoad reads the exited load generators' summary into rec (several
// merged), with the server figures of the window and the warnings that
// qualify them.
func finishLoad(gens generators, rec *results.Record, win *window) (*results.Load, error) {
	load, err := gens.results()
	if err != nil {
		rec.ServerStats = win.stats(0)
		return nil, err
	}
	rec.ServerStats = win.stats(load.Completed)
	if rec.ServerStats != nil {
		rec.ServerStats.Intervals = win.cpuIntervals(load)
	}
	rec.Env.LoadGOMAXPROCS, rec.Env.LoadWorkers = load.GOMAXPROCS, load.Workers
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
