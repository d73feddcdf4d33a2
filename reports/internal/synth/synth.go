// Package synth builds a deterministic, realistic results file for the report
// tests: several models with known differences, ties, too few repeats,
// client-bound and failed points, an open-loop sweep that breaks each model
// at a different rate, absolute rates that one model cannot hold, overload
// points, idle connections and slow readers, a work family
// (CPU, waiting, blocking and heavy-tailed handlers, where the event loops
// serialise blocking calls), timelines in 100 ms intervals at three points
// (a stall, GC pauses, a server slowing under overload), the native baseline
// c-epoll, and a skipped foreign stack. The figures are invented
// from a simple queueing model; they are test input, not measurements.
package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
)

// RunID of the synthetic run.
const RunID = "20261101T120000Z-synthetic"

var start = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Env of the synthetic run: the 2-core machine the project runs on.
var Env = results.Env{
	CPUModel:         "Intel(R) Xeon(R) CPU @ 2.20GHz",
	Cores:            2,
	Kernel:           "6.18.0-echobench",
	GoVersion:        "go1.26.0",
	ServerCPUs:       "0",
	ClientCPUs:       "1",
	ServerGOMAXPROCS: 1,
	StackVersions:    map[string]string{"node": "v20.19.2", "python3-trio": "not installed"},
	EchobenchCommit:  "0123456789abcdef0123456789abcdef01234567",
	SMT:              "notsupported",
	THPMode:          "madvise",
	NUMANodes:        1,
	NoFileLimit:      1048576,
	Virtualization:   "virtual machine (Google)",
	NodeVersion:      "v20.19.2",
	Unknown:          []string{"cpu_governor: no cpufreq governor for CPU 0 (common in VMs and containers): open /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor: no such file or directory"},
}

// profile is how one invented model behaves.
type profile struct {
	name, model string
	command     []string
	// peak is closed-loop msgs/s at 64 B with enough connections to fill the
	// server core; one is at a single connection (wake-up bound).
	peak, one float64
	// manyFactor scales peak at 1000 connections; largeFactor at 16 KiB.
	manyFactor, largeFactor float64
	// pipeFactor scales peak at depth 16.
	pipeFactor float64
	// serviceUs is the open-loop service time at light load; tail multiplies
	// the p99 over the p50.
	serviceUs, tail float64
	baseRSS         int64
	rssPerConn      float64
	// idleRSS is the memory an idle connection costs; slowFactor scales the
	// active connections' throughput beside slow readers; closesSlow sheds
	// slow readers (as gnet past --max-pending).
	idleRSS    float64
	slowFactor float64
	closesSlow bool
	// loop: one event loop serves every connection, so a handler that
	// blocks stops them all (netconn has a goroutine per connection).
	// timerUs is how late a wait wakes (runtime timers fire on a ~1 ms
	// grid); expTail scales the p99 of exponential service times.
	loop    bool
	timerUs float64
	expTail float64
	// echoOnly: the model implements no work (c-epoll), so it has no
	// record in the work family (a real run records failed points there:
	// the server refuses --work at start).
	echoOnly bool
}

