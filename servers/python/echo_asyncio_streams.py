"""Echo server on asyncio's high-level streams API: a coroutine per connection.

Run on the standard event loop by default, or on uvloop with --loop uvloop.

This is the loop the asyncio documentation recommends: read, write, then
`await writer.drain()`, which waits while the transport's write buffer is
above its high-water mark (--max-pending). The StreamReader pauses the socket
when its own buffer passes twice its limit (64 KiB, the default), so a client
that never reads costs a bounded amount of memory.

With --work, the coroutine reads one request with readexactly(), does its
work, writes and drains the reply, then reads the next: `wait` is
`await asyncio.sleep`, so the loop serves other connections meanwhile; `cpu`
spins and `block` calls time.sleep inline, stalling the loop.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0], common.add_loop_flag)

import asyncio  # noqa: E402
import signal  # noqa: E402


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    live = set()

    async def echo(reader, writer):
        live.add(writer)
        writer.transport.set_write_buffer_limits(high=args.max_pending)
        try:
            while True:
                data = await reader.read(common.READ_SIZE)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            # Half-close: everything read has been written and drained down
            # to the low-water mark; close() flushes the rest, wait_closed()
            # waits until it has gone.
            writer.close()
            await writer.wait_closed()
        except ConnectionError:
            # A reset is the client's doing and an outcome the load
            # generator counts; it is not worth a log line.
            writer.transport.abort()
        finally:
            live.discard(writer)

    async def echo_work(reader, writer):
        live.add(writer)
        writer.transport.set_write_buffer_limits(high=args.max_pending)
        work = args.work
        draws = work.connection()
        try:
            while True:
                try:
                    req = await reader.readexactly(work.request_size)
                except asyncio.IncompleteReadError:
                    break  # EOF; a trailing partial request is dropped
                await work.run_async(draws.next_ns(), asyncio.sleep)
                writer.write(req)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        except ConnectionError:
            writer.transport.abort()
        finally:
            live.discard(writer)

    handler = echo if args.work.kind == common.NONE else echo_work
    # A --procs worker shares the port with its siblings (SO_REUSEPORT).
    server = await asyncio.start_server(handler, args.host, args.port,
                                        backlog=common.listen_backlog(),
                                        reuse_port=args.reuse_port)
    common.announce(server.sockets[0].getsockname())

    await stop.wait()
    server.close()
    for writer in list(live):
        writer.transport.abort()
    await server.wait_closed()
    # asyncio.run cancels the handlers still unwinding from the aborts.


def main():
    common.run_asyncio(__doc__.splitlines()[0], serve)


if __name__ == "__main__":
    main()
