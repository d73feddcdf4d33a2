"""Echo server on gevent: a greenlet per connection under gevent's StreamServer.

Blocking-style code, as gevent's documentation writes it: recv, then sendall.
sendall blocks the greenlet until the kernel takes the bytes, which is the
backpressure: a client that never reads costs one read buffer plus the socket
buffers, so --max-pending is accepted but has nothing to set.

The process is monkey-patched first thing (gevent.monkey.patch_all), as
gevent's documentation starts every program: that is how gevent users run
blocking-style libraries cooperatively. With --work, the greenlet reads until
a request is complete, does its work, then sendall()s it: `wait` is
gevent.sleep; `cpu` spins, holding the hub and every other greenlet; `block`
calls time.sleep, which the monkey-patching has made gevent's cooperative
sleep, so a "blocking" handler does not stall the other connections here.
That is gevent's point, and the measured truth for its users.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before gevent is imported: with --procs N > 1 this process only
    # supervises N workers, each of them this script again, and stays
    # unpatched. _echo_common imports only the standard library, and
    # patch_all below patches the modules it imported in place.
    common.supervise_procs(__doc__.splitlines()[0])

try:
    from gevent import monkey
except ImportError as e:
    _MISSING = e
else:
    _MISSING = None
    monkey.patch_all()

import signal  # noqa: E402

if _MISSING is not None:
    common.missing("gevent", _MISSING, "Debian package python3-gevent; run make deps")

try:
    import gevent
    from gevent.event import Event
    from gevent.pool import Pool
    from gevent.server import StreamServer
except ImportError as e:
    common.missing("gevent", e, "Debian package python3-gevent; run make deps")

# How long stop() lets handlers finish before killing them: not at all. A
# handler ends only when its client closes, SIGTERM must end the process within
# 2 s, and a killed handler still closes its socket (the finally below).
STOP_TIMEOUT_S = 0


def echo(sock, _addr):
    # StreamServer does not set TCP_NODELAY; asyncio, trio, Go and Node do.
    common.set_nodelay(sock)
    try:
        while True:
            data = sock.recv(common.READ_SIZE)
            if not data:
                break  # half-close: everything read has been sent
            sock.sendall(data)
    except ConnectionError:
        pass  # a reset is the client's doing and counted by the load generator
    finally:
        sock.close()


def echo_work(work):
    """The handler for --work: requests of one connection served in order."""
    size = work.request_size

    def handle(sock, _addr):
        common.set_nodelay(sock)
        draws = work.connection()
        pending = bytearray()
        try:
            while True:
                data = sock.recv(common.READ_SIZE)
                if not data:
                    break  # a trailing partial request is dropped
                pending += data
                while True:
                    req = common.next_request(pending, size)
                    if req is None:
                        break
                    work.run_sync(draws.next_ns(), gevent.sleep)
                    sock.sendall(req)
        except ConnectionError:
            pass
        finally:
            sock.close()
    return handle


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    handler = echo if args.work.kind == common.NONE else echo_work(args.work)
    # A Pool (unbounded) lets stop() find and end the live handlers.
    if args.reuse_port:
        # A --procs worker: StreamServer has no SO_REUSEPORT option but
        # takes a listening gevent socket (common.listen_socket makes one
        # from the patched socket module).
        sock = common.listen_socket(args.host, args.port, common.listen_backlog())
        server = StreamServer(sock, handler, spawn=Pool())
    else:
        server = StreamServer((args.host or "", args.port), handler,
                              backlog=common.listen_backlog(), spawn=Pool())
    server.start()
    common.announce(server.socket.getsockname())

    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    stop.wait()
    server.stop(timeout=STOP_TIMEOUT_S)


if __name__ == "__main__":
    main()
