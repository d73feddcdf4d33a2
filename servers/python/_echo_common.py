"""Flag parsing, the readiness line and the per-request work shared by every
Python echo server.

The server contract (docs/stacks.md): take --addr HOST:PORT (default
127.0.0.1:0), --max-pending BYTES, --loops 1, --work SPEC and --request-size
BYTES (the workload of issue #14: what a handler does per request, parsed
with the grammar and bounds of Go's servers/work) and --procs N, print exactly
one line "LISTENING host:port" on stdout once accepting, log only to stderr,
echo every byte in order, finish the echo after the client's half-close, and
exit 0 within 2 s of SIGTERM.

With --procs N > 1 the process a script starts as is a supervisor
(supervise_procs, the gunicorn/uvicorn idiom): it reserves the port, starts N
copies of the script as workers, each with its own SO_REUSEPORT listener on
that port, prints LISTENING once all of them listen, and ends them at SIGTERM.

This module imports nothing beyond the standard library, so a server whose
framework is missing can still parse its flags and say what is missing.
"""

import argparse
import itertools
import json
import math
import os
import re
import signal
import socket
import sys
import time

DEFAULT_MAX_PENDING = 4 << 20

# Bytes asked for per read. 64 KiB is what the Go models and most of these
# frameworks use by default; smaller reads would handicap large messages.
READ_SIZE = 64 * 1024

# Exit status of a server whose framework is not importable. It differs from
# 1 (crash) and 2 (usage) so a supervisor can tell "not installed" apart.
EXIT_MISSING = 3

# Bound of --procs, the same as Go's servers.MaxProcs.
MAX_PROCS = 256

# Set by the supervisor in each worker's environment: the supervisor's PID.
# A process that has it is a worker: it listens with SO_REUSEPORT on the
# port the supervisor reserved, and dies with the supervisor.
PARENT_ENV = "ECHOBENCH_PROCS_PARENT"


