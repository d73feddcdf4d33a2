package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"echobench/bench"
	"echobench/internal/results"
	"echobench/servers/all"
)

func init() {
	register("merge", command{summary: "add up the results of several load generators, exactly", run: runMerge})
}

const mergeUsage = `Usage: echobench merge [--out FILE] A.json B.json ...
       echobench merge --run DIR --model NAME [--server-usage FILE] A.json B.json ...

Adds up the results of load generators that drove one server at the same
time ("echobench load --json", started with one --start-at) into one
result: counts summed, HDR histograms added bucket for bucket and every
percentile recomputed from the sum (never averaged), the window from the
earliest start to the latest end (throughput = completed / that window,
never overstated), client_bound if any generator was, rate_met if every
one was, and "generators" holding each input as given. One input comes
back unchanged.

Refused, exit 1, with the figures: windows that share less than 90% of the
shortest one (they measured different moments), and results of different
loads (mode, size, depth, connection lifetime).

--run DIR also appends the merged point as one record to DIR/results.jsonl
(creating DIR and its env.json), repeat 1, 2, ... as the same point is
merged again, so "echobench report DIR" reports a distributed run. Closed
loop only: an open-loop point is a fraction of a capacity the merge does
not know (the merged result is still written; exit 1).
--server-usage adds the server's own figures, the line written by
"echobench serve --usage-out" or "echobench wrap".

Examples:
  echobench merge gen1.json gen2.json > merged.json
  echobench merge --run results/two-hosts --model epoll --server-usage server-usage.json gen*.json

Flags:
`

// mergeOptions are the flags of `echobench merge`.
type mergeOptions struct {
	out, run, model, serverUsage string
	inputs                       []string
}

func runMerge(stdout, stderr io.Writer, args []string) error {
	o, err := parseMergeArgs(stderr, args)
	if err != nil {
		return err
	}
	loads := make([]results.Load, len(o.inputs))
	for i, p := range o.inputs {
		if loads[i], err = readLoadFile(p); err != nil {
			return err
		}
	}
	var usage *results.ServerUsage
	if o.serverUsage != "" {
		u, err := readUsageFile(o.serverUsage)
		if err != nil {
			return err
		}
		usage = &u
	}
	m, err := results.Merge(loads, o.inputs)
	if err != nil {
		return err
	}
	if err := writeMerged(stdout, o.out, &m); err != nil {
		return err
	}
	if o.run == "" {
		return nil
	}
	if m.Mode == "open" {
		// A sweep point is a fraction of a capacity measured beside it;
		// recorded without one, points at different rates would read as
		// repeats of one point.
		return errors.New("merge: --run records closed-loop points only: an open-loop point is a fraction of a capacity the merge does not know (the merged result was written; use load_procs in a matrix for open-loop sweeps)")
	}
	id, repeat, err := appendMergedRecord(o.run, o.model, &m, usage)
	if err != nil {
		return fmt.Errorf("merge: --run %s: %w", o.run, err)
	}
	fmt.Fprintf(stderr, "echobench merge: recorded %s (repeat %d) in %s\n", id, repeat, filepath.Join(o.run, results.FileName))
	return nil
}

func parseMergeArgs(stderr io.Writer, args []string) (mergeOptions, error) {
	var o mergeOptions
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "write the merged result to `file` instead of stdout")
	fs.StringVar(&o.run, "run", "", "also append the merged point as a record to `DIR`/results.jsonl, for echobench report")
	fs.StringVar(&o.model, "model", "", "the server's `name` in the record (required with --run)")
	fs.StringVar(&o.serverUsage, "server-usage", "", "the server's usage line (`file` from serve --usage-out or wrap) for the record's server figures")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), mergeUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return o, err
	}
	o.inputs = pos
	switch {
	case len(pos) == 0:
		return o, usagef("merge: no results given (A.json B.json ...)")
	case o.run == "" && (o.model != "" || o.serverUsage != ""):
		return o, usagef("merge: --model and --server-usage need --run")
	case o.run != "" && o.model == "":
		return o, usagef("merge: --run needs --model NAME, the server the record is of")
	case o.model != "" && !validRecordName(o.model):
		return o, usagef("merge: --model %q: use letters, digits, '-', '_' or '.'", o.model)
	}
	return o, nil
}

// validRecordName: a name that is safe in a point ID and a file name.
func validRecordName(s string) bool {
	if len(s) > 64 {
		return false
	}
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}

// readInput opens path and decodes it with read; errors name what and
// the path.
func readInput[T any](what, path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return v, nil
}

func readLoadFile(path string) (results.Load, error) {
	return readInput("merge:", path, results.ReadLoad)
}

func readUsageFile(path string) (results.ServerUsage, error) {
	return readInput("merge: --server-usage", path, results.ReadServerUsage)
}

