package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// EnvLine is the environment in one line: every chart's footnote.
func (a *Analysis) EnvLine() string {
	e := a.Env
	return fmt.Sprintf("%s, %d cores · server CPUs %s, GOMAXPROCS %d · client CPUs %s · kernel %s · %s",
		orDash(e.CPUModel), e.Cores, orDash(e.ServerCPUs), e.ServerGOMAXPROCS, orDash(e.ClientCPUs), orDash(e.Kernel), orDash(e.GoVersion))
}

func (a *Analysis) runID() string {
	for _, r := range a.Run.Records {
		if r.RunID != "" {
			return r.RunID
		}
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

const errBarNote = "Error bars: 95% CI of the median across repeats (min–max when fewer than 6). × marks a point that is not ranked (failed, client-limited, rate not met)."

// charts renders every chart the run has data for, as SVG and, withPNG, PNG.
// Notes say which charts were left out and why.
func (a *Analysis) charts(withPNG bool) (charts []Chart, notes []string, err error) {
	builders := []func() (*figure, string){
		a.throughputFigure, a.latencyFigure, a.sweepFigure, a.workFigure, a.completionFigure,
		a.cpuFigure, a.memoryFigure, a.spectrumFigure, a.churnFigure, a.sloFigure,
	}
	var figs []*figure
	for _, b := range builders {
		f, note := b()
		if f == nil {
			notes = append(notes, note)
			continue
		}
		figs = append(figs, f)
	}
	figs = append(figs, a.timelineFigures()...)
	notes = append(notes, a.TimelineNotes...)
	for _, f := range figs {
		f.footnote = a.EnvLine() + " · run " + orDash(a.runID())
		f.a = a
		if f.legend == nil {
			f.legend = a.chartModels()
		}
		c, err := f.render(withPNG)
		if err != nil {
			// One chart that cannot be drawn must not cost the report.
			notes = append(notes, fmt.Sprintf("%s: %v", f.title, err))
			continue
		}
		charts = append(charts, c)
	}
	return charts, notes, nil
}

// chartModels are the models with at least one successful point: the
// legend of every chart.
func (a *Analysis) chartModels() []string {
	var out []string
	for _, m := range a.Models {
		for _, p := range a.Aggregates {
			if p.Server == m && len(p.OK) > 0 {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// closedBySize groups the closed-loop depth-1 cells by message size.
func (a *Analysis) closedBySize() (sizes []int, bySize map[int][]Cell) {
	bySize = map[int][]Cell{}
	// Points with idle connections or slow readers would put a second
	// figure at the same connection count: they have their own classes.
	for _, s := range a.Cells(func(s Cell) bool { return s.Kind == results.KindClosed && s.Depth == 1 && s.Plain() }) {
		if _, ok := bySize[s.SizeBytes]; !ok {
			sizes = append(sizes, s.SizeBytes)
		}
		bySize[s.SizeBytes] = append(bySize[s.SizeBytes], s)
	}
	slices.Sort(sizes)
	return sizes, bySize
}

// modelLine collects, over cells (ascending conns), one model's figure.
func (a *Analysis) modelLine(model string, scs []Cell, pick func(*Aggregate) stat.Summary, withErr bool) (xys plotter.XYs, lo, hi []float64, flagged []bool) {
	return a.modelLineAt(model, scs, func(_ int, sc Cell) float64 { return float64(sc.held()) }, pick, withErr)
}

// modelLineAt collects, over cells, one model's figure at x(i, cell).
func (a *Analysis) modelLineAt(model string, scs []Cell, x func(int, Cell) float64, pick func(*Aggregate) stat.Summary, withErr bool) (xys plotter.XYs, lo, hi []float64, flagged []bool) {
	for i, sc := range scs {
		p := a.AggregateAt(model, sc)
		if p == nil {
			continue
		}
		s := pick(p)
		if s.N == 0 || s.Median <= 0 {
			continue
		}
		xys = append(xys, plotter.XY{X: x(i, sc), Y: s.Median})
		lo = append(lo, s.Lo)
		hi = append(hi, s.Hi)
		flagged = append(flagged, p.Unranked != "")
	}
	if !withErr {
		lo, hi = nil, nil
	}
	return xys, lo, hi, flagged
}

func connTicks(scs []Cell) plot.ConstantTicks {
	var v []float64
	for _, s := range scs {
		if !slices.Contains(v, float64(s.held())) {
			v = append(v, float64(s.held()))
		}
	}
	slices.Sort(v)
	return valueTicks(v, intLabel)
}

func setConnsX(p *plot.Plot, scs []Cell) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = connTicks(scs)
	p.X.Label.Text = "connections (log scale)"
	p.X.Min, p.X.Max = math.Inf(1), math.Inf(-1)
	for _, s := range scs {
		p.X.Min = math.Min(p.X.Min, float64(s.held())/1.4)
		p.X.Max = math.Max(p.X.Max, float64(s.held())*1.4)
	}
}

// grid splits panels into rows of at most cols.
func grid(ps []*plot.Plot, cols int) [][]*plot.Plot {
	var out [][]*plot.Plot
	for len(ps) > 0 {
		n := min(cols, len(ps))
		out = append(out, ps[:n])
		ps = ps[n:]
	}
	return out
}

func (a *Analysis) throughputFigure() (*figure, string) {
	sizes, bySize := a.closedBySize()
	if len(sizes) == 0 {
		return nil, "ThroughputMsgsPerSec: the run has no closed-loop depth-1 point."
	}
	var panels []*plot.Plot
	for _, size := range sizes {
		p := newPlot(fmt.Sprintf("%s messages, depth 1", sizeLabel(size)), "", "throughput (msgs/s)")
		setConnsX(p, bySize[size])
		for _, m := range a.Models {
			xys, lo, hi, fl := a.modelLine(m, bySize[size], func(p *Aggregate) stat.Summary { return p.ThroughputMsgsPerSec }, true)
			if err := a.series(p, m, xys, lo, hi, fl, false); err != nil {
				return nil, err.Error()
			}
		}
		p.Y.Min = 0
		panels = append(panels, p)
	}
	return &figure{name: "throughput", title: "Closed-loop throughput (msgs/s) against connections, per message size",
		caption: "Higher is better. Each connection keeps one message in flight. " + errBarNote,
		plots:   grid(panels, 3)}, ""
}

func (a *Analysis) latencyFigure() (*figure, string) {
	sizes, bySize := a.closedBySize()
	if len(sizes) == 0 {
		return nil, "Latency: the run has no closed-loop depth-1 point."
	}
	type pct struct {
		name string
		get  func(*Aggregate) stat.Summary
	}
	pcts := []pct{{"p50", func(p *Aggregate) stat.Summary { return p.P50Us }}, {"p99", func(p *Aggregate) stat.Summary { return p.P99Us }}, {"p99.9", func(p *Aggregate) stat.Summary { return p.P999Us }}}
	var rows [][]*plot.Plot
	for _, size := range sizes {
		var row []*plot.Plot
		for _, q := range pcts {
			p := newPlot(fmt.Sprintf("%s latency, %s messages", q.name, sizeLabel(size)), "", "latency (µs, log scale)")
			setConnsX(p, bySize[size])
			setLogY(p)
			for _, m := range a.Models {
				xys, _, _, fl := a.modelLine(m, bySize[size], q.get, false)
				if err := a.series(p, m, xys, nil, nil, fl, false); err != nil {
					return nil, err.Error()
				}
			}
			row = append(row, p)
		}
		rows = append(rows, row)
	}
	return &figure{name: "latency", title: "Closed-loop latency percentiles (µs) against connections",
		caption: "Lower is better. Medians across repeats of each repeat's percentile; in a closed loop, latency grows with connections by Little's law, so compare models at the same point.",
		plots:   rows, rowHeight: 3 * vg.Inch}, ""
}

// sweepAggregates returns, per open-loop group, each model's sweep points (its
// fixed load fractions) ordered by offered rate. The SLO search's points are
// left out: step k of the bisection runs at a different rate in each repeat,
// so a median across repeats mixes rates and zigzags the line. They are not
// drawn.
func (a *Analysis) sweepAggregates(g Cell, model string) []*Aggregate {
	var out []*Aggregate
	for _, p := range a.Aggregates {
		s := p.Cell
		if p.Server == model && s.Kind == results.KindSweep && sameGroup(s, g) && p.RateMsgsPerSec.N > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y *Aggregate) int { return cmp.Compare(x.RateMsgsPerSec.Median, y.RateMsgsPerSec.Median) })
	return out
}

func (a *Analysis) sweepFigure() (*figure, string) {
	groups := sweepGroups(a)
	if len(groups) == 0 {
		return nil, "Latency against offered load: the run has no open-loop sweep."
	}
	var rows [][]*plot.Plot
	for _, g := range groups {
		lat := newPlot(fmt.Sprintf("latency, c=%d%s %s d=%d%s: p99 solid, p50 dashed", g.Conns, g.extraLabel(), sizeLabel(g.SizeBytes), g.Depth, g.workLabel()), "offered load (msgs/s)", "latency (µs, log scale)")
		setLogY(lat)
		comp := newPlot("completion ratio (completed / intended)", "offered load (msgs/s)", "completed (%)")
		for _, m := range a.Models {
			pts := a.sweepAggregates(g, m)
			var p99, p50, cr plotter.XYs
			var fl, crfl []bool
			for _, p := range pts {
				bad := p.RateNotMetRepeats > 0 || p.Unranked != "" || p.CompletionRatio.Median < a.Options.SLOCompletion
				if p.P99Us.Median > 0 {
					p99 = append(p99, plotter.XY{X: p.RateMsgsPerSec.Median, Y: p.P99Us.Median})
					fl = append(fl, bad)
				}
				if p.P50Us.Median > 0 {
					p50 = append(p50, plotter.XY{X: p.RateMsgsPerSec.Median, Y: p.P50Us.Median})
				}
				if p.CompletionRatio.N > 0 {
					cr = append(cr, plotter.XY{X: p.RateMsgsPerSec.Median, Y: 100 * p.CompletionRatio.Median})
					crfl = append(crfl, bad)
				}
			}
			if err := a.series(lat, m, p99, nil, nil, fl, false); err != nil {
				return nil, err.Error()
			}
			if err := a.series(lat, m, p50, nil, nil, nil, true); err != nil {
				return nil, err.Error()
			}
			if err := a.series(comp, m, cr, nil, nil, crfl, false); err != nil {
				return nil, err.Error()
			}
		}
		if err := hline(lat, a.Options.SLOP99Us, "p99 SLO "+usLabel(a.Options.SLOP99Us)); err != nil {
			return nil, err.Error()
		}
		if err := hline(comp, 100*a.Options.SLOCompletion, "completion SLO "+pctLabel(a.Options.SLOCompletion)); err != nil {
			return nil, err.Error()
		}
		comp.Y.Max = 100.5
		rows = append(rows, []*plot.Plot{lat, comp})
	}
	return &figure{name: "sweep", title: "Open loop: latency and completion against offered load (where each model breaks)",
		caption: fmt.Sprintf("Latency runs from each message's intended send time, so a stalled server cannot hide it. A model holds a load while p99 ≤ %s and ≥ %s of messages complete; × marks points that did not hold (rate not met or below the completion SLO). Each point is a load fraction of the model's own capacity, median over repeats; the SLO search's steps, which run at a different rate per repeat, are not drawn.",
			usLabel(a.Options.SLOP99Us), pctLabel(a.Options.SLOCompletion)),
		plots: rows}, ""
}

// hline draws a labelled dashed grey threshold across p.
func hline(p *plot.Plot, y float64, label string) error {
	fn := plotter.NewFunction(func(float64) float64 { return y })
	fn.Color = color.Gray{0x66}
	fn.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
	fn.Width = vg.Points(1)
	p.Add(fn)
	p.Legend.Add(label, fn)
	p.Y.Min = math.Min(p.Y.Min, y)
	p.Y.Max = math.Max(p.Y.Max, y)
	return nil
}

// completionCounts sums each model's outcome counts over its open-loop
// points, or over every point when the run has no open loop. Overload
// points are left out: most of their messages time out by design, and
// they have a class of their own.
func (a *Analysis) completionCounts() (scope string, counts map[string][4]int64) {
	isOpen := func(p *Aggregate) bool { return p.Cell.Mode == "open" && p.Cell.Kind != results.KindOverload }
	open := false
	for _, p := range a.Aggregates {
		if isOpen(p) && len(p.OK) > 0 {
			open = true
		}
	}
	scope = "all open-loop points below overload"
	if !open {
		scope = "all points below overload"
	}
	counts = map[string][4]int64{}
	for _, p := range a.Aggregates {
		if p.Cell.Kind == results.KindOverload || (open && !isOpen(p)) {
			continue
		}
		c := counts[p.Server]
		c[0] += p.Completed
		c[1] += p.TimedOut
		c[2] += p.Errored
		c[3] += p.Corrupted
		counts[p.Server] = c
	}
	return scope, counts
}

var causes = []string{"completed", "timed out", "errored", "corrupted"}

func (a *Analysis) completionFigure() (*figure, string) {
	scope, counts := a.completionCounts()
	var models []string
	for _, m := range a.Models {
		if c, ok := counts[m]; ok && c[0]+c[1]+c[2]+c[3] > 0 {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		return nil, "Completion by cause: no successful point."
	}
	var panels []*plot.Plot
	for ci, cause := range causes {
		p := newPlot(cause, "", "% of intended messages")
		p.Legend.Top = false
		for i, m := range models {
			c := counts[m]
			total := float64(c[0] + c[1] + c[2] + c[3])
			bar, err := plotter.NewBarChart(plotter.Values{100 * float64(c[ci]) / total}, vg.Points(22))
			if err != nil {
				return nil, err.Error()
			}
			col, _ := a.modelStyle(m)
			bar.Color = col
			bar.LineStyle.Width = 0
			bar.XMin = float64(i)
			p.Add(bar)
		}
		p.NominalX(models...)
		if ci == 0 {
			lo := 100.0
			for _, m := range models {
				c := counts[m]
				lo = math.Min(lo, 100*float64(c[0])/float64(c[0]+c[1]+c[2]+c[3]))
			}
			// Zoom in: completion is usually near 100%, and the gap is the story.
			p.Y.Min = math.Max(0, lo-(100-lo)*0.5-0.01)
			p.Y.Max = 100
		} else {
			p.Y.Min = 0
			if p.Y.Max <= 0 {
				p.Y.Max = 1
			}
		}
		panels = append(panels, p)
	}
	return &figure{name: "completion", title: "Outcome of every intended message by cause, per model (" + scope + ")",
		caption: "Each intended message ends as exactly one of completed, timed out, errored (its connection was reset or closed under it) or corrupted; counts are summed over " + scope + " and their repeats. Connects the server refused are not messages: they are counted apart, as conn_failed, and retried (messages that wait for the retry past their timeout are timed out). Any corrupted message is a bug in the model.",
		plots:   grid(panels, 2), rowHeight: 2.8 * vg.Inch}, ""
}

func (a *Analysis) cpuFigure() (*figure, string) {
	sizes, bySize := a.closedBySize()
	var rows [][]*plot.Plot
	for _, size := range sizes {
		per := newPlot(fmt.Sprintf("server CPU per message, %s", sizeLabel(size)), "", "CPU time per message (µs)")
		rate := newPlot(fmt.Sprintf("messages per server CPU-second, %s", sizeLabel(size)), "", "msgs per CPU-second")
		any := false
		for _, m := range a.Models {
			xys, lo, hi, fl := a.modelLine(m, bySize[size], func(p *Aggregate) stat.Summary { return p.CPUPerMsgUs }, true)
			any = any || len(xys) > 0
			if err := a.series(per, m, xys, lo, hi, fl, false); err != nil {
				return nil, err.Error()
			}
			xys, lo, hi, fl = a.modelLine(m, bySize[size], func(p *Aggregate) stat.Summary { return p.MsgsPerCPUSecond }, true)
			if err := a.series(rate, m, xys, lo, hi, fl, false); err != nil {
				return nil, err.Error()
			}
		}
		if !any {
			continue
		}
		setConnsX(per, bySize[size])
		setConnsX(rate, bySize[size])
		per.Y.Min, rate.Y.Min = 0, 0
		rows = append(rows, []*plot.Plot{per, rate})
	}
	if len(rows) == 0 {
		return nil, "Server CPU: no closed-loop depth-1 point has server CPU figures."
	}
	return &figure{name: "cpu", title: "Server CPU cost: CPU time per message (lower is better) and messages per CPU-second",
		caption: "From /proc of the server process during the measured window: (user+sys) CPU seconds over completed messages. " + errBarNote,
		plots:   rows, rowHeight: 3 * vg.Inch}, ""
}

// idleBySize groups the closed-loop depth-1 cells with idle connections
// (and no slow readers) by message size: the memory chart's extra panels.
func (a *Analysis) idleBySize() (sizes []int, bySize map[int][]Cell) {
	bySize = map[int][]Cell{}
	for _, s := range a.Cells(func(s Cell) bool {
		return s.Kind == results.KindClosed && s.Depth == 1 && s.IdleConns > 0 && s.SlowReaders == 0
	}) {
		if _, ok := bySize[s.SizeBytes]; !ok {
			sizes = append(sizes, s.SizeBytes)
		}
		bySize[s.SizeBytes] = append(bySize[s.SizeBytes], s)
	}
	slices.Sort(sizes)
	return sizes, bySize
}

func (a *Analysis) memoryFigure() (*figure, string) {
	sizes, bySize := a.closedBySize()
	isizes, ibySize := a.idleBySize()
	type panel struct {
		title string
		scs   []Cell
		idle  bool
	}
	var todo []panel
	for _, size := range sizes {
		todo = append(todo, panel{fmt.Sprintf("%s messages", sizeLabel(size)), bySize[size], false})
	}
	for _, size := range isizes {
		todo = append(todo, panel{fmt.Sprintf("%s messages, most connections idle", sizeLabel(size)), ibySize[size], true})
	}
	var panels []*plot.Plot
	for _, pn := range todo {
		p := newPlot(pn.title, "", "RSS growth per connection (KiB, log scale)")
		any := false
		for _, m := range a.Models {
			xys, lo, hi, fl := a.modelLine(m, pn.scs, func(p *Aggregate) stat.Summary { return p.RSSBytesPerConn }, true)
			for i := range xys {
				xys[i].Y /= 1024
				lo[i] = math.Max(lo[i]/1024, xys[i].Y/100)
				hi[i] /= 1024
			}
			any = any || len(xys) > 0
			if err := a.series(p, m, xys, lo, hi, fl, false); err != nil {
				return nil, err.Error()
			}
		}
		if !any {
			continue
		}
		setConnsX(p, pn.scs)
		if pn.idle {
			p.X.Label.Text = "connections held, active + idle (log scale)"
		}
		setLogY(p)
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return nil, "Memory: no closed-loop depth-1 point has RSS figures."
	}
	return &figure{name: "memory", title: "Server memory: peak RSS growth per connection (KiB) against connections",
		caption: "(peak RSS − RSS before the load connected) / every connection the server held (active + idle + slow readers). At few connections this is dominated by fixed costs; read it at the most connections, or in the panels where most connections are idle: the memory an idle connection costs. " + errBarNote,
		plots:   grid(panels, 3)}, ""
}

// SpectrumCell is the point the percentile spectrum shows: the option's,
// or the closed depth-1 point with the most connections at the smallest size.
func (a *Analysis) SpectrumCell() (Cell, bool) {
	if a.Options.SpectrumPoint != "" {
		for _, p := range a.Aggregates {
			if p.Cell.Label() == a.Options.SpectrumPoint {
				return p.Cell, true
			}
		}
		return Cell{}, false
	}
	var best Cell
	found := false
	for _, p := range a.Aggregates {
		s := p.Cell
		if s.Kind != results.KindClosed || s.Depth != 1 || !s.Plain() || p.histOK == 0 {
			continue
		}
		if !found || s.Conns > best.Conns || (s.Conns == best.Conns && s.SizeBytes < best.SizeBytes) {
			best, found = s, true
		}
	}
	return best, found
}

func (a *Analysis) spectrumFigure() (*figure, string) {
	sc, ok := a.SpectrumCell()
	if !ok {
		if a.Options.SpectrumPoint != "" {
			return nil, fmt.Sprintf("Percentile spectrum: no point is labelled %q.", a.Options.SpectrumPoint)
		}
		return nil, "Percentile spectrum: no closed-loop depth-1 point has a latency histogram."
	}
	p := newPlot("latency by percentile at "+sc.Label(), "percentile (log scale of 1/(1−p))", "latency (µs, log scale)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = valueTicks([]float64{2, 10, 100, 1e3, 1e4, 1e5, 1e6}, func(x float64) string {
		return pctLabel(1 - 1/x)
	})
	setLogY(p)
	maxX := 2.0
	for _, m := range a.Models {
		pt := a.AggregateAt(m, sc)
		if pt == nil {
			continue
		}
		h, merged := pt.Histogram()
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		var xys plotter.XYs
		for _, b := range h.CumulativeDistributionWithTicks(5) {
			if b.Quantile >= 100 || b.Quantile < 1 || b.ValueAt <= 0 {
				continue
			}
			x := 1 / (1 - b.Quantile/100)
			if len(xys) > 0 && x <= xys[len(xys)-1].X {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: float64(b.ValueAt) / 1e3})
		}
		if len(xys) == 0 {
			continue
		}
		maxX = math.Max(maxX, xys[len(xys)-1].X)
		col, _ := a.modelStyle(m)
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err.Error()
		}
		line.Color = col
		line.Width = vg.Points(1.8)
		if pt.Unranked != "" {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line)
		label := fmt.Sprintf("%s (%s msgs, %d repeats)", m, num(float64(h.TotalCount())), merged)
		if pt.Unranked != "" {
			label += " — not ranked"
		}
		p.Legend.Add(label, line)
	}
	if maxX == 2 {
		return nil, "Percentile spectrum: no histogram at " + sc.Label() + "."
	}
	p.X.Min, p.X.Max = 1.5, maxX*1.5

	return &figure{name: "spectrum", title: "HDR latency percentile spectrum (µs), all repeats merged exactly",
		caption: "The whole latency distribution at one point: the histograms of every repeat merged bucket by bucket, not averaged percentiles. Read right for the tail. Dashed: the point is not ranked. " +
			"Pick another point with --spectrum '" + strings.ReplaceAll(sc.Label(), "'", "") + "'.",
		plots: [][]*plot.Plot{{p}}, rowHeight: 4.2 * vg.Inch, legend: []string{}}, ""
}

// workGroups groups the closed-loop cells with work (and no idle
// connections or slow readers) by connections, size and depth: a row of
// the work chart each. A group starts with its plain cell, work none, when
// the run has it: the baseline the work is set against.
func (a *Analysis) workGroups() [][]Cell {
	var groups [][]Cell
	index := map[Cell]int{}
	for _, s := range a.Cells(func(s Cell) bool {
		return s.Kind == results.KindClosed && s.IdleConns == 0 && s.SlowReaders == 0 && s.Work != ""
	}) {
		plain := s
		plain.Work = ""
		i, ok := index[plain]
		if !ok {
			i = len(groups)
			index[plain] = i
			groups = append(groups, nil)
			if len(a.Cells(func(c Cell) bool { return c == plain })) > 0 {
				groups[i] = append(groups[i], plain)
			}
		}
		groups[i] = append(groups[i], s)
	}
	return groups
}

// setWorkX makes p's X axis the work specs of cells, one category each.
func setWorkX(p *plot.Plot, cells []Cell) {
	var idx []float64
	for i := range cells {
		idx = append(idx, float64(i))
	}
	p.X.Tick.Marker = valueTicks(idx, func(x float64) string {
		if w := cells[int(x)].Work; w != "" {
			return w
		}
		return workNone
	})
	p.X.Min, p.X.Max = -0.5, float64(len(cells))-0.5
}

// dodge shifts model i of n sideways within its category, so that the
// models' points and error bars at one work do not hide each other.
func dodge(i, n int) float64 {
	if n < 2 {
		return 0
	}
	return 0.36 * (float64(i)/float64(n-1) - 0.5)
}

// idealMarks draws, at each category with fixed work, a grey dash at the
// ideal throughput (see idealMsgsPerSec).
func (a *Analysis) idealMarks(p *plot.Plot, cells []Cell) error {
	var fn *plotter.Line
	for i, sc := range cells {
		w, ok := parseWork(sc.Work)
		if !ok || w.exp {
			continue
		}
		y := idealMsgsPerSec(sc, w, a.Env.ServerGOMAXPROCS)
		l, err := plotter.NewLine(plotter.XYs{{X: float64(i) - 0.3, Y: y}, {X: float64(i) + 0.3, Y: y}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{0x66}
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		l.Width = vg.Points(1.4)
		p.Add(l)
		fn = l
	}
	if fn != nil {
		p.Legend.Add("ideal: conns / mean (cpu: server CPUs / mean)", fn)
		p.Legend.Top = true // the bottom right is where a blocked loop's points fall
	}
	return nil
}

func (a *Analysis) workFigure() (*figure, string) {
	groups := a.workGroups()
	if len(groups) == 0 {
		return nil, "Work: the run has no closed-loop point with work."
	}
	var rows [][]*plot.Plot
	for _, g := range groups {
		at := fmt.Sprintf("c=%d %s d=%d", g[0].Conns, sizeLabel(g[0].SizeBytes), g[0].Depth)
		tp := newPlot("throughput, "+at, "work per request", "throughput (msgs/s, log scale)")
		lat := newPlot("p99 latency, "+at, "work per request", "p99 latency (µs, log scale)")
		for _, p := range []*plot.Plot{tp, lat} {
			setWorkX(p, g)
			setLogY(p)
		}
		for i, m := range a.Models {
			x := func(j int, _ Cell) float64 { return float64(j) + dodge(i, len(a.Models)) }
			xys, lo, hi, fl := a.modelLineAt(m, g, x, func(p *Aggregate) stat.Summary { return p.ThroughputMsgsPerSec }, true)
			for k := range lo {
				lo[k] = math.Max(lo[k], xys[k].Y/100) // a log axis cannot reach 0
			}
			if err := a.series(tp, m, xys, lo, hi, fl, false); err != nil {
				return nil, err.Error()
			}
			xys, _, _, fl = a.modelLineAt(m, g, x, func(p *Aggregate) stat.Summary { return p.P99Us }, false)
			if err := a.series(lat, m, xys, nil, nil, fl, false); err != nil {
				return nil, err.Error()
			}
		}
		if err := a.idealMarks(tp, g); err != nil {
			return nil, err.Error()
		}
		rows = append(rows, []*plot.Plot{tp, lat})
	}
	return &figure{name: "work", title: "Work per request: closed-loop throughput (msgs/s) and p99 latency (µs) per model",
		caption: "What the handler does per request: none is plain echo at the same point; cpu burns CPU on the serving thread, wait waits without blocking it, block sleeps inline (a blocking call); :exp draws exponential service times with that mean. " +
			"Higher throughput and lower p99 are better; both axes are logarithmic, since a blocked event loop loses orders of magnitude. Grey dashes: the ideal throughput of fixed work. " +
			"Each model is shifted sideways a little so its points stay visible. " + errBarNote,
		plots: rows, rowHeight: 3.2 * vg.Inch}, ""
}
