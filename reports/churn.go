package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// Short-lived connections: points with a connection lifetime (a connection
// closes after N messages and a new one takes its place) make the accept
// path and per-connection set-up the workload. They have a class of their
// own, ranked like the others (Mann-Whitney on the repeats), and a chart of
// connects per second and connect latency per model. Kept in this file so
// the rest of the report only calls into it.

// churnLabel names the churn dimensions of a cell: " life=1", " +2000
// burst"; empty for a point without churn, so existing labels are kept.
func (s Cell) churnLabel() string {
	var b string
	if s.ConnLifetime > 0 {
		b += fmt.Sprintf(" life=%d", s.ConnLifetime)
	}
	if s.ConnectBurst > 0 {
		b += fmt.Sprintf(" +%d burst", s.ConnectBurst)
	}
	return b
}

// churnCell: a closed-loop point whose connections have a lifetime, with
// nothing else beside them.
func churnCell(s Cell) bool {
	return s.Kind == results.KindClosed && s.ConnLifetime > 0 && s.IdleConns == 0 && s.SlowReaders == 0 && s.ConnectBurst == 0
}

// summarizeConnects computes the connect summaries over the repeats the
// performance summaries use: those not client-limited, or all of them when
// every one was (limitedOnly).
func (p *Aggregate) summarizeConnects(limitedOnly bool) {
	var perSec, connectP99, firstByteP99 []float64
	for _, r := range p.OK {
		c := r.Load.Connects
		if c == nil || (clientLimited(r) && !limitedOnly) {
			continue
		}
		perSec = append(perSec, c.ConnectsPerSec)
		if c.Established > 0 {
			connectP99 = append(connectP99, c.ConnectUs.P99)
			firstByteP99 = append(firstByteP99, c.FirstByteUs.P99)
		}
	}
	p.ConnectsPerSec = stat.Summarize(perSec)
	p.ConnectP99Us = stat.Summarize(connectP99)
	p.FirstByteP99Us = stat.Summarize(firstByteP99)
}

// churnClassDefs are the short-lived connection classes: throughput (at
// lifetime 1 one message per connection, so it is the connect rate the
// server sustains) and the latency to the first echoed byte, which holds
// the server's accept path (SYN to established alone is the kernel's).
func churnClassDefs(a *Analysis) []classDef {
	cells := a.Cells(churnCell)
	return []classDef{
		{Class{"churn", "Short-lived connections",
			"closed loop, points with a connection lifetime (each connection closes after N messages and a new one takes its place); throughput", "throughput", "msgs/s", true,
			"if your clients connect per request, pick from the top here, not from the steady-state classes: the accept path decides"},
			cells, throughputSample},
		{Class{"churn-connect", "Short-lived connections: connect latency",
			"the same points; p99 from connect(2) to the first echoed byte of a new connection (the server's accept path and first echo)", "connect-to-first-byte p99", "µs", false,
			"for health checks and serverless callers that pay a connect per request, this is the latency they see"},
			cells, firstByteSample},
	}
}

func firstByteSample(a *Analysis, model string, sc Cell) (stat.Summary, string, bool) {
	p := a.AggregateAt(model, sc)
	if p == nil || p.FirstByteP99Us.N == 0 {
		return stat.Summary{}, "", false
	}
	return p.FirstByteP99Us, p.Unranked, true
}

// churnGroups are the churn cells grouped by everything but the lifetime:
// one row of the chart each, lifetimes ascending along x.
func (a *Analysis) churnGroups() [][]Cell {
	var keys []Cell
	groups := map[Cell][]Cell{}
	for _, s := range a.Cells(churnCell) {
		k := s
		k.ConnLifetime = 0
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	slices.SortFunc(keys, compareCells)
	out := make([][]Cell, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, func(x, y Cell) int { return x.ConnLifetime - y.ConnLifetime })
		out = append(out, g)
	}
	return out
}

// churnLine is one model's figure over a group's lifetimes.
func (a *Analysis) churnLine(model string, scs []Cell, pick func(*Aggregate) stat.Summary) (xys plotter.XYs, lo, hi []float64, flagged []bool) {
	for _, sc := range scs {
		p := a.AggregateAt(model, sc)
		if p == nil {
			continue
		}
		s := pick(p)
		if s.N == 0 || s.Median <= 0 {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(sc.ConnLifetime), Y: s.Median})
		lo = append(lo, s.Lo)
		hi = append(hi, s.Hi)
		flagged = append(flagged, p.Unranked != "")
	}
	return xys, lo, hi, flagged
}

