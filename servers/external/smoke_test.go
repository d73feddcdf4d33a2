package external

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSmoke checks what the conformance suite cannot, since it needs a
// server that starts: a bad flag is a usage error (exit 2), and a stack whose
// framework is missing exits 3 saying so. Echo, half-close and SIGTERM are
// servertest's cases, run by TestConformance.
func TestSmoke(t *testing.T) {
	t.Parallel()
	for _, s := range Stacks() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if !usable(t, s) {
				if s.module != "" {
					smokeMissing(t, s)
				}
				t.Skip("unavailable here")
			}
			smokeUsage(t, s)
		})
	}
}

// usable reports whether s can run here. When it cannot, it logs Check's
// reason, and fails the test if ECHOBENCH_REQUIRE_STACKS=1 (CI) and the stack
// comes from Debian packages.
func usable(t *testing.T, s Stack) bool {
	t.Helper()
	_, err := s.Check(context.Background())
	if err == nil {
		return true
	}
	if requireStacks() && debianPackaged(s) {
		t.Fatalf("ECHOBENCH_REQUIRE_STACKS=1 and %s is unavailable: %v", s.Name, err)
	}
	t.Logf("unavailable here: %v", err)
	return false
}

// smokeUsage checks that a bad flag is a usage error (exit 2) that prints
// nothing on stdout, where a supervisor would wait for LISTENING.
func smokeUsage(t *testing.T, s Stack) {
	t.Helper()
	argv, err := s.Argv()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--loops", "2"}, {"--addr", "127.0.0.1"}, {"--max-pending", "0"}, {"--work", "sleep:1ms", "--request-size", "10"}, {"--procs", "0"}} {
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