var profiles = []profile{
	{name: "epoll", model: "epoll", peak: 152e3, one: 15.8e3, manyFactor: 0.90, largeFactor: 0.78, pipeFactor: 2.1, serviceUs: 22, tail: 3, baseRSS: 7 << 20, rssPerConn: 900, idleRSS: 420, slowFactor: 0.99, loop: true, timerUs: 1050, expTail: 1},
	{name: "gnet", model: "gnet", peak: 150e3, one: 15.6e3, manyFactor: 0.89, largeFactor: 0.77, pipeFactor: 1.9, serviceUs: 23, tail: 3, baseRSS: 9 << 20, rssPerConn: 1400, idleRSS: 700, slowFactor: 0.99, closesSlow: true, loop: true, timerUs: 1080, expTail: 1},
	{name: "evio", model: "evio", peak: 104e3, one: 11.9e3, manyFactor: 0.80, largeFactor: 0.60, pipeFactor: 1.5, serviceUs: 35, tail: 4, baseRSS: 8 << 20, rssPerConn: 2100, idleRSS: 650, slowFactor: 0.93, loop: true, timerUs: 1100, expTail: 1.05},
	{name: "netconn", model: "netconn", peak: 128e3, one: 17.4e3, manyFactor: 0.78, largeFactor: 0.80, pipeFactor: 1.4, serviceUs: 27, tail: 5, baseRSS: 8 << 20, rssPerConn: 9800, idleRSS: 8600, slowFactor: 0.97, timerUs: 1050, expTail: 1},
	// c-epoll, the native baseline the reports show every model against:
	// a little ahead of epoll at many connections, far lighter in memory.
	{name: "c-epoll", command: []string{"/home/user/.cache/echobench/native-0123456789abcdef/c-epoll"}, peak: 160e3, one: 16.0e3, manyFactor: 0.93, largeFactor: 0.80, pipeFactor: 2.0, serviceUs: 22, tail: 3, baseRSS: 1 << 20, rssPerConn: 700, idleRSS: 300, slowFactor: 0.99, loop: true, timerUs: 1000, expTail: 1, echoOnly: true},
	{name: "node", command: []string{"node", "servers/node/echo.js"}, peak: 71e3, one: 9.1e3, manyFactor: 0.85, largeFactor: 0.55, pipeFactor: 1.6, serviceUs: 60, tail: 8, baseRSS: 44 << 20, rssPerConn: 3300, idleRSS: 2400, slowFactor: 0.88, loop: true, timerUs: 1000, expTail: 1.4},
}

// closedPoint is one closed-loop matrix point.
type closedPoint struct {
	conns, size, depth, repeats int
}

var closedPoints = []closedPoint{
	{1, 64, 1, 6}, {4, 64, 1, 6}, {64, 64, 1, 6}, {1000, 64, 1, 6},
	{1, 16384, 1, 3}, {64, 16384, 1, 3}, {1000, 16384, 1, 3},
	{64, 64, 16, 6},
}

// Sweep: open loop at fractions of each repeat's measured capacity.
var (
	sweepConns   = 64
	sweepSize    = 64
	sweepLoads   = []float64{0.5, 0.8, 0.95, 1.1}
	sweepRepeats = 6
	sloSteps     = 2
)

// The objective the synthetic orchestrator searched with.
const (
	sloP99Us      = 2000
	sloCompletion = 0.999
)

// bracket narrows the SLO search's bracket of load fractions with rec.
func bracket(rec *results.Record, f, lo, hi float64) (float64, float64) {
	met := rec.Load.LatencyUs.P99 <= sloP99Us && rec.Load.CompletionRatio >= sloCompletion
	switch {
	case met && f > lo:
		lo = f
	case !met && f > lo && f < hi:
		hi = f
	}
	return lo, hi
}

const (
	durationS = 5.0
	warmupS   = 1.0
)

