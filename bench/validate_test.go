package bench

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
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
