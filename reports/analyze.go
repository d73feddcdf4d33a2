package reports

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// Options tune what the report claims. The zero value of each field means its
// documented default.
type Options struct {
	// SLOP99Us is the p99 latency, in µs, an open-loop point must stay under
	// to count as holding its load. Default: the objective the run recorded
	// (results.Scenario.SLOP99Us), else 2000 (2 ms).
	SLOP99Us float64
	// SLOCompletion is the completion ratio an open-loop point must reach to
	// count as holding. Default: the run's, else 0.999.
	SLOCompletion float64
	// SpectrumPoint selects the point of the HDR percentile spectrum chart by
	// its Cell.Label (e.g. "closed c=1000 64B d=1"). Default: the closed,
	// depth-1 point with the most connections at the smallest size.
	SpectrumPoint string
	// TimelinePoints selects the points whose window is charted interval
	// by interval: a record's point_id (that repeat is shown for its
	// model) or a Cell.Label. Default: the headline point (the spectrum's)
	// and the points where a repeat stalled or failed messages (see
	// selectTimelines). A name the run does not have is an error wrapping
	// ErrUnknownPoint.
	TimelinePoints []string
}

// withDefaults returns o with every zero field set to its default. It takes
// the objective from the first open-loop record that carries one, so the
// report judges points as the run's SLO search did.
func (o Options) withDefaults(recs []results.Record) Options {
	for i := range recs {
		sc := &recs[i].Scenario
		if sc.Mode != "open" {
			continue
		}
		if o.SLOP99Us <= 0 && sc.SLOP99Us > 0 {
			o.SLOP99Us = sc.SLOP99Us
		}
		if o.SLOCompletion <= 0 && sc.SLOCompletion > 0 {
			o.SLOCompletion = sc.SLOCompletion
		}
	}
	if o.SLOP99Us <= 0 {
		o.SLOP99Us = 2000
	}
	if o.SLOCompletion <= 0 {
		o.SLOCompletion = 0.999
	}
	return o
}

// Cell is one cell of the run's matrix with the server left out: what the
// repeats of every model at one point share, and the key the report groups,
// sorts, labels and compares models by. It is derived from a record's
// results.Scenario (the load one record measured) by cellOf, which keeps
// only what tells points apart: the offered rate, duration and SLO are
// dropped, so an SLO step's repeats, run at different rates, share a cell.
// It is not bench/config.Scenario (a matrix family that expands to many
// cells), and a cell plus a server is an Aggregate, not a bench.Point.
type Cell struct {
	Kind  string
	Mode  string
	Conns int
	// IdleConns and SlowReaders are held beside the Conns active
	// connections, the slow readers reading SlowReadBytesPerSec each: a
	// point with them is a different cell.
	IdleConns, SlowReaders, SlowReadBytesPerSec int
	SizeBytes                                   int
	Depth                                       int
	// Work is the server's work per request in its canonical form
	// ("cpu:20µs", "wait:10ms:exp"); empty for none, plain echo.
	Work string
	// LoadFraction is the sweep's fraction of the measured capacity.
	LoadFraction float64
	// SLOStep is the bisection step of an SLO-search point: the repeats of
	// one step are grouped, though their rates differ.
	SLOStep int
	// ConnLifetime (messages per connection, 0: the whole window) and
	// ConnectBurst make a churn point a cell of its own (see churn.go).
	ConnLifetime, ConnectBurst int
	// RateMsgsPerSec is the absolute rate of a rate point, the same for
	// every model; MsgTimeoutS the message timeout, when the record
	// carries one (see rates.go and overload.go).
	RateMsgsPerSec, MsgTimeoutS float64
	// LoadProcs is the load generators a point was measured with, 0 for
	// one. It is the instrument, not the load, but repeats measured with
	// different instruments are not repeats of one measurement: a cell of
	// its own.
	LoadProcs int
}