def parse_args(description, extra=None, argv=None):
    """Parses the contract flags; extra(parser) may add the server's own.

    argv defaults to sys.argv[1:]; servers/external's tests pass the argv
    that Go builds from servers.Config, so both sides parse the same words.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--addr", default="127.0.0.1:0",
                   help="TCP address HOST:PORT to listen on; port 0 picks a free port "
                        "(default 127.0.0.1:0; an empty host means every interface)")
    p.add_argument("--max-pending", type=int, default=DEFAULT_MAX_PENDING, metavar="BYTES",
                   help="cap on unsent output per connection, where the framework has one "
                        "(default %(default)s)")
    p.add_argument("--loops", type=int, default=1, metavar="N",
                   help="event loops; these servers run one, so only 1 is accepted "
                        "(the flag exists because the server contract has it)")
    p.add_argument("--work", default="none", metavar="SPEC",
                   help="work per request: none, or KIND:MEAN[:DIST] with KIND cpu, wait or "
                        "block, MEAN a duration such as 20us or 1.5ms, DIST fixed or exp "
                        "(default none: plain echo)")
    p.add_argument("--request-size", type=int, default=None, metavar="BYTES",
                   help="bytes per request, required with --work other than none "
                        "(at most %d)" % MAX_REQUEST_SIZE)
    p.add_argument("--procs", type=int, default=1, metavar="N",
                   help="server processes, 1..%d: with N > 1 this process supervises N "
                        "workers that share the port with SO_REUSEPORT (default 1)" % MAX_PROCS)
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    if args.request_size is None:
        args.request_size = 0  # unset
    elif args.request_size < 1:
        p.error("--request-size must be positive, got %d" % args.request_size)
    try:
        args.work = Work(parse_work(args.work), args.request_size)
    except ValueError as e:
        p.error(str(e))
    if args.loops != 1:
        p.error("--loops %d: this server runs a single event loop; for several, run "
                "several processes with --procs N" % args.loops)
    try:
        args.host, args.port = split_addr(args.addr)
    except ValueError as e:
        p.error(str(e))
    if args.max_pending < 1:
        p.error("--max-pending must be at least 1 byte, got %d" % args.max_pending)
    if not 1 <= args.procs <= MAX_PROCS:
        p.error("--procs must be 1..%d, got %d" % (MAX_PROCS, args.procs))
    # A worker listens with SO_REUSEPORT; argv given by a test is never a
    # worker's, whatever the environment says.
    parent = os.environ.get(PARENT_ENV) if argv is None else None
    args.reuse_port = parent is not None
    if parent is not None:
        _die_with_parent(int(parent))
    elif argv is None and args.procs > 1 and not _supervising:
        p.error("--procs %d: this script runs its server without supervise_procs, "
                "so it would serve in one process" % args.procs)
    return args


def split_addr(addr):
    """Splits "host:port" or "[v6]:port" as Go's net.SplitHostPort does.

    An empty host becomes None, which every framework here reads as "all
    interfaces", the same as Go's ":0". The default is never empty: asyncio
    and Node bind every interface when given no host.
    """
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError("--addr %r: missing port (want HOST:PORT)" % addr)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("--addr %r: an IPv6 host needs brackets, as in [::1]:0" % addr)
    try:
        port = int(port)
    except ValueError:
        raise ValueError("--addr %r: port %r is not a number" % (addr, port)) from None
    if not 0 <= port <= 65535:
        raise ValueError("--addr %r: port %d out of range" % (addr, port))
    return (host or None), port


def listen_backlog():
    """Returns the accept backlog to listen with: the kernel's maximum,
    net.core.somaxconn, read the way Go's net package reads it.

    Framework defaults are far lower (asyncio and curio 100, Tornado and
    gevent 128, Twisted 50; trio already asks for the maximum). With 1000
    clients connecting at once a short queue drops SYNs, and each dropped
    connect waits a second to retry: a handicap of the default, not of the
    concurrency model, and one the Go models do not carry.
    """
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            n = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return socket.SOMAXCONN
    # The kernel stores the backlog in 16 bits.
    return max(1, min(n, 0xFFFF))


def announce(sockname):
    """Prints the readiness line for a bound socket's getsockname()."""
    host, port = sockname[0], sockname[1]
    if ":" in host:
        host = "[%s]" % host
    sys.stdout.write("LISTENING %s:%d\n" % (host, port))
    sys.stdout.flush()


def log(msg):
    sys.stderr.write("%s\n" % msg)
    sys.stderr.flush()


def missing(framework, err, hint):
    """Reports an unimportable framework on stderr and exits EXIT_MISSING."""
    log("%s is not installed: %s (%s)" % (framework, err, hint))
    sys.exit(EXIT_MISSING)


