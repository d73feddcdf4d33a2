package main

import (
	"flag"
	"fmt"
	"io"

	"echobench/reports"
)

func init() {
	register("compare", command{summary: "compare two runs point by point, like benchstat", run: runCompare})
}

const compareUsage = `Usage: echobench compare OLD NEW

Prints, for every point in both runs, the old and new median with its 95%
confidence interval, the change, and whether it is significant (Mann–Whitney
U test, α=0.05, as benchstat): "~" when it is not. OLD and NEW are run
directories, results.jsonl files, or directories of runs (meaning the newest
run in each). Exit status 0 whatever the differences.

Examples:
  echobench compare results/before results/after
  echobench compare baseline/results.jsonl results

`

func runCompare(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), compareUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
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
	return reports.CompareRuns(stdout, an[0], an[1])
}
