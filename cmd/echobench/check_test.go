package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Bad check command lines are usage errors naming what is wrong, before
// any server starts.
func TestCheckUsageErrors(t *testing.T) {
	t.Parallel()
	testUsageErrors(t, "check", []usageCase{
		{"nothing", nil, "missing -- COMMAND or MODEL"},
		{"empty command", []string{"--"}, "no COMMAND after --"},
		{"unknown flag", []string{"--nope", "--", "true"}, "-nope"},
		{"bad regexp", []string{"--run", "(", "--", "true"}, `--run "("`},
		{"run matches nothing", []string{"--run", "nosuchcase", "--", "true"}, `--run "nosuchcase" matches no case`},
		{"unknown work kind", []string{"--work-kinds", "cpu,nap", "--", "true"}, `--work-kinds "cpu,nap": unknown kind "nap"`},
		{"zero timeout", []string{"--timeout", "0s", "--", "true"}, "--timeout must be positive"},
		{"zero parallel", []string{"--parallel", "0", "--", "true"}, "--parallel must be at least 1"},
		{"unknown model", []string{"nosuch"}, `unknown model "nosuch"`},
		{"model and command", []string{"epoll", "--", "true"}, "not both"},
		{"two models", []string{"epoll", "gnet"}, "unexpected arguments"},
		{"work kinds of a model", []string{"--work-kinds", "cpu", "epoll"}, "--work-kinds is for a COMMAND"},
		{"missing program", []string{"--", "/nonexistent/server"}, `COMMAND "/nonexistent/server"`},
	})
}

// fakeServer is the command of a fake server (bench/internal/fake) in mode:
// this test binary, told by FAKEBENCH=1 to act as one.
func fakeServer(t *testing.T, mode string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"env", "FAKEBENCH=1", "GORACE=atexit_sleep_ms=0", exe, "serve", mode}
}

// runCheckCmd runs `echobench check ARGS` in this process and returns its
// exit status, stdout and stderr.
func runCheckCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := exitCode(run(&stdout, &stderr, append([]string{"check"}, args...)), &stderr)
	return code, stdout.String(), stderr.String()
}

// A command that breaks the contract fails, with the reason on the FAIL
// line and the server's stderr below it, and check exits 1.
func TestCheckBrokenCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode, run string
		want      []string
	}{
		{"corrupt", "^(one-byte|one-mib-single-write)$", []string{
			"FAIL one-byte: echo differs at byte 0 of 1",
			"FAIL one-mib-single-write: echo differs at byte 0 of 1048576",
			"check env: 0 passed, 2 failed, 0 skipped of 2 cases",
		}},
		{"crash", "^one-byte$", []string{
			"FAIL one-byte: start env: ",
			"exited before printing LISTENING",
			"    fake serve: cannot bind: simulated crash", // the stderr tail, indented
			"    env one-byte: seed ",
		}},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCheckCmd(append([]string{"--run", tt.run, "--"}, fakeServer(t, tt.mode)...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, stdout)
				}
			}
			if !strings.Contains(stderr, "echobench: check: ") || !strings.Contains(stderr, "failed against env") {
				t.Errorf("stderr does not name the failure: %q", stderr)
			}
		})
	}
}

// A command runs the work cases of the kinds it claims, started with that
// --work, and skips the others with the reason. The fake server crashes at
// start, so the outcome does not hang on timing: the failure shows the argv.
func TestCheckWorkKinds(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCheckCmd(append([]string{"--run", "^work-lone-(cpu|wait)$", "--work-kinds", "wait", "--"}, fakeServer(t, "crash")...)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stdout)
	}
	for _, w := range []string{
		"FAIL work-lone-wait: start env: ",
		`"--addr" "127.0.0.1:0" "--max-pending" "4194304" "--work" "wait:20ms" "--request-size" "100"] exited before printing LISTENING`,
		"SKIP work-lone-cpu: env does not implement --work cpu (its work kinds: wait)",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout does not say %q:\n%s", w, stdout)
		}
	}
}

// A built-in model's documented limitations and unimplemented work kinds
// are skips with the reason, and the --json objects say the same.
func TestCheckModelSkips(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCheckCmd("--json", "--run", "^(half-close-8mib|work-lone-cpu)$", "nbio")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var got []checkCaseJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	for dec.More() {
		var c checkCaseJSON
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("stdout is not JSON objects: %v\n%s", err, stdout)
		}
		got = append(got, c)
	}
	if len(got) != 2 || got[0].Case != "half-close-8mib" || got[1].Case != "work-lone-cpu" {
		t.Fatalf("cases %+v, want half-close-8mib then work-lone-cpu", got)
	}
	for _, c := range got {
		if c.Status != "skip" {
			t.Errorf("%s: status %q, want skip", c.Case, c.Status)
		}
	}
	if !strings.Contains(got[0].Reason, "nbio: documented limitation: nbio v1.6.8 closes a connection on EPOLLRDHUP") {
		t.Errorf("half-close-8mib skipped for %q, want nbio's documented limitation", got[0].Reason)
	}
	if !strings.Contains(got[1].Reason, "nbio does not implement --work cpu (its work kinds: none)") {
		t.Errorf("work-lone-cpu skipped for %q", got[1].Reason)
	}
	if !strings.Contains(stderr, "check nbio: 0 passed, 0 failed, 2 skipped of 2 cases") {
		t.Errorf("the summary is not on stderr: %q", stderr)
	}
}

// A built-in Go model passes, started through this binary's own serve (the
// test binary acting as echobench, as in TestRunEndToEnd): a few fast cases,
// about a second.
func TestCheckGoModel(t *testing.T) {
	t.Parallel()
	cases := "^(listen-loopback|one-byte|pipelined-1000|sigterm-100-conns|work-lone-wait)$"
	cmd := exec.Command(os.Args[0], "check", "--run", cases, "epoll")
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GORACE=atexit_sleep_ms=0")
	out, err := runWithin(t, cmd, time.Minute)
	if err != nil {
		t.Fatalf("echobench check epoll: %v\n%s", err, out)
	}
	for _, c := range []string{"listen-loopback", "one-byte", "pipelined-1000", "sigterm-100-conns", "work-lone-wait"} {
		if !strings.Contains(string(out), "PASS "+c+"  ") {
			t.Errorf("no PASS line for %s:\n%s", c, out)
		}
	}
	if !strings.Contains(string(out), "check epoll: 5 passed, 0 failed, 0 skipped of 5 cases") {
		t.Errorf("no summary of 5 passes:\n%s", out)
	}
}
