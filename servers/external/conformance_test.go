package external

import (
	"testing"

	"echobench/servers/servertest"
)

// TestConformance runs the shared conformance suite against every foreign
// stack, started exactly as the orchestrator starts it: Argv, Env, and the
// contract flags the suite appends (Stack.Target, which `echobench check
// STACK` uses too). A stack that cannot run here is skipped
// with Check's reason, unless ECHOBENCH_REQUIRE_STACKS=1 (CI) and the stack
// comes from Debian packages, in which case the test fails.
//
// Run one stack or case with, e.g.:
//
//	go test ./servers/external -run 'TestConformance/trio/half-close-8mib'
func TestConformance(t *testing.T) {
	t.Parallel()
	eachStack(t, func(t *testing.T, _ Stack, target servertest.Target) {
		servertest.Run(t, target)
	})
}

// eachStack runs test as a parallel subtest per stack, with the command
// target (Stack.Target: its command and what it claims); a stack that cannot
// run here is skipped (see usable).
func eachStack(t *testing.T, test func(t *testing.T, s Stack, target servertest.Target)) {
	for _, s := range Stacks() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if !usable(t, s) {
				t.Skip("unavailable here")
			}
			target, err := s.Target()
			if err != nil {
				t.Fatal(err)
			}
			test(t, s, target)
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
