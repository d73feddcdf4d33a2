package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"echobench/reports"
)

func init() {
	register("report", command{summary: "write charts, index.html, summary.md and results.csv from a run", run: runReport})
}

const reportUsage = `Usage: echobench report RESULTS [--latest] [--out DIR] [flags]

Reads a results file (never runs load) and writes, into the run
directory or --out DIR:
  index.html   one self-contained page: what to pick per workload, charts,
               tables, environment, failed and skipped points
  summary.md   the recommendation and tables, short enough for a pull request
  results.csv  one row per record, flat columns
  charts/      every chart as PNG and SVG

RESULTS is a run directory (its results.jsonl), a results file of any name
(that file; the report goes beside it), or a directory of runs (e.g.
results/), meaning its newest run; --latest picks the newest run under RESULTS
even when RESULTS itself holds a results file.

Examples:
  echobench report results/20261101T120000Z
  echobench report results --latest
  echobench report results/run1 --out /tmp/report --slo-p99 1ms
  echobench report results/run1 --timeline 'closed c=1000 64B d=1,r2/epoll/closed/c64-s64-d1'

Flags:
`

func runReport(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	latest := fs.Bool("latest", false, "use the newest run directory under RESULTS")
	out := fs.String("out", "", "write the report into `DIR` instead of the run directory")
	slo := fs.Duration("slo-p99", 0, "p99 `latency` an open-loop point must stay under to hold its load (default: the run's objective, else 2ms)")
	sloCompletion := fs.Float64("slo-completion", 0, "completion `ratio` an open-loop point must reach to hold its load (default: the run's objective, else 0.999)")
	png := fs.Bool("png", true, "also write every chart as PNG (the slowest part; the HTML embeds SVG)")
	spectrum := fs.String("spectrum", "", "point `label` of the percentile-spectrum chart, as in the report's tables (default: most connections, smallest size)")
	var timeline pointList
	fs.Var(&timeline, "timeline", "`POINTS` whose window to chart in 100 ms intervals, comma-separated: point_ids (as in results.csv; that repeat is shown) or point labels (as in the report's tables) (default: the headline point and the worst points with stalls or failures)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("report: missing RESULTS")
	case len(pos) > 1:
		return usagef("report: unexpected arguments %q", pos[1:])
	}
	path := pos[0]
	if *slo < 0 {
		return usagef("report: --slo-p99 must be positive, got %v", *slo)
	}
	if !(*sloCompletion >= 0 && *sloCompletion <= 1) { // NaN too: it would never converge
		return usagef("report: --slo-completion must be in (0, 1], got %v", *sloCompletion)
	}
	file, err := reports.ResolveRun(path, *latest)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	run, err := reports.ReadRun(file)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	a, err := reports.Analyze(run, reports.Options{
		SLOP99Us: float64(slo.Microseconds()), SLOCompletion: *sloCompletion, SpectrumPoint: *spectrum,
		TimelinePoints: timeline,
	})
	if errors.Is(err, reports.ErrUnknownPoint) {
		return usagef("report: --timeline: %v", err)
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if *out == "" {
		*out = filepath.Dir(file)
	}
	w, err := reports.Write(a, *out, reports.WriteOptions{SkipPNG: !*png})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if run.Duplicates > 0 {
		fmt.Fprintf(stderr, "report: %s repeats %d records line for line; each was counted once\n", run.Path, run.Duplicates)
	}
	if run.TornTail {
		fmt.Fprintf(stderr, "report: %s ends with a partial line (interrupted run); it was ignored\n", run.Path)
	}
	for _, n := range w.ChartNotes {
		fmt.Fprintf(stderr, "report: chart not drawn: %s\n", n)
	}
	fmt.Fprintf(stdout, "report for %s (%d records)\n", run.Path, len(run.Records))
	for _, c := range a.Classes {
		fmt.Fprintf(stdout, "  %-34s %s\n", c.Name+":", c.Headline)
	}
	fmt.Fprintf(stdout, "wrote %s\n      %s\n      %s\n      %s/ (%d files)\n", w.Index, w.Summary, w.CSV, w.Charts, len(w.ChartFiles))
	return nil
}

// pointList is a flag of comma-separated point names; it may be repeated.
type pointList []string

func (p *pointList) String() string { return strings.Join(*p, ",") }

func (p *pointList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return errors.New("an empty point name")
		}
		*p = append(*p, s)
	}
	return nil
}
