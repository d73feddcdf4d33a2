package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"echobench/bench"
)

func init() {
	register("cleanup", command{summary: "remove the network namespaces a killed run left behind", run: runCleanup})
}

const cleanupUsage = `Usage: echobench cleanup [--results DIR] [RUN_ID]

A run with network = "netns" writes DIR/RUN_ID/netns.json before it creates
its network namespaces, and removes both when it ends, after Ctrl-C and on
an error. A run killed with SIGKILL (or a crashed machine) leaves them: this
removes, for every run under DIR (or only RUN_ID) whose process is gone, the
namespaces its netns.json records (their veth pairs and qdiscs go with
them), then the file. A run still going is left alone. Nothing a state file
does not record is touched. Needs root, as the run did.

Exit status: 0 nothing left (or nothing to do), 1 something could not be
removed (the state file stays, so a later cleanup tries again), 2 usage error.

Examples:
  echobench cleanup
  echobench cleanup --results /tmp/res 20261127-151500

Flags:
`

func runCleanup(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "results", "`directory` holding one directory per run")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), cleanupUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	runID := ""
	switch len(pos) {
	case 0:
	case 1:
		runID = pos[0]
	default:
		return usagef("cleanup: unexpected arguments %q", pos[1:])
	}
	err = bench.Cleanup(context.Background(), *results, runID, nil, stdout)
	var oe *bench.OptionError
	switch {
	case errors.As(err, &oe):
		return usagef("cleanup: %s", oe.Msg)
	case err != nil:
		return fmt.Errorf("cleanup: %w", err)
	}
	return nil
}