// Records returns the synthetic run, in the order an orchestrator would
// write it.
func Records() []results.Record {
	var out []results.Record
	t := start
	next := func() (time.Time, time.Time) {
		s := t
		t = t.Add(time.Duration((durationS + warmupS + 1) * float64(time.Second)))
		return s, t
	}
	for _, p := range profiles {
		for _, cp := range closedPoints {
			for r := 1; r <= cp.repeats; r++ {
				s, e := next()
				out = append(out, closedRecord(p, cp, r, s, e))
			}
		}
		for r := 1; r <= sweepRepeats; r++ {
			s, e := next()
			capRec := closedRecord(p, closedPoint{sweepConns, sweepSize, 1, 1}, r, s, e)
			capRec.Scenario.Kind = results.KindCapacity
			capRec.PointID = fmt.Sprintf("%s/capacity/c%d/s%d/d1/r%d", p.name, sweepConns, sweepSize, r)
			out = append(out, capRec)
			capacity := capRec.Load.ThroughputMsgsPerSec
			lo, hi := 0.0, math.Inf(1) // highest load met, lowest missed
			for _, f := range sweepLoads {
				s, e := next()
				rec := sweepRecord(p, r, results.KindSweep, 0, f, capacity, s, e)
				lo, hi = bracket(&rec, f, lo, hi)
				out = append(out, rec)
			}
			// Two bisection steps of the SLO search, as the orchestrator runs.
			for step := 1; step <= sloSteps; step++ {
				f := (lo + hi) / 2
				if math.IsInf(hi, 1) {
					f = 2 * lo
				}
				s, e := next()
				rec := sweepRecord(p, r, results.KindSLO, step, f, capacity, s, e)
				lo, hi = bracket(&rec, f, lo, hi)
				out = append(out, rec)
			}
		}
	}
	// Idle connections and slow readers, after the rest so the records
	// before them keep their times.
	for _, p := range profiles {
		for r := 1; r <= extraRepeats; r++ {
			s, e := next()
			out = append(out, idleRecord(p, r, s, e))
			s, e = next()
			out = append(out, slowRecord(p, r, s, e))
		}
	}
	out = append(out, churnRecords(next)...)
	s, e := next()
	out = append(out, results.Record{
		Schema: results.SchemaVersion, RunID: RunID, PointID: "python-trio/skipped", Start: s, End: e,
		Env:      Env,
		Server:   results.ServerInfo{Name: "python-trio", Command: []string{"/usr/bin/python3", "servers/python/echo.py", "--stack", "trio"}, Loops: 1},
		Scenario: results.Scenario{Kind: results.KindClosed, Mode: "closed", Conns: 1, SizeBytes: 64, Depth: 1, DurationS: durationS, WarmupS: warmupS},
		Status:   results.StatusSkipped,
		Error:    "python3-trio is not installed (run make deps)",
	})
	// The work family, after the rest so the records before it keep
	// their times.
	for _, p := range profiles {
		if p.echoOnly {
			continue
		}
		for _, w := range workSpecs {
			for r := 1; r <= extraRepeats; r++ {
				s, e := next()
				out = append(out, workRecord(p, w, r, s, e))
			}
		}
	}
	out = append(out, rateRecords(next)...)
	setLoadRuntime(out)
	addTimelines(out)
	return out
}

// setLoadRuntime gives each measured record the load generator's
// GOMAXPROCS and workers on the synthetic machine's one client CPU: one
// worker, one P more for it, and one more for the idle/slow loop.
func setLoadRuntime(recs []results.Record) {
	for i := range recs {
		r := &recs[i]
		if r.Load == nil {
			continue
		}
		r.Env.LoadWorkers, r.Env.LoadGOMAXPROCS = 1, 2
		if r.Scenario.IdleConns+r.Scenario.SlowReaders > 0 {
			r.Env.LoadGOMAXPROCS = 3
		}
	}
}

func rng(parts ...any) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprint(h, parts...)
	return rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
}

func server(p profile) results.ServerInfo {
	return results.ServerInfo{Name: p.name, Model: p.model, Command: p.command, Loops: 1, MaxPendingBytes: 4 << 20}
}

