package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

	"echobench/reports"
)

func init() {
	register("compare", command{summary: "compare two runs point by point, like benchstat", run: runCompare})
}

const compareUsage = `Usage: echobench compare OLD NEW [--fail-on-regression PCT]

Prints, for every point in both runs, the old and new median with its 95%
confidence interval, the change, and whether it is significant (Mann–Whitney
U test, α=0.05, as benchstat): "~" when it is not. OLD and NEW are run
directories, results.jsonl files, or directories of runs (meaning the newest
run in each). Every difference between the two runs' environments (CPU,
kernel, governor, SMT, huge pages, echobench commit, versions, ...) is
warned about on stderr: it may explain a change. Exit status 0 whatever the differences, unless
--fail-on-regression is given: then 1 when any figure is significantly worse
by more than that percentage (throughput, p99, SLO rate, CPU per message or
memory per connection; each is listed), 0 otherwise.

Examples:
  echobench compare results/before results/after
  echobench compare baseline/results.jsonl results
  echobench compare baseline results --fail-on-regression 5%

`

func runCompare(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), compareUsage)
		fs.PrintDefaults()
	}
	gate := fs.String("fail-on-regression", "", "exit 1 when any figure is significantly worse by more than this `percentage`, e.g. 5%")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	threshold := -1.0 // no gate
	if *gate != "" {
		if threshold, err = reports.ParseThreshold(*gate); err != nil {
			return usagef("compare: --fail-on-regression: %v", err)
		}
	}
	switch len(pos) {
	case 2:
	case 0:
		return usagef("compare: missing OLD")
	default:
		return usagef("compare: want OLD and NEW, got %d arguments", len(pos))
	}
	var an [2]*reports.Analysis
	for i, p := range pos {
		file, err := reports.ResolveRun(p, false)
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		run, err := reports.ReadRun(file)
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		if an[i], err = reports.Analyze(run, reports.Options{}); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	for _, d := range reports.EnvDifferences(an[0], an[1]) {
		fmt.Fprintf(stderr, "echobench compare: warning: the runs' environments differ: %s\n", d)
	}
	if err := reports.CompareRuns(stdout, an[0], an[1]); err != nil || threshold < 0 {
		return err
	}
	return gateRuns(stdout, an[0], an[1], threshold)
}

// gateRuns lists the regressions beyond threshold and fails when there is
// one, so a CI job can stop on it.
func gateRuns(stdout io.Writer, old, new *reports.Analysis, threshold float64) error {
	regs := reports.Regressions(old, new, threshold)
	if err := reports.WriteRegressions(stdout, regs, threshold); err != nil {
		return err
	}
	if len(regs) > 0 {
		return fmt.Errorf("compare: %d regression(s) beyond --fail-on-regression %s", len(regs), strconv.FormatFloat(100*threshold, 'g', -1, 64)+"%")
	}
	return nil
}
