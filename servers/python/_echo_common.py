"""Flag parsing, the readiness line and the per-request work shared by every
Python echo server.

The server contract (docs/stacks.md): take --addr HOST:PORT (default
127.0.0.1:0), --max-pending BYTES, --loops 1, --work SPEC and --request-size
BYTES (the workload of issue #14: what a handler does per request, parsed
with the grammar and bounds of Go's servers/work), print exactly one line
"LISTENING host:port" on stdout once accepting, log only to stderr, echo every
byte in order, finish the echo after the client's half-close, and exit 0
within 2 s of SIGTERM.

This module imports nothing beyond the standard library, so a server whose
framework is missing can still parse its flags and say what is missing.
"""

import argparse
import itertools
import json
import math
import re
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
        p.error("--loops %d: this server runs a single event loop; run several processes "
                "instead" % args.loops)
    try:
        args.host, args.port = split_addr(args.addr)
    except ValueError as e:
        p.error(str(e))
    if args.max_pending < 1:
        p.error("--max-pending must be at least 1 byte, got %d" % args.max_pending)
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


def run_asyncio(description, serve):
    """Parse the flags plus --loop and run the coroutine serve(args) on the
    chosen event loop: the same script is the asyncio and the uvloop stack,
    so the pair isolates the event loop."""
    import asyncio
    args = parse_args(
        description,
        lambda p: p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                                 help="event loop implementation (default %(default)s)"))
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
