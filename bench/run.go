// Package bench is the orchestrator behind `echobench run CONFIG`: it expands
// a matrix file into points, runs each point (a server process pinned to its
// CPUs, a load generator process pinned to others, /proc sampled during the
// measured window), and appends one results.Record per point and repeat to
// results/RUN_ID/results.jsonl as soon as the point ends.
//
// Subpackages: config decodes the matrix file, supervise starts and stops
// child processes, proc reads /proc.
package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"echobench/bench/config"
	"echobench/bench/netns"
	"echobench/bench/supervise"
	"echobench/internal/results"
	"echobench/servers"
	"echobench/servers/work"
)

// Stack is a foreign server stack (servers/external): a command that honours
// the server contract but may not be installed here.
type Stack interface {
	// Check returns the stack's version, or why it cannot run here.
	Check(ctx context.Context) (version string, err error)
	// Argv is the command before the contract flags.
	Argv() ([]string, error)
	// Environ is extra environment for the server process.
	Environ() []string
}

// Deps is what the runner needs from the rest of echobench. The command
// wires the real registries; tests wire fakes.
type Deps struct {
	// Exe is the echobench binary, run as `Exe serve MODEL` and `Exe load`.
	// Default: os.Executable().
	Exe string
	// GoModels are the names `Exe serve` accepts.
	GoModels []string
	// ModelVersion describes a Go model's version (its library's module
	// version); nil means the Go version.
	ModelVersion func(model string) string
	// Stacks looks up a foreign stack by name; nil means none.
	Stacks func(name string) (Stack, bool)
	// ModelProbe says why a Go model cannot run here (a kernel feature
	// it needs is missing), or nil; nil ModelProbe means every one can.
	ModelProbe func(model string) error
	// CheckWork says why a built-in model or stack does not implement a
	// --work kind (c-epoll, netpoll, nbio and iouring echo only), or nil;
	// such points become skipped records with the reason instead of
	// servers that fail to start. nil CheckWork means every one does.
	CheckWork func(model string, s work.Spec) error
	// Net runs the ip, tc and unshare commands of network = "netns";
	// nil means netns.Exec (tests record the commands instead).
	Net netns.Runner
}

// Options are the command-line choices of one run.
type Options struct {
	// ConfigPath is the matrix file; with Resume it may be empty (the run's
	// own copy is used) and must otherwise match that copy.
	ConfigPath string
	// ResultsDir holds one directory per run. Default "results".
	ResultsDir string
	// Resume is the RUN_ID to continue.
	Resume string
	// ServerCPUs and ClientCPUs override the file's CPU lists.
	ServerCPUs, ClientCPUs string
	// SLOP99 and SLOCompletion override the file's objective when set.
	SLOP99        time.Duration
	SLOCompletion float64
	// Seed overrides the file's shuffle seed when non-zero.
	Seed int64
	// DryRun prints the plan and its estimated time, and runs nothing.
	DryRun bool
	// PinSelf pins this process to the client CPUs for the run, so that
	// the orchestrator's own work never competes with the server.
	PinSelf bool
	// Terminal shows a progress bar instead of plain progress lines.
	Terminal bool
	// SampleInterval is the /proc sampling period. Default: half the
	// window's timeline interval, within 50–200 ms (sampleEvery).
	SampleInterval time.Duration
}

// Target is one server under test, resolved from its config.ServerEntry:
// the command that starts it and what its records say about it.
type Target struct {
	Name string
	// Argv is the command before the contract flags.
	Argv []string
	// Env is extra environment.
	Env []string
	// LoopsFlag says whether the command takes --loops (Go models do,
	// foreign stacks do not; a command does when the file sets loops).
	LoopsFlag bool
	// RemoteFlag says whether the command takes --allow-remote (echobench
	// serve does; a foreign stack binds whatever --addr says).
	RemoteFlag bool
	Loops      int
	// ProcsFlag says whether the command gets --procs: a foreign stack
	// whenever Procs > 1 or the file sets procs, a command only when the
	// file sets procs (its flags are its own), a Go model never.
	ProcsFlag  bool
	Procs      int
	MaxPending int
	Addr       string
	// Skip, when set, is why this server cannot run here: every point of
	// it becomes a skipped record with this reason.
	Skip string
	Info results.ServerInfo
}

// RunMeta is env.json: what a run was and where it ran.
type RunMeta struct {
	RunID   string      `json:"run_id"`
	Started time.Time   `json:"started"`
	Seed    int64       `json:"seed"`
	Config  string      `json:"config"`
	Env     results.Env `json:"env"`
	// Skipped maps each server that cannot run here to the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
	Points  int               `json:"points"`
}