func closedRecord(p profile, cp closedPoint, repeat int, s, e time.Time) results.Record {
	r := rng(p.name, cp, repeat)
	rec := results.Record{
		Schema: results.SchemaVersion, RunID: RunID, Repeat: repeat, Start: s, End: e,
		PointID: fmt.Sprintf("%s/closed/c%d/s%d/d%d/r%d", p.name, cp.conns, cp.size, cp.depth, repeat),
		Env:     Env, Server: server(p),
		Scenario: results.Scenario{Kind: results.KindClosed, Mode: "closed", Conns: cp.conns, SizeBytes: cp.size, Depth: cp.depth, DurationS: durationS, WarmupS: warmupS},
		Status:   results.StatusOK,
	}
	// evio exhausts file descriptors at 1000 connections in two repeats.
	if p.name == "evio" && cp.conns == 1000 && cp.size == 64 && (repeat == 2 || repeat == 5) {
		code := 1
		rec.Status = results.StatusFailed
		rec.Error = "server exited during the measured window: exit status 1"
		rec.ExitStatus = &code
		rec.StderrTail = "evio: accept: too many open files\n"
		return rec
	}
	tput := p.peak
	switch {
	case cp.conns == 1:
		tput = p.one
	case cp.conns <= 4:
		tput = math.Min(p.peak, p.one*float64(cp.conns)*0.9)
	case cp.conns >= 1000:
		tput = p.peak * p.manyFactor
	}
	if cp.size >= 16384 {
		tput *= p.largeFactor
	}
	if cp.depth > 1 {
		tput *= p.pipeFactor
	}
	tput *= 1 + 0.03*(r.Float64()-0.5)
	clientBound := false
	// The load generator tops out near 300k msgs/s: epoll pipelined hits it.
	if tput > 300e3 {
		tput = 300e3 * (1 + 0.01*(r.Float64()-0.5))
		clientBound = true
	}
	inflight := float64(cp.conns * cp.depth)
	medUs := inflight / tput * 1e6
	completed := int64(tput * durationS)
	util := 0.97
	if cp.conns == 1 {
		util = 0.45
	}
	if clientBound {
		util = 0.71
	}
	load := loadFor("closed", cp.conns, cp.size, cp.depth, 0, completed, completed, medUs, p.tail, r)
	load.ClientBound = clientBound
	load.ClientCPUUtil = 0.6 + 0.3*tput/300e3
	if clientBound {
		load.ClientCPUUtil = 0.99
		load.Warnings = []string{"client CPU at 99%: the load generator, not the server, set this rate"}
	}
	load.RateMet = true
	rec.Load = load
	rec.ServerStats = serverStats(p, cp.conns, cp.size, completed, util, r)
	rec.Noise = &results.Noise{ServerCPUsOther: 0.01, ClientCPUsOther: 0.02}
	// A neighbour woke up on the server CPU during one repeat of one point.
	if p.name == "netconn" && cp.conns == 64 && cp.size == 64 && cp.depth == 1 && repeat == 3 {
		rec.Noise = &results.Noise{ServerCPUsOther: 0.31, ClientCPUsOther: 0.02, Disturbed: true}
		rec.Warnings = append(rec.Warnings, "disturbed: other processes used 31% of the server CPUs and 2% of the client CPUs (steal 0%) during the window")
	}
	return rec
}

func sweepRecord(p profile, repeat int, kind string, step int, frac, capacity float64, s, e time.Time) results.Record {
	r := rng(p.name, kind, step, frac, repeat)
	rate := frac * capacity
	id := fmt.Sprintf("%s/sweep/c%d/s%d/d1/l%.2f/r%d", p.name, sweepConns, sweepSize, frac, repeat)
	if kind == results.KindSLO {
		id = fmt.Sprintf("%s/slo/c%d/s%d/d1/step%d/r%d", p.name, sweepConns, sweepSize, step, repeat)
	}
	rec := results.Record{
		Schema: results.SchemaVersion, RunID: RunID, Repeat: repeat, Start: s, End: e,
		PointID: id,
		Env:     Env, Server: server(p),
		Scenario: results.Scenario{Kind: kind, Mode: "open", Conns: sweepConns, SizeBytes: sweepSize, Depth: 1,
			LoadFraction: frac, RateMsgsPerSec: rate, DurationS: durationS, WarmupS: warmupS,
			CapacityMsgsPerSec: capacity, SLOP99Us: sloP99Us, SLOCompletion: sloCompletion, SLOStep: step},
		Status: results.StatusOK,
	}
	intended := int64(rate * durationS)
	rho := frac * (1 + 0.02*(r.Float64()-0.5))
	var medUs float64
	completed := intended
	var timedOut int64
	if rho < 0.99 {
		medUs = p.serviceUs / (1 - rho)
	} else {
		// Overload: the queue grows for the whole window.
		medUs = 250e3 * (rho - 0.9)
		completed = int64(float64(intended) / rho * 0.98)
		timedOut = intended - completed
	}
	// Tails grow faster than medians as the queue builds; node's GC pauses
	// make its tail grow fastest.
	tail := p.tail * (1 + 2*rho*rho)
	load := loadFor("open", sweepConns, sweepSize, 1, rate, intended, completed, medUs, tail, r)
	load.TimedOut = timedOut
	load.CompletionRatio = float64(completed) / float64(intended)
	load.RateMet = rho < 0.99
	load.ClientCPUUtil = 0.3 + 0.4*frac
	load.SendLagUs = results.SendLag{P50: 3, P99: 40}
	if !load.RateMet {
		load.SendLagUs = results.SendLag{P50: 900, P99: 45000}
		load.Warnings = []string{"sends fell behind the schedule: rate not met"}
	}
	rec.Load = load
	util := math.Min(0.98, rho*0.97)
	rec.ServerStats = serverStats(p, sweepConns, sweepSize, completed, util, r)
	return rec
}

