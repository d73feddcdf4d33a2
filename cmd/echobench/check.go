package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"echobench/servers/all"
	"echobench/servers/external"
	"echobench/servers/servertest"
	"echobench/servers/work"
)

func init() {
	register("check", command{summary: "run the conformance suite against your server's command or a built-in model", run: runCheck})
}

const checkUsage = `Usage: echobench check [flags] -- COMMAND [ARGS...]
       echobench check [flags] MODEL

Runs the conformance suite (docs/conformance.md), the one every built-in
model passes, against any command that honours the server contract. Each
case starts its own server, as 'echobench run' starts a [[servers]] command:

  COMMAND ARGS... --addr 127.0.0.1:0 --max-pending 4194304 [--work SPEC --request-size 100]

and prints one line, in the suite's order, then a summary:

  PASS one-byte  0.01s
  FAIL half-close-8mib: read echo after half-close: got 8388607 of 8388608 bytes: unexpected EOF
  SKIP work-lone-cpu: myserver does not implement --work cpu (its work kinds: none)

A failure is followed by the rest of what the case reported, indented: the
server's stderr tail and the seed that replays it
(ECHOBENCH_SERVERTEST_SEED). Exit status: 0 when no case failed, 1 when one
did, 2 on a usage error.

--work-kinds lists the --work kinds the command implements; the work cases
of the others are skipped. With block, --block-serializes says that a
blocking handler stalls the whole server (one event loop), as opposed to
only its own connection: work-block-20-conns checks whichever you say.

MODEL checks a built-in model instead: a Go model through this binary's
'serve', a foreign stack as 'echobench run' starts it, each with its own
work kinds and with the cases its documentation says its library cannot
pass skipped, with the reason.

Examples:
  echobench check -- ./myserver --threads 1
  echobench check --run 'one-byte|half-close' -- python3 my_server.py
  echobench check --work-kinds cpu,wait,block --block-serializes -- node server.js
  echobench check --json -- ./myserver | jq -r 'select(.status == "fail") | .case'
  echobench check nbio

Flags:
`

// checkArgs is a parsed command line of check.
type checkArgs struct {
	model   string   // a built-in model, or ""
	command []string // the user's command, or nil
	kinds   []work.Kind
	block   bool
	asJSON  bool
	opts    servertest.CheckOptions
}

func runCheck(stdout, stderr io.Writer, args []string) error {
	ca, err := parseCheck(stderr, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal now takes the default action: exit at once
	}()
	target, err := checkTarget(ctx, ca)
	if err != nil {
		return err
	}
	sum := &checkSummary{w: stdout, asJSON: ca.asJSON}
	ca.opts.Report = sum.add
	start := time.Now()
	results, err := servertest.Check(ctx, target, ca.opts)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	summaryTo := stdout
	if ca.asJSON {
		summaryTo = stderr // stdout holds one JSON object per case, nothing else
	}
	return sum.finish(summaryTo, target.Name, len(results), time.Since(start), ctx.Err() != nil)
}

