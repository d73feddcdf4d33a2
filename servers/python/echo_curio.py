"""Echo server on curio: a task per connection under curio's run_server.

Written as curio's own examples write it: recv, then sendall. sendall returns
only once the kernel has taken every byte, which is the backpressure: a client
that never reads costs one read buffer plus the socket buffers, so
--max-pending has nothing to set.

curio is not packaged by Debian. Where it is not importable this exits with
status 3 and says so on stderr; it runs wherever curio is installed for the
interpreter that runs it.

With --work, the task reads until a request is complete, does its work, then
sendall()s it: `wait` is `await curio.sleep` (other tasks run meanwhile);
`cpu` spins and `block` calls time.sleep inline, stalling curio's kernel.
(Not run on the development machine, where curio is not installed.)
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0])

import signal  # noqa: E402
import socket  # noqa: E402

try:
    import curio
    from curio.network import run_server, tcp_server_socket
except ImportError as e:
    common.missing("curio", e, "it is not packaged by Debian; install it for this interpreter, "
                   "e.g. with pip, or point ECHOBENCH_PYTHON at a python that has it")


async def echo(client, _addr):
    # curio leaves Nagle on; asyncio, trio, Go and Node turn it off.
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = await client.recv(common.READ_SIZE)
            if not data:
                break  # half-close: everything read has been sent
            await client.sendall(data)
    except ConnectionError:
        pass  # a reset is the client's doing and counted by the load generator
    # run_server closes the client socket when this returns.


def echo_work(work):
    """The handler for --work: requests of one connection served in order."""

    async def handle(client, _addr):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        draws = work.connection()
        pending = bytearray()
        try:
            while True:
                data = await client.recv(common.READ_SIZE)
                if not data:
                    break  # a trailing partial request is dropped
                pending += data
                while True:
                    req = common.next_request(pending, work.request_size)
                    if req is None:
                        break
                    await work.run_async(draws.next_ns(), curio.sleep)
                    await client.sendall(req)
        except ConnectionError:
            pass
    return handle


async def serve(args):
    # A plain signal handler that sets a UniversalEvent is curio's documented
    # way to hand a signal to a task; it works across curio versions.
    stop = curio.UniversalEvent()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signo, _frame: stop.set())

    family = socket.AF_INET6 if args.host and ":" in args.host else socket.AF_INET
    # A --procs worker shares the port with its siblings (SO_REUSEPORT).
    sock = tcp_server_socket(args.host or "", args.port, family=family,
                             backlog=common.listen_backlog(), reuse_port=args.reuse_port)
    common.announce(sock.getsockname())
    handler = echo if args.work.kind == common.NONE else echo_work(args.work)
    server = await curio.spawn(run_server, sock, handler)
    await stop.wait()
    # Cancels the accept loop and, through its task group, every connection.
    await server.cancel()


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    curio.run(serve, args)


if __name__ == "__main__":
    main()
