// Package benchtest lets tests outside bench run the orchestrator against
// fake children. The `echobench run` command lives in cmd/echobench, and its
// tests run it as a process, signals and all; the servers and load
// generators it starts must be small, predictable and able to misbehave on
// demand, which the real ones are not. A test binary whose TestMain
// dispatches "serve" to Serve and "load" to Load, and that gives Modes as
// its Go models, re-executes itself as both.
//
// The behaviours and the environment they read (FAKEBENCH_CAPACITY,
// FAKEBENCH_SLO_RATE, FAKEBENCH_PIDDIR) are documented in
// bench/internal/fake, which bench's own tests use directly.
package benchtest

import "echobench/bench/internal/fake"

// Modes are the fake server behaviours, each usable as a Go model name.
var Modes = fake.Modes

// Serve is a fake `echobench serve`: args are "MODE --addr A [--loops N]
// [--max-pending B]". It returns the exit status.
func Serve(args []string) int { return fake.Serve(args) }

// Load is a fake `echobench load`: it connects and echoes for real and
// prints a results.Load. It returns the exit status.
func Load(args []string) int { return fake.Load(args) }

// Stack is a fake foreign stack (bench.Stack); LookupStack knows
// "fakestack" (runs this binary's fake echo server) and "missingstack"
// (not installed).
type Stack = fake.Stack

// LookupStack finds a fake stack by name.
func LookupStack(name string) (Stack, bool) { return fake.LookupStack(name) }