// Runner runs one matrix.
type Runner struct {
	cfg     *config.Config
	opts    Options
	deps    Deps
	runID   string
	runDir  string
	seed    int64
	env     results.Env
	targets []*Target
	plan    []Point
	srvCPUs []int
	cliCPUs []int

	stdout, stderr io.Writer
	stopping       atomic.Bool
	records        map[string]*results.Record
	order          []string // PointIDs in the order recorded
	lock           *runLock // held from New to the end of Run

	// net is the run's network with network = "netns", from the start of
	// Run to its end; netMu guards it against Teardown from a signal
	// handler (the run's own goroutine, which alone sets it, reads it
	// freely).
	netMu sync.Mutex
	net   *netns.Net
}

// ErrInterrupted is returned when a stop request ended the run early.
var ErrInterrupted = errors.New("interrupted")

// RequestStop asks the run to stop after the current point. Safe from any
// goroutine.
func (r *Runner) RequestStop() { r.stopping.Store(true) }

// OptionError is an Options value that is wrong whatever the matrix file
// says: a mistake in how the run was asked for, not in what it found. The
// command reports it as a usage error (exit status 2).
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

// check reports the Options that no matrix file can make right.
func (o Options) check() error {
	switch {
	case o.ConfigPath == "" && o.Resume == "":
		return &OptionError{"missing CONFIG"}
	case o.SLOP99 < 0:
		return &OptionError{"--slo-p99 must be positive"}
	case !(o.SLOCompletion >= 0 && o.SLOCompletion <= 1): // NaN too
		return &OptionError{fmt.Sprintf("--slo-completion must be in (0, 1], got %v", o.SLOCompletion)}
	case o.SLOP99 > config.MaxTimeout:
		return &OptionError{fmt.Sprintf("--slo-p99 must be at most %v, got %v", config.MaxTimeout, o.SLOP99)}
	}
	return nil
}