// cellOf is the cell a record measured.
func cellOf(r *results.Record) Cell {
	s := Cell{Kind: r.Scenario.Kind, Mode: r.Scenario.Mode, Conns: r.Scenario.Conns, SizeBytes: r.Scenario.SizeBytes, Depth: r.Scenario.Depth,
		IdleConns: r.Scenario.IdleConns, SlowReaders: r.Scenario.SlowReaders,
		ConnLifetime: r.Scenario.ConnLifetime, ConnectBurst: r.Scenario.ConnectBurst, Work: r.Scenario.Work}
	if s.Work == workNone {
		s.Work = "" // written by hand or by another tool: none is none
	}
	if s.SlowReaders > 0 {
		s.SlowReadBytesPerSec = r.Scenario.SlowReadBytesPerSec
	}
	if r.Scenario.LoadProcs > 1 {
		s.LoadProcs = r.Scenario.LoadProcs
	}
	switch s.Kind {
	case results.KindSweep:
		s.LoadFraction = r.Scenario.LoadFraction
	case results.KindSLO:
		s.SLOStep = r.Scenario.SLOStep
	case results.KindRate:
		s.RateMsgsPerSec = r.Scenario.RateMsgsPerSec
	case results.KindOverload:
		s.LoadFraction = r.Scenario.LoadFraction
	}
	s.MsgTimeoutS = r.Scenario.MsgTimeoutS
	return s
}

// Label names the cell in tables and on the command line.
func (s Cell) Label() string {
	b := fmt.Sprintf("%s c=%d%s %s d=%d%s", s.Kind, s.Conns, s.extraLabel(), sizeLabel(s.SizeBytes), s.Depth, s.workLabel())
	if s.LoadProcs > 1 {
		b += fmt.Sprintf(" procs=%d", s.LoadProcs)
	}
	switch {
	case s.Kind == results.KindSweep && s.LoadFraction == 0:
		b += " (sweep and SLO search)"
	case s.Kind == results.KindSweep:
		b += fmt.Sprintf(" load=%.2f", s.LoadFraction)
	case s.Kind == results.KindSLO:
		b += fmt.Sprintf(" step=%d", s.SLOStep)
	}
	return b + s.rateLabel()
}

// extraLabel names the idle connections and slow readers: "+10000 idle",
// "+4 slow@64KiB/s"; empty for a plain point.
func (s Cell) extraLabel() string {
	var b string
	if s.IdleConns > 0 {
		b += fmt.Sprintf("+%d idle", s.IdleConns)
	}
	if s.SlowReaders > 0 {
		b += fmt.Sprintf("+%d slow@%s/s", s.SlowReaders, sizeLabel(s.SlowReadBytesPerSec))
	}
	return b + s.churnLabel()
}

// workLabel names the work: " work=cpu:20µs"; empty for none.
func (s Cell) workLabel() string {
	if s.Work == "" {
		return ""
	}
	return " work=" + s.Work
}

// held is every connection the server held at the point.
func (s Cell) held() int { return s.Conns + s.IdleConns + s.SlowReaders }

// Plain reports whether the point is plain echo: no idle connections, no
// slow readers, no connection churn (lifetime or burst), no work. The echo
// classes and charts look at plain points only; the others have classes of
// their own.
func (s Cell) Plain() bool {
	return s.IdleConns == 0 && s.SlowReaders == 0 && s.ConnLifetime == 0 && s.ConnectBurst == 0 && s.Work == ""
}

func kindOrder(k string) int {
	switch k {
	case results.KindClosed:
		return 0
	case results.KindCapacity:
		return 1
	case results.KindSweep:
		return 2
	case results.KindSLO:
		return 3
	case results.KindRate:
		return 4
	case results.KindOverload:
		return 5
	}
	return 6
}

func compareCells(a, b Cell) int {
	return cmp.Or(
		cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Depth, b.Depth),
		cmp.Compare(a.SizeBytes, b.SizeBytes),
		cmp.Compare(a.Conns, b.Conns),
		cmp.Compare(a.IdleConns, b.IdleConns),
		cmp.Compare(a.SlowReaders, b.SlowReaders),
		cmp.Compare(a.SlowReadBytesPerSec, b.SlowReadBytesPerSec),
		cmp.Compare(a.ConnLifetime, b.ConnLifetime),
		cmp.Compare(a.ConnectBurst, b.ConnectBurst),
		cmp.Compare(a.LoadProcs, b.LoadProcs),
		compareWork(a.Work, b.Work),
		cmp.Compare(a.LoadFraction, b.LoadFraction),
		cmp.Compare(a.RateMsgsPerSec, b.RateMsgsPerSec),
		cmp.Compare(a.MsgTimeoutS, b.MsgTimeoutS),
		cmp.Compare(a.SLOStep, b.SLOStep),
		cmp.Compare(a.Mode, b.Mode),
	)
}