// loadFor builds a Load whose percentiles come from a real histogram of a
// log-normal body with a heavier tail, scaled so the histogram holds exactly
// completed values.
func loadFor(mode string, conns, size, depth int, rate float64, intended, completed int64, medUs, tail float64, r *rand.Rand) *results.Load {
	h := hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	const draws = 500
	var overflow int64
	per := completed / draws
	rem := completed - per*draws
	sigma := math.Log(tail) / 2.326 // p99 = median * tail
	for i := 0; i < draws; i++ {
		us := medUs * math.Exp(sigma*r.NormFloat64())
		if i%200 == 0 {
			us *= 1 + 3*r.Float64() // rare stalls
		}
		ns := int64(us * 1e3)
		if ns < results.HistLowestNs {
			ns = results.HistLowestNs
		}
		if ns > results.HistHighestNs {
			ns = results.HistHighestNs
			overflow++
		}
		n := per
		if i == 0 {
			n += rem
		}
		if n > 0 {
			if err := h.RecordValues(ns, n); err != nil {
				panic(err) // ns is clamped to the range above
			}
		}
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		panic(err)
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1e3 }
	tput := float64(completed) / durationS
	return &results.Load{
		Mode: mode, Conns: conns, SizeBytes: size, Depth: depth, RateMsgsPerSec: rate, DurationS: durationS,
		Intended: intended, Completed: completed,
		CompletionRatio:      float64(completed) / float64(max(intended, 1)),
		ThroughputMsgsPerSec: tput,
		ThroughputMiBPerSec:  tput * float64(size) / (1 << 20),
		LatencyUs: results.Latency{
			Min: float64(h.Min()) / 1e3, P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), P9999: q(99.99),
			Max: float64(h.Max()) / 1e3, Mean: h.Mean() / 1e3,
		},
		LatencyOverflow: overflow * per,
		HDR:             string(enc),
	}
}

func serverStats(p profile, conns, size int, completed int64, util float64, r *rand.Rand) *results.ServerStats {
	cpu := util * durationS
	perConn := p.rssPerConn*(1+0.05*(r.Float64()-0.5)) + float64(min(size, 65536))
	peak := p.baseRSS + int64(perConn*float64(conns))
	return &results.ServerStats{
		CPUUserS: cpu * 0.35, CPUSysS: cpu * 0.65, CPUUtil: util,
		PeakRSSBytes: peak, BaseRSSBytes: p.baseRSS,
		VolCtxSw: completed / 40, InvolCtxSw: completed / 900, Threads: 5,
		MsgsPerCPUSecond: float64(completed) / cpu,
		RSSBytesPerConn:  float64(peak-p.baseRSS) / float64(conns),
	}
}

// The idle and slow-reader points: 64 active connections of 64 B, plus
// extraIdle idle connections, or extraSlow slow readers at extraSlowRate.
const (
	extraRepeats  = 6
	extraIdle     = 10000
	extraSlow     = 4
	extraSlowRate = 64 << 10
)

func idleRecord(p profile, repeat int, s, e time.Time) results.Record {
	rec := closedRecord(p, closedPoint{64, 64, 1, extraRepeats}, repeat, s, e)
	r := rng(p.name, "idle", repeat)
	rec.PointID = fmt.Sprintf("%s/closed/c64/s64/d1/idle%d/r%d", p.name, extraIdle, repeat)
	rec.Scenario.IdleConns = extraIdle
	rec.Load.IdleConns = extraIdle
	held := 64 + extraIdle
	perConn := p.idleRSS * (1 + 0.04*(r.Float64()-0.5))
	st := rec.ServerStats
	st.PeakRSSBytes = p.baseRSS + int64(perConn*float64(held))
	st.RSSBytesPerConn = float64(st.PeakRSSBytes-p.baseRSS) / float64(held)
	return rec
}

