package reports

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// Thresholds of the workload classes. When a run has no point past a
// threshold, the class adapts to the run's most extreme point and says so.
const (
	FewMaxConns   = 4
	SmallMaxBytes = 1 << 10
	ManyMinConns  = 256
	LargeMinBytes = 16 << 10
)

// Class statuses.
const (
	StatusPick      = "pick"            // one model is significantly best everywhere in the class
	StatusTie       = "tie"             // several models are not significantly different
	StatusTooFew    = "too few repeats" // the best cannot be told apart: not enough repeats
	StatusMixed     = "mixed"           // a different model is best at different points
	StatusUndecided = "undecided"       // a client-limited model may be the best
	StatusNoData    = "no data"         // the run has no point in this class
)

// Entry is one model's sample at one point of a class.
type Entry struct {
	Model  string
	Sample stat.Summary
	// Unranked says why the model is shown but not ranked.
	Unranked string
	// Behind says why the model ranks behind every ranked one: it was
	// measured, but did not meet the class's precondition (the latency
	// class: it did not hold the rate).
	Behind string
	// VsBest compares the best model's sample with this one (ranked only).
	VsBest stat.Comparison
}

// CellVerdict ranks the models at one cell of a class.
type CellVerdict struct {
	Cell Cell
	// Facet is the statistic compared when a class compares several at one
	// cell ("p99"); empty when it compares one.
	Facet string
	// Ranked best first, then Behind (ranked after every ranked model,
	// with why), then Unranked.
	Ranked, Behind, Unranked []Entry
	// Winners are the best model and every model not significantly
	// different from it (or that too few repeats cannot separate from it).
	Winners []string
	TooFew  bool
	// Undecided explains why no claim is made at this point, if so.
	Undecided string
}

// Label names the cell and, when the class compares several statistics
// there, the statistic: "rate c=64 64B d=1 at 20000 msgs/s · p99".
func (v CellVerdict) Label() string {
	if v.Facet == "" {
		return v.Cell.Label()
	}
	return v.Cell.Label() + " · " + v.Facet
}

// Best is the model with the best median, or "".
func (v CellVerdict) Best() string {
	if len(v.Ranked) == 0 {
		return ""
	}
	return v.Ranked[0].Model
}

// Class is a workload a user might have, mapped to matrix points.
type Class struct {
	ID   string
	Name string
	// Rule is the documented mapping from points to the class.
	Rule   string
	Metric string
	Unit   string
	// HigherIsBetter orders the metric.
	HigherIsBetter bool
	// Advice is what a user does with the verdict, in a sentence, for the
	// classes where the choice depends on what the handlers do.
	Advice string
}

// ClassResult is the recommendation for one class.
type ClassResult struct {
	Class
	// Cells are the class's cells that some model has data for.
	Cells  []CellVerdict
	Status string
	// Pick is the model, or the tied models, to choose.
	Pick []string
	// Headline is what the report puts first: "epoll", "tie: epoll, gnet".
	Headline string
	// Why is the evidence, in one or two sentences.
	Why string
}

type classDef struct {
	Class
	cells []Cell
	// sample is one model's figure at one cell; nil for the latency class
	// at absolute rates, which compares several statistics per cell
	// (rateVerdicts).
	sample func(a *Analysis, model string, sc Cell) (stat.Summary, string, bool)
}

// recommend maps the run's points to the workload classes and ranks the
// models in each.
func recommend(a *Analysis) []ClassResult {
	defs := classDefs(a)
	out := make([]ClassResult, 0, len(defs))
	for _, d := range defs {
		cr := d.evaluate(a)
		switch d.ID {
		case "slow":
			cr.Why += slowBehaviour(a, d.cells)
		case "cpu", "wait", "block":
			cr.Why += workBehaviour(a, d.ID, d.cells)
		}
		if d.ID == "churn" {
			cr.Why += burstNote(a)
		}
		if d.ID == "latency" && d.sample == nil {
			cr.Why += separationNote(cr)
		}
		if d.ID == "overload" {
			cr.Why += overloadBehaviour(a, d.cells)
			cr.Advice = overloadAdvice(a, cr)
		}
		out = append(out, cr)
	}
	return out
}