def set_nodelay(sock):
    """Turns Nagle's algorithm off, as asyncio, uvloop, trio, Go and Node's
    noDelay do: an echo reply must not wait for the previous one's ACK."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def add_loop_flag(p):
    """Adds --loop, the asyncio scripts' own flag: the same script is the
    asyncio and the uvloop stack, so the pair isolates the event loop."""
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                   help="event loop implementation (default %(default)s)")


def run_asyncio(description, serve):
    """Parse the flags plus --loop and run the coroutine serve(args) on the
    chosen event loop."""
    import asyncio
    args = parse_args(description, add_loop_flag)
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError as e:
            missing("uvloop", e, "Debian package python3-uvloop; run make deps")
        if hasattr(uvloop, "run"):  # uvloop >= 0.18
            uvloop.run(serve(args))
            return
        uvloop.install()
    asyncio.run(serve(args))


def listen_socket(host, port, backlog):
    """Opens a TCP socket bound to host:port with SO_REUSEADDR and
    SO_REUSEPORT, listening with backlog, or not listening when backlog is
    None (the supervisor's reservation of the port, which must never be
    given a connection). It is for the frameworks that take a listening
    socket rather than a reuse_port option. socket.socket is looked up at
    each call, so under gevent's monkey-patching this is gevent's socket."""
    family = socket.AF_INET6 if host and ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host or "", port))
        if backlog is not None:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


# ---- Several processes: --procs N (docs/stacks.md, "Several cores") ----
#
# The idiom of gunicorn's arbiter and of uvicorn --workers: a supervising
# process that serves nothing, and N workers that each run the stack's own
# server unchanged. Each worker is a fresh interpreter running the same
# script (exec, not a bare fork: a forked child would share state its
# framework made at import, such as the epoll instance of Twisted's reactor),
# and each opens its own SO_REUSEPORT listener on the port the supervisor
# reserved, so the kernel spreads connections over the workers by a hash of
# each connection's addresses. Only the workers listen: the reservation is
# bound, never listening, so it takes no connection, and port 0 works.

# Set once a script has called supervise_procs: parse_args refuses --procs
# N > 1 in a script that never did, rather than serve in one process.
_supervising = False

# How long the supervisor waits for its workers after SIGTERM before it
# kills them: the contract is an exit within 2 s.
STOP_GRACE_S = 1.5


def supervise_procs(description, extra=None):
    """Every script calls this first thing, before importing its framework.

    With --procs 1, or in a worker, it returns and the script serves. With
    --procs N > 1 this process becomes the supervisor of N workers and exits
    when they are done: 0 after SIGTERM or SIGINT once every worker ended
    cleanly, non-zero, with the reason on stderr, when a worker died first.
    The supervisor never imports the framework, so it stays as small as
    gunicorn's arbiter, and import-time state (gevent's monkey-patching,
    Twisted's reactor) exists only in the workers.
    """
    global _supervising
    _supervising = True
    args = parse_args(description, extra)
    if args.reuse_port or args.procs == 1:
        return
    sys.exit(_Supervisor(args).run())


def _die_with_parent(parent_pid):
    """Asks the kernel to SIGKILL this worker when its supervisor dies, by
    SIGKILL too (PR_SET_PDEATHSIG), then checks that the supervisor did not
    die before the request: no worker outlives it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    if libc.prctl(pr_set_pdeathsig, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                  ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        log("worker: prctl(PR_SET_PDEATHSIG): %s" % os.strerror(ctypes.get_errno()))
        sys.exit(1)
    if os.getppid() != parent_pid:
        log("worker: supervisor %d is gone" % parent_pid)
        sys.exit(1)


def _interpreter_flags():
    """The interpreter options a worker must share with this process: -E or
    -I keep PYTHON* variables out as here, -s the user site, -B the .pyc
    files; -u keeps the worker's stdout unbuffered for its LISTENING line."""
    flags = []
    if sys.flags.isolated:
        flags.append("-I")
    else:
        if sys.flags.ignore_environment:
            flags.append("-E")
        if sys.flags.no_user_site:
            flags.append("-s")
    if sys.flags.dont_write_bytecode:
        flags.append("-B")
    return flags + ["-u"]


def _describe_exit(code):
    """Says how a worker ended, from Popen.returncode."""
    if code < 0:
        try:
            return "was killed by %s" % signal.Signals(-code).name
        except ValueError:
            return "was killed by signal %d" % -code
    return "exited with status %d" % code


class _Worker:
    """One worker process and what the supervisor read of its stdout."""

    def __init__(self, index, proc):
        self.index = index
        self.proc = proc
        self.buf = b""
        self.addr = None  # from its LISTENING line
        self.reported = False  # its end has been logged

    def __str__(self):
        return "worker %d (pid %d)" % (self.index, self.proc.pid)

    def take(self, data, port):
        """Reads stdout data; returns an error when the worker announced
        another port than the reserved one."""
        self.buf += data
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            text = line.decode("utf-8", "replace")
            if self.addr is None and text.startswith("LISTENING "):
                self.addr = text[len("LISTENING "):]
                if not self.addr.endswith(":%d" % port):
                    return "%s announced %s, not the reserved port %d" % (self, self.addr, port)
            else:
                log("%s wrote on stdout: %s" % (self, text))
        return None


class _Supervisor:
    """The parent of --procs N workers (supervise_procs)."""

    def __init__(self, args):
        self.args = args
        self.workers = []

    def run(self):
        import selectors
        reserved = listen_socket(self.args.host, self.args.port, None)
        host, port = reserved.getsockname()[:2]
        # SIGTERM and SIGINT only write to the wake-up socket, which the
        # loop below watches with the workers' stdout: a signal and a
        # worker's exit are seen in the order they happened.
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _signo, _frame: None)
        try:
            self.start("[%s]" % host if ":" in host else host, port)
        except OSError as e:
            log("cannot start a worker: %s" % e)
            self.stop()
            return 1
        sel = selectors.DefaultSelector()
        sel.register(wake_r, selectors.EVENT_READ, None)
        for w in self.workers:
            sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        try:
            return self.serve(sel, port)
        finally:
            reserved.close()

    def start(self, host, port):
        """Starts the workers: this script again, with this process's
        interpreter options and flags, on the reserved port."""
        import subprocess
        argv = ([sys.executable] + _interpreter_flags() + [os.path.abspath(sys.argv[0])]
                + sys.argv[1:] + ["--addr", "%s:%d" % (host, port)])
        env = dict(os.environ)
        env[PARENT_ENV] = str(os.getpid())
        for i in range(self.args.procs):
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
            self.workers.append(_Worker(i, proc))

    def serve(self, sel, port):
        """Announces once every worker listens, then waits for a signal or
        a worker's end (its stdout closes); returns the exit status."""
        announced = False
        while True:
            events = sel.select()
            if any(key.data is None for key, _ in events):
                return self.stop()  # a signal; seen first if a worker also ended
            for key, _ in events:
                w = key.data
                data = os.read(key.fd, 4096)
                if not data:
                    sel.unregister(key.fileobj)
                    return self.lost(w)
                err = w.take(data, port)
                if err is not None:
                    log(err)
                    self.stop()
                    return 1
            if not announced and all(w.addr is not None for w in self.workers):
                sys.stdout.write("LISTENING %s\n" % self.workers[0].addr)
                sys.stdout.flush()
                announced = True

    def lost(self, w):
        """A worker ended (or closed its stdout) before any SIGTERM: the
        others are stopped, and the status says the server failed (3, as
        the worker, when its framework is missing)."""
        import subprocess
        try:
            code = w.proc.wait(timeout=STOP_GRACE_S)
            how = _describe_exit(code)
        except subprocess.TimeoutExpired:
            code, how = 1, "closed its stdout"
        w.reported = True
        log("%s %s before SIGTERM; stopping the other workers" % (w, how))
        self.stop()
        return EXIT_MISSING if code == EXIT_MISSING else 1

    def stop(self):
        """Sends SIGTERM to every worker still running, waits for them up to
        STOP_GRACE_S and kills the rest; returns 0 when every worker ended
        cleanly (status 0, or the signal itself: a worker that got the
        group's SIGTERM and then ours may die of the second)."""
        import subprocess
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        status = 0
        for w in self.workers:
            try:
                code = w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
                log("%s still ran %.1f s after SIGTERM: killed" % (w, STOP_GRACE_S))
                status = 1
                continue
            if not w.reported and code not in (0, -signal.SIGTERM, -signal.SIGINT):
                log("%s %s after SIGTERM" % (w, _describe_exit(code)))
                status = 1
        return status


