package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"echobench/bench/netns"
)

// Cleanup removes what killed runs left of their networks (`echobench
// cleanup`): for every run directory under resultsDir, or only runID, that
// holds a network state file and whose run is over, the namespaces the
// file records, then the file. A run is over when its directory's lock is
// free (the kernel drops it when the holder exits, however it exits); a run
// still going is left alone and reported. Nothing the state files do not
// record is touched. One line per run goes to out. run nil means
// netns.Exec.
func Cleanup(ctx context.Context, resultsDir, runID string, run netns.Runner, out io.Writer) error {
	if run == nil {
		run = netns.Exec{}
	}
	ids, err := cleanupCandidates(resultsDir, runID)
	if err != nil {
		return err
	}
	var errs []error
	found := 0
	for _, id := range ids {
		dir := filepath.Join(resultsDir, id)
		state := filepath.Join(dir, netns.StateFile)
		if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
			continue
		}
		found++
		if err := cleanupRun(ctx, run, id, dir, out); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", id, err))
		}
	}
	if found == 0 {
		where := resultsDir
		if runID != "" {
			where = filepath.Join(resultsDir, runID)
		}
		fmt.Fprintf(out, "nothing to clean up: no network state file (%s) in %s\n", netns.StateFile, where)
	}
	return errors.Join(errs...)
}

// cleanupCandidates lists the run IDs to look at.
func cleanupCandidates(resultsDir, runID string) ([]string, error) {
	if runID != "" {
		if !validRunID(runID) {
			return nil, &OptionError{fmt.Sprintf("%q is not a run ID (e.g. 20261127-151500)", runID)}
		}
		if _, err := os.Stat(filepath.Join(resultsDir, runID)); err != nil {
			return nil, fmt.Errorf("run %s: %w", runID, err)
		}
		return []string{runID}, nil
	}
	ents, err := os.ReadDir(resultsDir)
	if err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validRunID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// cleanupRun removes one run's leftovers while holding its lock, so that a
// resume cannot start creating namespaces meanwhile.
func cleanupRun(ctx context.Context, run netns.Runner, id, dir string, out io.Writer) error {
	lock, err := lockRun(dir)
	if err != nil {
		fmt.Fprintf(out, "run %s: left alone: %v\n", id, err)
		return nil
	}
	defer lock.release()
	removed, err := netns.RemoveStateFile(ctx, run, filepath.Join(dir, netns.StateFile))
	if len(removed) > 0 {
		fmt.Fprintf(out, "run %s: removed namespaces %s\n", id, strings.Join(removed, ", "))
	}
	if err != nil {
		return err
	}
	if len(removed) == 0 {
		fmt.Fprintf(out, "run %s: its namespaces were already gone; removed its state file\n", id)
	}
	return nil
}