func sizeLabel(b int) string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", b)
}

// Aggregate is every repeat of one server at one Cell, summarised: the unit
// the report ranks, charts and lists. Where a bench.Point is one repeat of
// one server at one point (it becomes one results.Record), an Aggregate
// holds all of that server's records at the cell, ok and failed, and the
// statistics across them.
type Aggregate struct {
	Server string
	Cell   Cell
	OK     []*results.Record // ascending repeat
	Failed []*results.Record

	// Summaries over the ok repeats (client-limited ones left out, see
	// summarizeFigures).
	ThroughputMsgsPerSec stat.Summary
	P50Us                stat.Summary
	P99Us                stat.Summary
	P999Us               stat.Summary
	CompletionRatio      stat.Summary
	// RateMsgsPerSec is the offered rate of the open loop.
	RateMsgsPerSec   stat.Summary
	RSSBytesPerConn  stat.Summary
	MsgsPerCPUSecond stat.Summary
	CPUPerMsgUs      stat.Summary
	// KernelCPUShare is the server's system time over its user + system
	// time: how much of its CPU went to the kernel.
	KernelCPUShare stat.Summary
	// Connects (churn points only, see churn.go): connects per second and
	// the p99 of connect latency, to established and to the first echoed
	// byte, over the same repeats as the performance summaries.
	ConnectsPerSec, ConnectP99Us, FirstByteP99Us stat.Summary

	// Counts summed over the ok repeats.
	Completed, TimedOut, Errored, Corrupted int64
	// Idle connections and slow readers, summed over the ok repeats:
	// IdleConns held and IdleFailed of them not kept; slow readers the
	// server closed (a behaviour) or whose echo was corrupted.
	IdleConns, IdleFailed, SlowReaders, SlowClosed, SlowCorrupted int64
	// SlowClosedRepeats is how many ok repeats had a slow reader closed.
	SlowClosedRepeats int

	// HistNote says which repeats' histograms are missing or corrupt; their
	// headers are checked up front, the merge is lazy (see Histogram).
	HistNote string
	histOK   int // repeats whose histogram header checked out
	histOnce sync.Once
	hist     *hdrhistogram.Histogram
	histN    int

	// ClientLimitedRepeats counts the repeats that were client-limited (see
	// clientLimited); they are left out of the performance summaries, and
	// the point is unranked when every repeat was.
	ClientLimitedRepeats int
	RateNotMetRepeats    int // open-loop repeats with rate_met=false
	// Unranked says why the point may not be ranked; empty when it may.
	Unranked string
	// UnrankedMemory says why its memory figure may not be ranked: as
	// Unranked, except that a client-limited or rate-missing load does not
	// change what a connection costs the server.
	UnrankedMemory string
}

// Key is "server / cell label".
func (p *Aggregate) Key() string { return p.Server + " / " + p.Cell.Label() }

// Repeats is the number of repeats found, failed or not.
func (p *Aggregate) Repeats() int { return len(p.OK) + len(p.Failed) }

// Analysis is everything the report shows, computed once from a run.
type Analysis struct {
	Run     *Run
	Options Options
	// Models is every server name in the run, skipped and failed included,
	// sorted: the colour of a model is its index here, in every chart.
	Models     []string
	Env        results.Env
	Aggregates []*Aggregate // sorted by cell, then server
	// Skipped has one record per skipped server; Failed every failed record.
	Skipped  []*results.Record
	Failed   []*results.Record
	Warnings []string
	Classes  []ClassResult
	// Timelines are the points whose window is charted interval by
	// interval; TimelineNotes say which were left out and why.
	Timelines     []Timeline
	TimelineNotes []string
}

