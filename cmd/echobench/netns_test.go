package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"echobench/bench/netns"
	"echobench/internal/results"
)

// The namespace tests run `echobench run` with network = "netns" for real
// (this binary as echobench, the netconn model, iproute2) and check that
// nothing is left behind: after a normal end, after Ctrl-C, and after
// kill -9 followed by `echobench cleanup`. Each takes a second or two.

// netnsRun writes a one-server matrix with network = "netns" and starts
// `echobench run` on it with the real serve and load.
func netnsRun(t *testing.T, duration, sizes string) (*runProc, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "netns.toml", fmt.Sprintf(`
duration = %q
warmup = "100ms"
repeats = 1
msg_timeout = "1s"
network = "netns"

[[servers]]
model = "netconn"

[[scenarios]]
mode = "closed"
conns = [2]
sizes = %s
`, duration, sizes))
	res := filepath.Join(dir, "res")
	return startRun(t, t.TempDir(), []string{mainEnv + "=1"}, cfg, "--results", res, "--seed", "1"), res
}

var nsNamePattern = regexp.MustCompile(`ebn-[0-9a-f]{6}-(?:s|g[0-9]+)`)

// announcedNamespaces waits for the run's "network:" line and returns the
// namespaces it names, checking that they exist.
func announcedNamespaces(t *testing.T, r *runProc) []string {
	t.Helper()
	line := r.waitLine(t, "network: namespaces")
	line, _, _ = strings.Cut(line, ", server at")
	names := nsNamePattern.FindAllString(line, -1)
	t.Cleanup(func() { // a failed test still leaves nothing behind
		for _, ns := range names {
			if nsExists(t, ns) {
				exec.Command("ip", "netns", "del", ns).Run()
			}
		}
	})
	if len(names) != 2 {
		t.Fatalf("announced namespaces %q in %q, want a server's and a generator's", names, line)
	}
	for _, ns := range names {
		if !nsExists(t, ns) {
			t.Fatalf("announced namespace %s does not exist", ns)
		}
	}
	return names
}

