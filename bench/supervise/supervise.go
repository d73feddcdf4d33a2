// Package supervise starts and stops the child processes of a run (servers
// and load generators): pinned to CPUs, in their own process group, with
// stdout and stderr drained as they arrive, and tracked by PID so that none
// outlives the run.
//
// Ownership: a Proc is used by one goroutine (the runner); its reader and
// waiter goroutines are internal. KillAll may be called from any goroutine,
// e.g. a signal handler.
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echobench/bench/config"
	"echobench/bench/proc"
)

// Limits on what is kept of a child's output.
const (
	// MaxStdout bounds the stdout kept (a load summary with its histogram
	// and timeline is tens of KiB); the rest is drained and dropped.
	MaxStdout = 8 << 20
	// TailBytes is how much of stderr is kept for error reports.
	TailBytes = 4 << 10
)

// Spec describes a child process.
type Spec struct {
	// Argv is the program and its arguments; no shell is involved.
	Argv []string
	// Env is the complete environment; nil means this process's.
	Env []string
	// CPUs pins the child (and everything it forks) to these CPUs; empty
	// means inherit this process's affinity.
	CPUs []int
}

// Proc is a running (or finished) child, leader of its own process group.
type Proc struct {
	// PID is the child's process ID, also its process group ID.
	PID  int
	cmd  *exec.Cmd
	argv []string

	lines chan string   // stdout lines, for WaitLine
	done  chan struct{} // closed when the child has been reaped
	read  sync.WaitGroup

	mu       sync.Mutex
	stdout   []byte
	tail     []byte
	waitErr  error
	exitCode int           // valid once done is closed
	cpuTime  time.Duration // user + system CPU of the child, valid once done is closed
}

var (
	liveMu sync.Mutex
	live   = map[int]*Proc{}
)

