package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"echobench/bench/config"
	"echobench/bench/netns"
	"echobench/internal/results"
)

func netnsRunner(t *testing.T, body string) *Runner {
	t.Helper()
	r := &Runner{cfg: testConfig(t, body)}
	l, err := netns.NewLayout("0a1b2c", netns.Options{Generators: r.netGenerators()})
	if err != nil {
		t.Fatal(err)
	}
	r.net = &netns.Net{Layout: l}
	r.targets = []*Target{{Name: "a", Addr: "127.0.0.1:0"}, {Name: "b", Addr: "[::1]:9000"}}
	return r
}

const netnsBody = `
duration = "1s"
network = "netns"
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [4]
sizes = [64]
`

// In a netns run the server starts in the server namespace with
// --allow-remote at the namespace's address, the load in the generator's
// namespace with --allow-remote; a loopback run is as before.
func TestNetnsArgv(t *testing.T) {
	t.Parallel()
	r := netnsRunner(t, netnsBody)
	r.netnsAddrs()
	if a, b := r.targets[0].Addr, r.targets[1].Addr; a != "10.223.0.1:0" || b != "10.223.0.1:9000" {
		t.Errorf("server addresses %s, %s; want the namespace's, ports kept", a, b)
	}
	got := strings.Join(r.inServerNetns([]string{"/x/echobench", "serve", "echo"}), " ")
	if want := "ip netns exec ebn-0a1b2c-s /x/echobench serve echo"; got != want {
		t.Errorf("server argv %q, want %q", got, want)
	}
	got = strings.Join(r.inLoadNetns(0, []string{"/x/echobench", "load"}), " ")
	if want := "ip netns exec ebn-0a1b2c-g0 /x/echobench load"; got != want {
		t.Errorf("load argv %q, want %q", got, want)
	}
	// With load_procs, each generator has a namespace: generator i runs in gi.
	r2 := netnsRunner(t, netnsBody+"load_procs = 2\n")
	if n := r2.netGenerators(); n != 2 {
		t.Fatalf("load_procs 2 builds %d generator namespaces", n)
	}
	got = strings.Join(r2.inLoadNetns(1, []string{"/x/echobench", "load"}), " ")
	if want := "ip netns exec ebn-0a1b2c-g1 /x/echobench load"; got != want {
		t.Errorf("second load argv %q, want %q", got, want)
	}
	p := Point{Scenario: results.Scenario{Conns: 4, SizeBytes: 64, Depth: 1}}
	cfg, err := r.loadConfig(p, p.Scenario, "10.223.0.1:4000")
	if err != nil || !cfg.AllowRemote || !slices.Contains(cfg.Args(), "--allow-remote") {
		t.Errorf("load config %+v (%v): want --allow-remote", cfg.Args(), err)
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Errorf("the load generator refuses the namespace address: %v", err)
	}

	loop := &Runner{cfg: testConfig(t, strings.Replace(netnsBody, `network = "netns"`, "", 1))}
	if got := loop.inServerNetns([]string{"s"}); !slices.Equal(got, []string{"s"}) {
		t.Errorf("loopback server argv %q", got)
	}
	if cfg, _ := loop.loadConfig(p, p.Scenario, "127.0.0.1:4000"); cfg.AllowRemote {
		t.Error("a loopback run passes --allow-remote")
	}
}

// Where a server may listen: loopback always, the namespace range in a
// netns run, anything with allow_remote.
func TestMayListen(t *testing.T) {
	t.Parallel()
	ns := netnsRunner(t, netnsBody)
	loop := &Runner{cfg: testConfig(t, strings.Replace(netnsBody, `network = "netns"`, "", 1))}
	remote := &Runner{cfg: testConfig(t, strings.Replace(netnsBody, `network = "netns"`, "allow_remote = true", 1))}
	for _, tt := range []struct {
		addr             string
		loop, ns, remote bool
	}{
		{"127.0.0.1:80", true, true, true},
		{"[::1]:80", true, true, true},
		{"10.223.0.1:80", false, true, true},
		{"10.224.0.1:80", false, false, true},
		{"192.0.2.1:80", false, false, true},
	} {
		for _, c := range []struct {
			r    *Runner
			want bool
			name string
		}{{loop, tt.loop, "loopback"}, {ns, tt.ns, "netns"}, {remote, tt.remote, "allow_remote"}} {
			if err := c.r.checkAnnounced(tt.addr); (err == nil) != c.want {
				t.Errorf("%s run, server announced %s: %v, want ok=%v", c.name, tt.addr, err, c.want)
			}
		}
	}
	if !ns.mayListen(net.ParseIP("10.223.0.1")) || ns.mayListen(net.ParseIP("0.0.0.0")) {
		t.Error("a netns run's listen scope is wrong")
	}
}