func throughputSample(a *Analysis, model string, sc Cell) (stat.Summary, string, bool) {
	p := a.AggregateAt(model, sc)
	if p == nil {
		return stat.Summary{}, "", false
	}
	return p.ThroughputMsgsPerSec, p.Unranked, true
}

func rssSample(a *Analysis, model string, sc Cell) (stat.Summary, string, bool) {
	p := a.AggregateAt(model, sc)
	if p == nil {
		return stat.Summary{}, "", false
	}
	return p.RSSBytesPerConn, p.UnrankedMemory, true
}

// classDefs maps the run's cells to the workload classes, in the order the
// report lists them.
func classDefs(a *Analysis) []classDef {
	// The throughput classes look at plain cells only: idle connections
	// and slow readers have classes of their own.
	closed := a.Cells(func(s Cell) bool { return s.Kind == results.KindClosed && s.Plain() })
	defs := throughputClassDefs(closed)
	defs = append(defs, latencyClassDef(a), overloadClassDef(a))
	memCells, memRule := memoryCells(a, closed)
	defs = append(defs, classDef{Class{ID: "memory", Name: "Memory per connection", Rule: memRule, Metric: "RSS per connection", Unit: "bytes"},
		memCells, rssSample})
	slow := a.Cells(func(s Cell) bool {
		return s.Kind == results.KindClosed && s.SlowReaders > 0 && s.IdleConns == 0 && s.Work == ""
	})
	defs = append(defs, classDef{Class{ID: "slow", Name: "Slow readers",
		Rule:   "closed loop, points with slow readers (connections that write continuously and read their echo slowly); throughput of the active connections beside them",
		Metric: "throughput", Unit: "msgs/s", HigherIsBetter: true},
		slow, throughputSample})
	defs = append(defs, workClassDefs(a)...)
	return append(defs, churnClassDefs(a)...)
}

// throughputClassDefs are the closed-loop throughput classes (few, many,
// large, pipelined) over the plain closed cells. The many and large
// thresholds adapt to a run that has no cell past them.
func throughputClassDefs(closed []Cell) []classDef {
	maxConns, maxSize := closedExtremes(closed)
	manyMin, manyNote := ManyMinConns, ""
	if maxConns < ManyMinConns && maxConns > FewMaxConns {
		manyMin, manyNote = maxConns, fmt.Sprintf(" (adapted: this run's most is %d)", maxConns)
	}
	largeMin, largeNote := LargeMinBytes, ""
	if maxSize < LargeMinBytes && maxSize > SmallMaxBytes {
		largeMin, largeNote = maxSize, fmt.Sprintf(" (adapted: this run's largest is %s)", sizeLabel(maxSize))
	}
	tput := func(id, name, rule string) Class {
		return Class{ID: id, Name: name, Rule: rule, Metric: "throughput", Unit: "msgs/s", HigherIsBetter: true}
	}
	return []classDef{
		{tput("few", "Few connections, small messages",
			fmt.Sprintf("closed loop, depth 1, connections ≤ %d, size ≤ %s", FewMaxConns, sizeLabel(SmallMaxBytes))),
			filterCells(closed, func(s Cell) bool { return s.Depth == 1 && s.Conns <= FewMaxConns && s.SizeBytes <= SmallMaxBytes }), throughputSample},
		{tput("many", "Many connections",
			fmt.Sprintf("closed loop, depth 1, connections ≥ %d%s, size < %s", manyMin, manyNote, sizeLabel(largeMin))),
			filterCells(closed, func(s Cell) bool { return s.Depth == 1 && s.Conns >= manyMin && s.SizeBytes < largeMin }), throughputSample},
		{tput("large", "Large messages",
			fmt.Sprintf("closed loop, depth 1, size ≥ %s%s, any connections", sizeLabel(largeMin), largeNote)),
			filterCells(closed, func(s Cell) bool { return s.Depth == 1 && s.SizeBytes >= largeMin }), throughputSample},
		{tput("pipelined", "Pipelined requests", "closed loop, depth > 1, any connections and size"),
			filterCells(closed, func(s Cell) bool { return s.Depth > 1 }), throughputSample},
	}
}