func slowRecord(p profile, repeat int, s, e time.Time) results.Record {
	rec := closedRecord(p, closedPoint{64, 64, 1, extraRepeats}, repeat, s, e)
	r := rng(p.name, "slow", repeat)
	rec.PointID = fmt.Sprintf("%s/closed/c64/s64/d1/slow%d/r%d", p.name, extraSlow, repeat)
	rec.Scenario.SlowReaders, rec.Scenario.SlowReadBytesPerSec = extraSlow, extraSlowRate
	// The active connections lose slowFactor of their throughput; the
	// histogram is rebuilt so it holds exactly the completed messages.
	tput := rec.Load.ThroughputMsgsPerSec * p.slowFactor * (1 + 0.02*(r.Float64()-0.5))
	completed := int64(tput * durationS)
	l := loadFor("closed", 64, 64, 1, 0, completed, completed, 64/tput*1e6, p.tail, r)
	l.ClientCPUUtil, l.RateMet = rec.Load.ClientCPUUtil, true
	rec.Load = l
	rec.ServerStats.MsgsPerCPUSecond = float64(completed) / (rec.ServerStats.CPUUserS + rec.ServerStats.CPUSysS)
	l.SlowReaders, l.SlowReadBytesPerSec = extraSlow, extraSlowRate
	if p.closesSlow {
		l.SlowClosed = extraSlow
	} else {
		l.SlowReadBytes = int64(extraSlow * extraSlowRate * durationS * (0.97 + 0.02*r.Float64()))
	}
	return rec
}

// workSpec is one work of the work family: 64 connections of 64 B, closed
// loop, each message a request that gets the work before its echo.
type workSpec struct {
	spec string // canonical, as the record carries it
	kind string
	mean float64 // µs
	exp  bool
}

var workSpecs = []workSpec{
	{"cpu:20µs", "cpu", 20, false},
	{"wait:10ms", "wait", 10e3, false},
	{"block:10ms", "block", 10e3, false},
	{"wait:5ms:exp", "wait", 5e3, true},
}

// workFigures is the invented behaviour of p under work w at conns
// connections: throughput, median latency and p99/p50, and the server's
// CPU use. A core burns cpu work one request at a time; waits overlap,
// each late by the model's timer; a block serialises a loop's connections.
func workFigures(p profile, w workSpec, conns int) (tput, medUs, tail, util float64) {
	perReqUs := 1e6 / p.peak // the echo's own cost at saturation
	switch {
	case w.kind == "cpu":
		tput = 1e6 / (w.mean + perReqUs)
		return tput, float64(conns) / tput * 1e6, p.tail, 0.97
	case w.kind == "block" && p.loop:
		tput = 1e6 / (w.mean + perReqUs)
		return tput, float64(conns) * w.mean, 1.02, 0.01
	}
	cycleUs := w.mean + p.timerUs
	tput = float64(conns) * 1e6 / cycleUs
	medUs, tail = cycleUs, 1.15*p.expTail
	if w.exp {
		// Exponential: median mean·ln 2, p99 mean·ln 100, plus the timer.
		medUs = w.mean*math.Ln2 + p.timerUs
		tail = (w.mean*math.Log(100) + p.timerUs) / medUs * p.expTail
	}
	return tput, medUs, tail, math.Min(0.97, tput*perReqUs/1e6+0.01)
}

func workRecord(p profile, w workSpec, repeat int, s, e time.Time) results.Record {
	const conns = 64
	rec := closedRecord(p, closedPoint{conns, 64, 1, extraRepeats}, repeat, s, e)
	r := rng(p.name, "work", w.spec, repeat)
	rec.PointID = fmt.Sprintf("%s/closed/c%d/s64/d1/work=%s/r%d", p.name, conns, w.spec, repeat)
	rec.Scenario.Work = w.spec
	rec.Noise, rec.Warnings = &results.Noise{ServerCPUsOther: 0.01, ClientCPUsOther: 0.02}, nil
	tput, medUs, tail, util := workFigures(p, w, conns)
	tput *= 1 + 0.03*(r.Float64()-0.5)
	completed := int64(tput * durationS)
	l := loadFor("closed", conns, 64, 1, 0, completed, completed, medUs, tail, r)
	l.ClientCPUUtil, l.RateMet = 0.6+0.3*tput/300e3, true
	rec.Load = l
	rec.ServerStats = serverStats(p, conns, 64, completed, util, r)
	return rec
}