// New loads the configuration, resolves servers and CPUs, and prepares the
// run directory (or reopens it with Resume). Nothing has started yet when it
// returns; every configuration error is reported here, and an error in opts
// itself is an *OptionError.
func New(ctx context.Context, opts Options, deps Deps, stdout, stderr io.Writer) (*Runner, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.ResultsDir == "" {
		opts.ResultsDir = "results"
	}
	if deps.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the echobench binary: %w", err)
		}
		deps.Exe = exe
	}
	allowed, err := supervise.AllowedCPUs()
	if err != nil {
		return nil, err
	}
	r := &Runner{opts: opts, deps: deps, stdout: stdout, stderr: stderr, records: map[string]*results.Record{}}
	if opts.Resume != "" {
		err = r.resume(ctx, allowed)
	} else {
		err = r.start(ctx, allowed)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checker is what config validation needs to know of this machine and of
// the registries.
func (r *Runner) checker(allowed []int) config.Checker {
	return config.Checker{
		IsGoModel: func(n string) bool { return slices.Contains(r.deps.GoModels, n) },
		IsStack: func(n string) bool {
			if r.deps.Stacks == nil {
				return false
			}
			_, ok := r.deps.Stacks(n)
			return ok
		},
		LookPath: lookPath,
		MaxFiles: maxFiles(),
		NumCPU:   slices.Max(allowed) + 1,
	}
}

// start prepares a fresh run: the given config, a new seed unless one is
// set, and (unless a dry run) a new run directory.
func (r *Runner) start(ctx context.Context, allowed []int) error {
	cfg, raw, err := config.Load(r.opts.ConfigPath, r.checker(allowed))
	if err != nil {
		return err
	}
	r.cfg = cfg
	r.seed = cmp.Or(r.opts.Seed, cfg.Seed, time.Now().UnixNano())
	if err := r.prepare(ctx, allowed); err != nil || r.opts.DryRun {
		return err
	}
	return r.create(raw)
}

// resume prepares the continuation of run opts.Resume: its own copy of the
// config (a given CONFIG must match it), its seed, so the plan and PointIDs
// come out the same, and the records already written.
func (r *Runner) resume(ctx context.Context, allowed []int) error {
	id := r.opts.Resume
	if !validRunID(id) {
		return fmt.Errorf("--resume: %q is not a run ID", id)
	}
	r.runID = id
	r.runDir = filepath.Join(r.opts.ResultsDir, id)
	stored := filepath.Join(r.runDir, "config.toml")
	cfg, raw, err := config.Load(stored, r.checker(allowed))
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if r.opts.ConfigPath != "" {
		given, err := os.ReadFile(r.opts.ConfigPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if string(given) != string(raw) {
			return fmt.Errorf("resume %s: %s differs from the config the run started with (%s); resume without CONFIG to use the run's own copy",
				id, r.opts.ConfigPath, stored)
		}
	}
	meta, err := readMeta(r.runDir)
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	r.cfg, r.seed = cfg, meta.Seed
	if err := r.prepare(ctx, allowed); err != nil || r.opts.DryRun {
		return err
	}
	return r.reopen()
}

// prepare is what a fresh run and a resumed one share once the config and
// seed are known: the objective's overrides, the CPUs, the environment, the
// servers and the plan.
func (r *Runner) prepare(ctx context.Context, allowed []int) error {
	if r.opts.SLOP99 > 0 {
		r.cfg.SLOP99.Duration = r.opts.SLOP99
	}
	if r.opts.SLOCompletion > 0 {
		r.cfg.SLOCompletion = r.opts.SLOCompletion
	}
	if err := r.resolveCPUs(allowed); err != nil {
		return err
	}
	r.env = collectEnv(r.srvCPUs, r.cliCPUs)
	r.setNetworkEnv()
	if err := r.checkNetwork(ctx); err != nil {
		return err
	}
	if err := r.resolveServers(ctx); err != nil {
		return err
	}
	r.netnsAddrs()
	r.plan = Plan(r.cfg, r.targets, uint64(r.seed))
	if err := r.checkLoads(); err != nil {
		return err
	}
	return r.checkWork()
}

func (r *Runner) resolveCPUs(allowed []int) error {
	pick := func(flag, file, def, name string) ([]int, error) {
		s := file
		if flag != "" {
			s = flag
		}
		if s == "" {
			s = def
		}
		cpus, err := config.ParseCPUList(s, slices.Max(allowed)+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, c := range cpus {
			if !slices.Contains(allowed, c) {
				return nil, fmt.Errorf("%s: CPU %d is not available to this process (allowed: %s)", name, c, config.FormatCPUList(allowed))
			}
		}
		return cpus, nil
	}
	// Default: the server on the first CPU, the client on the second, as in
	// the design; a one-CPU machine shares it.
	defSrv, defCli := strconv.Itoa(allowed[0]), strconv.Itoa(allowed[min(1, len(allowed)-1)])
	var err error
	if r.srvCPUs, err = pick(r.opts.ServerCPUs, r.cfg.ServerCPUs, defSrv, "server CPUs"); err != nil {
		return err
	}
	if r.cliCPUs, err = pick(r.opts.ClientCPUs, r.cfg.ClientCPUs, defCli, "client CPUs"); err != nil {
		return err
	}
	for _, c := range r.srvCPUs {
		if slices.Contains(r.cliCPUs, c) {
			fmt.Fprintf(r.stderr, "warning: server and client share CPU %d; the client will take CPU from the server\n", c)
			break
		}
	}
	return nil
}

// resolveServers turns the configured servers into targets, and checks
// every foreign stack once: one that cannot run is kept, marked Skip.
func (r *Runner) resolveServers(ctx context.Context) error {
	for _, s := range r.cfg.Servers {
		srv, err := r.resolveTarget(ctx, s)
		if err != nil {
			return err
		}
		if srv.Info.Version != "" && srv.Skip == "" {
			r.env.StackVersions[srv.Name] = srv.Info.Version
		}
		r.targets = append(r.targets, srv)
	}
	setRuntimeVersions(&r.env)
	return nil
}

// resolveTarget is the command that starts one [[servers]] entry (its own
// command, `echobench serve MODEL`, or a foreign stack's) and what its
// records say about it.
func (r *Runner) resolveTarget(ctx context.Context, s config.ServerEntry) (*Target, error) {
	srv := &Target{
		Name:       s.DisplayName(),
		Addr:       s.Addr,
		Loops:      s.Loops,
		Procs:      s.Procs,
		MaxPending: s.MaxPending,
	}
	for k, v := range s.Env {
		srv.Env = append(srv.Env, k+"="+v)
	}
	slices.Sort(srv.Env)
	switch {
	case len(s.Command) > 0:
		srv.Argv = slices.Clone(s.Command)
		srv.LoopsFlag = s.Loops > 0
		srv.ProcsFlag = s.Procs > 0
		srv.Info.Command = srv.Argv
	case slices.Contains(r.deps.GoModels, s.Model):
		srv.Argv = []string{r.deps.Exe, "serve", s.Model}
		srv.LoopsFlag, srv.RemoteFlag = true, true
		if srv.Loops == 0 {
			srv.Loops = len(r.srvCPUs)
		}
		srv.Info.Model = s.Model
		srv.Info.Version = runtimeVersion()
		if r.deps.ModelVersion != nil {
			srv.Info.Version = r.deps.ModelVersion(s.Model)
		}
		r.probeModel(srv, s.Model)
	default:
		if err := r.resolveStack(ctx, srv, s); err != nil {
			return nil, err
		}
	}
	srv.Info.Name = srv.Name
	srv.Info.Loops = max(srv.Loops, 1)
	if srv.ProcsFlag {
		srv.Info.Procs = srv.Procs
	}
	srv.Info.MaxPendingBytes = srv.MaxPending
	return srv, nil
}

// probeModel marks srv skipped when its Go model cannot run here, as a
// missing foreign stack is: its points become skipped records with the
// reason, instead of servers that fail to start.
func (r *Runner) probeModel(srv *Target, model string) {
	if r.deps.ModelProbe == nil {
		return
	}
	if err := r.deps.ModelProbe(model); err != nil {
		srv.Skip = err.Error()
		fmt.Fprintf(r.stderr, "SKIPPED %s: %s\n", srv.Name, srv.Skip)
	}
}

// resolveStack fills srv from the foreign stack s names. A stack that
// cannot run here is not an error: its points become skipped records, so
// a report says which stacks were missing and why.
func (r *Runner) resolveStack(ctx context.Context, srv *Target, s config.ServerEntry) error {
	stack, ok := r.deps.Stacks(s.Model)
	if !ok {
		return fmt.Errorf("server %q: unknown model %q", srv.Name, s.Model)
	}
	srv.Info.Model = s.Model
	version, err := stack.Check(ctx)
	if err == nil {
		srv.Argv, err = stack.Argv()
	}
	if err != nil {
		srv.Skip = err.Error()
		fmt.Fprintf(r.stderr, "SKIPPED %s: %s\n", srv.Name, srv.Skip)
	} else {
		srv.Info.Version = version
		srv.Info.Command = srv.Argv
	}
	srv.Env = append(slices.Clone(stack.Environ()), srv.Env...)
	srv.LoopsFlag = s.Loops > 0
	// N server CPUs get N processes, as a Go model gets N loops: each
	// stack's own idiom for several cores (docs/stacks.md, "Several cores").
	if ar, ok := stack.(allowRemoteFlag); ok && ar.AllowRemoteFlag() {
		srv.RemoteFlag = true // it checks --addr as serve does (c-epoll)
	}
	if sp, ok := stack.(singleProcess); ok && sp.SingleProcess() && srv.Procs == 0 {
		srv.Procs = 1 // its own reason for one process; a file's procs it refuses
	}
	if srv.Procs == 0 {
		srv.Procs = min(len(r.srvCPUs), servers.MaxProcs)
	}
	srv.ProcsFlag = srv.Procs > 1 || s.Procs > 0
	return nil
}

// singleProcess is a Stack that runs one process whatever the server CPUs
// (c-epoll, the single-core baseline): run passes it no --procs.
type singleProcess interface{ SingleProcess() bool }

// allowRemoteFlag is a Stack that refuses a non-loopback --addr without
// --allow-remote (c-epoll), so a netns run must pass it.
type allowRemoteFlag interface{ AllowRemoteFlag() bool }

// create makes a fresh run directory with the config and env.json.
func (r *Runner) create(raw []byte) error {
	if err := os.MkdirAll(r.opts.ResultsDir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	base := time.Now().Format("20060102-150405")
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		dir := filepath.Join(r.opts.ResultsDir, id)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			r.runID, r.runDir = id, dir
			if r.lock, err = lockRun(dir); err != nil {
				return err
			}
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return fmt.Errorf("run directory: %w", err)
		}
	}
	if err := writeFileSynced(filepath.Join(r.runDir, "config.toml"), raw); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	meta := RunMeta{RunID: r.runID, Started: time.Now(), Seed: r.seed, Config: r.opts.ConfigPath, Env: r.env, Points: len(r.plan)}
	for _, s := range r.targets {
		if s.Skip != "" {
			if meta.Skipped == nil {
				meta.Skipped = map[string]string{}
			}
			meta.Skipped[s.Name] = s.Skip
		}
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode env.json: %w", err)
	}
	if err := writeFileSynced(filepath.Join(r.runDir, "env.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("save env.json: %w", err)
	}
	// The run directory's entries, and the run directory in its parent.
	if err := errors.Join(syncDir(r.runDir), syncDir(r.opts.ResultsDir)); err != nil {
		return fmt.Errorf("sync run directory: %w", err)
	}
	return nil
}

func readMeta(dir string) (RunMeta, error) {
	var m RunMeta
	b, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("env.json: %w", err)
	}
	return m, nil
}

// reopen loads the records of a run being resumed. A torn last line (the
// writer died mid-line) is cut off with a warning; the point it belonged to
// runs again.
func (r *Runner) reopen() error {
	var err error
	if r.lock, err = lockRun(r.runDir); err != nil {
		return fmt.Errorf("resume %s: %w", r.runID, err)
	}
	path := filepath.Join(r.runDir, results.FileName)
	res, err := results.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("resume: %w", err)
	}
	if res.TornTail {
		fmt.Fprintf(r.stderr, "warning: %s ends with a torn line at byte %d (the run died mid-write); dropping it\n", path, res.TornOffset)
		if err := os.Truncate(path, res.TornOffset); err != nil {
			return fmt.Errorf("resume: drop torn line: %w", err)
		}
	} else if err := ensureNewline(path); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	for i := range res.Records {
		rec := &res.Records[i]
		if rec.RunID != r.runID {
			return fmt.Errorf("resume: %s holds a record of run %q", path, rec.RunID)
		}
		r.remember(rec)
	}
	return nil
}

// ensureNewline adds the final newline a complete last record may lack, so
// that the next record starts on its own line.
func ensureNewline(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.WriteAt([]byte{'\n'}, st.Size())
	}
	return err
}

