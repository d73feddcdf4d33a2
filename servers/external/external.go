// Package external is the registry of foreign server stacks: echo servers
// written in Python (asyncio, uvloop, gevent, Tornado, Twisted, trio, curio),
// Node.js and C (c-epoll, the native baseline) that run as their own
// processes and honour the same contract as `echobench serve MODEL`:
//
//	ARGV... --addr 127.0.0.1:0 --max-pending BYTES [--work SPEC --request-size BYTES]
//
// prints "LISTENING host:port" once accepting, echoes every byte (with work,
// each request after its work, in order), finishes the echo after the
// client's half-close and exits 0 within 2 s of SIGTERM.
//
// The scripts are embedded in the binary (packages servers/python and
// servers/node). Argv writes them out once per content hash under
// os.UserCacheDir()/echobench, so the binary runs from any directory.
//
// Python stacks run under Debian's /usr/bin/python3, where the Debian
// packages of the frameworks live (scripts/install-stacks.sh installs them),
// not under whatever python3 comes first on PATH. ECHOBENCH_PYTHON and
// ECHOBENCH_NODE override the interpreters, e.g. to run curio from a venv.
//
// c-epoll is C source (package servers/native) compiled on first use with
// the system C compiler ($CC, else cc) into the same cache directory
// (native.go); its version is the compiler's.
package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"echobench/servers/native"
	"echobench/servers/servertest"
	"echobench/servers/work"
)

// Stack is one foreign server stack.
type Stack struct {
	// Name is the model name used in matrices and results, e.g. "uvloop-protocol".
	Name string
	// Doc is a one-line description: the concurrency model and its library.
	Doc string
	// Limitations maps a conformance case name (servertest.CaseNames) to the
	// documented reason this stack cannot pass it. docs/stacks.md explains each.
	Limitations map[string]string
	// Env is extra environment for the server process, appended to
	// os.Environ(). Empty for every stack today: see docs/stacks.md on why
	// MALLOC_TRIM_THRESHOLD_ is not set.
	Env []string
	// EchoOnly says the stack implements no --work kind: it refuses any
	// but none as a usage error (exit 2, naming --work), as a Go model
	// registered without servers.Model.WorkKinds does, and the
	// conformance suite runs no work case against it.
	EchoOnly bool
	// SingleProcess says the stack runs one process whatever the server
	// CPUs and refuses --procs above 1 (c-epoll, the single-core baseline):
	// the orchestrator does not pass it --procs, and the --procs cases
	// skip it.
	SingleProcess bool
	// AllowRemoteFlag says the stack refuses a non-loopback --addr unless
	// given --allow-remote, as `echobench serve` does (c-epoll); the other
	// stacks bind whatever --addr says. The orchestrator passes the flag to
	// such a stack when the run allows remote addresses (network = "netns").
	AllowRemoteFlag bool

	runtime runtime // which interpreter runs script
	script  string  // file name in the runtime's embedded FS
	args    []string
	// module is the Python module the stack needs ("" for the standard
	// library only); Check imports it and reports its version.
	module string
	// debianPkg is the Debian package that provides module, "" where
	// Debian has none.
	debianPkg string
}

// installHint says how to install module when it is missing.
func (s Stack) installHint() string {
	if s.debianPkg != "" {
		return s.debianPkg + " is not installed: " + debianHint
	}
	return s.module + " is not installed: Debian does not package it; install it for " +
		"the interpreter (e.g. pip) or set ECHOBENCH_PYTHON to a python that has it"
}

type runtime int

const (
	runtimePython runtime = iota
	runtimeNode
	// runtimeNative is C compiled with the system compiler (native.go).
	runtimeNative
)

// DefaultPython is the interpreter for the Python stacks: Debian's, because
// the frameworks come from Debian packages (python3-uvloop and friends).
const DefaultPython = "/usr/bin/python3"

// pythonFlags go before the script, in Check as in Argv, so that what Check
// reports is what runs: -E ignores PYTHON* variables (a pyenv or venv
// PYTHONPATH must not leak into Debian's interpreter), -u makes stdout
// unbuffered (the LISTENING line must not wait in a buffer; -E would ignore
// PYTHONUNBUFFERED), -B keeps the cache directory free of .pyc files.
var pythonFlags = []string{"-E", "-u", "-B"}

const debianHint = "run make deps (scripts/install-stacks.sh)"

