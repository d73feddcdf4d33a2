package loadgen

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"

	"echobench/internal/poller"
	"echobench/internal/results"
)

// dialer opens the client sockets of one event loop. The workers and the
// idle/slow loop connect through it alike, so a fix to connecting is made
// once. Each loop owns its dialer: x/sys/unix writes into the socket
// addresses on use, so they cannot be shared between goroutines.
type dialer struct {
	p      *poller.Poller
	dst    unix.Sockaddr
	family int
	srcs   []unix.Sockaddr // bound round-robin by connection id; empty: the kernel picks
	// fdLimit is the size of the loop's by-fd table: a socket at or above
	// it is closed and the attempt fails.
	fdLimit int
}

func newDialer(sh *shared, p *poller.Poller, fdLimit int) dialer {
	d := dialer{p: p, fdLimit: fdLimit}
	d.dst, d.family = sockaddr(sh.dst.Addr(), sh.dst.Port())
	for _, ip := range sh.srcs {
		sa, _ := sockaddr(ip, 0)
		d.srcs = append(d.srcs, sa)
	}
	return d
}

// dialOutcome is where a connect attempt stands once dial returns.
type dialOutcome uint8

const (
	dialFailed     dialOutcome = iota // nothing is left open
	dialInProgress                    // the poller reports Out when it ends: call finish
	dialConnected                     // connected at once and polled for upEvents
)

// dial starts a non-blocking connect for connection id and adds the socket
// to the poller: for upEvents when it connected at once, for Out while the
// connect is in progress. On dialFailed it has closed whatever it opened,
// fd is -1 and err says why (EADDRNOTAVAIL: the client's ephemeral ports ran
// out); otherwise the caller owns fd. Allocation-free: it runs once per
// connection cycle.
func (d *dialer) dial(id int32, upEvents uint32) (fd int, outcome dialOutcome, err error) {
	fd, err = unix.Socket(d.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, dialFailed, err
	}
	if fd >= d.fdLimit {
		unix.Close(fd)
		return -1, dialFailed, unix.EMFILE
	}
	outcome, err = d.connect(fd, id, upEvents)
	if err != nil {
		unix.Close(fd) // closing also removes it from the epoll set
		return -1, dialFailed, err
	}
	return fd, outcome, nil
}

// connect sets fd up, binds it to its source address and connects it.
func (d *dialer) connect(fd int, id int32, upEvents uint32) (dialOutcome, error) {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return dialFailed, err
	}
	if len(d.srcs) > 0 {
		if d.family == unix.AF_INET {
			// Defer the port choice to connect, so each source/destination
			// pair gets the whole ephemeral range.
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		}
		if err := unix.Bind(fd, d.srcs[int(id)%len(d.srcs)]); err != nil {
			return dialFailed, err
		}
	}
	switch err := unix.Connect(fd, d.dst); err {
	case nil:
		return dialConnected, d.p.Add(fd, upEvents)
	case unix.EINPROGRESS:
		return dialInProgress, d.p.Add(fd, poller.Out)
	default:
		return dialFailed, err
	}
}

// finish ends an attempt dial left in progress, once the poller reported
// events for fd: nil when the connection is up (then polled for upEvents),
// else why not (the socket's error, e.g. ECONNREFUSED). On an error the
// caller still owns fd and must close it.
func (d *dialer) finish(fd int, events, upEvents uint32) error {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return err
	case soerr != 0:
		return unix.Errno(soerr)
	case events&(poller.Err|poller.Hup) != 0 || events&poller.Out == 0:
		return unix.ECONNRESET // hung up without a socket error
	}
	return d.p.Mod(fd, upEvents)
}

// errConnectTimeout is the cause of an attempt given up after the connect
// timeout.
var errConnectTimeout error = unix.ETIMEDOUT

// addConnectFailure counts a failed attempt under its cause.
func addConnectFailure(f *results.ConnectFailures, err error) {
	switch err {
	case unix.ECONNREFUSED:
		f.Refused++
	case unix.ECONNRESET, unix.EPIPE:
		f.Reset++
	case unix.ETIMEDOUT:
		f.TimedOut++
	case unix.EADDRNOTAVAIL:
		f.PortsExhausted++
	default:
		f.Other++
	}
}

