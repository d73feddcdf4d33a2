package reports

import (
	"fmt"
	"io"
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
			pts = append(pts, "`"+v.Cell.Label()+"`")
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
