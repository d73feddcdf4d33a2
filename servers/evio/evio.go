// Package evio is the echo server model on github.com/tidwall/evio (v1.0.8):
// Config.Loops event loops (Events.NumLoops) sharing one listener, the echo
// returned from the Data callback as evio's own echo example does.
//
// Options, and why:
//   - ReuseInputBuffer: Data gets the loop's read buffer instead of a fresh
//     copy of every read; the echo is returned at once, so nothing keeps it.
//   - LoadBalance LeastConnections: with several loops, a loop declines an
//     accept while another loop has fewer connections, so connections spread
//     evenly (the default, Random, lets whichever loop wins the race take it).
//   - TCP_NODELAY: evio neither sets it nor exposes a descriptor, but Linux
//     copies it from a listening socket to the sockets it accepts. In the
//     Serving callback, before any loop runs, the model finds evio's listener
//     among the process's descriptors (/proc/self/fd, matched by bound
//     address and SO_ACCEPTCONN) and sets TCP_NODELAY on it.
//
// How evio behaves, and what that means here:
//   - Each echo costs two epoll_ctl calls and an extra loop turn: evio never
//     writes from Data; it copies the reply into the connection's output
//     buffer, arms EPOLLOUT, writes on the next writable event and disarms it.
//     An output buffer over 4 KiB is dropped after each write, so echoes
//     larger than 4 KiB allocate their output buffer every time.
//   - Backpressure is built in: evio does not read a connection while it has
//     output pending, so pending output never exceeds one read (64 KiB - 1).
//     Config.MaxPendingBytes cannot lower that bound (evio's read size is
//     fixed) and is otherwise not needed.
//   - Half-close is safe: evio sees EOF only on a read, and reads only with no
//     output pending, so closing at EOF loses nothing.
//   - Any accept error other than EAGAIN stops the whole server. To keep
//     accept from reaching EMFILE, Opened closes new connections at once
//     while the model has fdLimit() - fdReserve open. ENFILE (system-wide)
//     and errors such as ECONNABORTED cannot be guarded and still stop it.
//   - evio panics if an epoll_ctl call fails; nothing in the model can catch
//     that, since it happens on evio's own goroutines.
//   - evio offers no way to stop it from outside a callback. Close sets a
//     flag that makes the next callback return Shutdown, and dials the server
//     once so that a callback (Opened) runs even if every connection is idle.
//     evio's own shutdown signal can be lost if a loop stops in the instant
//     between Serve starting its loops and waiting for them; Close then gives
//     up after stopWait and reports it.
//
// Work per request (Config.Work) is in work.go; with work none Data is
// exactly the echo above.
package evio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/evio"
	"golang.org/x/sys/unix"

	"echobench/servers"
	"echobench/servers/work"
)

// fdReserve is how many descriptors below RLIMIT_NOFILE the model stops
// accepting connections, so accept itself never fails with EMFILE.
var fdReserve = 128

// stopWait bounds how long Close keeps prodding evio to shut down.
const stopWait = 1500 * time.Millisecond

// Server is a running evio model. It implements servers.Server.
type Server struct {
	addr     net.Addr
	maxConns int64
	log      io.Writer
	work     work.Spec
	// requestSize frames requests when work is on; maxPending then bounds
	// the input held for requests that wait.
	requestSize int
	maxPending  int
	accepted    atomic.Uint64 // connection ordinals, for the exp draws

	serveDone chan error
	closing   atomic.Bool
	once      sync.Once
	err       error

	open    atomic.Int64 // connections open now
	refused atomic.Int64 // closed at open for the descriptor guard
	overCap atomic.Int64 // closed for holding too much input (work only)
	noOut   sync.Once    // logs that wait is refused
}

