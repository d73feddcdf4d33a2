package servertest

import (
	"testing"

	"echobench/servers/all"
	"echobench/servers/work"
)

// modelLimitations lists, per Go model, the cases it cannot pass and why.
//
// Model owners: this map is yours to edit. Add an entry only for a limit of
// the model's library or design, with the same reason your package doc
// states; a key must be a case name from CaseNames. For example:
//
//	"gnet": {"slow-reader-64mib": "gnet v2 cannot pause reads ... (see package gnet)"},
var modelLimitations = map[string]map[string]string{}

// TestGoModels runs the conformance suite against every Go model registered
// in servers/all, each started as `echobench serve MODEL`.
func TestGoModels(t *testing.T) {
	t.Parallel()
	for name := range modelLimitations {
		if _, err := all.Models.Lookup(name); err != nil {
			t.Errorf("modelLimitations has an entry for %q: %v", name, err)
		}
	}
	names := all.Models.Names()
	if len(names) == 0 {
		t.Skip("no Go models are registered in servers/all yet")
	}
	bin := BuildEchobench(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			Run(t, Target{
				Name:        name,
				Command:     []string{bin, "serve", name},
				Limitations: modelLimitations[name],
				// Every Go model implements every kind; all but netconn
				// (a goroutine per connection) serve on one event loop.
				WorkKinds:       []work.Kind{work.CPU, work.Wait, work.Block},
				BlockSerializes: name != "netconn",
			})
		})
	}
}