func TestLoadTarget(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0.0.0.0:80":    "127.0.0.1:80",
		"[::]:80":       "[::1]:80",
		"10.223.0.1:80": "10.223.0.1:80",
		"127.0.0.1:80":  "127.0.0.1:80",
	} {
		if got := loadTarget(in); got != want {
			t.Errorf("loadTarget(%s) = %s, want %s", in, got, want)
		}
	}
}

// cleanup removes the recorded namespaces of a run that is over, leaves a
// run whose lock is held alone, and touches nothing unrecorded.
func TestCleanup(t *testing.T) {
	t.Parallel()
	res := t.TempDir()
	over, going := "20261127-150000", "20261127-150100"
	for _, id := range []string{over, going, "20261127-150200"} {
		if err := os.MkdirAll(filepath.Join(res, id), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(id string, names ...string) {
		st := netns.State{Version: 1, RunID: id, Created: time.Now(), Namespaces: names}
		if err := netns.WriteState(filepath.Join(res, id, netns.StateFile), st); err != nil {
			t.Fatal(err)
		}
	}
	write(over, "ebn-111111-s", "ebn-111111-g0")
	write(going, "ebn-222222-s", "ebn-222222-g0")
	held, err := lockRun(filepath.Join(res, going))
	if err != nil {
		t.Fatal(err)
	}
	defer held.release()
	fake := netns.NewRecorder("ebn-111111-s", "ebn-111111-g0", "ebn-222222-s", "ebn-222222-g0", "ebn-333333-s", "other")
	var out bytes.Buffer
	if err := Cleanup(context.Background(), res, "", fake, &out); err != nil {
		t.Fatalf("Cleanup: %v\n%s", err, out.String())
	}
	if want := []string{"ebn-222222-s", "ebn-222222-g0", "ebn-333333-s", "other"}; !slices.Equal(fake.Namespaces(), want) {
		t.Errorf("left %v, want %v", fake.Namespaces(), want)
	}
	if !strings.Contains(out.String(), "run "+over+": removed namespaces ebn-111111-g0, ebn-111111-s") ||
		!strings.Contains(out.String(), "run "+going+": left alone: run directory") {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(res, over, netns.StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file of the finished run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res, going, netns.StateFile)); err != nil {
		t.Errorf("state file of the running run: %v", err)
	}
	var oe *OptionError
	if err := Cleanup(context.Background(), res, "nope", fake, &out); !errors.As(err, &oe) {
		t.Errorf("a bad run ID: %v, want an OptionError", err)
	}
	out.Reset()
	if err := Cleanup(context.Background(), res, "20261127-150200", fake, &out); err != nil || !strings.Contains(out.String(), "nothing to clean up") {
		t.Errorf("a run without a state file: %v, %q", err, out.String())
	}
}

// rtt on a kernel without sch_netem is refused before anything starts,
// naming the key and the reason, as a usage error.
func TestCheckNetworkRefusesWithoutNetem(t *testing.T) {
	t.Parallel()
	fake := &netns.Recorder{Fail: "unshare --net -- tc", Out: "Error: Specified qdisc kind is unknown."}
	if err := netns.CheckHost(context.Background(), fake); err != nil {
		t.Skipf("the host checks before the probes fail here: %v", err)
	}
	body := strings.Replace(netnsBody, `network = "netns"`, "network = \"netns\"\nrtt = \"10ms\"", 1)
	r := &Runner{cfg: testConfig(t, body), deps: Deps{Net: fake}}
	err := r.checkNetwork(context.Background())
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "rtt" || !strings.Contains(err.Error(), "rtt: this kernel has no sch_netem (tc: Error: Specified qdisc kind is unknown.)") {
		t.Errorf("checkNetwork = %v, want a KeyError for rtt", err)
	}
	for _, c := range fake.Commands() {
		if strings.HasPrefix(c, "ip netns add") || strings.HasPrefix(c, "ip link add ebn") {
			t.Errorf("a check created something: %q", c)
		}
	}
	r.cfg.Network, r.cfg.RTT = config.NetworkLoopback, config.Duration{}
	before := len(fake.Commands())
	if err := r.checkNetwork(context.Background()); err != nil || len(fake.Commands()) != before {
		t.Errorf("a loopback run: %v, commands %q", err, fake.Commands()[before:])
	}
}
