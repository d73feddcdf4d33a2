// Package reports turns a results.jsonl file into the evidence a user needs to
// pick a server model: statistics across repeats, charts, an HTML report, a
// Markdown summary, a CSV file, and a recommendation per workload class. It
// only reads results; it never runs load.
package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"echobench/internal/results"
)

// Run is one results file, read.
type Run struct {
	// Path is the results file, in the run directory.
	Path    string
	Records []results.Record
	// TornTail is true when the file ended with a partial line (the writer
	// died mid-record); the line is ignored and the report says so.
	TornTail bool
	// Duplicates counts lines that repeated an earlier record exactly:
	// dropped, never counted as repeats, and reported.
	Duplicates int
}

// ResolveRun finds the results file a user meant by path: a results file
// (whatever its name: that file, not its directory's results.jsonl), a run
// directory holding results.jsonl, or a parent directory, meaning its newest
// run (by the results file's modification time, then by name). latest forces
// the last reading even when path itself holds a results file.
func ResolveRun(path string, latest bool) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("resolve run: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	if !latest {
		if p := filepath.Join(path, results.FileName); fileExists(p) {
			return p, nil
		}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("resolve run: %w", err)
	}
	type cand struct {
		dir  string
		mod  int64
		name string
	}
	var cands []cand
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(path, e.Name())
		fi, err := os.Stat(filepath.Join(dir, results.FileName))
		if err != nil {
			continue
		}
		cands = append(cands, cand{dir, fi.ModTime().UnixNano(), e.Name()})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("resolve run: no %s in %s or in any directory directly under it", results.FileName, path)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].mod != cands[j].mod {
			return cands[i].mod > cands[j].mod
		}
		return cands[i].name > cands[j].name
	})
	return filepath.Join(cands[0].dir, results.FileName), nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ReadRun reads a results file, or dir/results.jsonl when path is a
// directory.
func ReadRun(path string) (*Run, error) {
	p := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		p = filepath.Join(path, results.FileName)
	}
	res, err := results.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read run: no results file %s", p)
		}
		return nil, fmt.Errorf("read run: %w", err)
	}
	if len(res.Records) == 0 {
		return nil, fmt.Errorf("read run: %s holds no records", p)
	}
	// One report is one run: records of several runs (files appended to
	// each other) would pass for extra repeats of one, and repeats of
	// different runs were not interleaved.
	first := res.Records[0].RunID
	for _, r := range res.Records {
		if r.RunID != first {
			return nil, fmt.Errorf("read run: %s holds records of run %q and of run %q; a report reads one run (compare two runs with echobench compare)", p, first, r.RunID)
		}
	}
	return &Run{Path: p, Records: res.Records, TornTail: res.TornTail, Duplicates: res.Duplicates}, nil
}
