package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"echobench/servers"
	"echobench/servers/native"
	"echobench/servers/work"
)

// parsedContract is what a server's own flag parser made of the argv. Work
// is the parsed spec in canonical form (work.Spec.String), so kind, mean to
// the nanosecond and law are all compared.
type parsedContract struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	MaxPending  int    `json:"maxPending"`
	Loops       int    `json:"loops"`
	Work        string `json:"work"`
	RequestSize int    `json:"requestSize"`
	Procs       int    `json:"procs"`
}

// parseOutcome is one argv's fate in a foreign parser: exit code 0 and what
// it parsed, or the code it exited with (2: usage) and its stderr.
type parseOutcome struct {
	Code   int            `json:"code"`
	Parsed parsedContract `json:"parsed"`
	Stderr string         `json:"stderr"`
}

// contractParsers run each foreign runtime's real flag parser (the Python
// servers' _echo_common.parse_args, Node's parseContract) on a JSON list of
// argvs read from stdin, all in one process (a process per argv made the
// test take 30 s on the shared machine), and print one parseOutcome per
// argv. The exit the parser asks for (sys.exit, process.exit) is caught and
// recorded instead of ending the process.
var contractParsers = []struct {
	name    string
	runtime runtime
	argv    func(interp string) []string
}{
	{"python", runtimePython, func(interp string) []string {
		src := `import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import _echo_common as c
out = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            a = c.parse_args("contract test", argv=argv)
    except SystemExit as e:
        out.append({"code": e.code, "stderr": err.getvalue()})
        continue
    out.append({"code": 0, "parsed": {
        "host": a.host or "", "port": a.port, "maxPending": a.max_pending, "loops": a.loops,
        "work": str(a.work), "requestSize": a.work.request_size, "procs": a.procs}})
print(json.dumps(out))`
		dir, _ := filepath.Abs("../python")
		return []string{interp, "-E", "-c", src, dir}
	}},
	{"node", runtimeNode, func(interp string) []string {
		src := `const m = require(process.argv[1]);
class Exit { constructor(code) { this.code = code; } }
let stderr = '';
process.exit = (code) => { throw new Exit(code); };
process.stderr.write = (s) => { stderr += s; return true; };
const out = JSON.parse(require('node:fs').readFileSync(0, 'utf8')).map((argv) => {
  stderr = '';
  try {
    const c = m.parseContract(argv);
    return { code: 0, parsed: { ...c, work: m.workString(c.work), requestSize: c.work.requestSize } };
  } catch (e) {
    if (e instanceof Exit) return { code: e.code, stderr };
    throw e;
  }
});
console.log(JSON.stringify(out));`
		script, _ := filepath.Abs("../node/echo.js")
		return []string{interp, "-e", src, script}
	}},
}