# ---- Work per request (issue #14; the contract is docs/servers.md's) ----
#
# With --work other than none, a connection's byte stream is cut into requests
# of --request-size bytes. Each complete request gets its work (burn CPU, wait
# without CPU, or block the serving thread for a duration), then exactly its
# bytes are echoed. Requests of one connection are served one after another;
# the bytes of an unfinished request wait, and a trailing part of a request
# at the client's half-close is never a request, so it is neither worked on
# nor echoed. The grammar and bounds mirror Go's servers/work.Parse, so every
# server accepts and refuses the same --work values.

NONE, CPU, WAIT, BLOCK = "none", "cpu", "wait", "block"
FIXED, EXP = "fixed", "exp"

# Bounds of the contract: a request is at most 16 MiB, a mean at most 10 s.
MAX_REQUEST_SIZE = 16 << 20
MAX_MEAN_NS = 10 * 10**9

# One unsigned decimal number and one unit: Go's time.ParseDuration
# restricted as servers/work does. [0-9], not \d, which matches any Unicode
# digit.
_MEAN_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?(ns|us|µs|ms|s)")
_UNIT_NS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 1000 * 1000, "s": 1000 * 1000 * 1000}
_INT64_MAX = (1 << 63) - 1


def _quote(s):
    """Quotes s for an error message much as Go's %q does."""
    return json.dumps(s, ensure_ascii=False)


