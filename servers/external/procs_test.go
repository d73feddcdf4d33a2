package external

import (
	"testing"

	"echobench/servers/servertest"
)

// procsEveryCase names the stacks that run every --procs case: one per
// implementation of the several-process idiom. The Python supervisor is
// _echo_common's, shared by every Python script, so asyncio-protocol runs
// it for all of them; Node's cluster is echo.js's own. Every other stack
// runs the case that involves its own code (its listener on the shared
// port, its shutdown when SIGTERM comes twice): procs-serve-sigterm.
var procsEveryCase = map[string]bool{"asyncio-protocol": true, "node": true}

// TestProcs starts every stack with --procs 2, exactly as the orchestrator
// starts a stack on two server CPUs, and checks the process tree: both
// workers serve, SIGTERM ends everything with exit 0, and no worker
// outlives its parent (servertest.RunProcs; docs/conformance.md).
//
//	go test ./servers/external -run 'TestProcs/node/procs-kill-parent'
func TestProcs(t *testing.T) {
	t.Parallel()
	eachStack(t, func(t *testing.T, s Stack, target servertest.Target) {
		if s.SingleProcess {
			t.Skipf("%s runs one process (the single-core baseline) and refuses --procs above 1", s.Name)
		}
		var only []string
		if !procsEveryCase[s.Name] {
			only = []string{"procs-serve-sigterm"}
		}
		servertest.RunProcs(t, servertest.Target{Name: s.Name, Command: target.Command, Env: target.Env}, 2, only...)
	})
}

// procsEveryCase names only registered stacks.
func TestProcsEveryCaseNamesStacks(t *testing.T) {
	t.Parallel()
	for name := range procsEveryCase {
		if _, ok := Lookup(name); !ok {
			t.Errorf("procsEveryCase names %q, which is not a stack (stacks: %v)", name, Names())
		}
	}
}
