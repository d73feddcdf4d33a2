"""Flag parsing and the readiness line shared by every Python echo server.

The server contract (docs/stacks.md): take --addr HOST:PORT (default
127.0.0.1:0), --max-pending BYTES and --loops 1, print exactly one line
"LISTENING host:port" on stdout once accepting, log only to stderr, echo every
byte in order, finish the echo after the client's half-close, and exit 0
within 2 s of SIGTERM.

This module imports nothing beyond the standard library, so a server whose
framework is missing can still parse its flags and say what is missing.
"""

import argparse
import socket
import sys

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
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
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