func nsExists(t *testing.T, name string) bool {
	t.Helper()
	list, err := netns.Existing(context.Background(), netns.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(list, name)
}

// assertGone fails for every namespace of names that still exists, and
// for a state file left in the run directory.
func assertGone(t *testing.T, names []string, runDir string) {
	t.Helper()
	for _, ns := range names {
		if nsExists(t, ns) {
			t.Errorf("namespace %s is left behind", ns)
			exec.Command("ip", "netns", "del", ns).Run() // ours: the test recorded it
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, netns.StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

// A point through the namespaces: the server in its namespace (sampled
// through `ip netns exec`, which execs, so its PID is the server's), the
// load in the generator's, the record saying so, nothing left after.
func TestNetnsRun(t *testing.T) {
	netns.RequireHost(t)
	r, res := netnsRun(t, "300ms", "[64]")
	names := announcedNamespaces(t, r)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderrText())
	}
	runDir := onlyRunDir(t, res)
	assertGone(t, names, runDir)
	recs := readRecords(t, runDir).Records
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Status != results.StatusOK || rec.Load == nil || rec.Load.Completed == 0 || rec.Load.CompletionRatio != 1 {
		t.Fatalf("record: status %s (%s), load %+v\n%s", rec.Status, rec.Error, rec.Load, r.stderrText())
	}
	// Read from the server's /proc: its threads, memory and context
	// switches (its CPU time can round to zero ticks in 300 ms).
	if s := rec.ServerStats; s == nil || s.Threads == 0 || s.PeakRSSBytes == 0 || s.VolCtxSw+s.InvolCtxSw == 0 {
		t.Errorf("server figures %+v: the sampler did not find the server in its namespace", rec.ServerStats)
	}
	if rec.Env.Network != "netns" || rec.Env.NetworkRTTMs != 0 {
		t.Errorf("record's network %q, rtt %v ms", rec.Env.Network, rec.Env.NetworkRTTMs)
	}
}

// Ctrl-C once (the point finishes, the run stops) or twice (the point is
// abandoned at once, the run's context cancelled): either way the
// namespaces go. Before the interrupt, the server's veth has carried the
// echoes: the load really crossed the device.
func TestNetnsInterrupt(t *testing.T) {
	netns.RequireHost(t)
	for _, signals := range []int{1, 2} {
		r, res := netnsRun(t, "1s", "[64, 128, 256]")
		names := announcedNamespaces(t, r)
		waitVethTraffic(t, names[0], "ebn"+names[0][4:10]+"s0")
		for range signals {
			if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // two signals, not one merged
		}
		if code := r.wait(t); code != 1 {
			t.Fatalf("exit %d after %d Ctrl-C, want 1; stderr:\n%s", code, signals, r.stderrText())
		}
		assertGone(t, names, onlyRunDir(t, res))
	}
}

// waitVethTraffic waits until dev, in namespace ns, has sent packets.
func waitVethTraffic(t *testing.T, ns, dev string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev).Output()
		if err != nil {
			t.Fatalf("ip -n %s -s -j link show dev %s: %v", ns, dev, err)
		}
		var links []struct {
			Stats struct {
				TX struct {
					Packets int64 `json:"packets"`
				} `json:"tx"`
			} `json:"stats64"`
		}
		if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
			t.Fatalf("ip -j output %q: %v", out, err)
		}
		if links[0].Stats.TX.Packets > 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s sent %d packets in 20 s: the load does not cross the veth pair", dev, ns, links[0].Stats.TX.Packets)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill -9 leaves the namespaces (nothing in the process can run); the
// state file written before they were created lets `echobench cleanup`
// remove exactly them.
func TestNetnsKillThenCleanup(t *testing.T) {
	netns.RequireHost(t)
	r, res := netnsRun(t, "2s", "[64]")
	names := announcedNamespaces(t, r)
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.wait(t)
	runDir := onlyRunDir(t, res)
	for _, ns := range names {
		if !nsExists(t, ns) {
			t.Fatalf("namespace %s vanished after kill -9: nothing is left to clean up, so this test tests nothing", ns)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, netns.StateFile)); err != nil {
		t.Fatalf("no state file after kill -9: %v", err)
	}
	cmd := exec.Command(os.Args[0], "cleanup", "--results", res)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	out, err := runWithin(t, cmd, time.Minute)
	if err != nil {
		t.Fatalf("echobench cleanup: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`removed namespaces ebn-`).Match(out) {
		t.Errorf("cleanup output %q names no namespace it removed", out)
	}
	assertGone(t, names, runDir)
}

// rtt and loss on a kernel without sch_netem are refused before anything
// starts: exit status 2, the key and the reason named, no run directory,
// no namespace.
func TestNetnsRefusesRTTWithoutNetem(t *testing.T) {
	netns.RequireHost(t)
	err := netns.CheckNetem(context.Background(), netns.Exec{})
	if err == nil {
		t.Skip("this kernel has sch_netem: the refusal cannot be shown here")
	}
	if !errors.Is(err, netns.ErrNoNetem) {
		t.Fatalf("netem check: %v", err)
	}
	before, _ := netns.Existing(context.Background(), netns.Exec{})
	dir := t.TempDir()
	for key, line := range map[string]string{"rtt": `rtt = "10ms"`, "loss": "loss = 0.01", "rtt, loss": "rtt = \"1ms\"\nloss = 0.5"} {
		cfg := writeFile(t, dir, "rtt.toml", "duration = \"1s\"\nnetwork = \"netns\"\n"+line+"\n[[servers]]\nmodel = \"netconn\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n")
		res := filepath.Join(dir, "res")
		var stdout, stderr bytes.Buffer
		code := exitCode(run(&stdout, &stderr, []string{"run", cfg, "--results", res}), &stderr)
		if want := "echobench: run: " + key + ": this kernel has no sch_netem (tc: "; code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", key, code, stderr.String(), want)
		}
		if _, err := os.Stat(res); !os.IsNotExist(err) {
			t.Errorf("%s: a refused run made its results directory: %v", key, err)
		}
	}
	after, _ := netns.Existing(context.Background(), netns.Exec{})
	if !slices.Equal(before, after) {
		t.Errorf("namespaces before %v, after %v", before, after)
	}
}
