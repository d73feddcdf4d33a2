package bench

import (
	"context"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"echobench/bench/config"
	"echobench/internal/results"
	"echobench/servers"
)

// A foreign stack on N > 1 server CPUs is started with --procs N (N
// processes, as a Go model gets N loops) and its records say so; a Go model
// never gets --procs; a command gets it only when its entry sets procs,
// since its flags are its own.
func TestProcsPassedToForeignStacks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		entry   config.ServerEntry
		cpus    []int
		want    int // --procs passed, 0 for none
		recProc int // the record's server.procs
	}{
		{"stack on 2 CPUs", config.ServerEntry{Model: "fakestack"}, []int{0, 1}, 2, 2},
		{"stack on 4 CPUs", config.ServerEntry{Model: "fakestack"}, []int{0, 1, 2, 3}, 4, 4},
		{"stack on 1 CPU", config.ServerEntry{Model: "fakestack"}, []int{0}, 0, 0},
		{"stack with procs set", config.ServerEntry{Model: "fakestack", Procs: 3}, []int{0}, 3, 3},
		{"stack told one process", config.ServerEntry{Model: "fakestack", Procs: 1}, []int{0, 1}, 1, 1},
		{"Go model on 2 CPUs", config.ServerEntry{Model: "echo"}, []int{0, 1}, 0, 0},
		{"command on 2 CPUs", config.ServerEntry{Name: "c", Command: []string{"/bin/true"}}, []int{0, 1}, 0, 0},
		{"command with procs set", config.ServerEntry{Name: "c", Command: []string{"/bin/true"}, Procs: 2}, []int{0}, 2, 2},
	} {
		r := &Runner{deps: fakeDeps(), stderr: io.Discard, srvCPUs: tt.cpus}
		r.deps.Exe = "echobench"
		srv, err := r.resolveTarget(t.Context(), tt.entry)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		cfg, err := serverConfig(srv, results.Scenario{SizeBytes: 64})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		args := cfg.Args()
		i := slices.Index(args, "--procs")
		got := 0
		if i >= 0 {
			got, _ = strconv.Atoi(args[i+1])
		}
		if got != tt.want {
			t.Errorf("%s: argv %q, want --procs %d (0: none)", tt.name, args, tt.want)
		}
		if back, err := servers.ParseArgs(nil, args); err != nil || (tt.want > 0 && back.Procs != tt.want) {
			t.Errorf("%s: argv %q parses as procs %d, %v", tt.name, args, back.Procs, err)
		}
		if srv.Info.Procs != tt.recProc {
			t.Errorf("%s: record says procs %d, want %d", tt.name, srv.Info.Procs, tt.recProc)
		}
	}
}

// The window sums the server's whole process group: a server whose leader
// only waits while a child (a worker) burns CPU is measured with the
// child's CPU time, which reading the leader alone would lose.
func TestWindowSumsWorkers(t *testing.T) {
	t.Parallel()
	// sh waits; the subshell it forks spins while sh lives ($$ is sh's
	// pid in the subshell; kill is a builtin, so the loop forks nothing).
	// Pdeathsig ends sh with the test binary, and with it the spinner,
	// even if the binary dies without running cleanups (a panic in another
	// test once left two spinning forever).
	cmd := exec.Command("/bin/sh", "-c", "(while kill -0 $$ 2>/dev/null; do :; done) & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGKILL)
		cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w := sampleWindow(ctx, pgid, cpuProbe{}, time.Now().Add(100*time.Millisecond), 400*time.Millisecond, nil, 100*time.Millisecond)
	st := w.stats(0)
	if st == nil {
		t.Fatal("the window was not measured")
	}
	if w.s1.Members != 2 {
		t.Errorf("the window read %d processes of the group, want 2 (sh and its worker)", w.s1.Members)
	}
	// The waiting leader uses no CPU at all (reading it alone gives 0.00
	// s); the spinning child gets some even on a machine with a load of 20
	// (0.07 s seen), so one clock tick is the bound that cannot be flaky.
	if cpu := st.CPUUserS + st.CPUSysS; cpu < 0.01 {
		t.Errorf("server CPU %.2f s in a 0.4 s window with a spinning worker: the worker's time is lost", cpu)
	}
}

// singleStack is a stack that runs one process whatever the server CPUs,
// as c-epoll does.
type singleStack struct{ Stack }

func (singleStack) SingleProcess() bool { return true }

// A single-process stack (c-epoll) gets no --procs on several server CPUs:
// it would refuse it.
func TestProcsNotPassedToSingleProcessStack(t *testing.T) {
	t.Parallel()
	deps := fakeDeps()
	deps.Stacks = func(name string) (Stack, bool) {
		s, ok := fakeDeps().Stacks("fakestack")
		return singleStack{s}, ok
	}
	r := &Runner{deps: deps, stderr: io.Discard, srvCPUs: []int{0, 1}}
	srv, err := r.resolveTarget(t.Context(), config.ServerEntry{Model: "fakestack"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := serverConfig(srv, results.Scenario{SizeBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cfg.Args(), "--procs") || srv.Info.Procs != 0 {
		t.Errorf("argv %q, record procs %d: want no --procs", cfg.Args(), srv.Info.Procs)
	}
}

// remoteStack is a stack that checks --addr as serve does, as c-epoll does.
type remoteStack struct{ Stack }

func (remoteStack) AllowRemoteFlag() bool { return true }

// A stack that refuses a non-loopback --addr without --allow-remote
// (c-epoll) is given the flag like a Go model; another stack is not.
func TestAllowRemoteFlagForCheckingStack(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		wrap func(Stack) Stack
		want bool
	}{{func(s Stack) Stack { return remoteStack{s} }, true}, {func(s Stack) Stack { return s }, false}} {
		deps := fakeDeps()
		deps.Stacks = func(name string) (Stack, bool) {
			s, ok := fakeDeps().Stacks("fakestack")
			return tt.wrap(s), ok
		}
		r := &Runner{deps: deps, stderr: io.Discard, srvCPUs: []int{0}}
		srv, err := r.resolveTarget(t.Context(), config.ServerEntry{Model: "fakestack"})
		if err != nil {
			t.Fatal(err)
		}
		if srv.RemoteFlag != tt.want {
			t.Errorf("RemoteFlag %v, want %v", srv.RemoteFlag, tt.want)
		}
	}
}
