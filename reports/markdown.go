package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// WriteSummary writes summary.md: the recommendation, what was not measured
// or not ranked, and the evidence tables, short enough for a pull request.
func WriteSummary(w io.Writer, a *Analysis) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# echobench: which server model to pick\n\n")
	fmt.Fprintf(&b, "Run `%s` · %d records · %s\n\n", a.runID(), len(a.Run.Records), a.EnvLine())
	writeVerdictMD(&b, a)

	b.WriteString("## Recommendation\n\n")
	b.WriteString("| Workload | Pick | Why |\n|---|---|---|\n")
	for _, c := range a.Classes {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, mdPick(c), mdEscape(mdWhy(c)))
	}
	fmt.Fprintf(&b, "\nA model is named only where it is significantly better (Mann–Whitney U, α=%.2f, over repeats); models not significantly different from the best tie. "+
		"A difference needs ≥%d repeats per model, a 95%% CI ≥%d. Client-limited repeats (load generator saturated, server not) are left out; failed, wholly client-limited and rate-not-met points are never ranked.\n\n",
		stat.Alpha, stat.MinForDifference, stat.MinForCI)

	b.WriteString("### Which points fed each workload\n\n| Workload | Rule | Points |\n|---|---|---|\n")
	for _, c := range a.Classes {
		var pts []string
		for _, v := range c.Cells {
			// A class that compares several statistics has a verdict per
			// statistic at one point: the point is listed once.
			if pt := "`" + v.Cell.Label() + "`"; !slices.Contains(pts, pt) {
				pts = append(pts, pt)
			}
		}
		if len(pts) == 0 {
			pts = []string{"none in this run"}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, mdEscape(c.Rule), strings.Join(pts, ", "))
	}

	if len(a.Skipped) > 0 {
		b.WriteString("\n## Not measured (skipped)\n\n")
		for _, r := range a.Skipped {
			fmt.Fprintf(&b, "- **%s**: %s\n", r.Server.Name, orDash(r.Error))
		}
	}
	if n := a.unrankedAggregates(); len(n) > 0 {
		b.WriteString("\n## Not ranked\n\n")
		for _, p := range n {
			fmt.Fprintf(&b, "- %s: %s\n", p.Key(), p.Unranked)
		}
	}
	if n := a.unstableAggregates(); len(n) > 0 {
		b.WriteString("\n## Unstable measurements\n\n")
		for _, p := range n {
			fmt.Fprintf(&b, "- %s: %s\n", p.Key(), p.Unstable())
		}
	}
	if len(a.Failed) > 0 {
		b.WriteString("\n## Failed points\n\n")
		for _, r := range a.Failed {
			fmt.Fprintf(&b, "- %s (repeat %d): %s%s\n", r.Server.Name+" / "+cellOf(r).Label(), r.Repeat, mdEscape(orDash(r.Error)), stderrHint(r))
		}
	}
	if len(a.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, wn := range a.Warnings {
			fmt.Fprintf(&b, "- %s\n", mdEscape(wn))
		}
	}

	b.WriteString("\n## Closed-loop throughput (msgs/s, median and 95% CI over repeats)\n\n")
	scs := a.Cells(func(s Cell) bool { return s.Kind == results.KindClosed })
	models := a.chartModels()
	if len(scs) == 0 {
		b.WriteString("No closed-loop point in this run.\n")
	} else {
		b.WriteString("| Point | " + strings.Join(models, " | ") + " |\n|---|" + strings.Repeat("---:|", len(models)) + "\n")
		for _, sc := range scs {
			fmt.Fprintf(&b, "| `%s` |", sc.Label())
			for _, m := range models {
				p := a.AggregateAt(m, sc)
				fmt.Fprintf(&b, " %s%s |", cellMD(p), a.vsBaselineMD(p))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n† not ranked (see above). n = repeats; no CI below 6 repeats. " + a.BaselineNote() + "\n")
	}
	writeSLOMD(&b, a)
	writeTimelinesMD(&b, a)
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

func mdPick(c ClassResult) string {
	switch c.Status {
	case StatusPick:
		return "**" + c.Pick[0] + "**"
	case StatusTie:
		return "tie: **" + strings.Join(c.Pick, "**, **") + "**"
	}
	return c.Headline
}

// mdWhy is the class's evidence, after its advice (in italics) when it has
// one.
func mdWhy(c ClassResult) string {
	if c.Advice == "" {
		return c.Why
	}
	return "*" + c.Advice + "* " + c.Why
}

func cellMD(p *Aggregate) string {
	if p == nil {
		return ""
	}
	if p.ThroughputMsgsPerSec.N == 0 {
		return "failed†"
	}
	s := fmt.Sprintf("%s %s n=%d", num(p.ThroughputMsgsPerSec.Median), p.ThroughputMsgsPerSec.CIString(), p.ThroughputMsgsPerSec.N)
	if p.Unranked != "" {
		s += "†"
	}
	return s
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func stderrHint(r *results.Record) string {
	t := strings.TrimSpace(r.StderrTail)
	if t == "" {
		return ""
	}
	lines := strings.Split(t, "\n")
	return " — stderr: `" + strings.ReplaceAll(lines[len(lines)-1], "`", "'") + "`"
}

// unrankedAggregates lists the points that may not be ranked.
func (a *Analysis) unrankedAggregates() []*Aggregate {
	var out []*Aggregate
	for _, p := range a.Aggregates {
		if p.Unranked != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeSLOMD writes the SLO rates: the objective, a table and the chart.
func writeSLOMD(b *strings.Builder, a *Analysis) {
	b.WriteString("\n## Highest rate within the SLO\n\n")
	rates := a.SLORates()
	if len(rates) == 0 {
		b.WriteString("The run has no open-loop sweep or SLO search.\n")
		return
	}
	fmt.Fprintf(b, "Objective: %s. Per repeat, the highest offered rate that held it (sweep and SLO-search points together; a miss below a success is noise), as `echobench run` prints it; median, 95%% CI and n over repeats.\n\n", a.SLOObjective())
	b.WriteString("| Open-loop point | Model | msgs/s held | 95% CI | n | of capacity | Note |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rates {
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %d | %s | %s |\n", r.Group.Label(), r.Model, num(r.Rate.Median), r.Rate.CIString(), r.Rate.N, shareLabel(r), mdEscape(r.Note))
	}
	b.WriteString("\n![Highest rate within the SLO](charts/slo.svg)\n")
}

// writeTimelinesMD lists the charted timelines with what each repeat's
// window held.
func writeTimelinesMD(b *strings.Builder, a *Analysis) {
	b.WriteString("\n## What happened during the window\n\n")
	if len(a.Timelines) == 0 {
		b.WriteString("No point is charted.\n")
	}
	for _, t := range a.Timelines {
		fmt.Fprintf(b, "- `%s` (%s): [charts/%s.svg](charts/%s.svg)\n", t.Cell.Label(), mdEscape(t.Why), t.Name, t.Name)
		for _, r := range t.Records {
			fmt.Fprintf(b, "  - %s\n", mdEscape(TimelineFacts(r)))
		}
	}
	for _, n := range a.TimelineNotes {
		fmt.Fprintf(b, "\n%s\n", mdEscape(n))
	}
}
