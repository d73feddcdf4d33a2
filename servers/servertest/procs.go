package servertest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"echobench/bench/proc"
)

// The cases of --procs (docs/conformance.md, "Several processes"): a
// foreign stack started with --procs N runs N worker processes on one port
// under a parent that serves nothing (a Python supervisor, a Node cluster's
// primary). What the suite checks is the process tree's behaviour: every
// worker serves, SIGTERM ends all of them with exit 0 within 2 s, and no
// worker outlives its parent, even a parent killed with SIGKILL.

// procsCases are the --procs cases, in run order.
var procsCases = []testCase{
	{name: "procs-serve-sigterm", run: caseProcsServeSigterm},
	{name: "procs-sigterm-parent", run: caseProcsSigtermParent},
	{name: "procs-kill-parent", run: caseProcsKillParent},
	{name: "procs-worker-dies", run: caseProcsWorkerDies},
}

// ProcsCaseNames lists the --procs cases, in the order RunProcs runs them.
func ProcsCaseNames() []string {
	names := make([]string, len(procsCases))
	for i, c := range procsCases {
		names[i] = c.name
	}
	return names
}

// RunProcs runs the --procs cases named by only (every case when none)
// against target started with --procs procs (at least 2), each as a
// parallel subtest with its own server process tree.
func RunProcs[T TestingT[T]](t T, target Target, procs int, only ...string) {
	t.Helper()
	if procs < 2 {
		t.Fatalf("servertest: RunProcs with %d processes: at least 2 make several", procs)
	}
	for _, name := range only {
		if !slices.Contains(ProcsCaseNames(), name) {
			t.Fatalf("servertest: no --procs case %q (cases: %v)", name, ProcsCaseNames())
		}
	}
	for _, c := range procsCases {
		if len(only) > 0 && !slices.Contains(only, c.name) {
			continue
		}
		c.procs = procs
		t.Run(c.name, func(t T) {
			t.Parallel()
			runCase(t, target, c, DefaultCaseTimeout)
		})
	}
}

// procsConns is how many connections the serve case opens: enough that
// SO_REUSEPORT's hash leaves a worker without one with probability 2^-31
// for two workers, and that a round-robin hands each worker several.
const procsConns = 32

// workers returns the server's worker processes (its descendants), failing
// the case unless there are exactly --procs of them.
func (e *env) workers() []procID {
	e.t.Helper()
	w := descendants(e.srv.pid)
	if len(w) != e.procs {
		e.t.Fatalf("--procs %d: the server's process has %d descendants %v, want %d workers", e.procs, len(w), w, e.procs)
	}
	e.srv.noteChildren()
	return w
}

// caseProcsServeSigterm: with --procs N every worker holds some of 32
// connections and every connection is held by a worker (none by the
// parent, which serves nothing); then SIGTERM to the process group, as
// `echobench run` sends it (each worker gets it from the group and again
// from its parent), ends everything with exit 0 within 2 s.
func caseProcsServeSigterm(e *env) {
	workers := e.workers()
	conns := make([]*net.TCPConn, procsConns)
	errs := make([]error, procsConns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := e.dial()
			if err == nil {
				conns[i] = c
				err = echoRoundTrip(c, []byte("procs "+strconv.Itoa(i)))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			defer c.Close()
		}
	}
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("%d connections: %v", procsConns, err)
	}
	e.checkSpread(workers)
	e.expectCleanExit(func() error { return e.srv.signalGroup(syscall.SIGTERM) }, "SIGTERM to the process group")
}

// checkSpread fails the case unless every worker holds a descriptor of at
// least one established connection on the server's port, and every such
// connection is held by a worker.
func (e *env) checkSpread(workers []procID) {
	e.t.Helper()
	_, portText, _ := net.SplitHostPort(e.srv.addr)
	port, _ := strconv.Atoi(portText)
	established, err := establishedOn(port)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(established) < procsConns {
		e.t.Fatalf("%d established connections on port %d in /proc/net/tcp, want %d", len(established), port, procsConns)
	}
	held := map[uint64]bool{}
	var counts []string
	idle := false
	for _, w := range workers {
		n := 0
		inodes, _ := proc.SocketInodes(w.pid) // none if it ended
		for inode := range inodes {
			if established[inode] {
				held[inode] = true
				n++
			}
		}
		counts = append(counts, fmt.Sprintf("%v: %d", w, n))
		idle = idle || n == 0
	}
	if idle {
		e.t.Errorf("a worker serves no connection of %d (%s): the workers do not share the port", procsConns, strings.Join(counts, ", "))
	}
	if len(held) != len(established) {
		e.t.Errorf("workers hold %d of the %d connections on port %d (%s): another process serves the rest", len(held), len(established), port, strings.Join(counts, ", "))
	}
}

