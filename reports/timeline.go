package reports

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"echobench/internal/results"
)

// ErrUnknownPoint is wrapped by Analyze's error when Options.TimelinePoints
// names a point the run does not have, so a command can report it as a
// usage error.
var ErrUnknownPoint = errors.New("unknown point")

// defaultTimelines caps the timeline charts drawn unasked: the headline
// point and the worst points with stalls or failures. The rest are named in
// a note, for --timeline to pick.
const defaultTimelines = 4

// Timeline is a point whose window the report charts interval by interval,
// one row per model.
type Timeline struct {
	Cell Cell
	// Why says why it is charted: "picked with --timeline", "headline
	// point", "stalled, ...", "N failed messages ...".
	Why string
	// Records is the repeat shown per model, in Analysis.Models order (see
	// pickTimelineRecord).
	Records []*results.Record
	// Name is the chart's file stem.
	Name string
}

// hasTimeline reports whether r recorded its window interval by interval
// (records written before the intervals existed did not).
func hasTimeline(r *results.Record) bool {
	return r.Status == results.StatusOK && r.Load != nil && len(r.Load.Intervals) > 0 && r.Load.IntervalMs > 0
}

// timelineTrouble is what makes a record's window worth a look: its
// stalled intervals and failed messages.
func timelineTrouble(r *results.Record) (stalls int, failed int64) {
	return len(r.Load.Stalls()), r.Load.TimedOut + r.Load.Errored + r.Load.Corrupted
}

// selectTimelines chooses the points to chart: those named in
// Options.TimelinePoints (a record's point_id or a point label), else the
// headline point (the spectrum's) and the points where some repeat stalled
// or failed messages, worst first, defaultTimelines in all. It returns
// notes on what it left out.
func (a *Analysis) selectTimelines() (notes []string, err error) {
	cells, why, pinned, err := a.pickedTimelineCells()
	if err != nil {
		return nil, err
	}
	if len(a.Options.TimelinePoints) == 0 {
		cells, why, notes = a.defaultTimelineCells()
	}
	names := map[string]bool{}
	for _, c := range cells {
		t := Timeline{Cell: c, Why: why[c], Name: chartSlug("timeline-" + c.Label())}
		for names[t.Name] {
			t.Name += "-x"
		}
		names[t.Name] = true
		for _, m := range a.Models {
			if p := a.AggregateAt(m, c); p != nil {
				if r := pickTimelineRecord(p, pinned[m+"\x00"+c.Label()]); r != nil {
					t.Records = append(t.Records, r)
				}
			}
		}
		if len(t.Records) == 0 {
			notes = append(notes, fmt.Sprintf("Timeline of %s: no repeat recorded its window in intervals (records made before echobench recorded them)", c.Label()))
			continue
		}
		a.Timelines = append(a.Timelines, t)
	}
	return notes, nil
}

// pickedTimelineCells resolves Options.TimelinePoints: a record's point_id
// (that repeat is shown for its model) or a point label, as the report's
// tables print it.
func (a *Analysis) pickedTimelineCells() (cells []Cell, why map[Cell]string, pinned map[string]*results.Record, err error) {
	why, pinned = map[Cell]string{}, map[string]*results.Record{}
	add := func(c Cell) {
		if _, ok := why[c]; !ok {
			cells = append(cells, c)
			why[c] = "picked with --timeline"
		}
	}
	for _, id := range a.Options.TimelinePoints {
		if r := a.recordByPointID(id); r != nil {
			c := cellOf(r)
			add(c)
			pinned[r.Server.Name+"\x00"+c.Label()] = r
			continue
		}
		found := false
		for _, p := range a.Aggregates {
			if p.Cell.Label() == id {
				add(p.Cell)
				found = true
				break
			}
		}
		if !found {
			return nil, nil, nil, fmt.Errorf("%w %q: neither a point_id of the run (see results.csv) nor a point label of the report's tables (e.g. %q)", ErrUnknownPoint, id, a.exampleLabel())
		}
	}
	return cells, why, pinned, nil
}

