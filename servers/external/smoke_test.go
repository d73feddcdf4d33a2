package external

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSmoke is a fast check of every available stack through the command
// Argv builds: the readiness line, echo, echo after half-close, a framework
// that is missing exits 3 with its message, and SIGTERM with live connections
// exits 0 within 2 s. The full contract is servertest's (conformance_test.go).
func TestSmoke(t *testing.T) {
	t.Parallel()
	for _, s := range Stacks() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Check(context.Background()); err != nil {
				if requireStacks() && debianPackaged(s) {
					t.Fatalf("ECHOBENCH_REQUIRE_STACKS=1 and %s is unavailable: %v", s.Name, err)
				}
				if s.module != "" {
					smokeMissing(t, s)
				}
				t.Skipf("unavailable here: %v", err)
			}
			smokeUsage(t, s)
			smoke(t, s)
		})
	}
}

// server is one running stack process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	exited chan error
	// extra holds stdout after the LISTENING line, which the contract
	// forbids; it is safe to read once exited has delivered.
	extra []string
}

func start(t *testing.T, s Stack) *server {
	t.Helper()
	argv, err := s.Argv()
	if err != nil {
		t.Fatal(err)
	}
	argv = append(argv, "--addr", "127.0.0.1:0", "--max-pending", "1048576", "--loops", "1")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = srv.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kill the group: the contract says no children, but a broken server
		// must not outlive the test.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-srv.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: process %d did not exit after SIGKILL", s.Name, cmd.Process.Pid)
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() { // drain to EOF so the server never dies of SIGPIPE
			if first {
				lines <- sc.Text()
				first = false
			} else {
				srv.extra = append(srv.extra, sc.Text())
			}
		}
		close(lines)
		srv.exited <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("%s exited before LISTENING; stderr:\n%s", s.Name, srv.stderr)
		}
		addr, found := strings.CutPrefix(line, "LISTENING ")
		if !found {
			t.Fatalf("%s: first stdout line %q, want LISTENING host:port", s.Name, line)
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("%s: LISTENING %q: want a 127.0.0.1 address (err %v)", s.Name, addr, err)
		}
		srv.addr = addr
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no LISTENING line within 20 s; stderr:\n%s", s.Name, srv.stderr)
	}
	return srv
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c.(*net.TCPConn)
}

func smoke(t *testing.T, s Stack) {
	srv := start(t, s)

	// Request/reply.
	c := dial(t, srv.addr)
	for i := range 3 {
		msg := fmt.Appendf(nil, "message %d", i)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reading echo %d: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo %d = %q, want %q", i, got, msg)
		}
	}

	// Half-close: 2 MiB (twice --max-pending, so backpressure engages),
	// then CloseWrite; everything must come back, then EOF.
	h := dial(t, srv.addr)
	data := make([]byte, 2<<20)
	rand.Read(data)
	writeErr := make(chan error, 1)
	go func() {
		_, err := h.Write(data)
		if err == nil {
			err = h.CloseWrite()
		}
		writeErr <- err
	}()
	got, err := io.ReadAll(h)
	if err != nil {
		t.Fatalf("half-close read: %v (after %d bytes)", err, len(got))
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("half-close write: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("half-close: got %d bytes back, want %d identical", len(got), len(data))
	}

	// SIGTERM with live connections, one of them mid-echo.
	for range 10 {
		lc := dial(t, srv.addr)
		if _, err := lc.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(lc, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	busy := dial(t, srv.addr)
	go busy.Write(make([]byte, 8<<20)) // never read: stuck in backpressure
	began := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.exited:
		took := time.Since(began)
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, srv.stderr)
		}
		if took > 2*time.Second {
			t.Errorf("exit took %v after SIGTERM, want within 2 s", took)
		}
		srv.exited <- nil // for Cleanup
		if len(srv.extra) != 0 {
			t.Errorf("stdout after the LISTENING line: %q", srv.extra)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no exit within 5 s of SIGTERM; stderr:\n%s", srv.stderr)
	}
	if strings.Contains(srv.stderr.String(), "Traceback") {
		t.Errorf("stderr has a traceback:\n%s", srv.stderr)
	}
}

// smokeUsage checks that a bad flag is a usage error (exit 2) that prints
// nothing on stdout, where a supervisor would wait for LISTENING.
func smokeUsage(t *testing.T, s Stack) {
	t.Helper()
	argv, err := s.Argv()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--loops", "2"}, {"--addr", "127.0.0.1"}, {"--max-pending", "0"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], bad...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 {
			t.Errorf("%s %q: err = %v, want exit status 2; stderr:\n%s", s.Name, bad, err, &stderr)
		}
		if stdout.Len() != 0 || stderr.Len() == 0 {
			t.Errorf("%s %q: stdout %q, stderr %q: want the complaint on stderr only", s.Name, bad, stdout.String(), stderr.String())
		}
	}
}

// smokeMissing runs a stack whose framework is not importable: the script
// must exit with status 3 and say what is missing.
func smokeMissing(t *testing.T, s Stack) {
	t.Helper()
	argv, err := s.Argv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(argv[0]); err != nil {
		return // no interpreter at all: nothing to run
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "--addr", "127.0.0.1:0")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 {
		t.Errorf("%s without its framework: err = %v, want exit status 3; stderr:\n%s", s.Name, err, &stderr)
	}
	if !strings.Contains(stderr.String(), s.module+" is not installed: ") {
		t.Errorf("%s stderr = %q, want %q", s.Name, stderr.String(), s.module+" is not installed: ...")
	}
	if stdout.Len() != 0 {
		t.Errorf("%s printed %q on stdout", s.Name, stdout.String())
	}
}