// The foreign servers parse the contract flags that Go builds from
// servers.Config (the orchestrator's and the conformance suite's argv) into
// the same values as `echobench serve`, and refuse what it refuses; c-epoll,
// which echoes only, refuses every work but none, naming --work.
func TestForeignParsersReadTheContract(t *testing.T) {
	t.Parallel()
	good := []servers.Config{
		{Addr: "127.0.0.1:0", MaxPendingBytes: servers.DefaultMaxPendingBytes},
		{Addr: "127.0.0.5:8123", Loops: 1, MaxPendingBytes: 65536},
		{Addr: "[::1]:0", MaxPendingBytes: 1},
		{},
		{Work: work.Spec{Kind: work.CPU, Mean: 20 * time.Microsecond}, RequestSizeBytes: 64},
		{Work: work.Spec{Kind: work.Wait, Mean: 1500 * time.Millisecond, Dist: work.Exp}, RequestSizeBytes: servers.MaxRequestSizeBytes},
		{Work: work.Spec{Kind: work.Block, Mean: 1}, RequestSizeBytes: 1},
		{Work: work.Spec{Kind: work.CPU, Mean: work.MaxMean, Dist: work.Exp}, RequestSizeBytes: 1000},
		{Work: work.Spec{Kind: work.Wait, Mean: 333333}, RequestSizeBytes: 7},
		{RequestSizeBytes: 512}, // with none it changes nothing
		{Procs: 1},
		{Procs: 2, Work: work.Spec{Kind: work.Wait, Mean: time.Millisecond}, RequestSizeBytes: 64},
		{Procs: servers.MaxProcs},
	}
	bad := []servers.Config{{Loops: 2}, {Loops: -1}, {MaxPendingBytes: -5}, {Addr: "127.0.0.1"}}
	// badWork are refused by Go too (its flag table or Config.Validate),
	// so by every server.
	badWork := []servers.Config{
		{Procs: -1},
		{Procs: servers.MaxProcs + 1},
		{Work: work.Spec{Kind: work.CPU, Mean: time.Millisecond}},
		{Work: work.Spec{Kind: work.Wait, Mean: time.Millisecond}, RequestSizeBytes: servers.MaxRequestSizeBytes + 1},
		{RequestSizeBytes: -1},
		{Work: work.Spec{Kind: work.Block, Mean: 11 * time.Second}, RequestSizeBytes: 10},
	}
	for _, cfg := range badWork {
		if c, err := servers.ParseArgs(nil, cfg.Args()); err == nil && c.WithDefaults().Validate(false) == nil {
			t.Fatalf("Go accepts %q: not a bad case", cfg.Args())
		}
	}
	// Never a nil argv: JSON null would make a parser read its own argv.
	var argvs [][]string
	for _, cfg := range good {
		argvs = append(argvs, append([]string{}, cfg.Args()...))
	}
	nGood := len(argvs)
	for _, cfg := range append(bad, badWork...) {
		argvs = append(argvs, append([]string{}, cfg.Args()...))
	}
	nBadConfigs := len(argvs)
	for _, spec := range badSpecs {
		if _, err := work.Parse(spec); err == nil {
			t.Fatalf("Go accepts --work %q: not a bad case", spec)
		}
		argvs = append(argvs, []string{"--work", spec, "--request-size", "64"})
	}
	for _, p := range contractParsers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			interp, ok := parserInterpreter(t, p.runtime)
			if !ok {
				return
			}
			outcomes := runParser(t, p.argv(interp), argvs)
			for i, args := range argvs {
				checkParsed(t, args, outcomes[i], i < nGood, i >= nBadConfigs)
			}
		})
	}
	t.Run("c", func(t *testing.T) {
		t.Parallel()
		bin := buildParseOnly(t)
		outcomes := runNativeParser(t, bin, argvs)
		for i, args := range argvs {
			got := outcomes[i]
			good, badSpec := i < nGood, i >= nBadConfigs
			if good && !plainEcho(t, args) {
				// c-epoll echoes only: work Go accepts is a usage error
				// naming --work, never an echo passed off as work.
				good, badSpec = false, true
				if !strings.Contains(got.Stderr, "c-epoll echoes only") {
					t.Errorf("%q: stderr %q does not say c-epoll echoes only", args, got.Stderr)
				}
			} else if good && parsedProcs(t, args) > 1 {
				// c-epoll is one process: several are refused, naming
				// --procs, never served by one process as if by several.
				good = false
				if !strings.Contains(got.Stderr, "--procs") {
					t.Errorf("%q: stderr %q does not name --procs", args, got.Stderr)
				}
			}
			checkParsed(t, args, got, good, badSpec)
		}
	})
}

// parsedProcs is the --procs Go parses from args.
func parsedProcs(t *testing.T, args []string) int {
	t.Helper()
	c, err := servers.ParseArgs(nil, args)
	if err != nil {
		t.Fatalf("Go %q: %v", args, err)
	}
	return c.WithDefaults().Procs
}

// plainEcho reports whether Go parses args as work none.
func plainEcho(t *testing.T, args []string) bool {
	t.Helper()
	c, err := servers.ParseArgs(nil, args)
	if err != nil {
		t.Fatalf("Go %q: %v", args, err)
	}
	return c.Work.Kind == work.None
}

// buildParseOnly compiles c-epoll's source as the contract test's variant
// (-DECHO_PARSE_ONLY: print what was parsed as JSON, exit), with -Werror, so
// the source is also proved to compile without a warning.
func buildParseOnly(t *testing.T) string {
	t.Helper()
	cc := requireCompiler(t)
	dir := t.TempDir()
	if err := compileC(context.Background(), cc, native.EchoEpollC, dir, "c-epoll-parse", "-Werror", "-DECHO_PARSE_ONLY"); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "c-epoll-parse")
}