// setupConn is a connection of the workers (*conn) or of the idle/slow loop
// (*auxConn), as connectPaced sees it.
type setupConn interface {
	comparable
	connectingSince() (startNs int64, connecting bool)
}

// connectSet is a loop's connections as connectPaced sees them.
type connectSet[C setupConn] struct {
	conns []C
	byFd  []C // the connection that owns an fd, or the zero C
	// start begins connecting c; a failure is counted by start itself.
	start func(c C, nowNs int64)
	// finish completes c's attempt once the poller reported it.
	finish func(c C, events uint32, nowNs int64)
	// fail gives up on c's attempt after the connect timeout.
	fail func(c C, nowNs int64)
}

// connectPaced gives every connection of set one connect attempt, at most
// connectInflight at a time, so a big set does not overflow the server's
// accept queue. It stops early when the run is aborted.
func connectPaced[C setupConn](sh *shared, p *poller.Poller, evs []poller.Event, set connectSet[C]) error {
	next, inflight := 0, 0
	for next < len(set.conns) || inflight > 0 {
		if sh.abort.Load() {
			return errors.New("aborted")
		}
		now := nanotime()
		for ; next < len(set.conns) && inflight < connectInflight; next++ {
			set.start(set.conns[next], now)
			if _, connecting := set.conns[next].connectingSince(); connecting {
				inflight++
			}
		}
		ready, _, err := p.Wait(evs, 10)
		if err != nil {
			return err
		}
		now = nanotime()
		var none C
		for _, ev := range ready {
			if c := set.byFd[ev.Fd]; c != none {
				if _, connecting := c.connectingSince(); connecting {
					set.finish(c, ev.Events, now)
					inflight--
				}
			}
		}
		for _, c := range set.conns[:next] {
			if startNs, connecting := c.connectingSince(); connecting && now-startNs > sh.connectTimeoutNs {
				set.fail(c, now)
				inflight--
			}
		}
	}
	return nil
}

// closeFd closes *fd if it is open and marks it closed.
func closeFd(fd *int32) {
	if *fd >= 0 {
		unix.Close(int(*fd))
		*fd = -1
	}
}

// sockaddr converts an address for unix.Connect and unix.Bind.
func sockaddr(ip netip.Addr, port uint16) (unix.Sockaddr, int) {
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}, unix.AF_INET6
}

// measuredWindow is one event loop's view of the measured window
// [windowStartNs, windowEndNs). Each loop keeps its own copy so that the hot
// path reads it without synchronisation; refreshWindowEnd picks up an
// earlier end set in shared.endNs (Ctrl-C).
type measuredWindow struct {
	windowStartNs, windowEndNs int64
	lastSharedEndNs            int64 // the value of shared.endNs windowEndNs follows
}

func (m *measuredWindow) beginWindow(sh *shared, windowStartNs int64) {
	m.windowStartNs = windowStartNs
	m.lastSharedEndNs = sh.endNs.Load()
	m.windowEndNs = max(m.lastSharedEndNs, windowStartNs)
}

// refreshWindowEnd notices an earlier end (Ctrl-C). The loop's end is never
// before a time it has already reached, so every message it started has an
// intended time inside its window: the accounting stays exact.
func (m *measuredWindow) refreshWindowEnd(sh *shared, nowNs int64) {
	if e := sh.endNs.Load(); e != m.lastSharedEndNs {
		m.lastSharedEndNs = e
		m.windowEndNs = max(min(m.windowEndNs, max(e, nowNs+1)), m.windowStartNs)
	}
}

func (m *measuredWindow) inWindow(tNs int64) bool {
	return tNs >= m.windowStartNs && tNs < m.windowEndNs
}

// ceilMs is a wait of d nanoseconds in the poller's milliseconds, rounded up
// so a wait never ends before its deadline; 0 when d is not positive.
func ceilMs(d int64) int {
	if d <= 0 {
		return 0
	}
	return int((d + 999_999) / 1_000_000)
}