def parse_work(text):
    """Parses a --work SPEC into (kind, mean_ns, dist); ValueError names
    --work, the whole value and the part that is wrong."""
    if text == NONE:
        return (NONE, 0, FIXED)

    def bad(reason):
        return ValueError("--work %s: %s" % (_quote(text), reason))

    parts = text.split(":")
    if not 2 <= len(parts) <= 3:
        raise bad("want none, KIND:MEAN or KIND:MEAN:DIST (e.g. cpu:20us, wait:1ms:exp)")
    kind = parts[0]
    if kind not in (CPU, WAIT, BLOCK):
        raise bad("unknown kind %s (want cpu, wait or block)" % _quote(kind))
    mean_ns = _parse_mean(parts[1], bad)
    dist = parts[2] if len(parts) == 3 else FIXED
    if dist not in (FIXED, EXP):
        raise bad("unknown distribution %s (want fixed or exp)" % _quote(dist))
    return (kind, mean_ns, dist)


def _parse_mean(m, bad):
    """Reads a MEAN in nanoseconds exactly as Go's time.ParseDuration does,
    including its float64 arithmetic for the fraction (so "1.0000000005s"
    truncates the same way) and its limits."""
    match = _MEAN_RE.fullmatch(m)
    if match is None:
        raise bad("bad mean %s (want a number and one unit of ns, us, µs, ms, s, "
                  "e.g. 20us or 1.5ms)" % _quote(m))
    whole, frac, unit_name = match.groups()
    unit = _UNIT_NS[unit_name]
    v = int(whole)
    if v > (1 << 63) // unit:
        raise bad("bad mean %s (out of range)" % _quote(m))
    v *= unit
    if frac:
        # Go's leadingFraction: digits past int64's precision are dropped.
        f, scale, overflow = 0, 1.0, False
        for c in frac:
            if overflow:
                continue
            if f > _INT64_MAX // 10:
                overflow = True
                continue
            y = f * 10 + ord(c) - ord("0")
            if y > _INT64_MAX:
                overflow = True
                continue
            f, scale = y, scale * 10
        v += int(float(f) * (float(unit) / scale))
        if v > 1 << 63:
            raise bad("bad mean %s (out of range)" % _quote(m))
    if v > _INT64_MAX:
        raise bad("bad mean %s (out of range)" % _quote(m))
    if v <= 0 or v > MAX_MEAN_NS:
        raise bad("mean %s out of range (want > 0 and <= 10s)" % _quote(m))
    return v


def format_duration(ns):
    """Go's time.Duration.String for 0 <= ns < 1 min: 20µs, 1ms, 1.5s."""
    if ns == 0:
        return "0s"
    for limit, digits, unit in ((1000, 0, "ns"), (10**6, 3, "µs"), (10**9, 6, "ms")):
        if ns < limit:
            break
    else:
        digits, unit = 9, "s"
    whole, frac = divmod(ns, 10**digits)
    frac_text = ("%0*d" % (digits, frac)).rstrip("0") if digits else ""
    return "%d%s%s" % (whole, "." + frac_text if frac_text else "", unit)


