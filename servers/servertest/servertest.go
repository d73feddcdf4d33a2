// Package servertest is the conformance suite every echobench server model must
// pass, Go or foreign. It starts the real server process (never an in-process
// server), so a Python or Node server is checked by exactly the same code as a
// Go model started through `echobench serve MODEL`.
//
// The contract it checks (docs/architecture.md; docs/conformance.md explains each case):
//   - started as `CMD... --addr 127.0.0.1:0 --max-pending BYTES`, the server
//     prints exactly one stdout line, "LISTENING host:port", once it accepts
//     connections, within 10 s; logs go to stderr;
//   - it listens on the host it was given (loopback), not every interface;
//   - it echoes every byte of every connection, in order, whatever the read
//     and write sizes, with many connections at once;
//   - after the client's half-close it echoes everything received, then
//     closes;
//   - a client that stops reading gets backpressure (the server stops reading
//     it, or closes it) rather than unbounded buffering;
//   - resets and abrupt closes leave neither a dead server nor leaked fds;
//   - SIGTERM makes it exit 0 within 2 s, free its port, and leave no
//     processes behind.
//
// Each case runs as a subtest with its own server process, seeded random data
// (the seed is logged on failure; ECHOBENCH_SERVERTEST_SEED replays it), ports
// chosen by the kernel, I/O deadlines and a watchdog that kills a stuck
// server. Cases run in parallel: each measures only its own process.
//
// Use it from a test:
//
//	func TestConformance(t *testing.T) {
//		servertest.Run(t, servertest.Target{
//			Name:    "asyncio-protocol",
//			Command: []string{"python3", "servers/python/echo.py", "asyncio-protocol"},
//		})
//	}
//
// or from a program, as `echobench check` does, with Check. Both run every
// case through the same code against a Reporter (*testing.T under Run), so
// a server that passes one passes the other. The package does not import
// package testing: the echobench binary links it.
package servertest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"echobench/servers"
	"echobench/servers/work"
)

// Target is a server under test, started as a process.
type Target struct {
	// Name identifies the server in failure messages, e.g. "epoll" or
	// "asyncio-protocol".
	Name string
	// Command is the argv; the suite appends
	// "--addr 127.0.0.1:0 --max-pending N".
	Command []string
	// Env is extra environment, appended to os.Environ().
	Env []string
	// MaxPendingBytes is passed as --max-pending; 0 means 4 MiB. The
	// slow-reader case allows the server's RSS to grow by at most
	// 2*MaxPendingBytes + 16 MiB.
	MaxPendingBytes int
	// Limitations maps a case name (see CaseNames) to the model's documented
	// reason it cannot pass; that case is skipped with the reason in the
	// skip message. A key that names no case fails the run, so a renamed case
	// cannot silently stop being skipped or checked.
	Limitations map[string]string
	// WorkKinds lists the --work kinds the server implements; the work
	// cases of other kinds are skipped (a stack that does not implement
	// work yet lists none).
	WorkKinds []work.Kind
	// BlockSerializes says a blocking handler (--work block) stalls the
	// whole server, as on one event loop (the suite starts servers with
	// their default loops); false where handlers block independently
	// (goroutine per connection, gevent's cooperative sleep). The
	// work-block-20-conns case asserts whichever it says.
	BlockSerializes bool
}

// defaultMaxPendingBytes mirrors servers.DefaultMaxPendingBytes without
// importing the Go registry: foreign servers use this package too.
const defaultMaxPendingBytes = 4 << 20

func (tg Target) maxPending() int {
	if tg.MaxPendingBytes > 0 {
		return tg.MaxPendingBytes
	}
	return defaultMaxPendingBytes
}

// CaseNames lists the case names, in the order Run runs them, for
// Target.Limitations keys and for `go test -run 'TestX/MODEL/CASE'`.
func CaseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// checkLimitations rejects a limitation for a case that does not exist (a
// typo, or a renamed case) and one without a reason.
func checkLimitations(target Target) error {
	known := CaseNames()
	var errs []error
	for name, reason := range target.Limitations {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("servertest: target %q lists a limitation for unknown case %q (cases: %v)", target.Name, name, known))
		} else if strings.TrimSpace(reason) == "" {
			errs = append(errs, fmt.Errorf("servertest: target %q skips case %q with no reason; give the documented one", target.Name, name))
		}
	}
	return errors.Join(errs...)
}

// Reporter is what a case reports to: *testing.T under Run, one case's
// report under Check. As in package testing, Fatal, Fatalf, Skip and Skipf
// end the calling goroutine (runtime.Goexit), so a case calls them from its
// own goroutine only; the others are safe from any goroutine.
type Reporter interface {
	Helper()
	Cleanup(func())
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Failed() bool
}

// TestingT is what Run needs of *testing.T beyond Reporter: subtests, and
// Parallel. It is a constraint rather than *testing.T itself so that this
// package need not import package testing, which the binary would then link.
type TestingT[T any] interface {
	Reporter
	Parallel()
	Run(name string, f func(T)) bool
}

// validate rejects a target no case could start.
func (tg Target) validate() error {
	if len(tg.Command) == 0 {
		return fmt.Errorf("servertest: target %q has an empty Command", tg.Name)
	}
	return nil
}

// Run runs every conformance case against target, each as a subtest with its
// own server process and watchdog. The subtests call t.Parallel, so Run
// returns before they finish when t is itself a parallel test's parent; the
// results are reported on t as usual. t is a *testing.T.
func Run[T TestingT[T]](t T, target Target) {
	t.Helper()
	if err := target.validate(); err != nil {
		t.Fatal(err)
	}
	if err := checkLimitations(target); err != nil {
		t.Error(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t T) {
			caseBody(t, target, c, DefaultCaseTimeout, t.Parallel)
		})
	}
}

// caseBody is one case as both Run and Check run it: the skip rules, then
// the case against a fresh server. parallel is t.Parallel under Run, which
// go test schedules; nil under Check, which bounds concurrency itself.
func caseBody(t Reporter, target Target, c testCase, bound time.Duration, parallel func()) {
	if reason := skipReason(target, c); reason != "" {
		t.Skip(reason)
	}
	if parallel != nil {
		parallel()
	}
	runCase(t, target, c, bound)
}

// skipReason says why c does not run against target (a documented
// limitation, or work of a kind the target does not implement), or "".
func skipReason(target Target, c testCase) string {
	if reason, ok := target.Limitations[c.name]; ok {
		return fmt.Sprintf("%s: documented limitation: %s", target.Name, reason)
	}
	return skipWork(target, c)
}

// ModelTarget is the Go model m as the suite starts it: `BIN serve NAME` of
// the echobench binary at bin, with the limitations, work kinds and
// blocking behaviour its registration states. TestGoModels and `echobench
// check MODEL` both start a model through it.
func ModelTarget(bin string, m servers.Model) Target {
	return Target{
		Name:            m.Name,
		Command:         []string{bin, "serve", m.Name},
		Limitations:     m.Limitations,
		WorkKinds:       m.WorkKinds,
		BlockSerializes: m.BlockSerializes,
	}
}