// parseCheck parses check's command line. Everything after the first "--"
// is the command, flags included.
func parseCheck(stderr io.Writer, args []string) (checkArgs, error) {
	var ca checkArgs
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := fs.String("run", "", "run only the cases whose name matches `REGEXP` (as go test -run)")
	kinds := fs.String("work-kinds", "none", "the --work `KINDS` the command implements, comma-separated: cpu, wait, block, or none")
	fs.BoolVar(&ca.block, "block-serializes", false, "a blocking handler (--work block) stalls the whole server, as on one event loop")
	fs.DurationVar(&ca.opts.CaseTimeout, "timeout", servertest.DefaultCaseTimeout, "bound on one case once its server is up; its connections time out at 4/5 of it")
	fs.IntVar(&ca.opts.Parallel, "parallel", runtime.GOMAXPROCS(0), "how many cases run at once, each with its own server")
	fs.BoolVar(&ca.asJSON, "json", false, "print one JSON object per case instead of lines, the summary on stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), checkUsage)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nCases: %s\nModels: %v %v\n", strings.Join(servertest.CaseNames(), " "), all.Models.Names(), external.Names())
	}
	flagArgs, command, dashes := cutDashes(args)
	pos, err := parseInterspersed(fs, flagArgs)
	if err != nil {
		return ca, err
	}
	switch {
	case dashes && len(command) == 0:
		return ca, usagef("check: no COMMAND after --")
	case dashes && len(pos) > 0:
		return ca, usagef("check: give either MODEL or -- COMMAND, not both (got %q and %q)", pos, command)
	case !dashes && len(pos) == 0:
		return ca, usagef("check: missing -- COMMAND or MODEL")
	case !dashes && len(pos) > 1:
		return ca, usagef("check: unexpected arguments %q (a command and its arguments go after --)", pos[1:])
	case dashes:
		ca.command = command
	default:
		ca.model = pos[0]
	}
	if ca.opts.Match, err = caseMatcher(*run); err != nil {
		return ca, err
	}
	if ca.kinds, err = parseWorkKinds(*kinds); err != nil {
		return ca, err
	}
	return ca, checkFlagSense(fs, ca)
}

// cutDashes splits args at the first "--": check's own arguments before,
// the command after.
func cutDashes(args []string) (before, after []string, found bool) {
	i := slices.Index(args, "--")
	if i < 0 {
		return args, nil, false
	}
	return args[:i], args[i+1:], true
}

// checkFlagSense refuses values that cannot mean anything.
func checkFlagSense(fs *flag.FlagSet, ca checkArgs) error {
	switch {
	case ca.opts.CaseTimeout <= 0:
		return usagef("check: --timeout must be positive, got %v", ca.opts.CaseTimeout)
	case ca.opts.Parallel < 1:
		return usagef("check: --parallel must be at least 1, got %d", ca.opts.Parallel)
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if ca.model != "" && (f.Name == "work-kinds" || f.Name == "block-serializes") && err == nil {
			err = usagef("check: --%s is for a COMMAND; built-in model %s has its own", f.Name, ca.model)
		}
	})
	return err
}

// caseMatcher compiles --run; a pattern that selects no case is a usage
// error, as a check that checks nothing must not pass.
func caseMatcher(pattern string) (func(string) bool, error) {
	if pattern == "" {
		return nil, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, usagef("check: --run %q: %v", pattern, err)
	}
	if !slices.ContainsFunc(servertest.CaseNames(), re.MatchString) {
		return nil, usagef("check: --run %q matches no case (cases: %s)", pattern, strings.Join(servertest.CaseNames(), " "))
	}
	return re.MatchString, nil
}

// parseWorkKinds reads --work-kinds: "none", or kinds separated by commas.
func parseWorkKinds(s string) ([]work.Kind, error) {
	if s == "none" || s == "" {
		return nil, nil
	}
	known := []work.Kind{work.CPU, work.Wait, work.Block}
	var kinds []work.Kind
	for _, name := range strings.Split(s, ",") {
		i := slices.IndexFunc(known, func(k work.Kind) bool { return k.String() == name })
		if i < 0 {
			return nil, usagef("check: --work-kinds %q: unknown kind %q (want cpu, wait, block, or none)", s, name)
		}
		if !slices.Contains(kinds, known[i]) {
			kinds = append(kinds, known[i])
		}
	}
	return kinds, nil
}

