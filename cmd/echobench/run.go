package main

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

	"echobench/bench"
	"echobench/bench/config"
	"echobench/bench/supervise"
	"echobench/servers/all"
	"echobench/servers/external"
	"echobench/servers/work"
)

func init() {
	register("run", command{summary: "run a matrix of servers and loads (a TOML file)", run: runRun})
}

const runUsage = `Usage: echobench run CONFIG [flags]
       echobench run --resume RUN_ID [--results DIR] [flags]

Runs the matrix in CONFIG (TOML; every key is in docs/bench.md): for each
repeat, each point and each server (order shuffled per repeat), it starts the
server pinned to the server CPUs, drives it with 'echobench load' pinned to
the client CPUs, samples the server's /proc during the window, and appends one
record to DIR/RUN_ID/results.jsonl as soon as the point ends.

Ctrl-C once finishes the current point and stops; twice stops at once. Either
way finished points are kept, and --resume RUN_ID runs the rest. With
network = "netns" the run's network namespaces are removed at the end, after
Ctrl-C and on an error; after kill -9, 'echobench cleanup' removes them.

Examples:
  echobench run configs/quick.toml
  echobench run configs/full.toml --server-cpus 0-3 --client-cpus 4-7
  echobench run configs/quick.toml --dry-run
  echobench run --resume 20261124-153000

Flags:
`

// hangExitStatus is the exit status when the run still hangs after a second
// interrupt: 128+SIGINT, as a shell reports a process SIGINT killed.
const hangExitStatus = 130

// hangTimeout is how long a run may take to return after a second
// interrupt has killed its children; it needs moments, not seconds.
const hangTimeout = 5 * time.Second

func runRun(stdout, stderr io.Writer, args []string) error {
	return runMatrix(stdout, stderr, args, bench.Deps{
		GoModels:     all.Models.Names(),
		ModelVersion: modelVersion,
		Stacks:       lookupStack,
		ModelProbe:   func(name string) error { return all.Models[name].Available() },
		CheckWork:    checkModelWork,
	})
}

// checkModelWork refuses a --work kind the built-in model or stack called
// name does not implement.
func checkModelWork(name string, s work.Spec) error {
	if m, ok := all.Models[name]; ok {
		return m.CheckWork(s)
	}
	if st, ok := external.Lookup(name); ok {
		return st.CheckWork(s)
	}
	return nil
}

// runMatrix is `echobench run` with the registries it runs from given, so
// that tests can run it against fake servers and load generators. It
// handles SIGINT and SIGTERM itself: the first stops after the current
// point, the second kills the children and returns at once.
func runMatrix(stdout, stderr io.Writer, args []string, deps bench.Deps) error {
	opts, err := parseRunArgs(stderr, args)
	if err != nil {
		return err
	}
	opts.PinSelf = true
	opts.Terminal = isTerminal(stderr)
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := bench.New(ctx, opts, deps, stdout, stderr)
	if err != nil {
		return runError(err)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go interruptHandler{
		stderr:       stderr,
		requestStop:  r.RequestStop,
		cancel:       cancel,
		killChildren: supervise.KillAll,
		teardown: func() {
			if err := r.Teardown(); err != nil {
				fmt.Fprintf(stderr, "warning: %v; run echobench cleanup\n", err)
			}
		},
		exit:        os.Exit,
		hangTimeout: hangTimeout,
	}.watch(sigs, done)
	defer func() {
		if p := recover(); p != nil {
			supervise.KillAll()
			panic(p)
		}
	}()
	return runError(r.Run(ctx))
}

// parseRunArgs turns the command line into the runner's options; every
// error is a usageError or flag.ErrHelp.
func parseRunArgs(stderr io.Writer, args []string) (bench.Options, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts bench.Options
	fs.StringVar(&opts.ResultsDir, "results", "results", "`directory` holding one directory per run")
	fs.StringVar(&opts.Resume, "resume", "", "continue the run `RUN_ID` (a directory under --results), skipping finished points")
	fs.StringVar(&opts.ServerCPUs, "server-cpus", "", "CPU `list` for the servers (default: the file's server_cpus, else 0)")
	fs.StringVar(&opts.ClientCPUs, "client-cpus", "", "CPU `list` for the load generator (default: the file's client_cpus, else 1)")
	fs.DurationVar(&opts.SLOP99, "slo-p99", 0, "p99 latency `objective` of the SLO search (default: the file's slo_p99, else 10ms)")
	fs.Float64Var(&opts.SLOCompletion, "slo-completion", 0, "completion `ratio` objective of the SLO search (default: the file's, else 0.999)")
	fs.Int64Var(&opts.Seed, "seed", 0, "`seed` of the per-repeat server order (default: the file's seed, else the clock; recorded in env.json)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the points and the estimated time, run nothing")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return opts, err
	}
	switch {
	case len(pos) > 1:
		return opts, usagef("run: unexpected arguments %q", pos[1:])
	case len(pos) == 1:
		opts.ConfigPath = pos[0]
	case opts.Resume == "":
		return opts, usagef("run: missing CONFIG")
	}
	return opts, nil
}

