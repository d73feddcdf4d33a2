"""Echo server on asyncio's low-level API: a Protocol per connection.

Run on the standard event loop by default, or on uvloop with --loop uvloop
(uvloop's documented way: install its policy, then asyncio.run), so the two
stacks share every line of echo code and differ only in the loop.

Backpressure is asyncio's flow-control pair: the transport calls
pause_writing() when its write buffer passes the high-water mark
(--max-pending) and resume_writing() once it drains to the low-water mark; the
protocol stops and restarts reading in between, so a client that never reads
costs at most the high-water mark plus the socket buffers.

With --work (WorkEcho), each complete request gets its work inside the
callback, the way a Protocol handler is written: `cpu` spins and `block`
calls time.sleep in data_received itself, stalling the loop and every other
connection; `wait` arms loop.call_later and writes the reply from the timer
callback, so the loop serves other connections meanwhile. `none` keeps the
plain Echo protocol.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0], common.add_loop_flag)

import asyncio  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402


class Echo(asyncio.Protocol):
    def __init__(self, live, high_water):
        self.live = live
        self.high_water = high_water
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.live.add(transport)
        # asyncio and uvloop both set TCP_NODELAY on TCP transports already.
        transport.set_write_buffer_limits(high=self.high_water)

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        # Returning a false value makes the transport call close() itself,
        # and close() sends what is still buffered before closing the socket
        # (asyncio.BaseTransport.close: "buffered data will be flushed
        # asynchronously"), so every byte before the half-close is echoed.
        return False

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def connection_lost(self, exc):
        # A reset is the client's doing and an outcome the load generator
        # counts; it is not worth a log line per connection.
        self.live.discard(self.transport)


class WorkEcho(asyncio.Protocol):
    """Echo with work per request: requests of one connection in order, the
    next one's work starting when the previous reply has been written.

    Reading pauses while the transport's write buffer is above the
    high-water mark (as Echo) or while at least max(high-water mark, one
    request) of unserved input is buffered (a client that pipelines faster
    than its requests are served), and resumes when neither holds.
    """

    def __init__(self, live, high_water, work):
        self.live = live
        self.high_water = high_water
        self.work = work
        self.draws = work.connection()
        self.input_cap = max(high_water, work.request_size)
        self.transport = None
        self.pending = bytearray()  # received, not yet served
        self.timer = None  # a `wait` in progress
        self.write_paused = False
        self.read_paused = False
        self.eof = False

    def connection_made(self, transport):
        self.transport = transport
        self.live.add(transport)
        transport.set_write_buffer_limits(high=self.high_water)

    def data_received(self, data):
        self.pending += data
        self.serve()

    def serve(self):
        """Serves complete requests until one waits, output is paused or
        none is left; then sets reading and, after EOF, closes."""
        work = self.work
        while self.timer is None and not self.write_paused:
            req = common.next_request(self.pending, work.request_size)
            if req is None:
                break
            ns = self.draws.next_ns()
            if work.kind == common.WAIT:
                self.arm(time.perf_counter_ns() + ns, req)
                break
            if work.kind == common.CPU:
                common.spin(ns)
            else:
                common.block(ns)
            self.transport.write(req)
        if self.transport.is_closing():
            return
        if self.eof:
            if self.timer is None and len(self.pending) < work.request_size:
                # A trailing partial request is not a request: dropped.
                self.transport.close()
            return
        pause = self.write_paused or len(self.pending) >= self.input_cap
        if pause != self.read_paused:
            self.read_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def arm(self, deadline_ns, req):
        # call_later can fire early by up to a clock tick (uvloop rounds the
        # delay to whole ms on libuv's cached clock), so the callback
        # re-arms until the monotonic deadline has passed.
        left = max(0, deadline_ns - time.perf_counter_ns())
        self.timer = asyncio.get_running_loop().call_later(
            left / 1e9, self.wake, deadline_ns, req)

    def wake(self, deadline_ns, req):
        if time.perf_counter_ns() < deadline_ns:
            self.arm(deadline_ns, req)
            return
        self.timer = None
        self.transport.write(req)
        self.serve()

    def eof_received(self):
        # Keep the transport open (True) until the requests already
        # received have been served; serve() closes it, which flushes.
        self.eof = True
        self.serve()
        return True

    def pause_writing(self):
        self.write_paused = True
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        self.serve()

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.live.discard(self.transport)


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    live = set()
    if args.work.kind == common.NONE:
        def protocol():
            return Echo(live, args.max_pending)
    else:
        def protocol():
            return WorkEcho(live, args.max_pending, args.work)
    # A --procs worker shares the port with its siblings (SO_REUSEPORT).
    server = await loop.create_server(
        protocol, args.host, args.port,
        backlog=common.listen_backlog(), reuse_port=args.reuse_port)
    common.announce(server.sockets[0].getsockname())

    await stop.wait()
    server.close()
    # abort(): the contract is a prompt exit, not a drain of clients that
    # may never read.
    for transport in list(live):
        transport.abort()
    await server.wait_closed()


def main():
    common.run_asyncio(__doc__.splitlines()[0], serve)


if __name__ == "__main__":
    main()
