package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"echobench/bench/supervise"
)

// UsageError is an error in how the command was called (exit status 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usage is the help text of `echobench run`.
const Usage = `Usage: echobench run CONFIG [flags]
       echobench run --resume RUN_ID [--results DIR] [flags]

Runs the matrix in CONFIG (TOML; every key is in docs/bench.md): for each
repeat, each point and each server (order shuffled per repeat), it starts the
server pinned to the server CPUs, drives it with 'echobench load' pinned to
the client CPUs, samples the server's /proc during the window, and appends one
record to DIR/RUN_ID/results.jsonl as soon as the point ends.

Ctrl-C once finishes the current point and stops; twice stops at once. Either
way finished points are kept, and --resume RUN_ID runs the rest.

Examples:
  echobench run configs/quick.toml
  echobench run configs/full.toml --server-cpus 0-3 --client-cpus 4-7
  echobench run configs/quick.toml --dry-run
  echobench run --resume 20261124-153000

Flags:
`

// Command is `echobench run`: it parses args, runs the matrix and prints the
// summary. It handles SIGINT and SIGTERM itself: the first stops after the
// current point, the second kills the children and returns at once.
func Command(stdout, stderr io.Writer, args []string, deps Deps) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	fs.StringVar(&opts.ResultsDir, "results", "results", "`directory` holding one directory per run")
	fs.StringVar(&opts.Resume, "resume", "", "continue the run `RUN_ID` (a directory under --results), skipping finished points")
	fs.StringVar(&opts.ServerCPUs, "server-cpus", "", "CPU `list` for the servers (default: the file's server_cpus, else 0)")
	fs.StringVar(&opts.ClientCPUs, "client-cpus", "", "CPU `list` for the load generator (default: the file's client_cpus, else 1)")
	fs.DurationVar(&opts.SLOP99, "slo-p99", 0, "p99 latency `objective` of the SLO search (default: the file's slo_p99, else 10ms)")
	fs.Float64Var(&opts.SLOCompletion, "slo-completion", 0, "completion `ratio` objective of the SLO search (default: the file's, else 0.999)")
	fs.Int64Var(&opts.Seed, "seed", 0, "`seed` of the per-repeat server order (default: the file's seed, else the clock; recorded in env.json)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the points and the estimated time, run nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), Usage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return UsageError{fmt.Sprintf("run: unexpected arguments %q", pos[1:])}
	case len(pos) == 1:
		opts.ConfigPath = pos[0]
	case opts.Resume == "":
		return UsageError{"run: missing CONFIG"}
	}
	if opts.SLOP99 < 0 {
		return UsageError{"run: --slo-p99 must be positive"}
	}
	if opts.SLOCompletion < 0 || opts.SLOCompletion > 1 {
		return UsageError{"run: --slo-completion must be in (0, 1]"}
	}
	opts.PinSelf = true
	opts.Terminal = isTerminal(stderr)
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(ctx, opts, deps, stdout, stderr)
	if err != nil {
		return err
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\ninterrupt: finishing the current point, then stopping (interrupt again to stop at once)")
		r.RequestStop()
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\ninterrupt: stopping now")
		supervise.KillAll()
		cancel()
		// Run returns within moments once its children are dead; if
		// something still hangs, leave anyway, children first.
		select {
		case <-time.After(5 * time.Second):
			supervise.KillAll()
			os.Exit(130)
		case <-done:
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			supervise.KillAll()
			panic(p)
		}
	}()
	return r.Run(ctx)
}

// parseInterspersed parses flags placed before, between or after positional
// arguments ("run CONFIG --seed 1" and "run --seed 1 CONFIG").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, UsageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// raiseFileLimit sets the soft open-file limit to the hard one. Setting it
// explicitly matters: Go raises its own soft limit at start-up but restores
// the original in children unless the program set it itself, and the
// Python and Node servers need one descriptor per connection.
func raiseFileLimit() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("read open-file limit: %w", err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raise open-file limit to %d: %w", rl.Max, err)
	}
	return nil
}
