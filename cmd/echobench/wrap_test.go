package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"echobench/internal/results"
)

// readUsage reads a --usage-out file and checks that its figures are those
// of a process that worked: CPU and memory used, a life.
func readUsage(t *testing.T, r io.Reader) results.ServerUsage {
	t.Helper()
	u, err := results.ReadServerUsage(r)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUUserS+u.CPUSysS <= 0 || u.PeakRSSBytes < 1<<20 || u.WallS <= 0 {
		t.Errorf("usage %+v: want CPU > 0, peak RSS ≥ 1 MiB, a life > 0", u)
	}
	return u
}

// busyScript burns some CPU in the shell, prints on both streams and exits
// with a status of its own.
const busyScript = `i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo out; echo err >&2; exit 3`

func TestWrapReportsChild(t *testing.T) {
	t.Parallel()
	usage := filepath.Join(t.TempDir(), "usage.json")
	var stdout, stderr bytes.Buffer
	err := run(&stdout, &stderr, []string{"wrap", "--usage-out", usage, "--", "sh", "-c", busyScript})
	if code := exitCode(err, &stderr); code != 3 {
		t.Fatalf("exit %d (%v), want the child's 3", code, err)
	}
	if stdout.String() != "out\n" || !strings.HasPrefix(stderr.String(), "err\n") {
		t.Errorf("output not passed through: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	f, err := os.Open(usage)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readUsage(t, f)

	// "-": the usage line follows the child's output on stdout.
	stdout.Reset()
	if err := run(&stdout, &stderr, []string{"wrap", "--usage-out", "-", "--", "sh", "-c", strings.Replace(busyScript, "exit 3", "exit 0", 1)}); err != nil {
		t.Fatal(err)
	}
	out, line, _ := strings.Cut(stdout.String(), "\n")
	if out != "out" {
		t.Fatalf("stdout %q", stdout.String())
	}
	readUsage(t, strings.NewReader(line))
}

func TestWrapUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--", "true"}, 2, "--usage-out is required"},
		{[]string{"--usage-out", "-"}, 2, "missing COMMAND"},
		{[]string{"--usage-out", "-", "--", "/nonexistent/server"}, 1, "/nonexistent/server"},
		{[]string{"--usage-out", "/nonexistent/dir/u.json", "--", "true"}, 1, "--usage-out"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(&stdout, &stderr, append([]string{"wrap"}, tt.args...))
		if code := exitCode(err, &stderr); code != tt.code || !strings.Contains(errString(err), tt.want) {
			t.Errorf("wrap %q: exit %d, %v; want %d and %q", tt.args, code, err, tt.code, tt.want)
		}
	}
}

// startMain starts this test binary as `echobench ARGS` and returns it
// with its stdout, line by line; the channel closes at EOF.
func startMain(t *testing.T, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

// nextLine is the next line of lines, failing the test after 10 s or at
// EOF.
func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("stdout ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line on stdout within 10 s")
		return ""
	}
}

// exitWithin waits for cmd and returns its exit code.
func exitWithin(t *testing.T, cmd *exec.Cmd, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		t.Fatalf("%v did not exit within %v", cmd.Args, limit)
		return -1
	}
}

// SIGTERM to wrap reaches the child (once: it has its own process group),
// and wrap exits as the child does.
func TestWrapForwardsSignals(t *testing.T) {
	t.Parallel()
	usage := filepath.Join(t.TempDir(), "usage.json")
	cmd, out := startMain(t, "wrap", "--usage-out", usage, "--", "sh", "-c",
		`trap 'echo got TERM; exit 7' TERM; echo READY; while :; do sleep 0.02; done`)
	if line := nextLine(t, out); line != "READY" {
		t.Fatalf("child's first line %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if line := nextLine(t, out); line != "got TERM" {
		t.Errorf("the child did not get SIGTERM: %q", line)
	}
	if code := exitWithin(t, cmd, 10*time.Second); code != 7 {
		t.Errorf("exit %d, want the child's 7", code)
	}
	b, err := os.ReadFile(usage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := results.ReadServerUsage(bytes.NewReader(b)); err != nil {
		t.Errorf("usage line after a signal: %v", err)
	}
}

// serve --usage-out: after SIGTERM the server writes its own figures, to a
// file or, with "-", to stdout after the LISTENING line.
func TestServeUsageOut(t *testing.T) {
	t.Parallel()
	cmd, out := startMain(t, "serve", "netconn", "--usage-out", "-")
	line := nextLine(t, out)
	addr, ok := strings.CutPrefix(line, "LISTENING ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 4096)
	for range 500 { // some work to account for
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	usageLine := nextLine(t, out)
	select {
	case rest, ok := <-out:
		if ok {
			t.Errorf("after the usage line, stdout has %q", rest)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not close stdout within 10 s of SIGTERM")
	}
	if code := exitWithin(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	readUsage(t, strings.NewReader(usageLine))
}