// Start runs evio on cfg.Addr and returns once it is bound.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{
		maxConns:    int64(fdLimit() - fdReserve),
		log:         cfg.Log,
		work:        cfg.Work,
		requestSize: cfg.RequestSizeBytes,
		maxPending:  cfg.MaxPendingBytes,
		serveDone:   make(chan error, 1),
	}
	serving := make(chan net.Addr, 1)
	ev := evio.Events{
		NumLoops:    cfg.Loops,
		LoadBalance: evio.LeastConnections,
		Serving: func(srv evio.Server) evio.Action {
			if len(srv.Addrs) > 0 {
				if err := setListenerNoDelay(srv.Addrs[0]); err != nil {
					fmt.Fprintf(s.log, "evio: TCP_NODELAY not set, small echoes may be delayed: %v\n", err)
				}
				serving <- srv.Addrs[0]
			}
			return evio.None
		},
		Opened: s.opened,
		Closed: s.closed,
		Data:   s.data,
	}
	go func() { s.serveDone <- evio.Serve(ev, cfg.Addr) }()
	select {
	case s.addr = <-serving:
		return s, nil
	case err := <-s.serveDone:
		if err == nil {
			err = errors.New("evio stopped before serving")
		}
		return nil, fmt.Errorf("evio: serve %s: %w", cfg.Addr, err)
	}
}

// Addr is the bound listening address, as evio reported it.
func (s *Server) Addr() net.Addr { return s.addr }

// Close makes evio shut down, which closes every connection, and waits for
// evio.Serve to return. Safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.closing.Store(true)
		deadline := time.NewTimer(stopWait)
		defer deadline.Stop()
		retry := time.NewTicker(50 * time.Millisecond)
		defer retry.Stop()
		var nudges []net.Conn
		defer func() {
			for _, c := range nudges {
				c.Close()
			}
		}()
		for {
			// A new connection makes evio call Opened, which sees the flag
			// and returns Shutdown.
			if c, err := net.DialTimeout("tcp", s.addr.String(), 200*time.Millisecond); err == nil {
				nudges = append(nudges, c)
			}
			select {
			case err := <-s.serveDone:
				if err != nil {
					s.err = fmt.Errorf("evio: serve: %w", err)
				}
				if n := s.refused.Load(); n > 0 {
					fmt.Fprintf(s.log, "evio: %d connections refused to stay under the descriptor limit\n", n)
				}
				if n := s.overCap.Load(); n > 0 {
					fmt.Fprintf(s.log, "evio: %d connections closed for holding over %d bytes of input waiting for --work\n", n, max(s.maxPending, s.requestSize))
				}
				return
			case <-deadline.C:
				s.err = fmt.Errorf("evio: did not shut down within %v", stopWait)
				return
			case <-retry.C:
			}
		}
	})
	return s.err
}

func (s *Server) opened(c evio.Conn) ([]byte, evio.Options, evio.Action) {
	opts := evio.Options{ReuseInputBuffer: true}
	if s.closing.Load() {
		return nil, opts, evio.Shutdown
	}
	if s.open.Add(1) > s.maxConns {
		s.refused.Add(1)
		return nil, opts, evio.Close
	}
	if s.work.Kind != work.None && !s.openWork(c) {
		return nil, opts, evio.Close
	}
	return nil, opts, evio.None
}

func (s *Server) closed(c evio.Conn, err error) evio.Action {
	s.open.Add(-1)
	closeWork(c)
	return evio.None
}

// data echoes in. With ReuseInputBuffer, in aliases the loop's read buffer;
// evio copies the returned slice into the connection's output buffer before
// the next read, so returning it is safe.
func (s *Server) data(c evio.Conn, in []byte) ([]byte, evio.Action) {
	if s.closing.Load() {
		return nil, evio.Shutdown
	}
	if s.work.Kind != work.None {
		return s.dataWork(c, in)
	}
	return in, evio.None
}

// setListenerNoDelay sets TCP_NODELAY on the listening socket bound to addr,
// found among the process's descriptors; accepted sockets inherit it.
func setListenerNoDelay(addr net.Addr) error {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("listener address %v is not TCP", addr)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors: %w", err)
	}
	found := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || !isListenerFor(fd, ta) {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fmt.Errorf("setsockopt fd %d: %w", fd, err)
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("no listening socket bound to %v", addr)
	}
	return nil
}

// isListenerFor reports whether fd is a listening TCP socket bound to ta.
func isListenerFor(fd int, ta *net.TCPAddr) bool {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		if a.Port != ta.Port || !net.IP(a.Addr[:]).Equal(ta.IP) {
			return false
		}
	case *unix.SockaddrInet6:
		if a.Port != ta.Port || !net.IP(a.Addr[:]).Equal(ta.IP) {
			return false
		}
	default:
		return false
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && acc == 1
}

// fdLimit is the soft RLIMIT_NOFILE.
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 30
	}
	return int(rl.Cur)
}