var stacks = []Stack{
	{
		Name:    "asyncio-protocol",
		Doc:     "Python asyncio event loop, Protocol callbacks with pause_reading/resume_reading flow control",
		runtime: runtimePython, script: "echo_asyncio_protocol.py",
	},
	{
		Name:    "asyncio-streams",
		Doc:     "Python asyncio event loop, a StreamReader/StreamWriter coroutine per connection with await drain()",
		runtime: runtimePython, script: "echo_asyncio_streams.py",
	},
	{
		Name:    "uvloop-protocol",
		Doc:     "uvloop (libuv) event loop under asyncio, the same Protocol server as asyncio-protocol",
		runtime: runtimePython, script: "echo_asyncio_protocol.py", args: []string{"--loop", "uvloop"},
		module: "uvloop", debianPkg: "python3-uvloop",
	},
	{
		Name:    "uvloop-streams",
		Doc:     "uvloop (libuv) event loop under asyncio, the same streams server as asyncio-streams",
		runtime: runtimePython, script: "echo_asyncio_streams.py", args: []string{"--loop", "uvloop"},
		module: "uvloop", debianPkg: "python3-uvloop",
	},
	{
		Name:    "gevent",
		Doc:     "Python gevent: a greenlet per connection under StreamServer, blocking-style recv/sendall on libev",
		runtime: runtimePython, script: "echo_gevent.py",
		module: "gevent", debianPkg: "python3-gevent",
	},
	{
		Name:    "tornado",
		Doc:     "Python Tornado: TCPServer.handle_stream coroutine per IOStream, await stream.write (asyncio loop)",
		runtime: runtimePython, script: "echo_tornado.py",
		module: "tornado", debianPkg: "python3-tornado",
	},
	{
		Name:    "twisted",
		Doc:     "Python Twisted: a Protocol per connection on the epoll reactor, the transport as its own streaming producer",
		runtime: runtimePython, script: "echo_twisted.py",
		module: "twisted", debianPkg: "python3-twisted",
	},
	{
		Name:    "trio",
		Doc:     "Python trio: a task per connection under serve_tcp, structured concurrency, send_all backpressure",
		runtime: runtimePython, script: "echo_trio.py",
		module: "trio", debianPkg: "python3-trio",
	},
	{
		Name:    "curio",
		Doc:     "Python curio: a task per connection under run_server, recv/sendall on curio's kernel",
		runtime: runtimePython, script: "echo_curio.py",
		module: "curio",
	},
	{
		Name:    "node",
		Doc:     "Node.js net.Server on libuv, one event loop, socket.pipe(socket) backpressure",
		runtime: runtimeNode, script: "echo.js",
	},
	{
		Name:    "c-epoll",
		Doc:     "native baseline: one level-triggered epoll loop in C, recv/send per message, reads stop at --max-pending (built with the system C compiler)",
		runtime: runtimeNative, script: native.SourceName,
		EchoOnly: true, SingleProcess: true, AllowRemoteFlag: true,
	},
}

// Stacks returns every foreign stack, available here or not, in a fixed
// order. The slice is a copy; changing it changes nothing in the registry.
func Stacks() []Stack {
	out := make([]Stack, len(stacks))
	for i, s := range stacks {
		out[i] = s.clone()
	}
	return out
}

// Lookup returns the stack called name.
func Lookup(name string) (Stack, bool) {
	for _, s := range stacks {
		if s.Name == name {
			return s.clone(), true
		}
	}
	return Stack{}, false
}

// Names returns every stack name, in the order of Stacks.
func Names() []string {
	names := make([]string, len(stacks))
	for i, s := range stacks {
		names[i] = s.Name
	}
	return names
}

func (s Stack) clone() Stack {
	if s.Limitations != nil {
		m := make(map[string]string, len(s.Limitations))
		for k, v := range s.Limitations {
			m[k] = v
		}
		s.Limitations = m
	}
	s.Env = append([]string(nil), s.Env...)
	s.args = append([]string(nil), s.args...)
	return s
}

// stackWorkKinds: every stack implements every --work kind (docs/stacks.md,
// "Work per request", says how each does it); none refuses one.
var stackWorkKinds = []work.Kind{work.CPU, work.Wait, work.Block}

// blockCooperative names the stacks on which `block` (Python's time.sleep)
// does not stall the whole server, with the reason. Every other stack runs
// its handlers on one event loop in one thread, where a blocking sleep
// stalls every connection: the suite asserts that too.
var blockCooperative = map[string]string{
	"gevent": "gevent.monkey.patch_all makes time.sleep gevent's cooperative sleep: that is gevent's point",
}

// Target is the stack as the conformance suite starts it: Argv and Env, its
// documented Limitations, every work kind, and whether a blocking handler
// stalls it. TestConformance and `echobench check STACK` both start a
// stack through it.
func (s Stack) Target() (servertest.Target, error) {
	argv, err := s.Argv()
	if err != nil {
		return servertest.Target{}, err
	}
	_, cooperative := blockCooperative[s.Name]
	kinds := slices.Clone(stackWorkKinds)
	if s.EchoOnly {
		kinds = nil // c-epoll: the work cases are skipped, saying so
	}
	return servertest.Target{
		Name:            s.Name,
		Command:         argv,
		Env:             slices.Clone(s.Env),
		Limitations:     s.clone().Limitations,
		WorkKinds:       kinds,
		BlockSerializes: !cooperative,
	}, nil
}

// CheckWork refuses a --work kind the stack does not implement: any but
// none for an EchoOnly stack.
func (s Stack) CheckWork(w work.Spec) error {
	if w.Kind == work.None || !s.EchoOnly {
		return nil
	}
	return fmt.Errorf("--work %s: %s echoes only (it implements no --work kind)", w, s.Name)
}