// runNativeParser runs the parse-only c-epoll on each argv, a process each,
// four at a time: starting a process costs ~40 ms on the shared machine,
// nearly all of it waiting, so they overlap.
func runNativeParser(t *testing.T, bin string, argvs [][]string) []parseOutcome {
	t.Helper()
	outcomes := make([]parseOutcome, len(argvs))
	errs := make([]error, len(argvs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, args := range argvs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i], errs[i] = runNativeParserOnce(bin, args)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return outcomes
}

func runNativeParserOnce(bin string, args []string) (parseOutcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		if stdout.Len() != 0 {
			return parseOutcome{}, fmt.Errorf("%q: exit %d with %q on stdout, where LISTENING belongs", args, exitErr.ExitCode(), stdout.String())
		}
		return parseOutcome{Code: exitErr.ExitCode(), Stderr: stderr.String()}, nil
	case err != nil:
		return parseOutcome{}, fmt.Errorf("%q: %w", args, err)
	}
	var out parseOutcome
	if err := json.Unmarshal(stdout.Bytes(), &out.Parsed); err != nil {
		return parseOutcome{}, fmt.Errorf("%q printed %q: %w", args, stdout.String(), err)
	}
	return out, nil
}

// checkParsed compares one outcome with Go's: the same values for a good
// argv, a usage error (exit 2) for a bad one, naming --work for a bad spec.
func checkParsed(t *testing.T, args []string, got parseOutcome, good, badSpec bool) {
	t.Helper()
	if !good {
		if got.Code != 2 || (badSpec && !strings.Contains(got.Stderr, "--work")) {
			t.Errorf("%q: exit %d, stderr %q; want exit status 2 (usage)%s", args, got.Code, got.Stderr,
				map[bool]string{true: " naming --work"}[badSpec])
		}
		if slices.Contains(args, "--procs") && !badSpec && !strings.Contains(got.Stderr, "--procs") {
			t.Errorf("%q: stderr %q does not name --procs", args, got.Stderr)
		}
		return
	}
	if got.Code != 0 {
		t.Errorf("%q: exit %d: %s", args, got.Code, got.Stderr)
		return
	}
	want, err := servers.ParseArgs(nil, args)
	if err != nil {
		t.Fatalf("Go %q: %v", args, err)
	}
	host, port, _ := net.SplitHostPort(want.Addr)
	pc := got.Parsed
	if pc.Host != host || strconv.Itoa(pc.Port) != port || pc.MaxPending != want.MaxPendingBytes || pc.Loops != want.Loops ||
		pc.Work != want.Work.String() || pc.RequestSize != want.RequestSizeBytes || pc.Procs != want.Procs {
		t.Errorf("parsed %q as %+v; Go parses it as %+v", args, pc, want)
	}
}

// badSpecs are --work values every parser refuses: one per rule of the
// grammar (servers/work's TestParseErrors has the full table).
var badSpecs = []string{
	"", "None", "cpu", "cpu:1ms:exp:x", "sleep:1ms", "none:1ms", "cpu:-1ms", "cpu:+1ms",
	"cpu:1ms500us", "cpu:1", "cpu:1m", "cpu:.5ms", "cpu:1.ms", "cpu:1 ms",
	"cpu:1μs", // Greek mu, not the micro sign
	"cpu:0ms", "cpu:0.1ns", "cpu:10.5s", "cpu:10.000000001s", "wait:99999999999999999999s",
	"wait:1ms:normal", "wait:1ms:",
}

// parserInterpreter returns the runtime's interpreter, or skips (fails
// under ECHOBENCH_REQUIRE_STACKS=1) when it is not installed.
func parserInterpreter(t *testing.T, rt runtime) (string, bool) {
	t.Helper()
	interp, err := Stack{runtime: rt}.interpreter()
	if err == nil {
		_, err = exec.LookPath(interp)
	}
	if err != nil {
		if requireStacks() {
			t.Fatal(err)
		}
		t.Skip(err)
		return "", false
	}
	return interp, true
}

