package servertest

import (
	"testing"

	"echobench/servers/all"
)

// TestGoModels runs the conformance suite against every Go model registered
// in servers/all, each started as `echobench serve MODEL` with what its
// registration states (servers.Model: Limitations, WorkKinds,
// BlockSerializes), through ModelTarget as `echobench check MODEL` starts it.
func TestGoModels(t *testing.T) {
	t.Parallel()
	names := all.Models.Names()
	if len(names) == 0 {
		t.Skip("no Go models are registered in servers/all yet")
	}
	bin := BuildEchobench(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := all.Models[name]
			if err := m.Available(); err != nil {
				t.Skipf("%s cannot run here: %v", name, err)
			}
			Run(t, ModelTarget(bin, m))
		})
	}
}