// writeMerged prints m as one JSON line, to path or to stdout.
func writeMerged(stdout io.Writer, path string, m *results.Load) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("merge: encode: %w", err)
	}
	b = append(b, '\n')
	if path == "" {
		_, err = stdout.Write(b)
	} else {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		return fmt.Errorf("merge: write the result: %w", err)
	}
	return nil
}

// appendMergedRecord appends m as a record of run dir, creating the run.
// It returns the record's point ID and repeat.
func appendMergedRecord(dir, model string, m *results.Load, usage *results.ServerUsage) (string, int, error) {
	runID, err := mergeRunID(dir)
	if err != nil {
		return "", 0, err
	}
	rec := mergedRecord(runID, model, m, usage)
	repeat, err := nextRepeat(dir, rec.PointID)
	if err != nil {
		return "", 0, err
	}
	rec.Repeat = repeat
	rec.PointID = fmt.Sprintf("r%d/%s", repeat, rec.PointID)
	if err := rec.Check(); err != nil {
		return "", 0, err
	}
	w, err := results.OpenWriter(filepath.Join(dir, results.FileName))
	if err != nil {
		return "", 0, err
	}
	if err := w.Append(rec); err != nil {
		w.Close()
		return "", 0, err
	}
	return rec.PointID, repeat, w.Close()
}

// mergeRunID is the run ID of dir from its env.json, or a new one for a
// new run directory, with an env.json that says what is known of it.
func mergeRunID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err == nil {
		var meta bench.RunMeta
		if err := json.Unmarshal(b, &meta); err != nil || meta.RunID == "" {
			return "", fmt.Errorf("env.json: no run_id (%v)", err)
		}
		return meta.RunID, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	now := time.Now()
	meta := bench.RunMeta{RunID: now.Format("20060102-150405"), Started: now, Config: "(echobench merge: load from several generators, no matrix)"}
	meta.Env.Unknown = []string{distributedNote}
	b, err = json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return "", err
	}
	return meta.RunID, os.WriteFile(filepath.Join(dir, "env.json"), append(b, '\n'), 0o644)
}

// distributedNote is what a merged record cannot say about where it ran.
const distributedNote = "distributed run: recorded by echobench merge; the server's and the generators' hosts (CPU model, kernel, pinning) are not described"

// nextRepeat is one more than the repeats of point (without its "rN/"
// prefix) already in dir's results.
func nextRepeat(dir, point string) (int, error) {
	rr, err := results.ReadFile(filepath.Join(dir, results.FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rr.Records {
		if _, rest, ok := strings.Cut(r.PointID, "/"); ok && rest == point {
			n = max(n, r.Repeat)
		}
	}
	return n + 1, nil
}

// mergedRecord is the record of closed-loop merged result m, without its
// repeat: the point ID is the one bench gives the same load, with the
// number of generators.
func mergedRecord(runID, model string, m *results.Load, usage *results.ServerUsage) *results.Record {
	procs := max(len(m.Generators), 1)
	sc := results.Scenario{Kind: results.KindClosed, Mode: m.Mode, Conns: m.Conns, SizeBytes: m.SizeBytes, Depth: m.Depth,
		IdleConns: int(m.IdleConns), SlowReaders: int(m.SlowReaders), SlowReadBytesPerSec: int(m.SlowReadBytesPerSec),
		DurationS: m.DurationS, LoadProcs: procs}
	point := fmt.Sprintf("%s/%s/c%d-s%d-d%d-procs%d", model, results.KindClosed, sc.Conns, sc.SizeBytes, sc.Depth, procs)
	if m.Connects != nil {
		sc.ConnLifetime = int(m.Connects.ConnLifetime)
	}
	if m.Burst != nil {
		sc.ConnectBurst = int(m.Burst.Conns)
	}
	rec := &results.Record{Schema: results.SchemaVersion, RunID: runID, PointID: point,
		Start: time.Unix(0, m.WindowStartUnixNs), End: time.Unix(0, m.WindowEndUnixNs),
		Server: results.ServerInfo{Name: model}, Scenario: sc, Status: results.StatusOK, Load: m}
	if _, ok := all.Models[model]; ok {
		rec.Server.Model = model
	}
	rec.Env.LoadGOMAXPROCS, rec.Env.LoadWorkers = m.GOMAXPROCS, m.Workers
	rec.Env.Unknown = []string{distributedNote}
	if usage != nil {
		rec.ServerStats = usage.Stats(m.Completed)
		rec.Warnings = append(rec.Warnings, fmt.Sprintf(
			"server figures from getrusage at its exit cover its whole life (%.1f s), not only the %.1f s window: cpu_util is its average, msgs_per_cpu_s counts start-up and warm-up",
			usage.WallS, m.DurationS))
	}
	if m.ClientBound {
		rec.Warnings = append(rec.Warnings, "a load generator was the bottleneck (client_bound): the figure is the clients' limit, not the server's")
	}
	return rec
}
