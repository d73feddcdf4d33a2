"""Echo server on Tornado: TCPServer.handle_stream, a coroutine per IOStream.

The loop is the one Tornado's TCPServer documentation shows: read a chunk,
then `await stream.write(chunk)`, whose future resolves only once the bytes
have gone to the socket. Awaiting it is the backpressure: nothing more is read
while a write is pending, so a client that never reads costs one chunk plus the
socket buffers and --max-pending has nothing to set.

With --work, the coroutine reads one request (read_bytes(request_size)), does
its work, then awaits the write: `wait` is `await tornado.gen.sleep` (a timer on the
IOLoop; other streams are served meanwhile); `cpu` spins and `block` calls
time.sleep inline, stalling the IOLoop.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0])

import asyncio  # noqa: E402
import signal  # noqa: E402

try:
    from tornado import gen
    from tornado.iostream import StreamClosedError
    from tornado.tcpserver import TCPServer
    from tornado.netutil import bind_sockets
except ImportError as e:
    common.missing("tornado", e, "Debian package python3-tornado; run make deps")


class EchoServer(TCPServer):
    def __init__(self, work):
        super().__init__(read_chunk_size=common.READ_SIZE)
        self.live = set()
        self.work = work

    async def handle_stream(self, stream, address):
        self.live.add(stream)
        # IOStream leaves Nagle on; asyncio, trio, Go and Node turn it off.
        stream.set_nodelay(True)
        try:
            if self.work.kind == common.NONE:
                await self.echo(stream)
            else:
                await self.echo_work(stream)
        except StreamClosedError:
            # EOF or reset. Tornado closes the stream at the first read that
            # sees EOF; every earlier chunk's write had completed by then,
            # so a half-closed client has had all its bytes back.
            pass
        finally:
            self.live.discard(stream)
            stream.close()

    @staticmethod
    async def echo(stream):
        while True:
            data = await stream.read_bytes(common.READ_SIZE, partial=True)
            await stream.write(data)

    async def echo_work(self, stream):
        # One request per read_bytes(size): the IOStream reads the socket
        # only when its buffer holds less than a request, so it meets the
        # client's EOF (and closes the stream, Tornado's only reaction to
        # one) after every complete request has been served. A trailing
        # partial request is dropped with it.
        work = self.work
        draws = work.connection()
        while True:
            req = await stream.read_bytes(work.request_size)
            await work.run_async(draws.next_ns(), gen.sleep)
            await stream.write(req)


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # A --procs worker shares the port with its siblings (SO_REUSEPORT).
    sockets = bind_sockets(args.port, address=args.host or "",
                           backlog=common.listen_backlog(), reuse_port=args.reuse_port)
    server = EchoServer(args.work)
    server.add_sockets(sockets)
    common.announce(sockets[0].getsockname())

    await stop.wait()
    server.stop()
    for stream in list(server.live):
        stream.close()


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