// Analyze aggregates a run. It fails only when no record could be used.
func Analyze(run *Run, opt Options) (*Analysis, error) {
	a := &Analysis{Run: run, Options: opt.withDefaults(run.Records), Models: modelNames(run.Records)}
	if run.TornTail {
		a.Warnings = append(a.Warnings, "the results file ends with a partial line (the run was interrupted); it was ignored")
	}
	if run.Duplicates > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("the results file repeats %d records line for line; each was counted once", run.Duplicates))
	}
	byKey, envDiffers := a.group(run.Records)
	for _, w := range []string{disturbedWarning(run.Records), throttledWarning(run.Records)} {
		if w != "" {
			a.Warnings = append(a.Warnings, w)
		}
	}
	if len(envDiffers) > 0 {
		a.Warnings = append(a.Warnings, "the environment differs between records, so figures may not be comparable: "+strings.Join(envDiffers, "; "))
	}
	if len(byKey) == 0 && len(a.Skipped) == 0 {
		return nil, fmt.Errorf("analyze %s: no usable records", run.Path)
	}
	for _, p := range byKey {
		a.Aggregates = append(a.Aggregates, p)
	}
	slices.SortFunc(a.Aggregates, func(x, y *Aggregate) int {
		return cmp.Or(compareCells(x.Cell, y.Cell), cmp.Compare(x.Server, y.Server))
	})
	// Summarised in that order, so that their warnings come in a stable one.
	for _, p := range a.Aggregates {
		a.Warnings = append(a.Warnings, p.summarize()...)
	}
	a.Classes = recommend(a)
	notes, err := a.selectTimelines()
	if err != nil {
		return nil, fmt.Errorf("analyze %s: timeline: %w", run.Path, err)
	}
	a.TimelineNotes = notes
	return a, nil
}

// modelNames is every server name in records, skipped and failed included,
// sorted.
func modelNames(records []results.Record) []string {
	seen := map[string]bool{}
	var models []string
	for i := range records {
		if name := records[i].Server.Name; !seen[name] {
			seen[name] = true
			models = append(models, name)
		}
	}
	sort.Strings(models)
	return models
}

// group sorts the records out: one per skipped server into Skipped, the ok
// and failed ones into an Aggregate per (server, cell) (keyed by server and
// cell label) and the failed ones also into Failed; a record with an
// unknown status is left out with a warning. It takes Env from the first
// record it groups and names up to 5 records whose environment differs.
func (a *Analysis) group(records []results.Record) (byKey map[string]*Aggregate, envDiffers []string) {
	byKey = map[string]*Aggregate{}
	skipped := map[string]bool{}
	envSet := false
	for i := range records {
		r := &records[i]
		switch r.Status {
		case results.StatusSkipped:
			if !skipped[r.Server.Name] {
				skipped[r.Server.Name] = true
				a.Skipped = append(a.Skipped, r)
			}
			continue
		case results.StatusOK, results.StatusFailed:
		default:
			a.Warnings = append(a.Warnings, fmt.Sprintf("record %s has unknown status %q; ignored", r.PointID, r.Status))
			continue
		}
		if !envSet {
			a.Env, envSet = r.Env, true
		} else if d := envDiff(a.Env, r.Env); d != "" && len(envDiffers) < 5 {
			envDiffers = append(envDiffers, fmt.Sprintf("%s (%s)", r.PointID, d))
		}
		sc := cellOf(r)
		k := r.Server.Name + "\x00" + sc.Label()
		p := byKey[k]
		if p == nil {
			p = &Aggregate{Server: r.Server.Name, Cell: sc}
			byKey[k] = p
		}
		if r.Status == results.StatusFailed || r.Load == nil {
			if r.Status == results.StatusOK {
				a.Warnings = append(a.Warnings, fmt.Sprintf("record %s is ok but has no load summary; counted as failed", r.PointID))
			}
			p.Failed = append(p.Failed, r)
			a.Failed = append(a.Failed, r)
			continue
		}
		p.OK = append(p.OK, r)
	}
	return byKey, envDiffers
}