func (a *Analysis) recordByPointID(id string) *results.Record {
	for i := range a.Run.Records {
		if r := &a.Run.Records[i]; r.PointID == id && r.Status != results.StatusSkipped {
			return r
		}
	}
	return nil
}

func (a *Analysis) exampleLabel() string {
	if len(a.Aggregates) == 0 {
		return "closed c=64 64B d=1"
	}
	return a.Aggregates[0].Cell.Label()
}

// defaultTimelineCells is the headline point (the spectrum chart's) and
// the points where a repeat stalled or failed messages, most stalled
// intervals first, then most failed messages: defaultTimelines in all.
func (a *Analysis) defaultTimelineCells() (cells []Cell, why map[Cell]string, notes []string) {
	why = map[Cell]string{}
	if c, ok := a.SpectrumCell(); ok && a.cellHasTimeline(c) {
		cells = append(cells, c)
		why[c] = "headline point"
	}
	type trouble struct {
		cell   Cell
		stalls int   // the most in one repeat
		failed int64 // over every model and repeat
	}
	var bad []trouble
	index := map[Cell]int{}
	for _, p := range a.Aggregates {
		for _, r := range p.OK {
			s, f := 0, int64(0)
			if hasTimeline(r) {
				s, f = timelineTrouble(r)
			}
			if s == 0 && f == 0 {
				continue
			}
			i, ok := index[p.Cell]
			if !ok {
				i, index[p.Cell] = len(bad), len(bad)
				bad = append(bad, trouble{cell: p.Cell})
			}
			bad[i].stalls, bad[i].failed = max(bad[i].stalls, s), bad[i].failed+f
		}
	}
	slices.SortStableFunc(bad, func(x, y trouble) int {
		return cmp.Or(cmp.Compare(y.stalls, x.stalls), cmp.Compare(y.failed, x.failed), compareCells(x.cell, y.cell))
	})
	var left []string
	for _, t := range bad {
		if _, dup := why[t.cell]; dup {
			why[t.cell] += fmt.Sprintf(", %s", troubleText(t.stalls, t.failed))
			continue
		}
		if len(cells) == defaultTimelines {
			left = append(left, "`"+t.cell.Label()+"`")
			continue
		}
		cells = append(cells, t.cell)
		why[t.cell] = troubleText(t.stalls, t.failed)
	}
	if len(left) > 0 {
		notes = append(notes, fmt.Sprintf("Timelines: %d more point(s) stalled or failed messages: %s (echobench report --timeline LABEL charts them)", len(left), strings.Join(left, ", ")))
	}
	if len(cells) == 0 && !a.anyTimeline() {
		notes = append(notes, "Timelines: no record of this run has its window in intervals (recorded before echobench recorded them)")
	}
	return cells, why, notes
}

func troubleText(stalls int, failed int64) string {
	var parts []string
	if stalls > 0 {
		parts = append(parts, fmt.Sprintf("stalled, up to %d intervals in a repeat", stalls))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed messages in its repeats with a timeline", failed))
	}
	return strings.Join(parts, ", ")
}

func (a *Analysis) cellHasTimeline(c Cell) bool {
	for _, p := range a.Aggregates {
		if p.Cell == c && slices.ContainsFunc(p.OK, hasTimeline) {
			return true
		}
	}
	return false
}

func (a *Analysis) anyTimeline() bool {
	for _, p := range a.Aggregates {
		if slices.ContainsFunc(p.OK, hasTimeline) {
			return true
		}
	}
	return false
}

