"""Echo server on Twisted: a Protocol per connection on the default reactor.

Backpressure follows Twisted's producer/consumer documentation: the transport
is registered as a streaming producer for itself, so when its write buffer
passes the transport's bufferSize the reactor calls pauseProducing() (stop
reading) and, once the buffer drains, resumeProducing(). Twisted's bufferSize
(64 KiB) is also its recv() size, so --max-pending is accepted but not applied:
raising it to 4 MiB would make every read allocate 4 MiB.

Half-close: the protocol provides IHalfCloseableProtocol; without it Twisted
drops the connection at the client's FIN and discards unsent output.
"""

import signal

import _echo_common as common

try:
    from twisted.internet import protocol, reactor
    from twisted.internet.interfaces import IHalfCloseableProtocol
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


class Factory(protocol.Factory):
    protocol = Echo
    noisy = False  # no log line per connection


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    port = reactor.listenTCP(args.port, Factory(), backlog=common.listen_backlog(),
                             interface=args.host or "")
    reactor.callWhenRunning(common.announce, (port.getHost().host, port.getHost().port))
    # reactor.run() installs SIGTERM/SIGINT handlers that stop the reactor,
    # which closes every connection before run() returns.
    reactor.run()


if __name__ == "__main__":
    main()