// setLifetimeX puts the lifetimes of scs on a log x axis.
func setLifetimeX(p *plot.Plot, scs []Cell) {
	var v []float64
	for _, s := range scs {
		v = append(v, float64(s.ConnLifetime))
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = valueTicks(v, intLabel)
	p.X.Label.Text = "messages per connection (log scale)"
	p.X.Min, p.X.Max = v[0]/1.4, v[len(v)-1]*1.4
}

// churnFigure: per group of churn cells, connects per second and connect
// p99 (to established, and to the first echoed byte) per model, against
// the connection lifetime.
func (a *Analysis) churnFigure() (*figure, string) {
	panels := []struct {
		title, ylabel string
		pick          func(*Aggregate) stat.Summary
		logY          bool
	}{
		{"connects/s", "connects/s", func(p *Aggregate) stat.Summary { return p.ConnectsPerSec }, false},
		{"connect p99 to established", "µs (log scale)", func(p *Aggregate) stat.Summary { return p.ConnectP99Us }, true},
		{"connect p99 to first byte", "µs (log scale)", func(p *Aggregate) stat.Summary { return p.FirstByteP99Us }, true},
	}
	var rows [][]*plot.Plot
	for _, g := range a.churnGroups() {
		var row []*plot.Plot
		for _, pn := range panels {
			p := newPlot(fmt.Sprintf("%s, c=%d %s", pn.title, g[0].Conns, sizeLabel(g[0].SizeBytes)), "", pn.ylabel)
			any := false
			for _, m := range a.Models {
				xys, lo, hi, fl := a.churnLine(m, g, pn.pick)
				any = any || len(xys) > 0
				if err := a.series(p, m, xys, lo, hi, fl, false); err != nil {
					return nil, err.Error()
				}
			}
			if !any {
				continue
			}
			setLifetimeX(p, g)
			if pn.logY {
				setLogY(p)
			} else {
				p.Y.Min = 0
			}
			row = append(row, p)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, "Short-lived connections: the run has no point with a connection lifetime (conn_lifetime)."
	}
	return &figure{name: "churn", title: "Short-lived connections: connects per second and connect p99 per model, against the connection lifetime",
		caption: "Each connection closes after its N-th message and a new one takes its place. Connect latency runs from connect(2) to the client seeing the connection established (the kernel's handshake), and to the first echoed byte (the server's accept path and first echo); p99 per repeat, median across repeats. " + errBarNote,
		plots:   rows, rowHeight: 3 * vg.Inch}, ""
}

// burstNote is a sentence on the connect bursts of the run for the
// short-lived class, empty without any: the slowest burst per model and
// what was refused or reset.
func burstNote(a *Analysis) string {
	var parts []string
	for _, m := range a.Models {
		var worstS float64
		var conns, failed int64
		for _, p := range a.Aggregates {
			if p.Server != m {
				continue
			}
			for _, r := range p.OK {
				if b := r.Load.Burst; b != nil {
					worstS = math.Max(worstS, b.DurationS)
					conns += b.Conns
					failed += b.Failed.Total() + b.EchoFailed
				}
			}
		}
		if conns > 0 {
			parts = append(parts, fmt.Sprintf("%s served its slowest burst in %.3f s (%d of %d burst connections failed)", m, worstS, failed, conns))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := " Connect bursts: "
	for i, p := range parts {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s + "."
}

// churnCSVHeader are results.csv's churn columns, appended after the
// others so existing column positions hold: the scenario's lifetime and
// burst, the active connections' connects (load.connects) and the burst
// (load.burst). Empty where a record has none.
var churnCSVHeader = []string{
	"conn_lifetime", "connect_burst",
	"connects", "connects_per_s", "connect_p50_us", "connect_p99_us", "first_byte_p50_us", "first_byte_p99_us",
	"connect_refused", "connect_reset", "connect_timed_out", "connect_ports_exhausted", "connect_other_failed",
	"burst_echoed", "burst_duration_s", "burst_connect_p99_us", "burst_first_byte_p99_us", "burst_connect_failed", "burst_echo_failed",
}

// churnCSVRow is r's churn columns.
func churnCSVRow(r *results.Record) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := []string{strconv.Itoa(r.Scenario.ConnLifetime), strconv.Itoa(r.Scenario.ConnectBurst)}
	var c *results.Connects
	var b *results.Burst
	if r.Load != nil {
		c, b = r.Load.Connects, r.Load.Burst
	}
	if c != nil {
		row = append(row, i64(c.Established), f(c.ConnectsPerSec), f(c.ConnectUs.P50), f(c.ConnectUs.P99), f(c.FirstByteUs.P50), f(c.FirstByteUs.P99),
			i64(c.Failed.Refused), i64(c.Failed.Reset), i64(c.Failed.TimedOut), i64(c.Failed.PortsExhausted), i64(c.Failed.Other))
	} else {
		row = append(row, make([]string, 11)...)
	}
	if b != nil {
		row = append(row, i64(b.Echoed), f(b.DurationS), f(b.ConnectUs.P99), f(b.FirstByteUs.P99), i64(b.Failed.Total()), i64(b.EchoFailed))
	} else {
		row = append(row, make([]string, 6)...)
	}
	return row
}
