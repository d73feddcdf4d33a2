package servertest

import (
	"testing"

	"echobench/servers/all"
)

// modelLimitations lists, per Go model, the cases it cannot pass and why.
//
// Model owners: this map is yours to edit. Add an entry only for a limit of
// the model's library or design, with the same reason your package doc
// states; a key must be a case name from CaseNames. For example:
//
//	"gnet": {"slow-reader-64mib": "gnet v2 cannot pause reads ... (see package gnet)"},
var modelLimitations = map[string]map[string]string{
	"netpoll": {
		"half-close-8mib": "netpoll v0.7.2 closes a connection once the peer's FIN is read and drops the unsent output of a Flush in progress; the model can finish only an echo whose Flush had not begun (see package netpoll)",
	},
	"nbio": {"half-close-8mib": "nbio v1.6.8 closes a connection on EPOLLRDHUP and drops its queued output, with no callback before the close (see package nbio)"},
}

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
			if err := all.Models[name].Available(); err != nil {
				t.Skipf("%s cannot run here: %v", name, err)
			}
			Run(t, Target{
				Name:        name,
				Command:     []string{bin, "serve", name},
				Limitations: modelLimitations[name],
				// The kinds the model's registration says it implements;
				// all but netconn (a goroutine per connection) serve on
				// one event loop.
				WorkKinds:       all.Models[name].WorkKinds,
				BlockSerializes: name != "netconn",
			})
		})
	}
}