// runParser feeds argvs to a batch parser command as JSON and returns its
// outcomes, one per argv.
func runParser(t *testing.T, command []string, argvs [][]string) []parseOutcome {
	t.Helper()
	in, err := json.Marshal(argvs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v (stderr: %s)", command[0], err, exitStderr(err))
	}
	var outcomes []parseOutcome
	if err := json.Unmarshal(out, &outcomes); err != nil || len(outcomes) != len(argvs) {
		t.Fatalf("%s printed %q: %v, want %d outcomes", command[0], out, err, len(argvs))
	}
	return outcomes
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// The Python and Node servers draw the same exponential durations as Go's
// work.Rand: every raw SplitMix64 output of servers/work/testdata/vectors.json
// exactly, every draw to the nanosecond within the file's tolerance (the
// last bit of ln may differ between math libraries; truncation is the same).
func TestForeignDrawsMatchVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../work/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		MeanNs      int64 `json:"mean_ns"`
		ToleranceNs int64 `json:"tolerance_ns"`
		Vectors     []struct {
			Ordinal uint64   `json:"ordinal"`
			U64     []string `json:"u64"`
			ExpNs   []int64  `json:"exp_ns"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("vectors.json holds no vectors")
	}
	for _, d := range drawers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			interp, ok := parserInterpreter(t, d.runtime)
			if !ok {
				return
			}
			args := []string{strconv.FormatInt(file.MeanNs, 10), strconv.Itoa(len(file.Vectors[0].ExpNs))}
			for _, v := range file.Vectors {
				args = append(args, strconv.FormatUint(v.Ordinal, 10))
			}
			command := d.argv(interp)
			out, err := exec.Command(command[0], append(command[1:], args...)...).Output()
			if err != nil {
				t.Fatalf("%v (stderr: %s)", err, exitStderr(err))
			}
			var got []struct {
				U64   []string `json:"u64"`
				ExpNs []int64  `json:"exp_ns"`
			}
			if err := json.Unmarshal(out, &got); err != nil || len(got) != len(file.Vectors) {
				t.Fatalf("output %q: %v, want %d connections", out, err, len(file.Vectors))
			}
			for i, v := range file.Vectors {
				checkDraws(t, v.Ordinal, got[i].U64, got[i].ExpNs, v.U64, v.ExpNs, file.ToleranceNs)
			}
		})
	}
}

func checkDraws(t *testing.T, ordinal uint64, gotU64 []string, gotNs []int64, wantU64 []string, wantNs []int64, tolNs int64) {
	t.Helper()
	if fmt.Sprint(gotU64) != fmt.Sprint(wantU64) {
		t.Errorf("ordinal %d: raw outputs %v, want %v", ordinal, gotU64, wantU64)
	}
	if len(gotNs) != len(wantNs) {
		t.Fatalf("ordinal %d: %d draws, want %d", ordinal, len(gotNs), len(wantNs))
	}
	for i := range wantNs {
		if diff := gotNs[i] - wantNs[i]; diff < -tolNs || diff > tolNs {
			t.Errorf("ordinal %d draw %d: %d ns, want %d ± %d", ordinal, i, gotNs[i], wantNs[i], tolNs)
		}
	}
}

// drawers print, for argv MEAN_NS N ORDINAL..., for each connection ordinal
// the first N raw outputs and the first N exponential draws of the mean,
// through each server's own Draws.
var drawers = []struct {
	name    string
	runtime runtime
	argv    func(interp string) []string
}{
	{"python", runtimePython, func(interp string) []string {
		src := `import json, sys
sys.path.insert(0, sys.argv[1])
import _echo_common as c
mean, k = int(sys.argv[2]), int(sys.argv[3])
out = []
for n in (int(a) for a in sys.argv[4:]):
    raw, draws = c.Draws(n, mean, True), c.Draws(n, mean, True)
    out.append({"u64": [str(raw.next_u64()) for _ in range(k)],
                "exp_ns": [draws.next_ns() for _ in range(k)]})
print(json.dumps(out))`
		dir, _ := filepath.Abs("../python")
		return []string{interp, "-E", "-c", src, dir}
	}},
	{"node", runtimeNode, func(interp string) []string {
		src := `const m = require(process.argv[1]);
const [mean, k, ...ordinals] = process.argv.slice(2).map(Number);
console.log(JSON.stringify(ordinals.map((n) => {
  const raw = new m.Draws(n, mean, true), draws = new m.Draws(n, mean, true);
  const c = { u64: [], exp_ns: [] };
  for (let i = 0; i < k; i++) { c.u64.push(String(raw.nextU64())); c.exp_ns.push(draws.next()); }
  return c;
})));`
		script, _ := filepath.Abs("../node/echo.js")
		return []string{interp, "-e", src, script}
	}},
}
