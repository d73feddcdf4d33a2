// Package all is the registry of the Go server models: one line per model.
package all

import (
	"echobench/servers"
	"echobench/servers/epoll"
	"echobench/servers/evio"
	"echobench/servers/gnet"
	"echobench/servers/iouring"
	"echobench/servers/nbio"
	"echobench/servers/netconn"
	"echobench/servers/netpoll"
	"echobench/servers/work"
)

// every is the work the models that implement it implement: all of it.
var every = []work.Kind{work.CPU, work.Wait, work.Block}

// The conformance cases a model's library cannot pass, in the words of its
// package doc (servers.Model.Limitations; docs/conformance.md). Add an
// entry only for a limit of the library or the design, never to hide a bug.
var (
	netpollLimits = map[string]string{
		"half-close-8mib": "netpoll v0.7.2 closes a connection once the peer's FIN is read and drops the unsent output of a Flush in progress; the model can finish only an echo whose Flush had not begun (see package netpoll)",
	}
	nbioLimits = map[string]string{
		"half-close-8mib": "nbio v1.6.8 closes a connection on EPOLLRDHUP and drops its queued output, with no callback before the close (see package nbio)",
	}
)

// Models is every Go model that `echobench serve` can start.
var Models = servers.Registry{
	"epoll":   {Name: "epoll", Doc: "raw level-triggered epoll event loops on x/sys/unix, one read and one write per message", Start: epoll.Start, WorkKinds: every, BlockSerializes: true},
	"netconn": {Name: "netconn", Doc: "goroutine per connection on net, blocking read then full write", Start: netconn.Start, WorkKinds: every},
	"gnet":    {Name: "gnet", Doc: "gnet v2 event loops (SO_REUSEPORT per loop), echo in OnTraffic; closes a connection past max-pending", Library: "github.com/panjf2000/gnet/v2", Start: gnet.Start, WorkKinds: every, BlockSerializes: true},
	"iouring": {Name: "iouring", Doc: "raw io_uring loops on x/sys/unix: multishot accept and recv into a provided buffer ring, send from the buffer", Start: iouring.Start, Probe: iouring.Probe},
	"evio":    {Name: "evio", Doc: "evio event loops sharing one listener, echo returned from Data (written on the next writable event)", Library: "github.com/tidwall/evio", Start: evio.Start, WorkKinds: every, BlockSerializes: true},
	"netpoll": {Name: "netpoll", Doc: "cloudwego/netpoll pollers (one per loop), OnRequest on its goroutine pool with zero-copy Next/Malloc/Flush; closes a connection past max-pending", Library: "github.com/cloudwego/netpoll", Start: netpoll.Start, Limitations: netpollLimits},
	"nbio":    {Name: "nbio", Doc: "lesismal/nbio Engine pollers (one per loop), echo written in OnData from the poller's read buffer; closes a connection past max-pending", Library: "github.com/lesismal/nbio", Start: nbio.Start, Limitations: nbioLimits},
}
