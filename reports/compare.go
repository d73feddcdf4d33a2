package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"echobench/reports/stat"
)

// CompareRuns prints, like benchstat, every point present in both runs: old
// and new median with their CI, the change, and the evidence. The change is
// "~" where the difference is not significant, and the verdict says when
// there are too few repeats to claim one. Differences between the runs'
// environments are the caller's to report (EnvDifferences): a command
// prints them on stderr.
func CompareRuns(w io.Writer, old, new *Analysis) error {
	var b strings.Builder
	fmt.Fprintf(&b, "old: %s\nnew: %s\n", old.Run.Path, new.Run.Path)
	metrics := []struct {
		title string
		keep  func(Cell) bool
		get   func(*Aggregate) stat.Summary
	}{
		{"throughput (msgs/s), closed loop", func(s Cell) bool { return s.Mode != "open" }, func(p *Aggregate) stat.Summary { return p.ThroughputMsgsPerSec }},
		{"p99 latency (µs)", func(Cell) bool { return true }, func(p *Aggregate) stat.Summary { return p.P99Us }},
		{"completion ratio, open loop", func(s Cell) bool { return s.Mode == "open" }, func(p *Aggregate) stat.Summary { return p.CompletionRatio }},
	}
	newIdx := map[string]*Aggregate{}
	for _, p := range new.Aggregates {
		newIdx[p.Key()] = p
	}
	oldIdx := map[string]bool{}
	for _, p := range old.Aggregates {
		oldIdx[p.Key()] = true
	}
	for _, m := range metrics {
		var rows []string
		for _, op := range old.Aggregates {
			np := newIdx[op.Key()]
			if np == nil || !m.keep(op.Cell) {
				continue
			}
			so, sn := m.get(op), m.get(np)
			if so.N == 0 && sn.N == 0 {
				continue
			}
			c := stat.Compare(so, sn)
			verdict := c.String()
			if c.Verdict == stat.TooFew {
				verdict += " (too few repeats to claim)"
			}
			flags := flagNote(op, np)
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s%s", op.Server, op.Cell.Label(),
				num(so.Median), so.CIString(), num(sn.Median), sn.CIString(), c.DeltaString()+"\t"+verdict, flags))
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n", m.title)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "model\tpoint\told\t±\tnew\t±\tchange\tevidence")
		for _, r := range rows {
			fmt.Fprintln(tw, r)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	var onlyOld, onlyNew []string
	for _, p := range old.Aggregates {
		if newIdx[p.Key()] == nil {
			onlyOld = append(onlyOld, p.Key())
		}
	}
	for _, p := range new.Aggregates {
		if !oldIdx[p.Key()] {
			onlyNew = append(onlyNew, p.Key())
		}
	}
	if len(onlyOld) > 0 {
		fmt.Fprintf(&b, "\nonly in old: %s\n", strings.Join(onlyOld, "; "))
	}
	if len(onlyNew) > 0 {
		fmt.Fprintf(&b, "\nonly in new: %s\n", strings.Join(onlyNew, "; "))
	}
	fmt.Fprintf(&b, "\nchange is (new-old)/old of the medians; ~ means not significant (Mann–Whitney U, α=%.2f). A difference needs ≥%d repeats per side.\n", stat.Alpha, stat.MinForDifference)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}

func flagNote(op, np *Aggregate) string {
	var f []string
	if op.Unranked != "" {
		f = append(f, "old "+op.Unranked)
	}
	if np.Unranked != "" {
		f = append(f, "new "+np.Unranked)
	}
	if len(f) == 0 {
		return ""
	}
	return "\t[" + strings.Join(f, "; ") + "]"
}
