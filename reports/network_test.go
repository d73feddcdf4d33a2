package reports

import (
	"slices"
	"strings"
	"testing"

	"echobench/internal/results"
)

// compare warns when two runs took different network paths, and a run from
// before the network key reads as loopback (which it was), not as a
// difference.
func TestEnvDifferencesNetwork(t *testing.T) {
	t.Parallel()
	an := func(e results.Env) *Analysis { return &Analysis{Run: &Run{}, Env: e} }
	old := an(results.Env{})
	loop := an(results.Env{Network: "loopback"})
	ns := an(results.Env{Network: "netns", NetworkRTTMs: 10, NetworkLossFraction: 0.01})
	if d := EnvDifferences(old, loop); len(d) != 0 {
		t.Errorf("a run without the network field against a loopback run: %q", d)
	}
	d := EnvDifferences(loop, ns)
	want := "Network path: loopback → network namespaces joined by veth pairs (netns), netem on the server's side: +10 ms round trip, 1% of the server's packets dropped"
	if !slices.Contains(d, want) {
		t.Errorf("differences %q, want %q among them", d, want)
	}
	rows := ns.EnvRows()
	i := slices.IndexFunc(rows, func(r EnvRow) bool { return r.Name == "Network path" })
	if i < 0 || !strings.HasPrefix(rows[i].Value, "network namespaces") {
		t.Errorf("environment rows %+v: no network path", rows)
	}
}