func (r *Runner) remember(rec *results.Record) {
	if _, dup := r.records[rec.PointID]; !dup {
		r.order = append(r.order, rec.PointID)
	}
	r.records[rec.PointID] = rec
}

// Run runs every point not yet recorded. Cancelling ctx stops at once (the
// current point is abandoned, its children killed); RequestStop stops after
// the current point. Either way every finished point is on disk.
func (r *Runner) Run(ctx context.Context) error {
	if r.opts.DryRun {
		r.printPlan()
		return nil
	}
	if r.opts.PinSelf {
		if err := supervise.PinSelf(r.cliCPUs); err != nil {
			return err
		}
	}
	defer r.lock.release()
	w, err := results.OpenWriter(filepath.Join(r.runDir, results.FileName))
	if err != nil {
		return err
	}
	defer w.Close()
	defer supervise.KillAll() // whatever happens, no child outlives the run
	if err := r.startNetwork(ctx); err != nil {
		return err
	}
	defer r.stopNetwork()

	todo := 0
	for _, p := range r.plan {
		if _, done := r.records[p.ID]; !done {
			todo++
		}
	}
	prog := newProgress(r.stderr, r.opts.Terminal, len(r.plan), len(r.plan)-todo)
	defer prog.finish()
	fmt.Fprintf(prog, "run %s: %d points (%d to run), results in %s\n", r.runID, len(r.plan), todo, r.runDir)

	for i, p := range r.plan {
		if _, done := r.records[p.ID]; done {
			continue
		}
		if r.stopping.Load() {
			break
		}
		if err := ctx.Err(); err != nil {
			break
		}
		prog.begin(i+1, p)
		rec := r.runPoint(ctx, p)
		if ctx.Err() != nil {
			// Abandoned mid-point: its figures are not trustworthy.
			break
		}
		if err := w.Append(rec); err != nil {
			return err
		}
		if err := writeHDRExports(r.runDir, rec); err != nil {
			// The record is safe; the export can be rebuilt from it.
			fmt.Fprintf(r.stderr, "warning: %v\n", err)
		}
		r.remember(rec)
		prog.end(i+1, p, rec)
	}
	prog.finish()
	r.printSummary(r.stdout)
	if ctx.Err() != nil || r.stopping.Load() {
		if r.pending() > 0 {
			return fmt.Errorf("%w: %d of %d points done; continue with: echobench run --resume %s --results %s",
				ErrInterrupted, len(r.plan)-r.pending(), len(r.plan), r.runID, r.opts.ResultsDir)
		}
	}
	return nil
}

func (r *Runner) pending() int {
	n := 0
	for _, p := range r.plan {
		if _, done := r.records[p.ID]; !done {
			n++
		}
	}
	return n
}
