package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"echobench/internal/results"
)

// mainEnv makes this test binary act as the real echobench binary (see
// TestMain in run_test.go): the orchestrator re-executes itself
// (os.Executable) as `serve` and `load`, so a run started from a test
// exercises the real commands on both sides of every process boundary.
const mainEnv = "ECHOBENCH_TEST_AS_MAIN"

// TestRunEndToEnd runs `echobench run` on a two-point matrix with the real
// `echobench serve` and `echobench load`: a flag renamed on one side of the
// orchestrator's argv fails here, not in `make bench`.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "two.toml")
	err := os.WriteFile(cfg, []byte(`
duration = "1s"
warmup = "300ms"
repeats = 1
msg_timeout = "1s"

[[servers]]
model = "netconn"

[[scenarios]]
mode = "closed"
conns = [4]
sizes = [64, 1024]
depth = [2]
idle_conns = [3]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "res")
	cmd := exec.Command(os.Args[0], "run", cfg, "--results", res, "--seed", "1")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	out, err := runWithin(t, cmd, 2*time.Minute)
	if err != nil {
		t.Fatalf("echobench run: %v\n%s", err, out)
	}
	recs := readRecords(t, onlyRunDir(t, res)).Records
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2\n%s", len(recs), out)
	}
	sizes := map[int]bool{}
	for _, r := range recs {
		if r.Status != results.StatusOK || r.Load == nil || r.ServerStats == nil {
			t.Fatalf("point %s: status %s (%s), load %v\n%s", r.PointID, r.Status, r.Error, r.Load != nil, out)
		}
		l := r.Load
		// What the orchestrator asked for is what the load generator ran.
		if l.Conns != 4 || l.Depth != 2 || l.Mode != "closed" || l.IdleConns != 3 || l.SizeBytes != r.Scenario.SizeBytes {
			t.Errorf("point %s ran conns %d depth %d mode %s idle %d size %d; the matrix asked for 4, 2, closed, 3, %d",
				r.PointID, l.Conns, l.Depth, l.Mode, l.IdleConns, l.SizeBytes, r.Scenario.SizeBytes)
		}
		if l.Completed == 0 || l.CompletionRatio != 1 || l.IdleFailed != 0 || l.DurationS < 0.9 || l.DurationS > 1.1 {
			t.Errorf("point %s: completed %d, completion %v, idle failed %d, window %v s", r.PointID, l.Completed, l.CompletionRatio, l.IdleFailed, l.DurationS)
		}
		if r.Server.Name != "netconn" || r.ServerStats.CPUUserS+r.ServerStats.CPUSysS <= 0 {
			t.Errorf("point %s: server %q, server CPU %v s", r.PointID, r.Server.Name, r.ServerStats.CPUUserS+r.ServerStats.CPUSysS)
		}
		sizes[l.SizeBytes] = true
	}
	if !sizes[64] || !sizes[1024] {
		t.Errorf("sizes measured %v, want 64 and 1024", sizes)
	}
}

func runWithin(t *testing.T, cmd *exec.Cmd, limit time.Duration) ([]byte, error) {
	t.Helper()
	timer := time.AfterFunc(limit, func() {
		if cmd.Process != nil {
			cmd.Process.Signal(os.Interrupt) // the run's own Ctrl-C: finish the point, stop
		}
	})
	defer timer.Stop()
	return cmd.CombinedOutput()
}

// TestRunLoadProcsEndToEnd runs a point with load_procs = 2 with the real
// `echobench load`: both take the same --start-at from the orchestrator's
// argv, and their real outputs merge into the record.
func TestRunLoadProcsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "procs.toml")
	err := os.WriteFile(cfg, []byte(`
duration = "300ms"
warmup = "100ms"
repeats = 1
[[servers]]
model = "netconn"
[[scenarios]]
mode = "closed"
conns = [4]
sizes = [64]
load_procs = 2
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "res")
	cmd := exec.Command(os.Args[0], "run", cfg, "--results", res, "--seed", "1", "--server-cpus", "0", "--client-cpus", "0-1")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	out, err := runWithin(t, cmd, time.Minute)
	if err != nil {
		t.Fatalf("echobench run: %v\n%s", err, out)
	}
	recs := readRecords(t, onlyRunDir(t, res)).Records
	if len(recs) != 1 || recs[0].Status != results.StatusOK {
		t.Fatalf("records %+v\n%s", recs, out)
	}
	l := recs[0].Load
	if len(l.Generators) != 2 || l.Conns != 4 || l.Completed == 0 || l.Completed != l.Generators[0].Completed+l.Generators[1].Completed {
		t.Fatalf("merged load: %d generators, %d conns, completed %d", len(l.Generators), l.Conns, l.Completed)
	}
	g0, g1 := l.Generators[0], l.Generators[1]
	if g0.WindowStartUnixNs != g1.WindowStartUnixNs || l.DurationS != 0.3 {
		t.Errorf("windows start at %d and %d, merged window %v s; want one start and 0.3 s", g0.WindowStartUnixNs, g1.WindowStartUnixNs, l.DurationS)
	}
}
