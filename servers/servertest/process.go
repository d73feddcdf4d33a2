package servertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"echobench/servers"
	"echobench/servers/work"
)

// Time limits of the contract, and of the suite's own patience. They are
// variables only so the suite's own tests can shorten the waits for servers
// that are broken on purpose.
var (
	// startTimeout bounds the wait for the LISTENING line (contract: 10 s).
	startTimeout = 10 * time.Second
	// termTimeout bounds exit after SIGTERM (contract: 2 s).
	termTimeout = 2 * time.Second
	// cleanupTermWait is how long cleanup waits after SIGTERM before SIGKILL.
	cleanupTermWait = 5 * time.Second
)

const stderrTailBytes = 8 << 10

// serverProc is one running server process, started in its own process group
// so that it and any children it starts can be signalled together.
type serverProc struct {
	name string
	argv []string
	cmd  *exec.Cmd
	pid  int
	addr string // host:port from the LISTENING line

	exited  chan struct{} // closed once the process has been reaped
	state   *os.ProcessState
	waitErr error

	stderr  *tailBuffer
	readers sync.WaitGroup // the stdout and stderr drains

	mu          sync.Mutex
	extraStdout []string // stdout lines after LISTENING: a contract violation
	children    []procID // descendants seen before signalling, to kill at cleanup
}

// startServer starts target and waits for its LISTENING line; procs > 0 is
// passed as --procs. It registers a cleanup that stops the process group,
// so no process outlives the test.
func startServer(t Reporter, target Target, spec work.Spec, procs int) *serverProc {
	t.Helper()
	cfg := servers.Config{Addr: "127.0.0.1:0", MaxPendingBytes: target.maxPending(), Work: spec, Procs: procs}
	if spec.Kind != work.None {
		cfg.RequestSizeBytes = workRequestBytes
	}
	argv := append(slices.Clone(target.Command), cfg.Args()...)
	p := &serverProc{name: target.Name, argv: argv, exited: make(chan struct{}), stderr: &tailBuffer{max: stderrTailBytes}}

	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatalf("start %s: stdout pipe: %v", target.Name, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		t.Fatalf("start %s: stderr pipe: %v", target.Name, err)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), target.Env...)
	// *os.File outputs: the child writes straight into our pipes and exec
	// starts no copying goroutines, so Wait does not depend on the drains.
	p.cmd.Stdout = outW
	p.cmd.Stderr = errW
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// A safety net if the test binary itself dies (say, a -timeout
		// panic): the kernel kills the server. It fires when the forking
		// OS thread exits, which the Go runtime does not do to unlocked
		// threads; the process group cleanup below is the real mechanism.
		Pdeathsig: syscall.SIGKILL,
	}
	startErr := p.cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		t.Fatalf("start %s: %q: %v", target.Name, argv, startErr)
	}
	p.pid = p.cmd.Process.Pid
	go func() {
		p.waitErr = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.exited)
	}()

	ready := make(chan readyMsg, 1)
	p.readers.Add(2)
	go func() {
		defer p.readers.Done()
		defer errR.Close()
		io.Copy(p.stderr, errR) // drained to the end: a closed pipe would SIGPIPE the server
	}()
	go func() {
		defer p.readers.Done()
		defer outR.Close()
		p.drainStdout(outR, ready)
	}()
	// On failure, stop logs how the process ended and the tail of its
	// stderr, complete once the streams are drained.
	t.Cleanup(func() { p.stop(t) })

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case m := <-ready:
		if m.err != nil {
			t.Fatalf("start %s: %v", target.Name, m.err)
		}
		p.addr = m.addr
	case <-p.exited:
		// The LISTENING line may have raced the exit; prefer it.
		select {
		case m := <-ready:
			if m.err == nil {
				t.Fatalf("start %s: server exited right after LISTENING %s: %s", target.Name, m.addr, p.describeExit())
			}
		default:
		}
		t.Fatalf("start %s: %q exited before printing LISTENING: %s", target.Name, argv, p.describeExit())
	case <-timer.C:
		t.Fatalf("start %s: no LISTENING line on stdout within %v of starting %q", target.Name, startTimeout, argv)
	}
	return p
}

type readyMsg struct {
	addr string
	err  error
}

// drainStdout reads stdout to its end. The first line must be LISTENING;
// later lines are recorded as violations (stdout carries nothing else).
func (p *serverProc) drainStdout(r io.Reader, ready chan<- readyMsg) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			addr, err := parseListening(line)
			ready <- readyMsg{addr: addr, err: err}
			continue
		}
		p.mu.Lock()
		if len(p.extraStdout) < 10 {
			p.extraStdout = append(p.extraStdout, line)
		}
		p.mu.Unlock()
	}
	if sc.Err() != nil {
		if first {
			ready <- readyMsg{err: fmt.Errorf("read stdout before LISTENING: %w", sc.Err())}
		}
		io.Copy(io.Discard, r)
	}
}