// disturbedWarning says how many measured records the orchestrator marked
// disturbed; empty when none was. They stay in the statistics (repeats
// already carry the machine's noise into the intervals), but a close call
// among them deserves a rerun.
func disturbedWarning(records []results.Record) string {
	measured, disturbed := 0, 0
	for i := range records {
		if n := records[i].Noise; n != nil {
			measured++
			if n.Disturbed {
				disturbed++
			}
		}
	}
	if disturbed == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d measured records were disturbed: other processes (or hypervisor steal) took more than %.0f%% of the pinned CPUs during the window (the noise columns of results.csv say which); rerun on a quiet machine before trusting close calls",
		disturbed, measured, 100*results.DisturbedShare)
}

// throttledWarning says how many records' load generators a CPU quota
// stopped during the window (load.cpu_throttle); empty when none was. The
// orchestrator pins CPUs without quotas, so this is a distributed run's
// signal: a CPU limit the kernel enforced on a generator (docs/distributed.md).
func throttledWarning(records []results.Record) string {
	measured, throttled := 0, 0
	var stoppedUs int64
	for i := range records {
		l := records[i].Load
		if l == nil {
			continue
		}
		measured++
		if t := l.CPUThrottle; t != nil && t.Throttled > 0 {
			throttled++
			stoppedUs += t.ThrottledUs
		}
	}
	if throttled == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d records' load generators were throttled by a CPU quota during the window (%.1f ms stopped in all): those clients ran slower than their CPU use says and their latencies include the stops; rerun them on whole CPUs without a quota (docs/distributed.md)",
		throttled, measured, float64(stoppedUs)/1e3)
}

func envDiff(a, b results.Env) string {
	var d []string
	if a.CPUModel != b.CPUModel {
		d = append(d, "CPU")
	}
	if a.Cores != b.Cores {
		d = append(d, "cores")
	}
	if a.Kernel != b.Kernel {
		d = append(d, "kernel")
	}
	if a.ServerCPUs != b.ServerCPUs || a.ClientCPUs != b.ClientCPUs {
		d = append(d, "pinning")
	}
	if a.ServerGOMAXPROCS != b.ServerGOMAXPROCS {
		d = append(d, "GOMAXPROCS")
	}
	return strings.Join(d, ", ")
}

// summarize computes the aggregate's counts, summaries and flags from its
// records, and returns warnings for the report. The merged histogram is
// left for Histogram to compute on demand.
func (p *Aggregate) summarize() []string {
	sort.Slice(p.OK, func(i, j int) bool { return p.OK[i].Repeat < p.OK[j].Repeat })
	sort.Slice(p.Failed, func(i, j int) bool { return p.Failed[i].Repeat < p.Failed[j].Repeat })
	for _, r := range p.OK {
		p.addOutcomes(r)
	}
	p.summarizeFigures()
	var warnings []string
	if p.HistNote = p.checkHistograms(); p.HistNote != "" {
		warnings = append(warnings, fmt.Sprintf("%s: latency histogram incomplete: %s", p.Key(), p.HistNote))
	}
	return append(warnings, p.judgeRankable()...)
}

// addOutcomes adds one ok repeat's outcome counts to the aggregate's sums.
func (p *Aggregate) addOutcomes(r *results.Record) {
	l := r.Load
	p.Completed += l.Completed
	p.TimedOut += l.TimedOut
	p.Errored += l.Errored
	p.Corrupted += l.Corrupted
	p.IdleConns += l.IdleConns
	p.IdleFailed += l.IdleFailed
	p.SlowReaders += l.SlowReaders
	p.SlowClosed += l.SlowClosed
	p.SlowCorrupted += l.SlowCorrupted
	if l.SlowClosed > 0 {
		p.SlowClosedRepeats++
	}
	if r.Scenario.Mode == "open" && !l.RateMet {
		p.RateNotMetRepeats++
	}
}