// pickTimelineRecord is the repeat of p to show: the pinned one, else the
// one with the most stalled intervals, then the most failed messages (the
// trouble a reader came to see), else the one whose throughput is closest
// to the median (a typical window); the lowest repeat breaks ties. Nil
// when no repeat has a timeline.
func pickTimelineRecord(p *Aggregate, pinned *results.Record) *results.Record {
	var cands []*results.Record
	for _, r := range p.OK {
		if hasTimeline(r) {
			if r == pinned {
				return r
			}
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	med := p.ThroughputMsgsPerSec.Median
	slices.SortStableFunc(cands, func(x, y *results.Record) int {
		xs, xf := timelineTrouble(x)
		ys, yf := timelineTrouble(y)
		return cmp.Or(cmp.Compare(ys, xs), cmp.Compare(yf, xf),
			cmp.Compare(math.Abs(x.Load.ThroughputMsgsPerSec-med), math.Abs(y.Load.ThroughputMsgsPerSec-med)),
			cmp.Compare(x.Repeat, y.Repeat))
	})
	return cands[0]
}

// chartSlug makes a chart file stem of s: lower case letters, digits and
// dots, other runs as one '-'.
func chartSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// TimelineFacts says in words what a shown repeat's window held: its
// stalls, failed messages and highest interval p99.
func TimelineFacts(r *results.Record) string {
	l := r.Load
	var parts []string
	if s := l.Stalls(); len(s) > 0 {
		at, _ := l.IntervalSpan(s[0])
		parts = append(parts, fmt.Sprintf("stalled in %d interval(s) of %d ms, the first at %.1f s", len(s), l.IntervalMs, at))
	} else {
		parts = append(parts, "no stall")
	}
	if f := l.TimedOut + l.Errored + l.Corrupted; f > 0 {
		parts = append(parts, fmt.Sprintf("%d failed messages", f))
	}
	peak, at := 0.0, 0.0
	for i, iv := range l.Intervals {
		if iv.P99Us > peak {
			peak = iv.P99Us
			at, _ = l.IntervalSpan(i)
		}
	}
	if peak > 0 {
		parts = append(parts, fmt.Sprintf("interval p99 up to %s at %.1f s (whole window %s)", latencyLabel(peak), at, latencyLabel(l.LatencyUs.P99)))
	}
	return fmt.Sprintf("%s repeat %d: %s", r.Server.Name, r.Repeat, strings.Join(parts, "; "))
}

// latencyLabel is usLabel, in seconds from a second up.
func latencyLabel(us float64) string {
	if us >= 1e6 {
		return strconv.FormatFloat(us/1e6, 'g', 3, 64) + " s"
	}
	return usLabel(us)
}

// timelineFigures are the charts of the chosen timelines.
func (a *Analysis) timelineFigures() []*figure {
	var out []*figure
	for _, t := range a.Timelines {
		var rows [][]*plot.Plot
		var legend []string
		for _, r := range t.Records {
			rows = append(rows, a.timelineRow(r))
			legend = append(legend, r.Server.Name)
		}
		out = append(out, &figure{name: t.Name, title: "What happened during the window: " + t.Cell.Label(),
			caption: fmt.Sprintf("Charted because: %s. ", t.Why) + timelineCaption,
			plots:   rows, rowHeight: 2.3 * vg.Inch, legend: legend})
	}
	return out
}

const timelineCaption = "One row per model, one repeat each (named in the row): the one picked with --timeline, else the repeat with the most stalled intervals, then the most failed messages, else the one closest to the median throughput. " +
	"Each message counts in the interval in which it finished (those that finished in the drain after the window are left out). " +
	"× marks a stall: an interval in which no message completed while some were outstanding. The p99 of each interval comes from a log histogram (≈4%); the dashed line is the whole window's p99. " +
	"Server CPU comes from /proc readings every 50 ms spread over the intervals they span; the kernel counts CPU in 10 ms ticks, so a 100 ms interval reads to about 0.1 CPU."

// timelineRow is one repeat's panels: messages per second, p99 and server
// CPU per interval.
func (a *Analysis) timelineRow(r *results.Record) []*plot.Plot {
	l := r.Load
	col, _ := a.modelStyle(r.Server.Name)
	const x = "seconds into the window"
	thr := newPlot(fmt.Sprintf("%s, repeat %d: msgs/s per %d ms", r.Server.Name, r.Repeat, l.IntervalMs), x, "msgs/s")
	lat := newPlot("p99 latency per interval", x, "p99 (µs)")
	cpu := newPlot("server CPU: user + sys (sys dashed)", x, "CPUs")
	var done, failed, p99, stalls plotter.XYs
	anyFailed := false
	for i, iv := range l.Intervals {
		start, w := l.IntervalSpan(i)
		if w <= 0 {
			continue
		}
		mid := start + w/2
		done = append(done, plotter.XY{X: mid, Y: float64(iv.Completed) / w})
		failed = append(failed, plotter.XY{X: mid, Y: float64(iv.Failed()) / w})
		anyFailed = anyFailed || iv.Failed() > 0
		if iv.P99Us > 0 {
			p99 = append(p99, plotter.XY{X: mid, Y: iv.P99Us})
		}
	}
	for _, i := range l.Stalls() {
		start, w := l.IntervalSpan(i)
		stalls = append(stalls, plotter.XY{X: start + w/2, Y: 0})
	}
	addLine(thr, done, col, false, "completed")
	if anyFailed {
		addLine(thr, failed, failColor, false, "failed")
	}
	addMarks(thr, stalls, "stall")
	if len(p99) > 0 {
		addLine(lat, p99, col, false, "")
		if l.LatencyUs.P99 > 0 {
			_ = hline(lat, l.LatencyUs.P99, "window p99 "+latencyLabel(l.LatencyUs.P99)) // never fails
		}
		// A spike of 10× or more reads on a log scale; steady noise on
		// a linear one from 0, where it looks as small as it is.
		if lo, hi := yRange(p99); hi >= 10*lo {
			setLogY(lat)
		}
	}
	a.cpuTimelinePanel(cpu, r, col)
	for _, p := range []*plot.Plot{thr, lat, cpu} {
		p.X.Min, p.X.Max = 0, l.DurationS
		p.Legend.Top = true
		if _, log := p.Y.Scale.(plot.LogScale); !log {
			// Room above the lines for the legend.
			p.Y.Min, p.Y.Max = 0, p.Y.Max*1.3
		}
	}
	return []*plot.Plot{thr, lat, cpu}
}

// yRange is the smallest and largest Y of xys.
func yRange(xys plotter.XYs) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, xy := range xys {
		lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
	}
	return lo, hi
}

// cpuTimelinePanel draws the server's CPU per interval in CPUs: user + sys
// solid, sys dashed.
func (a *Analysis) cpuTimelinePanel(p *plot.Plot, r *results.Record, col color.RGBA) {
	if r.ServerStats == nil || len(r.ServerStats.Intervals) == 0 {
		p.Title.Text = "server CPU: not recorded"
		return
	}
	var total, sys plotter.XYs
	for i, iv := range r.ServerStats.Intervals {
		start, w := r.Load.IntervalSpan(i)
		if w <= 0 {
			continue
		}
		total = append(total, plotter.XY{X: start + w/2, Y: (iv.CPUUserS + iv.CPUSysS) / w})
		sys = append(sys, plotter.XY{X: start + w/2, Y: iv.CPUSysS / w})
	}
	addLine(p, total, col, false, "")
	addLine(p, sys, col, true, "")
}

// failColor draws failed messages: dark red, apart from every model.
var failColor = color.RGBA{0xB0, 0x00, 0x20, 0xff}

// addLine adds a line to p, with a legend entry when label is set.
func addLine(p *plot.Plot, xys plotter.XYs, col color.RGBA, dashed bool, label string) {
	if len(xys) == 0 {
		return
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return // NaN or Inf: nothing a reader could use
	}
	line.Color, line.Width = col, vg.Points(1.3)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	}
	p.Add(line)
	if label != "" {
		p.Legend.Add(label, line)
	}
}

// addMarks adds red crosses at xys, with a legend entry.
func addMarks(p *plot.Plot, xys plotter.XYs, label string) {
	if len(xys) == 0 {
		return
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: failColor, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
	p.Add(sc)
	p.Legend.Add(label, sc)
}
