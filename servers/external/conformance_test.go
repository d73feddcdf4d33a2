package external

import (
	"testing"

	"echobench/servers/servertest"
	"echobench/servers/work"
)

// Every stack implements every --work kind (docs/stacks.md, "Work per
// request", says how each does it); none refuses one.
var stackWorkKinds = []work.Kind{work.CPU, work.Wait, work.Block}

// blockCooperative names the stacks on which `block` (Python's time.sleep)
// does not stall the whole server, with the reason. Every other stack runs
// its handlers on one event loop in one thread, where a blocking sleep
// stalls every connection: the suite asserts that too.
var blockCooperative = map[string]string{
	"gevent": "gevent.monkey.patch_all makes time.sleep gevent's cooperative sleep: that is gevent's point",
}

// TestConformance runs the shared conformance suite against every foreign
// stack, started exactly as the orchestrator starts it: Argv, Env, and the
// contract flags the suite appends. A stack that cannot run here is skipped
// with Check's reason, unless ECHOBENCH_REQUIRE_STACKS=1 (CI) and the stack
// comes from Debian packages, in which case the test fails.
//
// Run one stack or case with, e.g.:
//
//	go test ./servers/external -run 'TestConformance/trio/half-close-8mib'
func TestConformance(t *testing.T) {
	t.Parallel()
	eachStack(t, func(t *testing.T, s Stack, argv []string) {
		_, cooperative := blockCooperative[s.Name]
		servertest.Run(t, servertest.Target{
			Name:            s.Name,
			Command:         argv,
			Env:             s.Env,
			Limitations:     s.Limitations,
			WorkKinds:       stackWorkKinds,
			BlockSerializes: !cooperative,
		})
	})
}

// eachStack runs test as a parallel subtest per stack, with the command
// that starts it; a stack that cannot run here is skipped (see usable).
func eachStack(t *testing.T, test func(t *testing.T, s Stack, argv []string)) {
	for _, s := range Stacks() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if !usable(t, s) {
				t.Skip("unavailable here")
			}
			argv, err := s.Argv()
			if err != nil {
				t.Fatal(err)
			}
			test(t, s, argv)
		})
	}
}

// blockCooperative names only registered stacks, so a renamed one cannot
// silently start being asserted to serialise.
func TestBlockCooperativeNamesStacks(t *testing.T) {
	t.Parallel()
	for name := range blockCooperative {
		if _, ok := Lookup(name); !ok {
			t.Errorf("blockCooperative names %q, which is not a stack (stacks: %v)", name, Names())
		}
	}
}
