package servertest

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The churn case: connection lifecycle as a workload. Short-lived
// connections (one request each, as HTTP/1.0-style clients and health
// checks make them) exercise the accept path and per-connection set-up and
// teardown, which steady-state echo never does. A server that leaks a file
// descriptor, a goroutine or a buffer per connection passes every other case
// and fails this one.

const (
	// churnCycles is how many connect/echo/close cycles the case runs;
	// churnWarmCycles of them come first and set the RSS baseline, so that
	// a runtime's one-time growth (JIT, allocator arenas, goroutine stacks)
	// is not taken for a leak.
	churnCycles     = 20_000
	churnWarmCycles = 2_000
	// churnClients is the goroutines cycling at once, each from its own
	// loopback source address (127.0.0.2, .3, ...), so the client's
	// TIME_WAIT sockets never exhaust one address's ephemeral ports.
	churnClients = 8
	// churnMsgBytes is each connection's one message.
	churnMsgBytes = 64
	// churnRSSLimitBytes bounds the server's RSS growth over the 18,000
	// cycles after the warm-up: 32 MiB, under 1.9 KiB per connection, so a
	// leak of a 4 KiB buffer or a goroutine stack per connection fails.
	// Not tighter, because a collected heap grows before it is collected:
	// node's RSS rose by 25-27 MiB over these cycles and then stayed at
	// ~85 MiB over 70,000 more (measured, 2026-11-27); the Go models grew
	// by 4-5 MiB, the Python stacks by under 0.2 MiB.
	churnRSSLimitBytes = 32 << 20
)

// caseChurn: 20,000 connect/echo/close cycles from 8 goroutines. Every echo
// must match, the server's open fds must come back to their count before
// the case, and its RSS after the cycles may exceed its RSS after the
// warm-up cycles by at most churnRSSLimitBytes.
func caseChurn(e *env) {
	baseline := e.baselineFDs()
	start := time.Now()
	if err := e.churn(churnWarmCycles); err != nil {
		e.t.Fatalf("churn warm-up: %v", err)
	}
	e.awaitFDs(baseline, fmt.Sprintf("%d connect/echo/close cycles", churnWarmCycles))
	baseKiB, err := statusKiB(e.srv.pid, "VmRSS")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.churn(churnCycles - churnWarmCycles); err != nil {
		e.t.Fatalf("churn: %v", err)
	}
	elapsed := time.Since(start)
	e.awaitFDs(baseline, fmt.Sprintf("%d connect/echo/close cycles", churnCycles))
	afterKiB, err := statusKiB(e.srv.pid, "VmRSS")
	if err != nil {
		e.t.Fatal(err)
	}
	growth := (afterKiB - baseKiB) << 10
	e.t.Logf("%s: %d connect/echo/close cycles in %v (%.0f/s); RSS %d KiB after the warm-up, %d KiB after (limit +%d KiB)",
		e.target.Name, churnCycles, elapsed.Round(time.Millisecond), float64(churnCycles)/elapsed.Seconds(), baseKiB, afterKiB, churnRSSLimitBytes>>10)
	if growth > churnRSSLimitBytes {
		e.t.Errorf("server RSS grew by %.1f MiB over %d short-lived connections, over the limit of %d MiB (%.0f bytes per connection): it keeps memory per connection",
			float64(growth)/(1<<20), churnCycles-churnWarmCycles, churnRSSLimitBytes>>20, float64(growth)/float64(churnCycles-churnWarmCycles))
	}
	e.stillEchoes(fmt.Sprintf("%d connect/echo/close cycles", churnCycles))
}

// churn runs n connect/echo/close cycles over churnClients goroutines and
// returns the first failure, if any. The cycles use blocking sockets
// through raw syscalls: net.Dial's goroutine and poller bookkeeping cost
// the client more than the server's whole cycle, and the case must stay
// fast enough to run for every model in make test.
func (e *env) churn(n int) error {
	dst, err := churnSockaddr(e.srv.addr)
	if err != nil {
		return err
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	msg := e.randomBytes(churnMsgBytes)
	timeout := syscall.NsecToTimeval(int64(time.Until(e.deadline)))
	for g := range churnClients {
		src := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(2 + g)}}
		// Each goroutine its own copy: connect(2) writes the raw form
		// into the sockaddr it is given.
		dst := *dst
		wg.Go(func() {
			buf := make([]byte, churnMsgBytes)
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := churnCycle(src, &dst, &timeout, msg, buf); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("cycle %d: %w", i, err) })
					next.Store(int64(n)) // the others stop too
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// churnSockaddr is the server's IPv4 address for connect(2).
func churnSockaddr(addr string) (*syscall.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("churn needs an IPv4 server address, got %q (%v)", addr, err)
	}
	return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, nil
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (Linux 4.2), which package
// syscall does not name.
const ipBindAddressNoPort = 24

// churnCycle connects from src (its address only: the port is left to
// connect, IP_BIND_ADDRESS_NO_PORT, so each source/destination pair has the
// whole ephemeral range and loopback TIME_WAIT ports are reused), writes
// msg, reads its echo into buf, checks it and closes. timeout bounds every
// blocking call.
func churnCycle(src, dst *syscall.SockaddrInet4, timeout *syscall.Timeval, msg, buf []byte) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	for _, opt := range []int{syscall.SO_SNDTIMEO, syscall.SO_RCVTIMEO} {
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, opt, timeout); err != nil {
			return fmt.Errorf("setsockopt: %w", err)
		}
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	if err := syscall.Bind(fd, src); err != nil {
		return fmt.Errorf("bind %v: %w", src.Addr, err)
	}
	if err := connectRetrying(fd, dst); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	n, err := syscall.Write(fd, msg)
	for err == syscall.EINTR {
		n, err = syscall.Write(fd, msg)
	}
	if err != nil || n != len(msg) {
		return fmt.Errorf("write: %d of %d bytes, %v", n, len(msg), err)
	}
	for got := 0; got < len(msg); {
		n, err := syscall.Read(fd, buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("read after %d of %d bytes: %v (n %d)", got, len(msg), err, n)
		}
		got += n
	}
	return compareEcho(msg, buf)
}

// connectRetrying is a blocking connect(2) that survives the Go runtime's
// signals: after EINTR the handshake goes on in the kernel, and calling
// connect again waits for it (EISCONN once it has completed).
func connectRetrying(fd int, dst *syscall.SockaddrInet4) error {
	for {
		switch err := syscall.Connect(fd, dst); err {
		case syscall.EINTR, syscall.EALREADY:
			continue
		case syscall.EISCONN:
			return nil
		default:
			return err
		}
	}
}
