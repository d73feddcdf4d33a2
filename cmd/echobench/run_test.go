package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"echobench/bench"
	"echobench/bench/benchtest"
	"echobench/bench/proc"
	"echobench/internal/results"
)

// The test binary doubles as echobench: with FAKEBENCH=1 it runs `serve`
// and `load` (the fakes) and `run` (the real command, wired to the fakes), so
// the command is tested as a process, signals and exit status included.
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(exitCode(run(os.Stdout, os.Stderr, os.Args[1:]), os.Stderr))
	}
	if os.Getenv("FAKEBENCH") == "1" && len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve":
			os.Exit(benchtest.Serve(os.Args[2:]))
		case "load":
			os.Exit(benchtest.Load(os.Args[2:]))
		case "run":
			os.Exit(exitCode(runMatrix(os.Stdout, os.Stderr, os.Args[2:], fakeDeps()), os.Stderr))
		}
	}
	os.Exit(m.Run())
}

func fakeDeps() bench.Deps {
	return bench.Deps{
		GoModels: benchtest.Modes,
		Stacks: func(name string) (bench.Stack, bool) {
			if s, ok := benchtest.LookupStack(name); ok {
				return s, true
			}
			return nil, false
		},
	}
}

type runProc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr []string
	lines  chan string
	done   chan error
}

// startRun starts `echobench run ARGS` (the test binary, wired to fakes).
func startRun(t *testing.T, piddir string, env []string, args ...string) *runProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &runProc{lines: make(chan string, 1000), done: make(chan error, 1)}
	r.cmd = exec.Command(exe, append([]string{"run"}, args...)...)
	// GORACE: a race-enabled binary otherwise sleeps 1 s at exit, which
	// every fake child would add to every point.
	r.cmd.Env = append(append(os.Environ(), "FAKEBENCH=1", "FAKEBENCH_PIDDIR="+piddir, "GORACE=atexit_sleep_ms=0"), env...)
	r.cmd.Stdout = &r.stdout
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.mu.Lock()
			r.stderr = append(r.stderr, sc.Text())
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		close(r.lines)
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
	})
	return r
}

func (r *runProc) stderrText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.stderr, "\n")
}

// waitLine waits for a stderr line containing s.
func (r *runProc) waitLine(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("run ended before printing %q; stderr:\n%s", s, r.stderrText())
			}
			if strings.Contains(l, s) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q within 60s; stderr:\n%s", s, r.stderrText())
		}
	}
}

// wait waits for the run to exit and returns its exit code.
func (r *runProc) wait(t *testing.T) int {
	t.Helper()
	for range r.lines { // keep draining
	}
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not exit; stderr:\n%s", r.stderrText())
		return -1
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runToEnd runs `echobench run CONFIG --results resultsDir ARGS...` to the
// end, fails the test unless it exits 0, and returns it with its run
// directory.
func runToEnd(t *testing.T, piddir string, env []string, cfg, resultsDir string, args ...string) (*runProc, string) {
	t.Helper()
	r := startRun(t, piddir, env, append([]string{cfg, "--results", resultsDir}, args...)...)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderrText())
	}
	return r, onlyRunDir(t, resultsDir)
}

func onlyRunDir(t *testing.T, resultsDir string) string {
	t.Helper()
	ents, err := os.ReadDir(resultsDir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("results dir holds %v (%v), want one run", ents, err)
	}
	return filepath.Join(resultsDir, ents[0].Name())
}