// summarizeFigures computes the performance and memory summaries over the
// ok repeats. A client-limited repeat measured the load generator, not the
// server: when the aggregate has other repeats it is left out of the
// performance samples (not of the outcome counts, nor of memory, which the
// client does not limit). When every repeat was limited, they stay, so the
// unranked point still shows what the client reached.
func (p *Aggregate) summarizeFigures() {
	var valid, limited perfSamples
	var rss []float64
	for _, r := range p.OK {
		if clientLimited(r) {
			p.ClientLimitedRepeats++
			limited.add(r)
		} else {
			valid.add(r)
		}
		if s := r.ServerStats; s != nil {
			rss = append(rss, s.RSSBytesPerConn)
		}
	}
	perf := valid
	if len(valid.tput) == 0 {
		perf = limited
	}
	p.summarizeConnects(len(valid.tput) == 0)
	p.ThroughputMsgsPerSec = stat.Summarize(perf.tput)
	p.P50Us = stat.Summarize(perf.p50)
	p.P99Us = stat.Summarize(perf.p99)
	p.P999Us = stat.Summarize(perf.p999)
	p.CompletionRatio = stat.Summarize(perf.comp)
	p.RateMsgsPerSec = stat.Summarize(perf.rate)
	p.RSSBytesPerConn = stat.Summarize(rss)
	p.MsgsPerCPUSecond = stat.Summarize(perf.mpc)
	p.CPUPerMsgUs = stat.Summarize(perf.cpm)
	p.KernelCPUShare = stat.Summarize(perf.sys)
}

// checkHistograms checks the header of every ok repeat's histogram, counts
// those that pass in histOK and says which are missing or corrupt. Only the
// header: a full decode is left to Histogram, which few reports need.
func (p *Aggregate) checkHistograms() string {
	var histErrs []string
	for _, r := range p.OK {
		if r.Load.HDR == "" {
			histErrs = append(histErrs, fmt.Sprintf("repeat %d: no histogram", r.Repeat))
			continue
		}
		if err := results.CheckHDR(r.Load.HDR); err != nil {
			histErrs = append(histErrs, fmt.Sprintf("repeat %d: %v", r.Repeat, err))
			continue
		}
		p.histOK++
	}
	return strings.Join(histErrs, "; ")
}

// judgeRankable sets Unranked and UnrankedMemory, the reasons the aggregate
// may not be ranked (by its performance, by its memory), and returns
// warnings for what the report must say even when it is ranked. It needs
// the counts and summaries already computed.
func (p *Aggregate) judgeRankable() []string {
	var warnings []string
	n := p.Repeats()
	var why, memWhy []string
	if len(p.OK) == 0 {
		why = append(why, "no successful repeat")
	} else if len(p.Failed) > 0 {
		why = append(why, fmt.Sprintf("failed in %d of %d repeats", len(p.Failed), n))
	}
	memWhy = append(memWhy, why...)
	switch {
	case p.ClientLimitedRepeats > 0 && p.ClientLimitedRepeats == len(p.OK):
		why = append(why, fmt.Sprintf("client-limited in %d of %d repeats", p.ClientLimitedRepeats, n))
	case p.ClientLimitedRepeats > 0:
		warnings = append(warnings, fmt.Sprintf("%s: %d of %d repeats left out of its figures as client-limited", p.Key(), p.ClientLimitedRepeats, n))
	}
	if p.RateNotMetRepeats > 0 && p.Cell.Mode != "open" {
		// In the open loop, missing the rate is an outcome being measured:
		// the latency class counts it as not holding the load, and under
		// overload it is the point.
		why = append(why, fmt.Sprintf("rate not met in %d of %d repeats", p.RateNotMetRepeats, n))
	}
	if p.Corrupted > 0 {
		why = append(why, fmt.Sprintf("echoed %d corrupted messages", p.Corrupted))
		memWhy = append(memWhy, why[len(why)-1])
		warnings = append(warnings, fmt.Sprintf("%s: %d messages came back corrupted", p.Key(), p.Corrupted))
	}
	if p.SlowCorrupted > 0 {
		why = append(why, fmt.Sprintf("corrupted the echo of %d slow readers", p.SlowCorrupted))
		memWhy = append(memWhy, why[len(why)-1])
		warnings = append(warnings, fmt.Sprintf("%s: %d slow readers got corrupted data back", p.Key(), p.SlowCorrupted))
	}
	if p.IdleFailed > 0 {
		// A model that dropped idle connections held fewer than the others:
		// its memory per connection is not comparable.
		why = append(why, fmt.Sprintf("did not keep %d of %d idle connections", p.IdleFailed, p.IdleConns))
		memWhy = append(memWhy, why[len(why)-1])
	}
	p.Unranked = strings.Join(why, ", ")
	p.UnrankedMemory = strings.Join(memWhy, ", ")
	return warnings
}