// checkTarget is what check runs the suite against: the user's command as
// given, or a built-in model as its own tests start it.
func checkTarget(ctx context.Context, ca checkArgs) (servertest.Target, error) {
	if ca.command != nil {
		if _, err := exec.LookPath(ca.command[0]); err != nil {
			return servertest.Target{}, usagef("check: COMMAND %q: %v", ca.command[0], err)
		}
		return servertest.Target{
			Name:            filepath.Base(ca.command[0]),
			Command:         ca.command,
			WorkKinds:       ca.kinds,
			BlockSerializes: ca.block,
		}, nil
	}
	if m, err := all.Models.Lookup(ca.model); err == nil {
		if err := m.Available(); err != nil {
			return servertest.Target{}, fmt.Errorf("check: %s cannot run here: %w", m.Name, err)
		}
		exe, err := os.Executable()
		if err != nil {
			return servertest.Target{}, fmt.Errorf("check: locate this binary: %w", err)
		}
		return servertest.ModelTarget(exe, m), nil
	}
	s, ok := external.Lookup(ca.model)
	if !ok {
		return servertest.Target{}, usagef("check: unknown model %q (Go: %v; foreign: %v); a command of your own goes after --", ca.model, all.Models.Names(), external.Names())
	}
	if _, err := s.Check(ctx); err != nil {
		return servertest.Target{}, fmt.Errorf("check: %s cannot run here: %w", s.Name, err)
	}
	target, err := s.Target()
	if err != nil {
		return servertest.Target{}, fmt.Errorf("check: %w", err)
	}
	return target, nil
}

// checkSummary prints each result as it comes and counts them.
type checkSummary struct {
	w                io.Writer
	asJSON           bool
	pass, fail, skip int
	writeErr         error
}

// checkCaseJSON is one line of --json.
type checkCaseJSON struct {
	Case     string   `json:"case"`
	Status   string   `json:"status"`
	ElapsedS float64  `json:"elapsed_s"`
	Reason   string   `json:"reason,omitempty"`
	Messages []string `json:"messages,omitempty"`
}

func (s *checkSummary) add(r servertest.Result) {
	switch r.Status {
	case servertest.Pass:
		s.pass++
	case servertest.Fail:
		s.fail++
	default:
		s.skip++
	}
	var err error
	if s.asJSON {
		err = json.NewEncoder(s.w).Encode(checkCaseJSON{Case: r.Case, Status: string(r.Status), ElapsedS: r.Elapsed.Seconds(), Reason: r.Reason, Messages: r.Messages})
	} else {
		_, err = io.WriteString(s.w, formatResult(r))
	}
	if err != nil && s.writeErr == nil {
		s.writeErr = err
	}
}

// formatResult is a case's line, and for a failure every other message it
// reported, indented below it.
func formatResult(r servertest.Result) string {
	switch r.Status {
	case servertest.Pass:
		return fmt.Sprintf("PASS %s  %.2fs\n", r.Case, r.Elapsed.Seconds())
	case servertest.Skip:
		return fmt.Sprintf("SKIP %s: %s\n", r.Case, indentRest(strings.TrimRight(r.Reason, "\n")))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL %s: %s\n", r.Case, indentRest(strings.TrimRight(r.Reason, "\n")))
	reasonSeen := false
	for _, m := range r.Messages {
		if m == r.Reason && !reasonSeen {
			reasonSeen = true
			continue
		}
		b.WriteString("    " + indentRest(strings.TrimRight(m, "\n")) + "\n")
	}
	return b.String()
}

// indentRest indents every line of s but the first, for a line of output
// that carries a multi-line message.
func indentRest(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// finish prints the summary and turns the outcome into check's error: nil
// only when no case failed and none was left out by an interrupt.
func (s *checkSummary) finish(w io.Writer, name string, cases int, took time.Duration, interrupted bool) error {
	_, err := fmt.Fprintf(w, "check %s: %d passed, %d failed, %d skipped of %d cases in %.1fs\n", name, s.pass, s.fail, s.skip, cases, took.Seconds())
	switch {
	case s.writeErr != nil:
		return fmt.Errorf("check: write results: %w", s.writeErr)
	case err != nil:
		return fmt.Errorf("check: write summary: %w", err)
	case s.fail > 0:
		return fmt.Errorf("check: %d of %d cases failed against %s", s.fail, cases, name)
	case interrupted:
		return fmt.Errorf("check: interrupted before every case ran")
	}
	return nil
}