// Live returns the PIDs of the children that have been started and not yet
// stopped.
func Live() []int {
	liveMu.Lock()
	defer liveMu.Unlock()
	out := make([]int, 0, len(live))
	for pid := range live {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// KillAll sends SIGKILL to the process group of every live child. It is
// what a second Ctrl-C, a panic or a fatal error calls before exiting.
func KillAll() {
	liveMu.Lock()
	defer liveMu.Unlock()
	for pid := range live {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// spawner is the one OS thread that forks every child. A child inherits the
// CPU affinity of the thread that forks it, so the thread sets the child's
// mask just before the fork and restores its own after. The thread stays
// locked for the life of the process, so Pdeathsig (which fires when the
// forking thread exits) fires only when this process dies, even by SIGKILL.
var spawner = struct {
	once sync.Once
	reqs chan func()
}{reqs: make(chan func())}

func onSpawner(f func()) {
	spawner.once.Do(func() {
		go func() {
			runtime.LockOSThread()
			// Never unlocked: the goroutine and its thread live as long as
			// the process.
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawner.reqs <- func() { f(); close(done) }
	<-done
}

// Start starts spec. The child is its own process group leader, dies with
// SIGKILL if this process dies, and has its stdout and stderr read
// concurrently until they close.
func Start(spec Spec) (*Proc, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start: empty argv")
	}
	var out, errp pipe
	if err := out.open(); err != nil {
		return nil, fmt.Errorf("start %s: stdout pipe: %w", spec.Argv[0], err)
	}
	if err := errp.open(); err != nil {
		out.close()
		return nil, fmt.Errorf("start %s: stderr pipe: %w", spec.Argv[0], err)
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = spec.Env
	// *os.File outputs are handed to the child as they are, so Wait does
	// not wait for our readers, and a grandchild holding the pipe cannot
	// block Wait.
	cmd.Stdout = out.w
	cmd.Stderr = errp.w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	p, startErr := startPinned(cmd, spec.CPUs)
	out.w.Close()
	errp.w.Close()
	if startErr != nil {
		out.r.Close()
		errp.r.Close()
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			forget(cmd.Process.Pid)
		}
		return nil, fmt.Errorf("start %s: %w", spec.Argv[0], startErr)
	}
	p.watch(cmd, spec.Argv, out.r, errp.r)
	if len(spec.CPUs) > 0 {
		if err := p.checkAffinity(spec.CPUs); err != nil {
			p.Stop(0)
			return nil, err
		}
	}
	return p, nil
}

// pipe is one os.Pipe: r stays in this process, w goes to the child.
type pipe struct{ r, w *os.File }

func (p *pipe) open() (err error) {
	p.r, p.w, err = os.Pipe()
	return err
}

func (p *pipe) close() {
	p.r.Close()
	p.w.Close()
}

// startPinned forks cmd on the spawner thread with its affinity set to cpus
// (none: inherited), and registers the child as live before the spawner
// takes the next request, so that KillAll, racing with Start, never misses
// a child. On error cmd.Process may still be set: the caller reaps it.
func startPinned(cmd *exec.Cmd, cpus []int) (*Proc, error) {
	var p *Proc
	var startErr error
	onSpawner(func() {
		var saved unix.CPUSet
		if len(cpus) > 0 {
			if err := unix.SchedGetaffinity(0, &saved); err != nil {
				startErr = fmt.Errorf("read affinity: %w", err)
				return
			}
			var set unix.CPUSet
			for _, c := range cpus {
				set.Set(c)
			}
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				startErr = fmt.Errorf("pin to CPUs %s: %w", config.FormatCPUList(cpus), err)
				return
			}
		}
		startErr = cmd.Start()
		if len(cpus) > 0 {
			if err := unix.SchedSetaffinity(0, &saved); err != nil && startErr == nil {
				// The spawner keeps a wrong mask; later children set
				// their own, so only this process's own work is affected.
				startErr = fmt.Errorf("restore affinity: %w", err)
			}
		}
		if startErr == nil {
			p = &Proc{PID: cmd.Process.Pid}
			liveMu.Lock()
			live[p.PID] = p
			liveMu.Unlock()
		}
	})
	return p, startErr
}

// watch starts the goroutines that drain the child's stdout and stderr and
// the one that reaps it and records how it ended.
func (p *Proc) watch(cmd *exec.Cmd, argv []string, stdout, stderr *os.File) {
	p.cmd = cmd
	p.argv = argv
	p.lines = make(chan string, 64)
	p.done = make(chan struct{})
	p.read.Add(2)
	go p.readStdout(stdout)
	go p.readStderr(stderr)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.exitCode = exitCode(cmd.ProcessState)
		if ps := cmd.ProcessState; ps != nil {
			p.cpuTime = ps.UserTime() + ps.SystemTime()
		}
		p.mu.Unlock()
		close(p.done)
	}()
}

func forget(pid int) {
	liveMu.Lock()
	delete(live, pid)
	liveMu.Unlock()
}

// checkAffinity reads the child's Cpus_allowed_list: pinning that silently
// failed would make every figure of the run wrong.
func (p *Proc) checkAffinity(want []int) error {
	st, err := proc.ReadStatus(p.PID)
	if err != nil {
		select {
		case <-p.done:
			return nil // exited already; the caller sees the exit
		default:
		}
		return fmt.Errorf("check affinity of %d: %w", p.PID, err)
	}
	got, err := config.ParseCPUList(st.CPUsAllowed, 0)
	if err != nil {
		return fmt.Errorf("check affinity of %d: %w", p.PID, err)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("child %d runs on CPUs %s, want %s", p.PID, st.CPUsAllowed, config.FormatCPUList(want))
	}
	return nil
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (p *Proc) readStdout(r *os.File) {
	defer p.read.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			p.mu.Lock()
			if room := MaxStdout - len(p.stdout); room > 0 {
				p.stdout = append(p.stdout, line[:min(room, len(line))]...)
			}
			p.mu.Unlock()
			if err == nil {
				select {
				case p.lines <- strings.TrimRight(line, "\r\n"):
				default: // nobody waits for lines this late
				}
			}
		}
		if err != nil {
			close(p.lines)
			return
		}
	}
}

func (p *Proc) readStderr(r *os.File) {
	defer p.read.Done()
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.tail = append(p.tail, buf[:n]...)
			if len(p.tail) > 2*TailBytes {
				p.tail = append(p.tail[:0], p.tail[len(p.tail)-TailBytes:]...)
			}
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// ErrExited is returned by WaitLine when the child exits (or closes stdout)
// before printing the line.
var ErrExited = errors.New("exited before it was ready")

// WaitLine waits until the child prints a stdout line starting with prefix
// and returns the rest of it, trimmed. It fails when the child exits first,
// when timeout passes, or when ctx ends.
func (p *Proc) WaitLine(ctx context.Context, prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				// Stdout closed: the child is exiting. Give it a moment
				// so that the caller sees its exit status.
				select {
				case <-p.done:
				case <-t.C:
				case <-ctx.Done():
				}
				return "", ErrExited
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return strings.TrimSpace(rest), nil
			}
		case <-p.done:
			// Lines printed just before exit are still in the channel.
			select {
			case line, ok := <-p.lines:
				if ok {
					if rest, found := strings.CutPrefix(line, prefix); found {
						return strings.TrimSpace(rest), nil
					}
				}
			default:
			}
			return "", ErrExited
		case <-t.C:
			return "", fmt.Errorf("no %q line within %v", prefix, timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Done is closed once the child has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// CPUTime is the user plus system CPU time the child used in its life, from
// its rusage; ok is false until it has exited and been reaped.
func (p *Proc) CPUTime() (d time.Duration, ok bool) {
	select {
	case <-p.done:
	default:
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpuTime, true
}

// Exited reports whether the child has exited, and its status: the exit
// code, or 128+signal when a signal killed it.
func (p *Proc) Exited() (bool, int) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.exitCode
	default:
		return false, 0
	}
}

// Stdout returns what the child printed on stdout so far (at most
// MaxStdout bytes).
func (p *Proc) Stdout() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stdout)
}

// StderrTail returns the last TailBytes of the child's stderr.
func (p *Proc) StderrTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tail
	if len(t) > TailBytes {
		t = t[len(t)-TailBytes:]
	}
	return string(t)
}

// StopResult says how a child ended.
type StopResult struct {
	// ExitCode is the exit status, or 128+signal.
	ExitCode int
	// ExitedBefore is true when the child had exited before Stop was
	// called (a crash, or a load generator that finished).
	ExitedBefore bool
	// Killed is true when the group had to be killed after the grace.
	Killed bool
}

// Stop ends the child: SIGTERM to its process group, SIGKILL to the group
// after grace if the leader has not exited (grace 0 kills at once). The group
// is killed in any case afterwards, so nothing it forked survives. Stop waits
// for the output readers, so StderrTail is complete afterwards. It is safe to
// call more than once.
func (p *Proc) Stop(grace time.Duration) StopResult {
	var res StopResult
	select {
	case <-p.done:
		res.ExitedBefore = true
	default:
		if grace > 0 {
			_ = syscall.Kill(-p.PID, syscall.SIGTERM)
			t := time.NewTimer(grace)
			select {
			case <-p.done:
			case <-t.C:
				res.Killed = true
			}
			t.Stop()
		} else {
			res.Killed = true
		}
	}
	// Kill the whole group even when the leader exited: a forked helper
	// must not outlive the point.
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	<-p.done
	waitTimeout(&p.read, 2*time.Second)
	forget(p.PID)
	_, res.ExitCode = p.Exited()
	return res
}

// waitTimeout waits for wg, at most d: a grandchild that escaped the process
// group could hold a pipe open forever.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c:
	case <-t.C:
	}
}

// PinSelf sets the CPU affinity of every thread of this process, so that
// the orchestrator's own work (sampling, parsing) runs beside the load
// generator, not on the server's CPUs. Threads created later inherit it.
func PinSelf(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("pin self: %w", err)
	}
	for _, e := range ents {
		var tid int
		if _, err := fmt.Sscan(e.Name(), &tid); err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin thread %d: %w", tid, err)
		}
	}
	return nil
}

// AllowedCPUs returns the CPUs this process may run on.
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read affinity: %w", err)
	}
	var out []int
	for i := 0; i < 1024 && len(out) < set.Count(); i++ {
		if set.IsSet(i) {
			out = append(out, i)
		}
	}
	return out, nil
}
