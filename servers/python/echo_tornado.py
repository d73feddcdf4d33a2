"""Echo server on Tornado: TCPServer.handle_stream, a coroutine per IOStream.

The loop is the one Tornado's TCPServer documentation shows: read a chunk,
then `await stream.write(chunk)`, whose future resolves only once the bytes
have gone to the socket. Awaiting it is the backpressure: nothing more is read
while a write is pending, so a client that never reads costs one chunk plus the
socket buffers and --max-pending has nothing to set.
"""

import asyncio
import signal

import _echo_common as common

try:
    from tornado.iostream import StreamClosedError
    from tornado.tcpserver import TCPServer
    from tornado.netutil import bind_sockets
except ImportError as e:
    common.missing("tornado", e, "Debian package python3-tornado; run make deps")


class EchoServer(TCPServer):
    def __init__(self):
        super().__init__(read_chunk_size=common.READ_SIZE)
        self.live = set()

    async def handle_stream(self, stream, address):
        self.live.add(stream)
        # IOStream leaves Nagle on; asyncio, trio, Go and Node turn it off.
        stream.set_nodelay(True)
        try:
            while True:
                data = await stream.read_bytes(common.READ_SIZE, partial=True)
                await stream.write(data)
        except StreamClosedError:
            # EOF or reset. Tornado closes the stream at the first read that
            # sees EOF; every earlier chunk's write had completed by then,
            # so a half-closed client has had all its bytes back.
            pass
        finally:
            self.live.discard(stream)
            stream.close()


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    sockets = bind_sockets(args.port, address=args.host or "",
                           backlog=common.listen_backlog())
    server = EchoServer()
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