class Work:
    """The parsed --work and --request-size a server applies per request.

    kind is NONE, CPU, WAIT or BLOCK; mean_ns the fixed duration or the
    exponential's mean; str() is the canonical form Go's Spec.String prints.
    """

    def __init__(self, spec, request_size):
        self.kind, self.mean_ns, self.dist = spec
        if not 0 <= request_size <= MAX_REQUEST_SIZE:
            raise ValueError("--request-size must be 1..%d bytes, got %d"
                             % (MAX_REQUEST_SIZE, request_size))
        if self.kind != NONE and request_size == 0:
            raise ValueError("--work %s needs --request-size (the bytes of one request, 1..%d)"
                             % (self, MAX_REQUEST_SIZE))
        self.request_size = request_size

    def __str__(self):
        if self.kind == NONE:
            return NONE
        text = "%s:%s" % (self.kind, format_duration(self.mean_ns))
        return text + ":exp" if self.dist == EXP else text

    def connection(self):
        """The next accepted connection's stream of durations."""
        return Draws(next(_ordinals), self.mean_ns, self.dist == EXP)

    def run_sync(self, ns, sleep):
        """Does one request's work where a blocking call is the idiom for
        waiting (gevent: sleep is gevent.sleep, which yields to the hub)."""
        if self.kind == WAIT:
            wait_at_least(ns, sleep)
        elif self.kind == CPU:
            spin(ns)
        else:
            block(ns)

    async def run_async(self, ns, sleep):
        """Does one request's work in a coroutine; sleep is the framework's
        awaitable sleep (asyncio.sleep, trio.sleep, curio.sleep, ...)."""
        if self.kind == WAIT:
            deadline = time.perf_counter_ns() + ns
            while True:
                left = deadline - time.perf_counter_ns()
                if left <= 0:
                    return
                await sleep(left / 1e9)
        elif self.kind == CPU:
            spin(ns)
        else:
            block(ns)


# Connection ordinals, in accept order, for the whole process: every server
# here runs one thread and one loop, so a plain counter is the per-process
# counter of the contract.
_ordinals = itertools.count()

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


class Draws:
    """One connection's request durations: the mean, or SplitMix64
    exponential draws seeded from the connection's ordinal, the same stream
    as Go's work.Rand (servers/work/testdata/vectors.json checks all three
    languages)."""

    __slots__ = ("_s", "_mean_ns", "_exp")

    def __init__(self, ordinal, mean_ns, exp):
        self._s = (ordinal ^ _GOLDEN) & _MASK64
        self._mean_ns = mean_ns
        self._exp = exp

    def next_u64(self):
        """The next raw SplitMix64 output."""
        self._s = s = (self._s + _GOLDEN) & _MASK64
        z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def next_ns(self):
        if not self._exp:
            return self._mean_ns
        u = (self.next_u64() >> 11) * (1.0 / (1 << 53))
        # 1 - u is exact in float64; truncated to a nanosecond as Go's
        # time.Duration(float64) conversion does.
        d = -float(self._mean_ns) * math.log(1.0 - u)
        return int(min(d, 100.0 * self._mean_ns))


def spin(ns):
    """Burns this thread's CPU for ns, reading the monotonic clock: `cpu`."""
    deadline = time.perf_counter_ns() + ns
    while time.perf_counter_ns() < deadline:
        pass


def block(ns):
    """The `block` kind: time.sleep, looked up at each call, so under
    gevent's monkey-patching it is gevent's cooperative sleep (that is what
    gevent users get, and its point)."""
    time.sleep(ns / 1e9)


def wait_at_least(ns, sleep):
    """Waits ns with a blocking-style sleep (gevent.sleep), re-arming while
    the monotonic deadline has not passed: loop clocks cached per iteration
    (libev, libuv) can fire a timer up to a tick early, and a `wait` must
    never be shorter than its draw."""
    deadline = time.perf_counter_ns() + ns
    while True:
        left = deadline - time.perf_counter_ns()
        if left <= 0:
            return
        sleep(left / 1e9)


def next_request(buf, size):
    """Takes the next complete request off the front of the bytearray buf,
    or returns None while fewer than size bytes have arrived."""
    if len(buf) < size:
        return None
    req = bytes(memoryview(buf)[:size])
    del buf[:size]
    return req
