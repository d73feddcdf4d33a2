"""Echo server on Twisted: a Protocol per connection on the default reactor.

Backpressure follows Twisted's producer/consumer documentation: the transport
is registered as a streaming producer for itself, so when its write buffer
passes the transport's bufferSize the reactor calls pauseProducing() (stop
reading) and, once the buffer drains, resumeProducing(). Twisted's bufferSize
(64 KiB) is also its recv() size, so --max-pending is accepted but not applied:
raising it to 4 MiB would make every read allocate 4 MiB.

Half-close: the protocol provides IHalfCloseableProtocol; without it Twisted
drops the connection at the client's FIN and discards unsent output.

With --work (WorkEcho), each complete request gets its work in dataReceived:
`cpu` spins and `block` calls time.sleep there, stalling the reactor; `wait`
schedules the reply with reactor.callLater, so the reactor serves other
connections meanwhile.
"""

import _echo_common as common

if __name__ == "__main__":
    # First, before the framework is imported: with --procs N > 1 this
    # process only supervises N workers, each of them this script again.
    common.supervise_procs(__doc__.splitlines()[0])

import signal  # noqa: E402
import time  # noqa: E402

try:
    from twisted.internet import protocol, reactor
    from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
    from zope.interface import implementer
except ImportError as e:
    common.missing("twisted", e, "Debian package python3-twisted; run make deps")


@implementer(IHalfCloseableProtocol)
class Echo(protocol.Protocol):
    def connectionMade(self):
        # Twisted leaves Nagle on; asyncio, trio, Go and Node turn it off.
        self.transport.setTcpNoDelay(True)
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data):
        self.transport.write(data)

    def readConnectionLost(self):
        # The client half-closed. loseConnection() sends what is buffered,
        # then closes; the producer goes first so the transport does not
        # wait for itself to resume.
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass


@implementer(IHalfCloseableProtocol, IPushProducer)
class WorkEcho(protocol.Protocol):
    """Echo with work per request, served in order.

    The protocol, not the transport, is the transport's streaming producer:
    the transport calls pauseProducing() when its write buffer passes
    bufferSize and resumeProducing() once it drains, and the protocol stops
    serving and reading meanwhile. Reading also pauses while
    max(--max-pending, one request) of unserved input is buffered.
    """

    def __init__(self, work, input_cap):
        self.work = work
        self.input_cap = input_cap
        self.draws = work.connection()
        self.pending = bytearray()
        self.call = None  # a `wait` in progress
        self.write_paused = False
        self.read_paused = False
        self.eof = False

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        self.transport.registerProducer(self, True)

    def dataReceived(self, data):
        self.pending += data
        self.serve()

    def serve(self):
        work = self.work
        while self.call is None and not self.write_paused:
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
        if self.eof:
            if self.call is None and len(self.pending) < work.request_size:
                # Served all; a trailing partial request is dropped.
                self.transport.unregisterProducer()
                self.transport.loseConnection()
            return
        pause = self.write_paused or len(self.pending) >= self.input_cap
        if pause != self.read_paused:
            self.read_paused = pause
            if pause:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()

    def arm(self, deadline_ns, req):
        # Re-armed until the monotonic deadline has passed, so a timer that
        # fires a little early never shortens a wait.
        left = max(0, deadline_ns - time.perf_counter_ns())
        self.call = reactor.callLater(left / 1e9, self.wake, deadline_ns, req)

    def wake(self, deadline_ns, req):
        if time.perf_counter_ns() < deadline_ns:
            self.arm(deadline_ns, req)
            return
        self.call = None
        self.transport.write(req)
        self.serve()

    # IPushProducer, driven by the transport's write buffer.
    def pauseProducing(self):
        self.write_paused = True
        if not self.read_paused:
            self.read_paused = True
            self.transport.pauseProducing()

    def resumeProducing(self):
        self.write_paused = False
        self.serve()

    def stopProducing(self):
        pass

    def readConnectionLost(self):
        self.eof = True
        self.serve()

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason):
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None


class Factory(protocol.Factory):
    protocol = Echo
    noisy = False  # no log line per connection

    def __init__(self, work, max_pending):
        self.work = work
        self.input_cap = max(max_pending, work.request_size)

    def buildProtocol(self, addr):
        if self.work.kind == common.NONE:
            return super().buildProtocol(addr)
        p = WorkEcho(self.work, self.input_cap)
        p.factory = self
        return p


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    factory = Factory(args.work, args.max_pending)
    if args.reuse_port:
        # A --procs worker: listenTCP has no SO_REUSEPORT option, so the
        # listener is made here and adopted (the reactor takes a duplicate
        # of its descriptor).
        sock = common.listen_socket(args.host, args.port, common.listen_backlog())
        sock.setblocking(False)
        port = reactor.adoptStreamPort(sock.fileno(), sock.family, factory)
        sock.close()
    else:
        port = reactor.listenTCP(args.port, factory, backlog=common.listen_backlog(),
                                 interface=args.host or "")
    reactor.callWhenRunning(common.announce, (port.getHost().host, port.getHost().port))
    # reactor.run() installs SIGTERM/SIGINT handlers that stop the reactor,
    # which closes every connection before run() returns.
    reactor.run()


if __name__ == "__main__":
    main()