// caseProcsSigtermParent: SIGTERM to the parent alone (a user's kill PID)
// ends every worker, and the parent exits 0 within 2 s.
func caseProcsSigtermParent(e *env) {
	e.workers()
	e.stillEchoes("start")
	e.expectCleanExit(func() error { return syscall.Kill(e.srv.pid, syscall.SIGTERM) }, "SIGTERM to the parent")
}

// expectCleanExit sends a signal with send and expects exit 0 within 2 s,
// the port free and no worker left.
func (e *env) expectCleanExit(send func() error, what string) {
	e.t.Helper()
	sent := time.Now()
	if err := send(); err != nil {
		e.t.Fatal(err)
	}
	if !e.srv.waitExit(termTimeout) {
		e.t.Fatalf("still running %v after %s; the contract is exit within %v", termTimeout, what, termTimeout)
	}
	if st := e.srv.state; st == nil || !st.Exited() || st.ExitCode() != 0 {
		e.t.Errorf("after %s: %s, want exit status 0", what, e.srv.describeExit())
	}
	e.awaitNoWorkers(sent, what)
	if ln, err := net.Listen("tcp", e.srv.addr); err != nil {
		e.t.Errorf("after %s the port cannot be bound again: %v", what, err)
	} else {
		ln.Close()
	}
}

// awaitNoWorkers fails the case if a recorded worker still runs 2 s after
// since. It also waits, as long, for the process group to empty: a worker
// that died after its parent is a zombie until init reaps it, and holds no
// resources, but would still count as a process of the group at cleanup.
func (e *env) awaitNoWorkers(since time.Time, what string) {
	e.t.Helper()
	for {
		left := e.srv.liveChildren()
		if len(left) == 0 && (!e.srv.groupAlive() || time.Since(since) > termTimeout) {
			return
		}
		if len(left) > 0 && time.Since(since) > termTimeout {
			e.t.Errorf("workers %v still run %v after %s; no worker may outlive its parent", left, termTimeout, what)
			return
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline, not waiting for readiness
	}
}

// caseProcsKillParent: a parent killed with SIGKILL, which it cannot
// handle, leaves no worker behind (PR_SET_PDEATHSIG in Python; the closed
// IPC channel in a Node cluster).
func caseProcsKillParent(e *env) {
	e.workers()
	sent := time.Now()
	if err := syscall.Kill(e.srv.pid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	if !e.srv.waitExit(termTimeout) {
		e.t.Fatalf("the parent survived SIGKILL for %v", termTimeout)
	}
	e.awaitNoWorkers(sent, "SIGKILL to the parent")
}

// caseProcsWorkerDies: a worker that dies while serving makes the parent
// end the others and exit non-zero within 2 s, naming the worker on stderr,
// so a supervisor sees the server fail instead of a server with fewer
// workers than it was asked for.
func caseProcsWorkerDies(e *env) {
	workers := e.workers()
	victim := workers[0]
	sent := time.Now()
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	if !e.srv.waitExit(termTimeout) {
		e.t.Fatalf("the parent still runs %v after worker %v was killed; it must exit non-zero", termTimeout, victim)
	}
	if st := e.srv.state; st == nil || st.ExitCode() == 0 {
		e.t.Errorf("after worker %v was killed: %s, want a non-zero exit status", victim, e.srv.describeExit())
	}
	e.awaitNoWorkers(sent, "a worker's death")
	// The stderr drain ends once every process holding the pipe is gone.
	drained := make(chan struct{})
	go func() { e.srv.readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(termTimeout):
		e.t.Fatalf("the server's stderr is still open %v after it exited: a process keeps it", termTimeout)
	}
	if tail := string(e.srv.stderr.Bytes()); !strings.Contains(tail, strconv.Itoa(victim.pid)) || !strings.Contains(tail, "SIGKILL") {
		e.t.Errorf("stderr does not say that worker %d died of SIGKILL:\n%s", victim.pid, tail)
	}
}

// establishedOn returns the inodes of this network namespace's established
// TCP connections (IPv4 and IPv6) whose local port is port: the server's
// side of each connection to it.
func establishedOn(port int) (map[uint64]bool, error) {
	out := map[uint64]bool{}
	for _, family := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile("/proc/self/net/" + family)
		if errors.Is(err, fs.ErrNotExist) && family == "tcp6" {
			continue // IPv6 disabled
		}
		if err != nil {
			return nil, err
		}
		socks, err := proc.ParseNetTCP(b, family)
		if err != nil {
			return nil, err
		}
		for _, s := range socks {
			if s.State == tcpEstablished && s.Port == port {
				out[s.Inode] = true
			}
		}
	}
	return out, nil
}

// tcpEstablished is the ESTABLISHED state in /proc/net/tcp
// (include/net/tcp_states.h).
const tcpEstablished = 0x01