// closedExtremes is the most connections and the largest size among the
// depth-1 cells of closed.
func closedExtremes(closed []Cell) (maxConns, maxSizeBytes int) {
	for _, s := range closed {
		if s.Depth == 1 {
			maxConns = max(maxConns, s.Conns)
			maxSizeBytes = max(maxSizeBytes, s.SizeBytes)
		}
	}
	return maxConns, maxSizeBytes
}

// memoryCells picks the memory class's cells and states its rule. RSS
// growth per connection held is best read where most connections sit idle;
// without idle cells, at the most connections (past the few-connections
// limit) and the smallest size.
func memoryCells(a *Analysis, closed []Cell) ([]Cell, string) {
	idle := a.Cells(func(s Cell) bool {
		return s.Kind == results.KindClosed && s.Depth == 1 && s.IdleConns > 0 && s.SlowReaders == 0 && s.Work == ""
	})
	maxIdle := 0
	for _, s := range idle {
		maxIdle = max(maxIdle, s.IdleConns)
	}
	if maxIdle > 0 {
		return filterCells(idle, func(s Cell) bool { return s.IdleConns == maxIdle }),
			fmt.Sprintf("closed loop, depth 1, the most idle connections in the run (%d); RSS growth over the idle server, per connection held (active + idle); a model that did not keep every idle connection is not ranked", maxIdle)
	}
	rule := "closed loop, depth 1, the most connections in the run, smallest size; RSS growth over the idle server, per connection"
	maxConns, _ := closedExtremes(closed)
	if maxConns <= FewMaxConns {
		return nil, rule
	}
	minSize := math.MaxInt
	for _, s := range closed {
		if s.Depth == 1 && s.Conns == maxConns {
			minSize = min(minSize, s.SizeBytes)
		}
	}
	return filterCells(closed, func(s Cell) bool { return s.Depth == 1 && s.Conns == maxConns && s.SizeBytes == minSize }), rule
}

