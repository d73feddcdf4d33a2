package bench

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"echobench/internal/results"
	"echobench/servers"
)

// A matrix value that the load generator refuses is refused before anything
// starts (issue #11 item 4: the matrix took sizes to 64 MiB against the load
// generator's 16 MiB, depth 65,536 against 4,096); the matrix decoder now
// uses the load generator's limits, and checkLoads runs its validation on
// every point for what only a whole point shows (TestCheckLoadsSourceFamily).
func TestCheckLoadsRefusesWhatLoadRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ scenario, msg string }{
		{"conns = [2]\nsizes = [33554432]\n", "sizes: must be 1 byte to 16 MiB"},
		{"conns = [2]\nsizes = [64]\ndepth = [65536]\n", "depth: must be 1..4096"},
	} {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "m.toml", "duration = \"200ms\"\nwarmup = \"0s\"\nrepeats = 1\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\n"+tt.scenario)
		_, err := New(t.Context(), Options{ConfigPath: cfg, ResultsDir: filepath.Join(dir, "res"), DryRun: true}, fakeDeps(), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: New = %v, want the load generator's %q", tt.scenario, err, tt.msg)
		}
	}
}

// IPv6 source addresses against an IPv4 server are refused before the run
// (issue #11 item 4), and accepted against an IPv6 one.
func TestCheckLoadsSourceFamily(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:0", false}, {"[::1]:0", true}} {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "m.toml", "duration = \"200ms\"\nrepeats = 1\n[[servers]]\nmodel = \"echo\"\naddr = \""+tt.addr+"\"\n[[scenarios]]\nmode = \"closed\"\nconns = [2]\nsizes = [64]\nsource_ips = \"::1\"\n")
		_, err := New(t.Context(), Options{ConfigPath: cfg, ResultsDir: filepath.Join(dir, "res"), DryRun: true}, fakeDeps(), io.Discard, io.Discard)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), "not the same family")) {
			t.Errorf("server %s, source ::1: %v", tt.addr, err)
		}
	}
}

// A point with work starts its server with --work and --request-size = the
// point's size, through the contract's flag table (parsed back here as
// `echobench serve` parses it); a point without work passes neither, so a
// command that predates the work contract still runs the echo points.
func TestServerConfigWork(t *testing.T) {
	t.Parallel()
	srv := &Target{Name: "x", Addr: "127.0.0.1:0", Loops: 1, LoopsFlag: true}
	cfg, err := serverConfig(srv, results.Scenario{SizeBytes: 512, Work: "wait:10ms:exp"})
	if err != nil {
		t.Fatal(err)
	}
	args := cfg.Args()
	back, err := servers.ParseArgs(nil, args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	if back.Work.String() != "wait:10ms:exp" || back.RequestSizeBytes != 512 {
		t.Errorf("server argv %q: work %s, request size %d; want wait:10ms:exp, 512", args, back.Work, back.RequestSizeBytes)
	}
	cfg, err = serverConfig(srv, results.Scenario{SizeBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	if args := cfg.Args(); slices.Contains(args, "--work") || slices.Contains(args, "--request-size") {
		t.Errorf("a point without work passes %q", args)
	}
	if _, err := serverConfig(srv, results.Scenario{SizeBytes: 512, Work: "nap:1ms"}); err == nil {
		t.Error("a bad work in a scenario was accepted")
	}
}

// The servers' own validation runs over the plan's work before anything
// starts.
func TestCheckWork(t *testing.T) {
	t.Parallel()
	srv := &Target{Name: "x", Addr: "127.0.0.1:0"}
	r := &Runner{plan: []Point{
		{ID: "r1/x/closed/c1-s64-d1", Server: srv, Scenario: results.Scenario{SizeBytes: 64}},
		{ID: "r1/x/closed/c1-s64-d1-work=cpu:1ms", Server: srv, Scenario: results.Scenario{SizeBytes: 64, Work: "cpu:1ms"}},
	}}
	if err := r.checkWork(); err != nil {
		t.Fatalf("checkWork: %v", err)
	}
	r.plan = append(r.plan, Point{ID: "big", Server: srv, Scenario: results.Scenario{SizeBytes: 32 << 20, Work: "cpu:1ms"}})
	if err := r.checkWork(); err == nil || !strings.Contains(err.Error(), "--request-size") || !strings.Contains(err.Error(), "big") {
		t.Errorf("checkWork = %v, want the servers' refusal of a 32 MiB request, naming the point", err)
	}
}