// runError makes the runner's verdict on its options, and a matrix file
// that cannot run as written (a message naming the key), usage errors.
func runError(err error) error {
	var oe *bench.OptionError
	if errors.As(err, &oe) {
		return usagef("run: %s", oe.Msg)
	}
	var ke *bench.KeyError
	if errors.As(err, &ke) {
		return usagef("run: %v", err)
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return usagef("run: %v", err)
	}
	return err
}

// interruptHandler turns interrupts into the run's two ways of stopping:
// the first lets the current point finish (its record is trustworthy), the
// second kills the children and cancels the run. If the run has still not
// returned hangTimeout later, it kills the children again and exits, so
// that no interrupt ever leaves a hung process behind.
type interruptHandler struct {
	stderr       io.Writer
	requestStop  func() // stop after the current point
	cancel       func() // abandon the current point
	killChildren func()
	// teardown kills the children and removes the run's network
	// namespaces, when Run hangs and cannot do it on its way out.
	teardown    func()
	exit        func(status int)
	hangTimeout time.Duration
}

// watch handles sigs until done is closed (the run has returned).
func (h interruptHandler) watch(sigs <-chan os.Signal, done <-chan struct{}) {
	select {
	case <-sigs:
	case <-done:
		return
	}
	fmt.Fprintln(h.stderr, "\ninterrupt: finishing the current point, then stopping (interrupt again to stop at once)")
	h.requestStop()
	select {
	case <-sigs:
	case <-done:
		return
	}
	fmt.Fprintln(h.stderr, "\ninterrupt: stopping now")
	h.killChildren()
	h.cancel()
	// Run returns within moments once its children are dead; if
	// something still hangs, leave anyway, children first.
	t := time.NewTimer(h.hangTimeout)
	defer t.Stop()
	select {
	case <-t.C:
		h.killChildren()
		if h.teardown != nil {
			h.teardown()
		}
		h.exit(hangExitStatus)
	case <-done:
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

// stack adapts servers/external to the runner's view of a foreign stack.
type stack struct{ s external.Stack }

func (s stack) Check(ctx context.Context) (string, error) { return s.s.Check(ctx) }
func (s stack) Argv() ([]string, error)                   { return s.s.Argv() }
func (s stack) Environ() []string                         { return s.s.Env }
func (s stack) SingleProcess() bool                       { return s.s.SingleProcess }
func (s stack) AllowRemoteFlag() bool                     { return s.s.AllowRemoteFlag }

func lookupStack(name string) (bench.Stack, bool) {
	s, ok := external.Lookup(name)
	if !ok {
		return nil, false
	}
	return stack{s}, true
}

// modelVersion is the version a record of the Go model called name carries.
func modelVersion(name string) string { return all.Models[name].Version() }
