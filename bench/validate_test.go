package bench

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// A matrix value that the matrix decoder accepts but the load generator
// refuses is refused before anything starts, with the load generator's
// reason (issue #11 item 4: sizes to 64 MiB against 16 MiB, depth 65,536
// against 4,096).
func TestCheckLoadsRefusesWhatLoadRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ scenario, msg string }{
		{"conns = [2]\nsizes = [33554432]\n", "size must be"},
		{"conns = [2]\nsizes = [64]\ndepth = [65536]\n", "depth must be"},
	} {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "m.toml", "duration = \"200ms\"\nwarmup = \"0s\"\nrepeats = 1\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\n"+tt.scenario)
		_, err := New(t.Context(), Options{ConfigPath: cfg, ResultsDir: filepath.Join(dir, "res"), DryRun: true}, fakeDeps(), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "load generator refuses") {
			t.Errorf("%q: New = %v, want the load generator's %q", tt.scenario, err, tt.msg)
		}
	}
}
