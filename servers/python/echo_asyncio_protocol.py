"""Echo server on asyncio's low-level API: a Protocol per connection.

Run on the standard event loop by default, or on uvloop with --loop uvloop
(uvloop's documented way: install its policy, then asyncio.run), so the two
stacks share every line of echo code and differ only in the loop.

Backpressure is asyncio's flow-control pair: the transport calls
pause_writing() when its write buffer passes the high-water mark
(--max-pending) and resume_writing() once it drains to the low-water mark; the
protocol stops and restarts reading in between, so a client that never reads
costs at most the high-water mark plus the socket buffers.
"""

import asyncio
import signal

import _echo_common as common


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


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    live = set()
    server = await loop.create_server(
        lambda: Echo(live, args.max_pending), args.host, args.port,
        backlog=common.listen_backlog())
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