// filterCells returns the cells that match keep, in order.
func filterCells(cells []Cell, keep func(Cell) bool) []Cell {
	var out []Cell
	for _, s := range cells {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// slowBehaviour describes what each model did to slow readers in the slow
// class: which closed them (a behaviour, not a failure: gnet closes a
// connection past --max-pending), and how much throughput the active
// connections kept compared with the same point without slow readers.
func slowBehaviour(a *Analysis, scs []Cell) string {
	var closed, kept []string
	for _, sc := range scs {
		plain := sc
		plain.SlowReaders, plain.SlowReadBytesPerSec = 0, 0
		for _, m := range a.Models {
			p := a.AggregateAt(m, sc)
			if p == nil || len(p.OK) == 0 {
				continue
			}
			if p.SlowClosed > 0 {
				closed = append(closed, fmt.Sprintf("%s closes slow readers (%d of %d closed over %d of %d repeats at %s)",
					m, p.SlowClosed, p.SlowReaders, p.SlowClosedRepeats, len(p.OK), sc.Label()))
			}
			if q := a.AggregateAt(m, plain); q != nil && q.ThroughputMsgsPerSec.N > 0 && q.ThroughputMsgsPerSec.Median > 0 && p.ThroughputMsgsPerSec.N > 0 {
				kept = append(kept, fmt.Sprintf("%s %.0f%%", m, 100*p.ThroughputMsgsPerSec.Median/q.ThroughputMsgsPerSec.Median))
			}
		}
		if len(kept) > 0 {
			closed = append(closed, fmt.Sprintf("throughput kept with slow readers vs. %s: %s", plain.Label(), strings.Join(kept, ", ")))
			kept = nil
		}
	}
	if len(closed) == 0 {
		return ""
	}
	return " Behaviour: " + strings.Join(closed, "; ") + "."
}

// sweepGroups returns one cell per open-loop (conns, size, depth), with
// Kind "sweep" and no load: the key the latency class ranks on.
func sweepGroups(a *Analysis) []Cell {
	return a.uniq(func(s Cell) (Cell, bool) {
		if s.Kind != results.KindSweep && s.Kind != results.KindSLO {
			return Cell{}, false
		}
		return Cell{Kind: results.KindSweep, Mode: s.Mode, Conns: s.Conns, SizeBytes: s.SizeBytes, Depth: s.Depth,
			IdleConns: s.IdleConns, SlowReaders: s.SlowReaders, SlowReadBytesPerSec: s.SlowReadBytesPerSec, Work: s.Work}, true
	})
}

func (a *Analysis) uniq(f func(Cell) (Cell, bool)) []Cell {
	seen := map[Cell]bool{}
	var out []Cell
	for _, p := range a.Aggregates {
		if g, ok := f(p.Cell); ok && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	slices.SortFunc(out, compareCells)
	return out
}

// sustainedSample is, per repeat, the highest offered rate of the group that
// held (0 when none did): results.HighestRateHeld, as in the orchestrator's
// SLO search, so a miss below a success is noise.
func sustainedSample(a *Analysis, model string, g Cell) (stat.Summary, string, bool) {
	tries := map[int][]results.RateTry{}
	clientBound := 0
	for i := range a.Run.Records {
		r := &a.Run.Records[i]
		if r.Server.Name != model || r.Status == results.StatusSkipped {
			continue
		}
		sc := cellOf(r)
		if (sc.Kind != results.KindSweep && sc.Kind != results.KindSLO) || !sameGroup(sc, g) {
			continue
		}
		if clientLimited(r) {
			clientBound++
		}
		tries[r.Repeat] = append(tries[r.Repeat], results.RateTry{RateMsgsPerSec: results.OfferedRate(r), Held: holds(r, a.Options)})
	}
	if len(tries) == 0 {
		return stat.Summary{}, "", false
	}
	var vals []float64
	for _, t := range tries {
		vals = append(vals, results.HighestRateHeld(t))
	}
	why := ""
	if clientBound > 0 {
		why = fmt.Sprintf("client-limited in %d open-loop records", clientBound)
	}
	return stat.Summarize(vals), why, true
}

// sameGroup reports whether an open-loop cell belongs to the sweep group g
// (see sweepGroups): everything but the kind, load and SLO step matches.
func sameGroup(sc, g Cell) bool {
	return sc.Conns == g.Conns && sc.SizeBytes == g.SizeBytes && sc.Depth == g.Depth && sc.Mode == g.Mode &&
		sc.IdleConns == g.IdleConns && sc.SlowReaders == g.SlowReaders && sc.SlowReadBytesPerSec == g.SlowReadBytesPerSec && sc.Work == g.Work
}

func (d classDef) evaluate(a *Analysis) ClassResult {
	cr := ClassResult{Class: d.Class}
	if d.sample == nil {
		cr.Cells = rateVerdicts(a, d)
		cr.decide()
		return cr
	}
	for _, sc := range d.cells {
		v := CellVerdict{Cell: sc}
		for _, m := range a.candidates() {
			s, why, ok := d.sample(a, m, sc)
			if !ok {
				continue
			}
			if why == "" && s.N == 0 {
				why = "no data"
			}
			e := Entry{Model: m, Sample: s, Unranked: why}
			if why != "" {
				v.Unranked = append(v.Unranked, e)
			} else {
				v.Ranked = append(v.Ranked, e)
			}
		}
		if len(v.Ranked) == 0 && len(v.Unranked) == 0 {
			continue
		}
		d.rank(&v)
		cr.Cells = append(cr.Cells, v)
	}
	cr.decide()
	return cr
}

// better reports whether x is a better median than y.
func (c Class) better(x, y float64) bool {
	if c.HigherIsBetter {
		return x > y
	}
	return x < y
}

func (d classDef) rank(v *CellVerdict) {
	sort.SliceStable(v.Ranked, func(i, j int) bool {
		return d.better(v.Ranked[i].Sample.Median, v.Ranked[j].Sample.Median)
	})
	if len(v.Ranked) == 0 {
		v.Undecided = "no model could be ranked here"
		return
	}
	best := v.Ranked[0]
	v.Winners = []string{best.Model}
	for i := 1; i < len(v.Ranked); i++ {
		e := &v.Ranked[i]
		e.VsBest = stat.Compare(best.Sample, e.Sample)
		switch e.VsBest.Verdict {
		case stat.Same:
			v.Winners = append(v.Winners, e.Model)
		case stat.TooFew:
			v.Winners = append(v.Winners, e.Model)
			v.TooFew = true
		}
	}
	if len(v.Ranked) == 1 && best.Sample.N < stat.MinForDifference {
		v.TooFew = true
	}
	for _, u := range v.Unranked {
		if strings.Contains(u.Unranked, "client-limited") && u.Sample.N > 0 && !d.better(best.Sample.Median, u.Sample.Median) {
			v.Undecided = fmt.Sprintf("%s was client-limited at %s %s, at least %s's %s: the load generator could not separate them",
				u.Model, num(u.Sample.Median), d.Unit, best.Model, num(best.Sample.Median))
		}
	}
}

// decide turns the cell verdicts into the class recommendation.
func (cr *ClassResult) decide() {
	if len(cr.Cells) == 0 {
		cr.Status, cr.Headline = StatusNoData, "no data"
		cr.Why = "The run has no point in this class."
		return
	}
	var decided []CellVerdict
	for _, v := range cr.Cells {
		if v.Undecided == "" {
			decided = append(decided, v)
		}
	}
	if len(decided) == 0 {
		cr.Status, cr.Headline = StatusUndecided, "undecided"
		var why []string
		for _, v := range cr.Cells {
			why = append(why, fmt.Sprintf("%s: %s.", v.Label(), v.Undecided))
		}
		cr.Why = strings.Join(why, " ")
		return
	}
	cr.decideFrom(decided)
	if nc := cr.notCounted(); nc != "" {
		cr.Why += " Not counted: " + nc + "."
	}
}

// decideFrom sets the status, pick and evidence from the cells where a
// claim may be made: a pick when one model is among the winners everywhere,
// a tie when several are, no claim when every cell has too few repeats, and
// "depends" otherwise.
func (cr *ClassResult) decideFrom(decided []CellVerdict) {
	pick := winnersEverywhere(decided)
	ev := cr.evidence(decided)
	switch {
	case allTooFew(decided):
		cr.Status = StatusTooFew
		cr.Pick = nil
		n := decided[0].Ranked[0].Sample.N
		cr.Headline = fmt.Sprintf("no claim (n=%d)", n)
		cr.Why = fmt.Sprintf("Too few repeats to claim anything: a difference needs ≥%d repeats per model (≥%d for a 95%% CI). Leading by median: %s. %s",
			stat.MinForDifference, stat.MinForCI, decided[0].Best(), ev)
	case len(pick) == 1:
		cr.Status, cr.Pick, cr.Headline = StatusPick, pick, pick[0]
		if sole := soleWins(decided, pick[0]); sole < len(decided) {
			// Never beaten, but tied with some other model at some points.
			cr.Why = fmt.Sprintf("%s is the only model among the best at %s: significantly best at %d, tied with another at the rest. %s",
				pick[0], cr.pointsPhrase(len(decided)), sole, ev)
		} else {
			cr.Why = fmt.Sprintf("%s is significantly best at %s. %s", pick[0], cr.pointsPhrase(len(decided)), ev)
		}
	case len(pick) > 1:
		cr.Status, cr.Pick = StatusTie, pick
		cr.Headline = "tie: " + strings.Join(pick, ", ")
		cr.Why = fmt.Sprintf("%s are not significantly different at %s (Mann–Whitney U, α=%.2f). %s",
			strings.Join(pick, ", "), cr.pointsPhrase(len(decided)), stat.Alpha, ev)
	default:
		cr.Status = StatusMixed
		var parts []string
		for _, w := range bestCounts(decided) {
			parts = append(parts, fmt.Sprintf("%s best at %d", w.model, w.cells))
			cr.Pick = append(cr.Pick, w.model)
		}
		cr.Headline = "depends: " + strings.Join(cr.Pick, " / ")
		cr.Why = fmt.Sprintf("No model is best at every point: %s of %d points. %s", strings.Join(parts, ", "), len(decided), ev)
	}
}

// winnersEverywhere is the set of models among the winners at every cell.
func winnersEverywhere(decided []CellVerdict) []string {
	pick := slices.Clone(decided[0].Winners)
	for _, v := range decided[1:] {
		pick = slices.DeleteFunc(pick, func(m string) bool { return !slices.Contains(v.Winners, m) })
	}
	return pick
}

func allTooFew(decided []CellVerdict) bool {
	for _, v := range decided {
		if !v.TooFew {
			return false
		}
	}
	return true
}

// modelWins is how many cells a model is best at.
type modelWins struct {
	model string
	cells int
}

// bestCounts counts, per model, the cells where it has the best median:
// most first, then by name.
func bestCounts(decided []CellVerdict) []modelWins {
	wins := map[string]int{}
	for _, v := range decided {
		wins[v.Best()]++
	}
	var ranked []modelWins
	for m, n := range wins {
		ranked = append(ranked, modelWins{m, n})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].cells != ranked[j].cells {
			return ranked[i].cells > ranked[j].cells
		}
		return ranked[i].model < ranked[j].model
	})
	return ranked
}

// notCounted lists the cells left out of the verdict and why; empty when
// none was.
func (cr *ClassResult) notCounted() string {
	var undecided []string
	for _, v := range cr.Cells {
		if v.Undecided != "" {
			undecided = append(undecided, fmt.Sprintf("%s: %s", v.Label(), v.Undecided))
		}
	}
	return strings.Join(undecided, "; ")
}

// pointsPhrase counts the class's decided cells: points, or comparisons
// (point × statistic) in a class that compares several statistics.
func (cr *ClassResult) pointsPhrase(n int) string {
	noun := "point"
	if len(cr.Cells) > 0 && cr.Cells[0].Facet != "" {
		noun = "comparison"
	}
	if n == 1 {
		return fmt.Sprintf("the 1 %s of this class", noun)
	}
	return fmt.Sprintf("all %d %ss of this class", n, noun)
}

// soleWins counts the cells where m is the only winner.
func soleWins(decided []CellVerdict, m string) int {
	n := 0
	for _, v := range decided {
		if len(v.Winners) == 1 && v.Winners[0] == m {
			n++
		}
	}
	return n
}

// evidence cites, for the point with the closest race, the best model and its
// nearest rival.
func (cr *ClassResult) evidence(decided []CellVerdict) string {
	var parts []string
	for _, v := range decided {
		best := v.Ranked[0]
		s := fmt.Sprintf("%s: %s %s %s %s (%s, n=%d)", v.Label(), best.Model, cr.Metric, num(best.Sample.Median), cr.Unit, best.Sample.CIString(), best.Sample.N)
		if len(v.Ranked) > 1 {
			r := v.Ranked[1]
			s += fmt.Sprintf(" vs %s %s (%s, %s)", r.Model, num(r.Sample.Median), signedPct(r.VsBest), r.VsBest)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ") + "."
}

func signedPct(c stat.Comparison) string {
	if math.IsNaN(c.Delta) {
		return "?"
	}
	s := fmt.Sprintf("%+.1f%%", 100*c.Delta)
	if c.Verdict != stat.Differ {
		s += " ~"
	}
	return s
}

// num formats a figure with three significant digits and an SI suffix.
func num(v float64) string {
	av := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case av >= 1e9:
		return trimNum(v/1e9) + "G"
	case av >= 1e6:
		return trimNum(v/1e6) + "M"
	case av >= 1e3:
		return trimNum(v/1e3) + "k"
	}
	return trimNum(v)
}

func trimNum(v float64) string {
	av := math.Abs(v)
	switch {
	case av == 0:
		return "0"
	case av >= 100:
		return fmt.Sprintf("%.0f", v)
	case av >= 10:
		return fmt.Sprintf("%.1f", v)
	case av >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func usLabel(us float64) string {
	if us >= 1000 {
		return strconv.FormatFloat(us/1000, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'g', 3, 64) + " µs"
}

func pctLabel(r float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", 100*r), "0"), ".") + "%"
}
