package servertest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	// faultEnv tells TestBrokenTargetHelper which fault to inject; only
	// TestSuiteCatchesFaults sets it, in a subprocess.
	faultEnv = "ECHOBENCH_SERVERTEST_FAULT"
	// fakeBinEnv passes the already built fakeecho to that subprocess.
	fakeBinEnv = "ECHOBENCH_SERVERTEST_FAKEECHO"
)

// fakeEcho returns the path of the test-only echo server that honours the
// contract unless told to break it with --fault.
func fakeEcho(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(fakeBinEnv); p != "" {
		return p
	}
	p, err := buildPackage("echobench/servers/servertest/internal/fakeecho", "fakeecho")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFakeConforms runs the suite against a server that honours the
// contract: every case must pass, so the suite asks nothing beyond it.
func TestFakeConforms(t *testing.T) {
	t.Parallel()
	Run(t, Target{Name: "fakeecho", Command: []string{fakeEcho(t)}})
}

// TestSuiteCatchesFaults proves the suite fails when it should: each row
// starts a fakeecho that breaks one rule and runs the case that checks that
// rule in a subprocess (this test binary, running TestBrokenTargetHelper),
// which must fail with the expected explanation.
func TestSuiteCatchesFaults(t *testing.T) {
	if os.Getenv(faultEnv) != "" {
		t.Skip("inside the subprocess")
	}
	t.Parallel()
	fake := fakeEcho(t)
	tests := []struct {
		fault, caseName string
		want            []string // in the failure output
	}{
		{"corrupt", "one-mib-single-write", []string{"echo differs at byte 4095"}},
		{"hold-last-byte", "half-close-8mib", []string{"got 8388607 of 8388608 bytes"}},
		{"no-close-on-eof", "one-byte", []string{"did not close after the client's half-close"}},
		{"unbounded", "slow-reader-64mib", []string{"no backpressure"}},
		{"leak-on-error", "client-reset", []string{"it leaks connections"}},
		{"no-close-on-eof", "abrupt-close-100", []string{"it leaks connections"}},
		{"no-close-on-eof", "churn-20000", []string{"it leaks connections"}},
		{"leak-memory", "churn-20000", []string{"it keeps memory per connection"}},
		{"sigterm-exit-1", "sigterm-100-conns", []string{"exited with status 1, want exit status 0"}},
		{"slow-exit", "sigterm-100-conns", []string{"still running 2s after SIGTERM"}},
		{"orphan-child", "sigterm-100-conns", []string{"processes are left in the server's process group"}},
		{"setsid-child", "sigterm-100-conns", []string{"(sleep)] of the server still run"}},
		{"no-listening", "one-byte", []string{"no LISTENING line on stdout within", "server stderr", "fakeecho: listening on 127.0.0.1:"}},
		{"bind-all", "listen-loopback", []string{"must bind loopback only"}},
		{"extra-stdout", "one-byte", []string{"wrote 1 line(s) to stdout after LISTENING"}},
	}
	for _, tc := range tests {
		t.Run(tc.fault+"/"+tc.caseName, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0],
				"-test.run=^TestBrokenTargetHelper$/^"+tc.caseName+"$",
				"-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), faultEnv+"="+tc.fault, fakeBinEnv+"="+fake)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a server with fault %q; want case %s to fail\n%s", tc.fault, tc.caseName, out)
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
				t.Fatalf("subprocess: %v, want exit status 1 (a failed test)\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, "--- FAIL: TestBrokenTargetHelper/"+tc.caseName) {
				t.Errorf("case %s did not fail for fault %q\n%s", tc.caseName, tc.fault, s)
			}
			for _, want := range tc.want {
				if !strings.Contains(s, want) {
					t.Errorf("fault %q: the failure does not say %q\n%s", tc.fault, want, s)
				}
			}
			if strings.Contains(s, "panic:") || strings.Contains(s, "watchdog:") {
				t.Errorf("fault %q: the case did not fail cleanly\n%s", tc.fault, s)
			}
			if !strings.Contains(s, "seed ") {
				t.Errorf("fault %q: the failure does not print the seed\n%s", tc.fault, s)
			}
		})
	}
}

// TestBrokenTargetHelper runs the suite against a deliberately broken
// fakeecho. It only runs as TestSuiteCatchesFaults's subprocess.
func TestBrokenTargetHelper(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestSuiteCatchesFaults in a subprocess")
	}
	// These faults make the suite wait out its limits; waiting the full
	// contract limits would prove nothing more. Set before Run starts any
	// goroutine.
	startTimeout = 2 * time.Second
	eofTimeout = time.Second
	fdSettleTimeout = time.Second
	Run(t, Target{Name: "fakeecho-" + fault, Command: []string{fakeEcho(t), "--fault", fault}})
}

// TestLimitationsSkipCases: a case listed in Limitations starts no server.
// The command does not exist, so any case that ran would fail.
func TestLimitationsSkipCases(t *testing.T) {
	t.Parallel()
	lim := map[string]string{}
	for _, name := range CaseNames() {
		lim[name] = "documented reason for " + name
	}
	ok := t.Run("all-limited", func(t *testing.T) {
		Run(t, Target{Name: "none", Command: []string{"/nonexistent/server"}, Limitations: lim})
	})
	if !ok {
		t.Fatal("a case listed in Limitations ran")
	}
}

func TestCheckLimitations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		lim     map[string]string
		wantErr string
	}{
		{"none", nil, ""},
		{"known case", map[string]string{"slow-reader-64mib": "reason"}, ""},
		{"unknown case", map[string]string{"slow-reader": "reason"}, `unknown case "slow-reader"`},
		{"empty reason", map[string]string{"one-byte": ""}, `no reason`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkLimitations(Target{Name: "x", Command: []string{"x"}, Limitations: tc.lim})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCaseNamesUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, n := range append(CaseNames(), ProcsCaseNames()...) {
		if seen[n] || n == "" || strings.ContainsAny(n, " /") {
			t.Errorf("case name %q is duplicate or not usable in -run", n)
		}
		seen[n] = true
	}
	if len(seen) != len(cases)+len(procsCases) {
		t.Errorf("%d unique names for %d cases", len(seen), len(cases)+len(procsCases))
	}
}