// parseListening checks the announcement line, "LISTENING host:port".
func parseListening(line string) (string, error) {
	addr, ok := strings.CutPrefix(line, "LISTENING ")
	if !ok {
		return "", fmt.Errorf("first stdout line is %q, want \"LISTENING host:port\" (logs belong on stderr)", line)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("LISTENING line %q: %w", line, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("LISTENING line %q: port %q is not 1-65535", line, port)
	}
	if host == "" {
		return "", fmt.Errorf("LISTENING line %q: empty host", line)
	}
	return addr, nil
}

// hasExited reports whether the process has been reaped.
func (p *serverProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the server's whole process group.
func (p *serverProc) signalGroup(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.pid, err)
	}
	return nil
}

// groupAlive reports whether any process is left in the server's group.
// Once the leader is reaped, a live group means it left children behind.
func (p *serverProc) groupAlive() bool {
	return syscall.Kill(-p.pid, 0) == nil
}

// noteChildren records the server's current descendants, so that those
// which leave its process group can still be found once it has exited.
func (p *serverProc) noteChildren() {
	d := descendants(p.pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range d {
		if !slices.Contains(p.children, c) {
			p.children = append(p.children, c)
		}
	}
}

// liveChildren returns the recorded descendants that still run.
func (p *serverProc) liveChildren() []procID {
	p.mu.Lock()
	defer p.mu.Unlock()
	var live []procID
	for _, c := range p.children {
		if c.alive() {
			live = append(live, c)
		}
	}
	return live
}

// waitExit waits until the process has exited or d has passed.
func (p *serverProc) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.exited:
		return true
	case <-timer.C:
		return false
	}
}

// stop ends the process group for good: SIGTERM, then SIGKILL as a last
// resort, and it waits for the stream drains. Contract violations that
// only show at the end (extra stdout lines) are reported here.
func (p *serverProc) stop(t Reporter) {
	if !p.hasExited() {
		p.noteChildren()
		if err := p.signalGroup(syscall.SIGTERM); err != nil {
			t.Errorf("stop %s: %v", p.name, err)
		}
		if !p.waitExit(cleanupTermWait) {
			t.Logf("stop %s: pid %d still running %v after SIGTERM; sending SIGKILL to its group", p.name, p.pid, cleanupTermWait)
			p.signalGroup(syscall.SIGKILL)
			if !p.waitExit(cleanupTermWait) {
				t.Errorf("stop %s: pid %d survived SIGKILL for %v", p.name, p.pid, cleanupTermWait)
			}
		}
	}
	if p.groupAlive() {
		t.Logf("stop %s: processes left in group %d after the server exited; sending SIGKILL", p.name, p.pid)
		p.signalGroup(syscall.SIGKILL)
	}
	if left := p.liveChildren(); len(left) > 0 {
		t.Logf("stop %s: child processes %v outlived the server; sending SIGKILL", p.name, left)
		for _, c := range left {
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
	}
	drained := make(chan struct{})
	go func() { p.readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(cleanupTermWait):
		t.Errorf("stop %s: stdout/stderr still open %v after the process group was killed", p.name, cleanupTermWait)
	}
	p.mu.Lock()
	extra := slices.Clone(p.extraStdout)
	p.mu.Unlock()
	if len(extra) > 0 {
		t.Errorf("%s wrote %d line(s) to stdout after LISTENING, first %q; the contract keeps stdout for the LISTENING line only (logs go to stderr)", p.name, len(extra), extra[0])
	}
	if t.Failed() {
		t.Logf("%s: %s\n%s", p.name, p.describeExit(), p.stderrTail())
	}
}

// describeExit says how the process ended, for failure messages.
func (p *serverProc) describeExit() string {
	if !p.hasExited() {
		return fmt.Sprintf("pid %d still running", p.pid)
	}
	st := p.state
	if st == nil {
		return fmt.Sprintf("pid %d: wait failed: %v", p.pid, p.waitErr)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("pid %d killed by signal %v", p.pid, ws.Signal())
	}
	return fmt.Sprintf("pid %d exited with status %d", p.pid, st.ExitCode())
}

func (p *serverProc) stderrTail() string {
	b := p.stderr.Bytes()
	if len(b) == 0 {
		return "(server stderr is empty)"
	}
	return fmt.Sprintf("server stderr (last %d bytes):\n%s", len(b), b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}