// Histogram is the exact merge of the ok repeats' histograms and the number
// of repeats merged; nil when none decoded. It is computed once, on first
// use: decoding every histogram is the costliest part of an analysis and
// only the distribution chart needs them. Safe for concurrent use.
func (p *Aggregate) Histogram() (*hdrhistogram.Histogram, int) {
	p.histOnce.Do(func() {
		for _, r := range p.OK {
			h, err := results.DecodeHDR(r.Load.HDR)
			if err != nil {
				continue // counted in HistNote by CheckHDR, or corrupt past the header
			}
			if p.hist == nil {
				p.hist = results.NewHDR()
			}
			// Same geometry (checked by results.DecodeHDR): nothing can be dropped
			// but a count overflow, which would need 2^63 messages.
			p.hist.Merge(h)
			p.histN++
		}
	})
	return p.hist, p.histN
}

// perfSamples holds one value per repeat of each performance figure.
type perfSamples struct {
	tput, p50, p99, p999, comp, rate, mpc, cpm, sys []float64
}

func (ps *perfSamples) add(r *results.Record) {
	l := r.Load
	ps.tput = append(ps.tput, l.ThroughputMsgsPerSec)
	ps.p50 = append(ps.p50, l.LatencyUs.P50)
	ps.p99 = append(ps.p99, l.LatencyUs.P99)
	ps.p999 = append(ps.p999, l.LatencyUs.P999)
	ps.comp = append(ps.comp, l.CompletionRatio)
	if l.RateMsgsPerSec > 0 {
		ps.rate = append(ps.rate, l.RateMsgsPerSec)
	} else if r.Scenario.RateMsgsPerSec > 0 {
		ps.rate = append(ps.rate, r.Scenario.RateMsgsPerSec)
	}
	if s := r.ServerStats; s != nil && s.MsgsPerCPUSecond > 0 {
		ps.mpc = append(ps.mpc, s.MsgsPerCPUSecond)
		ps.cpm = append(ps.cpm, 1e6/s.MsgsPerCPUSecond)
	}
	if s := r.ServerStats; s != nil && s.CPUUserS+s.CPUSysS > 0 {
		ps.sys = append(ps.sys, s.CPUSysS/(s.CPUUserS+s.CPUSysS))
	}
}

// clientLimited reports whether a record's figure is the load generator's
// limit rather than the server's (results.Record.ClientLimited: the SLO
// search judges by the same rule).
func clientLimited(r *results.Record) bool { return r.ClientLimited() }

// slo is the objective the report judges open-loop points by.
func (o Options) slo() results.SLO {
	return results.SLO{P99Us: o.SLOP99Us, Completion: o.SLOCompletion}
}

// holds reports whether an open-loop record held its offered load
// (results.SLO.Held, as the orchestrator's SLO search decides it): the rate
// was met by a load generator that was not the limit, nothing came back
// corrupted, completion reached the SLO and p99 stayed under it.
func holds(r *results.Record, opt Options) bool { return opt.slo().Held(r) }

// Cells returns the distinct cells that match keep, sorted.
func (a *Analysis) Cells(keep func(Cell) bool) []Cell {
	var out []Cell
	seen := map[Cell]bool{}
	for _, p := range a.Aggregates {
		if !seen[p.Cell] && keep(p.Cell) {
			seen[p.Cell] = true
			out = append(out, p.Cell)
		}
	}
	slices.SortFunc(out, compareCells)
	return out
}

// AggregateAt returns server's aggregate at cell sc, or nil.
func (a *Analysis) AggregateAt(server string, sc Cell) *Aggregate {
	for _, p := range a.Aggregates {
		if p.Server == server && p.Cell == sc {
			return p
		}
	}
	return nil
}