func readRecords(t *testing.T, runDir string) results.ReadResult {
	t.Helper()
	res, err := results.ReadFile(filepath.Join(runDir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// assertNoSurvivors checks that every process the fakes recorded is gone.
func assertNoSurvivors(t *testing.T, piddir string) {
	t.Helper()
	ents, err := os.ReadDir(piddir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatal("no child process was recorded: the test checks nothing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range ents {
		pid, _ := strconv.Atoi(e.Name())
		for proc.Alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d outlived the run", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	exe, _ := os.Executable()
	cfg := writeFile(t, dir, "m.toml", fmt.Sprintf(`
duration = "200ms"
warmup = "50ms"
repeats = 1
ready_timeout = "3s"
[[servers]]
model = "echo"
[[servers]]
model = "crash"
[[servers]]
model = "never"
[[servers]]
model = "ignoreterm"
[[servers]]
model = "anyaddr"
[[servers]]
model = "diemid"
[[servers]]
model = "busy"
[[servers]]
model = "fakestack"
[[servers]]
model = "missingstack"
[[servers]]
name = "cmd"
command = [%q, "serve", "echo"]
env = { EXTRA = "1" }
[[scenarios]]
mode = "closed"
conns = [2]
sizes = [64]
`, exe))
	res := filepath.Join(dir, "results")
	r, run := runToEnd(t, piddir, nil, cfg, res, "--seed", "3")
	rr := readRecords(t, run)
	byServer := map[string]results.Record{}
	for _, rec := range rr.Records {
		byServer[rec.Server.Name] = rec
	}
	if len(rr.Records) != 10 || len(byServer) != 10 {
		t.Fatalf("%d records for %d servers, want 10", len(rr.Records), len(byServer))
	}
	check := func(name, status, errPart string) results.Record {
		t.Helper()
		rec := byServer[name]
		if rec.Status != status || !strings.Contains(rec.Error, errPart) {
			t.Errorf("%s: status %q error %q, want %q containing %q", name, rec.Status, rec.Error, status, errPart)
		}
		return rec
	}
	for _, name := range []string{"echo", "fakestack", "cmd", "busy"} {
		rec := check(name, results.StatusOK, "")
		if rec.Load == nil || rec.ServerStats == nil {
			t.Errorf("%s: ok record without figures: %+v", name, rec)
			continue
		}
		st := rec.ServerStats
		if st.PeakRSSBytes <= 0 || st.BaseRSSBytes <= 0 || st.Threads < 1 || len(st.CPUTimeline) == 0 {
			t.Errorf("%s: server stats not filled: %+v", name, st)
		}
		if rec.Env.ServerCPUs == "" || rec.Env.ClientCPUs == "" || rec.Env.ServerGOMAXPROCS != 1 || rec.Env.Kernel == "" ||
			rec.Env.LoadWorkers != 1 || rec.Env.LoadGOMAXPROCS != 2 {
			t.Errorf("%s: env = %+v", name, rec.Env)
		}
		if rec.Noise == nil {
			t.Errorf("%s: no noise figures", name)
		}
		// The server's CPU lands on the load's 100 ms grid, up to its end:
		// the sampler reads on until the load generator exits.
		if n := len(st.Intervals); n == 0 || n > len(rec.Load.Intervals) || rec.Load.WindowStartMonoNs == 0 {
			t.Errorf("%s: %d server intervals for %d load intervals (window start %d)", name, n, len(rec.Load.Intervals), rec.Load.WindowStartMonoNs)
		}
		if w := undisturbedWarnings(rec); len(w) != 0 {
			t.Errorf("%s: warnings %v", name, w)
		}
	}
	// The busy server spins a CPU: its window must show it, however loaded
	// the machine (it has its own pinned CPU, shared with other tests).
	if st := byServer["busy"].ServerStats; st == nil || st.CPUUtil < 0.1 || st.CPUUserS <= 0 {
		t.Errorf("busy: CPU not measured: %+v", st)
	} else {
		var cpuS float64
		for _, iv := range st.Intervals {
			cpuS += iv.CPUUserS + iv.CPUSysS
		}
		if cpuS <= 0 {
			t.Errorf("busy: no CPU in its intervals %+v", st.Intervals)
		}
	}
	crash := check("crash", results.StatusFailed, "exited with status 3 before it was ready")
	if crash.ExitStatus == nil || *crash.ExitStatus != 3 || !strings.Contains(crash.StderrTail, "simulated crash") {
		t.Errorf("crash: exit %v, stderr tail %q", crash.ExitStatus, crash.StderrTail)
	}
	never := check("never", results.StatusFailed, "not ready")
	if !strings.Contains(never.StderrTail, "very slowly") {
		t.Errorf("never: stderr tail %q", never.StderrTail)
	}
	check("anyaddr", results.StatusFailed, "beyond loopback")
	die := check("diemid", results.StatusFailed, "exited with status 5 during the load")
	if die.ExitStatus == nil || *die.ExitStatus != 5 {
		t.Errorf("diemid: exit status %v", die.ExitStatus)
	}
	ign := check("ignoreterm", results.StatusOK, "")
	if w := undisturbedWarnings(ign); len(w) != 1 || !strings.Contains(w[0], "SIGTERM") {
		t.Errorf("ignoreterm: warnings %v", ign.Warnings)
	}
	check("missingstack", results.StatusSkipped, "python3-missing is not installed")
	if !strings.Contains(r.stderrText(), "SKIPPED missingstack: python3-missing is not installed") {
		t.Errorf("the skip reason was not printed; stderr:\n%s", r.stderrText())
	}
	if fs := byServer["fakestack"]; fs.Server.Version != "fake 1.0" || fs.Env.StackVersions["fakestack"] != "fake 1.0" {
		t.Errorf("stack version not recorded: %+v", fs.Server)
	}
	out := r.stdout.String()
	for _, want := range []string{"medians over repeats", "echo", "SKIPPED missingstack", "points FAILED", "Results: "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"config.toml", "env.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Error(err)
		}
	}
	meta, err := readMeta(run)
	if err != nil || meta.Seed != 3 || meta.Skipped["missingstack"] == "" || meta.Points != 10 {
		t.Errorf("env.json = %+v, %v", meta, err)
	}
	assertNoSurvivors(t, piddir)
}

// A point with idle connections and slow readers passes them to the load
// generator, records them, and divides the RSS growth by every connection.
func TestRunIdleSlow(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
duration = "200ms"
warmup = "50ms"
repeats = 1
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [2]
sizes = [64]
idle_conns = [5]
slow_readers = [1]
slow_read_bytes_per_s = 4096
`)
	res := filepath.Join(dir, "results")
	r, run := runToEnd(t, piddir, nil, cfg, res, "--seed", "1")
	rr := readRecords(t, run)
	if len(rr.Records) != 1 {
		t.Fatalf("%d records, want 1", len(rr.Records))
	}
	rec := rr.Records[0]
	if rec.Status != results.StatusOK || rec.Load == nil || rec.ServerStats == nil {
		t.Fatalf("record %+v", rec)
	}
	if sc := rec.Scenario; sc.IdleConns != 5 || sc.SlowReaders != 1 || sc.SlowReadBytesPerSec != 4096 {
		t.Errorf("scenario %+v", sc)
	}
	if l := rec.Load; l.IdleConns != 5 || l.IdleFailed != 0 || l.SlowReaders != 1 || l.SlowReadBytesPerSec != 4096 {
		t.Errorf("the flags did not reach the load generator: %+v", l)
	}
	if !strings.HasSuffix(rec.PointID, "closed/c2-s64-d1-idle5-slow1-4096Bps") {
		t.Errorf("PointID %s", rec.PointID)
	}
	st := rec.ServerStats
	if want := float64(st.PeakRSSBytes-st.BaseRSSBytes) / 8; st.RSSBytesPerConn != want {
		t.Errorf("rss_bytes_per_conn %.1f, want (peak-base)/8 = %.1f", st.RSSBytesPerConn, want)
	}
	if out := r.stdout.String(); !strings.Contains(out, "+5 idle +1 slow@4096B/s") || !strings.Contains(out, "idle failed / slow closed") {
		t.Errorf("summary does not show the idle and slow connections:\n%s", out)
	}
	assertNoSurvivors(t, piddir)
}

// Work reaches the server as --work and --request-size = the point's size
// (needwork refuses to start without them), only for points with work, and
// every record carries it, in its canonical form.
func TestRunWork(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
duration = "150ms"
warmup = "20ms"
repeats = 1
[[servers]]
model = "needwork"
[[scenarios]]
mode = "closed"
conns = [2]
sizes = [100]
work = ["none", "wait:1000us"]
`)
	res := filepath.Join(dir, "results")
	r, run := runToEnd(t, piddir, nil, cfg, res, "--seed", "1")
	rr := readRecords(t, run)
	if len(rr.Records) != 2 {
		t.Fatalf("%d records, want 2", len(rr.Records))
	}
	plain, withWork := rr.Records[0], rr.Records[1]
	if !strings.HasSuffix(plain.PointID, "closed/c2-s100-d1") || plain.Scenario.Work != "" || plain.Status != results.StatusFailed ||
		!strings.Contains(plain.StderrTail, "needwork got --work none --request-size 0") {
		t.Errorf("the point without work: %s work %q, %s, stderr %q; want no --work and no --request-size", plain.PointID, plain.Scenario.Work, plain.Status, plain.StderrTail)
	}
	if !strings.HasSuffix(withWork.PointID, "closed/c2-s100-d1-work=wait:1ms") || withWork.Scenario.Work != "wait:1ms" || withWork.Status != results.StatusOK {
		t.Errorf("the point with work: %s work %q, %s (%s %s)", withWork.PointID, withWork.Scenario.Work, withWork.Status, withWork.Error, withWork.StderrTail)
	}
	if out := r.stdout.String(); !strings.Contains(out, "work wait:1ms") {
		t.Errorf("summary does not show the work:\n%s", out)
	}
	assertNoSurvivors(t, piddir)
}

func TestSLOSearch(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
duration = "150ms"
warmup = "20ms"
repeats = 1
slo_p99 = "1ms"
slo_steps = 3
[[servers]]
model = "echo"
[[scenarios]]
mode = "open"
conns = [2]
sizes = [64]
load = [0.5, 0.9]
`)
	res := filepath.Join(dir, "results")
	// Capacity 1000 msg/s; the objective holds up to 600 msg/s. Sweep: 500
	// met, 900 missed; bisection: 700 missed, 600 met, 650 missed.
	r, run := runToEnd(t, piddir, []string{"FAKEBENCH_CAPACITY=1000", "FAKEBENCH_SLO_RATE=600"}, cfg, res)
	rr := readRecords(t, run)
	var rates []float64
	for _, rec := range rr.Records {
		if rec.Status != results.StatusOK {
			t.Fatalf("%s: %s %s", rec.PointID, rec.Status, rec.Error)
		}
		switch rec.Scenario.Kind {
		case results.KindSweep, results.KindSLO:
			if rec.Scenario.CapacityMsgsPerSec != 1000 || rec.Scenario.SLOP99Us != 1000 || rec.Scenario.SLOCompletion != 0.999 {
				t.Errorf("%s: scenario %+v", rec.PointID, rec.Scenario)
			}
			rates = append(rates, math.Round(rec.Scenario.RateMsgsPerSec))
		}
	}
	if want := []float64{500, 900, 700, 600, 650}; !reflect.DeepEqual(rates, want) {
		t.Errorf("offered rates %v, want %v", rates, want)
	}
	if out := r.stdout.String(); !regexpMatch(`echo\s+c2-s64-d1\s+600\s+0\.60\s+1`, out) {
		t.Errorf("summary does not report 600 msg/s:\n%s", out)
	}
	assertNoSurvivors(t, piddir)
}

// Absolute rates run as given, with the objective recorded; an overload
// point runs at its factor of the reference (here the closed-loop point of
// the same load, which completed more than the rate point) with its
// scenario's own timeout, and records both.
func TestRunRatesOverload(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
duration = "150ms"
warmup = "20ms"
repeats = 1
slo_steps = 0
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [2]
sizes = [64]
[[scenarios]]
mode = "open"
conns = [2]
sizes = [64]
rates = [300]
[[scenarios]]
mode = "open"
conns = [2]
sizes = [64]
overload = [1.5]
msg_timeout = "300ms"
`)
	_, run := runToEnd(t, piddir, []string{"FAKEBENCH_CAPACITY=1000"}, cfg, filepath.Join(dir, "results"))
	byID := map[string]results.Scenario{}
	for _, rec := range readRecords(t, run).Records {
		if rec.Status != results.StatusOK {
			t.Fatalf("%s: %s %s", rec.PointID, rec.Status, rec.Error)
		}
		byID[rec.PointID] = rec.Scenario
	}
	if len(byID) != 3 {
		t.Fatalf("points %v, want the closed, the rate and the overload point", byID)
	}
	if sc := byID["r1/echo/rate/c2-s64-d1/rate300"]; sc.Kind != results.KindRate || sc.RateMsgsPerSec != 300 || sc.SLOCompletion != 0.999 || sc.CapacityMsgsPerSec != 0 {
		t.Errorf("rate point %+v", sc)
	}
	sc := byID["r1/echo/overload/c2-s64-d1-timeout300ms/x1.5"]
	if sc.ReferenceMsgsPerSec != 1000 || sc.ReferenceFrom != "r1/echo/closed/c2-s64-d1" || sc.RateMsgsPerSec != 1500 || sc.MsgTimeoutS != 0.3 || sc.LoadFraction != 1.5 {
		t.Errorf("overload point %+v", sc)
	}
	assertNoSurvivors(t, piddir)
}

const resumeConfig = `
duration = "200ms"
warmup = "30ms"
repeats = 2
slo_steps = 0
[[servers]]
model = "echo"
[[servers]]
name = "echo2"
model = "echo"
[[scenarios]]
mode = "closed"
conns = [1, 2, 3]
sizes = [64]
`

func TestKillAndResume(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", resumeConfig)
	res := filepath.Join(dir, "results")
	r := startRun(t, piddir, nil, cfg, "--results", res)
	r.waitLine(t, "[2/12] done")
	r.waitLine(t, "[3/12] run")
	// Mid-point: a server and a load generator are running.
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.wait(t)
	assertNoSurvivors(t, piddir)

	run := onlyRunDir(t, res)
	before := readRecords(t, run).Records
	if len(before) < 2 || len(before) > 3 {
		t.Fatalf("%d records after the kill, want 2 or 3", len(before))
	}
	// Simulate a kill in the middle of a write.
	f, err := os.OpenFile(filepath.Join(run, results.FileName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"schema":1,"run_id":"x","point_id":"r2/ec`)
	f.Close()

	r2 := startRun(t, piddir, nil, "--resume", filepath.Base(run), "--results", res)
	if code := r2.wait(t); code != 0 {
		t.Fatalf("resume exit %d; stderr:\n%s", code, r2.stderrText())
	}
	if !strings.Contains(r2.stderrText(), "torn line") {
		t.Errorf("no warning about the torn line; stderr:\n%s", r2.stderrText())
	}
	after := readRecords(t, run)
	if after.TornTail {
		t.Error("the torn line is still there")
	}
	seen := map[string]int{}
	for _, rec := range after.Records {
		seen[rec.PointID]++
		if rec.Status != results.StatusOK {
			t.Errorf("%s: %s %s", rec.PointID, rec.Status, rec.Error)
		}
	}
	if len(after.Records) != 12 || len(seen) != 12 {
		t.Errorf("%d records, %d distinct points, want 12 and 12: %v", len(after.Records), len(seen), seen)
	}
	for i, rec := range before {
		if after.Records[i].PointID != rec.PointID {
			t.Errorf("record %d changed from %s to %s", i, rec.PointID, after.Records[i].PointID)
		}
	}
	assertNoSurvivors(t, piddir)

	// A different config for the same run is refused.
	other := writeFile(t, dir, "other.toml", strings.Replace(resumeConfig, "repeats = 2", "repeats = 3", 1))
	r3 := startRun(t, piddir, nil, other, "--resume", filepath.Base(run), "--results", res)
	if code := r3.wait(t); code != 1 || !strings.Contains(r3.stderrText(), "differs from the config") {
		t.Errorf("resume with another config: exit %d, stderr:\n%s", code, r3.stderrText())
	}
}

func TestInterruptFinishesPoint(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", resumeConfig)
	res := filepath.Join(dir, "results")
	r := startRun(t, piddir, nil, cfg, "--results", res)
	r.waitLine(t, "[1/12] done")
	r.waitLine(t, "[2/12] run")
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r.waitLine(t, "finishing the current point")
	r.waitLine(t, "[2/12] done") // the current point completes
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit %d after an interrupt, want 1; stderr:\n%s", code, r.stderrText())
	}
	if !strings.Contains(r.stderrText(), "--resume") {
		t.Errorf("no resume hint; stderr:\n%s", r.stderrText())
	}
	recs := readRecords(t, onlyRunDir(t, res)).Records
	if len(recs) != 2 {
		t.Errorf("%d records after the interrupt, want 2", len(recs))
	}
	for _, rec := range recs {
		if rec.Status != results.StatusOK {
			t.Errorf("%s: %s %s", rec.PointID, rec.Status, rec.Error)
		}
	}
	if !strings.Contains(r.stdout.String(), "medians over repeats") {
		t.Errorf("no summary after the interrupt:\n%s", r.stdout.String())
	}
	assertNoSurvivors(t, piddir)
}

func TestSecondInterruptStopsAtOnce(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	// A long window, so "at once" is distinguishable from "after the point".
	cfg := writeFile(t, dir, "m.toml", strings.Replace(resumeConfig, `duration = "200ms"`, `duration = "30s"`, 1))
	res := filepath.Join(dir, "results")
	r := startRun(t, piddir, nil, cfg, "--results", res)
	r.waitLine(t, "[1/12] run")
	// Wait until the server and the load generator are both running.
	deadline := time.Now().Add(30 * time.Second)
	for ents, _ := os.ReadDir(piddir); len(ents) < 2; ents, _ = os.ReadDir(piddir) {
		if time.Now().After(deadline) {
			t.Fatal("the point's processes never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGINT)
	r.waitLine(t, "finishing the current point")
	r.cmd.Process.Signal(syscall.SIGINT)
	if code := r.wait(t); code == 0 {
		t.Error("exit 0 after two interrupts")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if n := len(readRecords(t, onlyRunDir(t, res)).Records); n != 0 {
		t.Errorf("%d records from an abandoned point", n)
	}
	assertNoSurvivors(t, piddir)
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.toml", "duration = \"1s\"\nbogus = 1\n")
	good := writeFile(t, dir, "good.toml", "duration = \"1s\"\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\n")
	const bothBody = "duration = \"1s\"\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"open\"\nconns = [64]\nsizes = [1]\nload = [0.5]\nrates = [1000]\n"
	both := writeFile(t, dir, "both.toml", bothBody)
	public := writeFile(t, dir, "pub.toml", "duration = \"1s\"\n[[servers]]\nmodel = \"echo\"\naddr = \"0.0.0.0:0\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\n")
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{nil, true, "missing CONFIG"},
		{[]string{"a.toml", "b.toml"}, true, "unexpected arguments"},
		{[]string{"--nope"}, true, "not defined"},
		{[]string{bad}, true, `unknown key "bogus"`},
		{[]string{public}, true, "servers[0]: addr:"},
		{[]string{both}, true, "scenarios[0]: rates: exclusive with load"},
		{[]string{filepath.Join(dir, "none.toml")}, false, "no such file"},
		{[]string{"--resume", "../etc"}, false, "not a run ID"},
		{[]string{"--resume", "20200101-000000", "--results", dir}, false, "no such file"},
		{[]string{good, "--server-cpus", "99"}, false, "server CPUs"},
		{[]string{good, "--slo-completion", "2"}, true, "--slo-completion"},
		{[]string{good, "--slo-completion", "NaN"}, true, "--slo-completion must be in (0, 1], got NaN"},
		{[]string{good, "--slo-p99", "1h"}, true, "--slo-p99 must be at most"},
	}
	for _, tt := range tests {
		err := runMatrix(io.Discard, io.Discard, tt.args, fakeDeps())
		var ue usageError
		if err == nil || errors.As(err, &ue) != tt.usage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q: = %v (usage %v), want usage=%v containing %q", tt.args, err, errors.As(err, &ue), tt.usage, tt.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("a failed command left files: %v", ents)
	}
	// Through main's exit status: -h is 0 with the usage text, a usage
	// error 2.
	var stdout, stderr bytes.Buffer
	if code := exitCode(run(&stdout, &stderr, []string{"run", "-h"}), &stderr); code != 0 || !strings.Contains(stderr.String(), "Usage: echobench run CONFIG") {
		t.Errorf("run -h: exit %d, stderr:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := exitCode(run(&stdout, &stderr, []string{"run", good, "--slo-p99", "-1ms"}), &stderr); code != 2 || !strings.Contains(stderr.String(), "run: --slo-p99 must be positive") {
		t.Errorf("run --slo-p99 -1ms: exit %d, stderr:\n%s", code, stderr.String())
	}
	stderr.Reset()
	// The same file for the real models: a bad matrix key is a usage error.
	bothReal := writeFile(t, t.TempDir(), "both.toml", strings.Replace(bothBody, `"echo"`, `"epoll"`, 1))
	if code := exitCode(run(&stdout, &stderr, []string{"run", bothReal, "--dry-run"}), &stderr); code != 2 || !strings.Contains(stderr.String(), "scenarios[0]: rates: exclusive with load") {
		t.Errorf("run with rates and load: exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestRunDryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", resumeConfig)
	var out bytes.Buffer
	if err := runMatrix(&out, io.Discard, []string{cfg, "--dry-run", "--results", filepath.Join(dir, "res")}, fakeDeps()); err != nil {
		t.Fatal(err)
	}
	// 230 ms window + warm-up, 350 ms start/stop: 12 x 580 ms = 6.96 s.
	if !strings.HasPrefix(out.String(), "12 points (2 servers, 2 repeats), about 7s for the 12 that run") || !strings.Contains(out.String(), "r2/echo2/closed/c3-s64-d1") {
		t.Errorf("dry run printed:\n%s", out.String())
	}
	// A stack that cannot run is listed, and its points cost no time.
	out.Reset()
	cfg = writeFile(t, dir, "m2.toml", resumeConfig+"[[servers]]\nmodel = \"missingstack\"\n")
	if err := runMatrix(&out, io.Discard, []string{cfg, "--dry-run", "--results", filepath.Join(dir, "res")}, fakeDeps()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "18 points (3 servers, 2 repeats), about 7s for the 12 that run") ||
		!strings.Contains(out.String(), "SKIPPED missingstack: python3-missing is not installed") {
		t.Errorf("dry run with a missing stack printed:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "res")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a dry run created the results directory")
	}
}

// undisturbedWarnings drops the "disturbed" warning: tests share the CPUs
// with each other by design, so the noise check rightly fires under go test.
func undisturbedWarnings(rec results.Record) []string {
	var out []string
	for _, w := range rec.Warnings {
		if !strings.HasPrefix(w, "disturbed:") {
			out = append(out, w)
		}
	}
	return out
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// readMeta reads a run's env.json.
func readMeta(dir string) (bench.RunMeta, error) {
	var m bench.RunMeta
	b, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

// load_procs = 2: two load generators, one --start-at, one record holding
// their merge and each one's own result.
func TestRunLoadProcs(t *testing.T) {
	t.Parallel()
	dir, piddir := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
duration = "200ms"
warmup = "50ms"
repeats = 1
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [3]
sizes = [64]
load_procs = 2
`)
	res := filepath.Join(dir, "results")
	_, run := runToEnd(t, piddir, nil, cfg, res, "--seed", "1", "--server-cpus", "0", "--client-cpus", "0-1")
	rr := readRecords(t, run)
	if len(rr.Records) != 1 {
		t.Fatalf("%d records, want 1", len(rr.Records))
	}
	rec := rr.Records[0]
	l := rec.Load
	if rec.Status != results.StatusOK || l == nil || !strings.HasSuffix(rec.PointID, "closed/c3-s64-d1-procs2") || rec.Scenario.LoadProcs != 2 {
		t.Fatalf("record %s: %s %s, load %v", rec.PointID, rec.Status, rec.Error, l != nil)
	}
	if len(l.Generators) != 2 || l.Conns != 3 {
		t.Fatalf("%d generators, %d conns; want 2 generators holding 3 conns", len(l.Generators), l.Conns)
	}
	a, b := l.Generators[0], l.Generators[1]
	if a.Conns != 2 || b.Conns != 1 || l.Completed != a.Completed+b.Completed || l.Completed == 0 {
		t.Errorf("generators ran %d and %d conns, completed %d + %d = %d", a.Conns, b.Conns, a.Completed, b.Completed, l.Completed)
	}
	if a.WindowStartUnixNs != b.WindowStartUnixNs || a.WindowStartUnixNs == 0 {
		t.Errorf("the generators' windows start at %d and %d: no common --start-at", a.WindowStartUnixNs, b.WindowStartUnixNs)
	}
	assertNoSurvivors(t, piddir)
}