// Argv returns the command that starts the stack's server, up to but not
// including the contract flags (--addr, --max-pending), with the script's
// path resolved to the cache directory it is written out to.
func (s Stack) Argv() ([]string, error) {
	if s.runtime == runtimeNative {
		argv, err := nativeArgv()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		return append(argv, s.args...), nil
	}
	dir, err := scriptDir()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	interp, err := s.interpreter()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	var argv []string
	switch s.runtime {
	case runtimePython:
		argv = append([]string{interp}, pythonFlags...)
		argv = append(argv, joinPath(dir, "python", s.script))
	case runtimeNode:
		argv = []string{interp, joinPath(dir, "node", s.script)}
	}
	return append(argv, s.args...), nil
}

// interpreter returns the program that runs the stack's script.
func (s Stack) interpreter() (string, error) {
	switch s.runtime {
	case runtimePython:
		if p := os.Getenv("ECHOBENCH_PYTHON"); p != "" {
			return p, nil
		}
		return DefaultPython, nil
	case runtimeNode:
		if p := os.Getenv("ECHOBENCH_NODE"); p != "" {
			return p, nil
		}
		if p, err := exec.LookPath("node"); err == nil {
			return p, nil
		}
		return "/usr/bin/node", nil
	}
	return "", fmt.Errorf("stack %q has no runtime", s.Name)
}

// checkTimeout bounds one Check when ctx has no earlier deadline: importing
// Twisted on a loaded 2-core machine takes about half a second.
const checkTimeout = 20 * time.Second

// pythonVersionProbe prints "python X.Y.Z[, MODULE VERSION]", or exits 3
// with the import error on stderr when MODULE cannot be imported.
const pythonVersionProbe = `import platform, sys
v = "python " + platform.python_version()
name = sys.argv[1]
if name:
    try:
        m = __import__(name)
    except ImportError as e:
        sys.stderr.write(str(e))
        sys.exit(3)
    v += ", %s %s" % (name, getattr(m, "__version__", None) or getattr(m, "version", "unknown"))
print(v)
`

// Check reports whether the stack can run here and, if so, its version, as
// in "python 3.11.2, uvloop 0.17.0" or "node v20.20.2". When it cannot, err
// says why and what to do, e.g. "python3-uvloop is not installed: run make
// deps". It runs the interpreter once, with the flags Argv uses. For
// c-epoll it is the C compiler's version, once the binary is built: "cc
// (Debian 12.2.0-14+deb12u1) 12.2.0", or "no C compiler (cc): run make
// deps ...".
func (s Stack) Check(ctx context.Context) (version string, err error) {
	if s.runtime == runtimeNative {
		return checkNative(ctx)
	}
	if _, err := scriptDir(); err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	interp, err := s.interpreter()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath(interp); err != nil {
		switch s.runtime {
		case runtimePython:
			return "", fmt.Errorf("%s: interpreter %s not found (install Debian's python3: %s): %w", s.Name, interp, debianHint, err)
		default:
			return "", fmt.Errorf("%s: interpreter %s not found (install Node.js, e.g. Debian's nodejs: %s): %w", s.Name, interp, debianHint, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()

	var cmd *exec.Cmd
	switch s.runtime {
	case runtimePython:
		args := append(append([]string(nil), pythonFlags...), "-c", pythonVersionProbe, s.module)
		cmd = exec.CommandContext(ctx, interp, args...)
	case runtimeNode:
		cmd = exec.CommandContext(ctx, interp, "-e", `process.stdout.write("node " + process.version + "\n")`)
	}
	cmd.Env = append(os.Environ(), s.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s: version check with %s: %w", s.Name, interp, ctx.Err())
	}
	detail := strings.TrimSpace(stderr.String())
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) && exitErr.ExitCode() == 3 && s.module != "" {
		return "", fmt.Errorf("%s (%s: %s)", s.installHint(), interp, detail)
	}
	if runErr != nil {
		return "", fmt.Errorf("%s: version check with %s: %w (stderr: %q)", s.Name, interp, runErr, detail)
	}
	version = strings.TrimSpace(stdout.String())
	if version == "" {
		return "", fmt.Errorf("%s: version check with %s printed nothing (stderr: %q)", s.Name, interp, detail)
	}
	if s.runtime == runtimeNode {
		if err := nodeRecentEnough(strings.TrimPrefix(version, "node ")); err != nil {
			return "", fmt.Errorf("%s: %s: %w", s.Name, interp, err)
		}
	}
	return version, nil
}

// nodeRecentEnough accepts Node.js 18.3 and later: echo.js parses its flags
// with util.parseArgs, which 18.3 added.
func nodeRecentEnough(v string) error {
	var major, minor int
	if _, err := fmt.Sscanf(v, "v%d.%d", &major, &minor); err != nil {
		return fmt.Errorf("cannot read Node.js version %q: %w", v, err)
	}
	if major < 18 || (major == 18 && minor < 3) {
		return fmt.Errorf("Node.js %s is too old: echo.js needs 18.3 or later", v)
	}
	return nil
}
