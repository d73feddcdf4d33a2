"""Echo server on trio: a task per connection under trio.serve_tcp.

Written as trio's tutorial writes it: `async for data in stream`, then
`await stream.send_all(data)`. send_all returns only once the kernel has taken
every byte, which is the backpressure: a client that never reads costs one
read buffer plus the socket buffers, so --max-pending has nothing to set.
SocketStream turns TCP_NODELAY on by itself.

With --work, the task reads until a request is complete, does its work, then
send_all()s it: `wait` is `await trio.sleep` (other tasks run meanwhile);
`cpu` spins and `block` calls time.sleep inline, stalling trio's run loop.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0])

import signal  # noqa: E402
from functools import partial  # noqa: E402

try:
    import trio
except ImportError as e:
    common.missing("trio", e, "Debian package python3-trio; run make deps")


async def echo(stream):
    try:
        async for data in stream:  # receive_some(), up to 64 KiB here
            await stream.send_all(data)
        # Half-close: everything read has been sent; close our side too.
    except trio.BrokenResourceError:
        pass  # a reset is the client's doing and counted by the load generator
    finally:
        await stream.aclose()


def echo_work(work):
    """The handler for --work: requests of one connection served in order."""

    async def handle(stream):
        draws = work.connection()
        pending = bytearray()
        try:
            # A trailing partial request at EOF is dropped.
            async for data in stream:
                pending += data
                while True:
                    req = common.next_request(pending, work.request_size)
                    if req is None:
                        break
                    await work.run_async(draws.next_ns(), trio.sleep)
                    await stream.send_all(req)
        except trio.BrokenResourceError:
            pass
        finally:
            await stream.aclose()
    return handle


async def serve(args):
    handler = echo if args.work.kind == common.NONE else echo_work(args.work)
    async with trio.open_nursery() as nursery:
        if args.reuse_port:
            # A --procs worker: serve_tcp has no SO_REUSEPORT option, so
            # the listener is made here and served the way serve_tcp does.
            sock = common.listen_socket(args.host, args.port, common.listen_backlog())
            listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
            listeners = await nursery.start(trio.serve_listeners, handler, [listener])
        else:
            listeners = await nursery.start(
                partial(trio.serve_tcp, handler, args.port, host=args.host,
                        backlog=common.listen_backlog()))
        common.announce(listeners[0].socket.getsockname())
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                # Cancels the listener and every connection task with it.
                nursery.cancel_scope.cancel()
                break


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    trio.run(serve, args)


if __name__ == "__main__":
    main()
