// Package gnet is the echo server model on github.com/panjf2000/gnet/v2: event
// loops that own their connections, with the echo done in OnTraffic as gnet's
// own echo example does it (Next(-1), then Write of the same slice: no copy
// unless the socket cannot take it all).
//
// Options, and why:
//   - WithNumEventLoop(Config.Loops): exactly the loops asked for.
//     WithMulticore is not used: it follows runtime.NumCPU, i.e. the taskset
//     mask, not the measurement's setting.
//   - WithReusePort(true): every loop owns a listener and accepts for itself,
//     so with one loop there is one goroutine and no hand-off from gnet's main
//     reactor; with several, the kernel spreads connections by address hash.
//     gnet binds each extra loop's listener to the configured address again,
//     so with port 0 Start first reserves a port with a bound (never
//     listening) SO_REUSEPORT socket and gives gnet that port.
//   - WithReuseAddr(true): SO_REUSEADDR, so the port is rebindable at once
//     after exit, as with Go's net.
//   - WithTCPNoDelay(TCPNoDelay): gnet's default, stated: small echoes are not
//     held back by Nagle.
//   - Read and write buffer caps stay at gnet's 64 KiB defaults: one read of
//     up to 64 KiB per readable event, as the C reference and our epoll model.
//   - WithLockOSThread stays off: gnet documents it for thread-local state
//     and cgo; the measurement runs with GOMAXPROCS=1 where it cannot add
//     parallelism.
//   - WithLogger: gnet's default zap logger writes to stdout, which must carry
//     only the LISTENING line; logs go to Config.Log at info level and above.
//
// Limitations of gnet v2.9.7 and what this model does about them:
//
// Backpressure. gnet keeps reading a connection whatever its outbound buffer
// holds (there is no way to drop EPOLLIN; gnet issues #420, #712, #764), and
// input a handler leaves unconsumed is buffered too, so not consuming does
// not help. The only bound gnet allows is closing: after each echo, a
// connection whose outbound buffer exceeds Config.MaxPendingBytes is closed
// (the closure is counted and logged). A client that stops reading is
// therefore disconnected instead of slowed down; server memory per connection
// stays under MaxPendingBytes plus one 64 KiB read.
//
// Half-close. On read EOF gnet closes at once and tries one non-blocking
// flush of the outbound buffer, silently dropping what the socket does not
// take: an echo with more pending output than the socket buffers hold was
// truncated. OnClose runs before that flush with the descriptor still open,
// so for a connection closed by EOF with output pending this model switches
// the socket to blocking with a send timeout (SO_SNDTIMEO, halfCloseFlush):
// gnet's flush then writes everything to a client that keeps reading. What
// remains: the flush blocks that event loop while it runs (for a reading
// client, the time to move at most MaxPendingBytes over the network), and a
// client that half-closes and stops reading stalls the loop for up to about
// two halfCloseFlush periods before its tail is dropped.
//
// Work per request (Config.Work) is in work.go; with work none OnTraffic is
// exactly the echo above.
//
// Descriptor exhaustion. An accept error such as EMFILE shuts the whole gnet
// engine down. To keep accept from reaching EMFILE, OnOpen closes new
// connections at once while the model has fdLimit() - fdReserve of them
// open; the reserve leaves room for the process's own descriptors (listeners,
// pollers, stdio). ENFILE, the system-wide limit, cannot be guarded and
// still stops the engine.
package gnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"

	"echobench/servers"
	"echobench/servers/work"
)

// halfCloseFlush bounds each blocking write of the flush after a half-close:
// a write that makes no progress for this long gives up.
const halfCloseFlush = 500 * time.Millisecond

// fdReserve is how many descriptors below RLIMIT_NOFILE the model stops
// accepting connections, so accept itself never fails with EMFILE.
var fdReserve = 128

// Server is a running gnet model. It implements servers.Server.
type Server struct {
	addr       net.Addr
	maxPending int
	maxConns   int64
	log        io.Writer
	work       work.Spec
	// requestSize frames requests when work is on.
	requestSize int
	accepted    atomic.Uint64 // connection ordinals, for the exp draws

	eng     gnet.Engine
	runDone chan error
	once    sync.Once
	err     error

	open          atomic.Int64 // connections open now
	overCap       atomic.Int64 // closed for exceeding MaxPendingBytes
	refused       atomic.Int64 // closed at open for the descriptor guard
	halfCloseSync atomic.Int64 // half-closes flushed with a blocking write
}

// handler is gnet's view of the server; it is kept apart from Server so the
// callbacks are not part of Server's exported method set.
type handler struct {
	gnet.BuiltinEventEngine
	s      *Server
	booted chan gnet.Engine
}

// Start runs a gnet engine on cfg.Addr and returns once it is bound.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{
		maxPending:  cfg.MaxPendingBytes,
		maxConns:    int64(fdLimit() - fdReserve),
		log:         cfg.Log,
		work:        cfg.Work,
		requestSize: cfg.RequestSizeBytes,
		runDone:     make(chan error, 1),
	}
	addr, reserved, err := reservePort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	// The reservation only has to outlive gnet's first bind.
	defer func() {
		if reserved >= 0 {
			unix.Close(reserved)
		}
	}()
	h := &handler{s: s, booted: make(chan gnet.Engine, 1)}
	go func() {
		s.runDone <- gnet.Run(h, "tcp://"+addr,
			gnet.WithNumEventLoop(cfg.Loops),
			gnet.WithReusePort(true),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(&logger{w: cfg.Log}),
			gnet.WithLogLevel(logging.InfoLevel),
		)
	}()
	select {
	case eng := <-h.booted:
		s.eng = eng
	case err := <-s.runDone:
		if err == nil {
			err = errors.New("engine stopped before it booted")
		}
		return nil, fmt.Errorf("gnet: run on %s: %w", addr, err)
	}
	bound, err := boundAddr(s.eng)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.addr = bound
	return s, nil
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the engine, which closes every connection, and waits for
// gnet.Run to return. Safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		// Engine.Stop polls for completion every 500 ms; the engine is
		// already stopped when Run returns, so wait for that instead.
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- s.eng.Stop(ctx) }()
		runErr := <-s.runDone
		cancel()
		stopErr := <-stopped
		if errors.Is(stopErr, context.Canceled) {
			stopErr = nil
		}
		if errors.Is(stopErr, gerrors.ErrEngineInShutdown) {
			stopErr = nil // the engine stopped by itself; Run says why
		}
		if runErr != nil || stopErr != nil {
			s.err = fmt.Errorf("gnet: stop: %w", errors.Join(runErr, stopErr))
		}
		if n := s.overCap.Load(); n > 0 {
			fmt.Fprintf(s.log, "gnet: %d connections closed for exceeding %d pending bytes (output, or input waiting for --work)\n", n, s.maxPending)
		}
		if n := s.refused.Load(); n > 0 {
			fmt.Fprintf(s.log, "gnet: %d connections refused to stay under the descriptor limit\n", n)
		}
	})
	return s.err
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.booted <- eng
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if h.s.open.Add(1) > h.s.maxConns {
		h.s.refused.Add(1)
		return nil, gnet.Close
	}
	if h.s.work.Kind != work.None {
		h.openWork(c)
	}
	return nil, gnet.None
}

// OnTraffic echoes what arrived. Next(-1) aliases the loop's read buffer
// and Write either sends it at once or copies the rest into the outbound
// buffer, so the common case copies and allocates nothing.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	if h.s.work.Kind != work.None {
		return h.trafficWork(c)
	}
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	if c.OutboundBuffered() > h.s.maxPending {
		h.s.overCap.Add(1)
		return gnet.Close
	}
	return gnet.None
}

// OnClose runs before gnet's last flush of the outbound buffer, with the
// descriptor still open. For a half-close with output pending it makes that
// flush blocking (with a timeout), since gnet would otherwise drop what the
// socket cannot take at once.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	h.s.open.Add(-1)
	closeWork(c)
	if errors.Is(err, io.EOF) && c.OutboundBuffered() > 0 {
		fd := c.Fd()
		tv := unix.NsecToTimeval(halfCloseFlush.Nanoseconds())
		if e := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); e == nil {
			if e := unix.SetNonblock(fd, false); e == nil {
				h.s.halfCloseSync.Add(1)
			}
		}
	}
	return gnet.None
}

// boundAddr reads the listener's real address, so port 0 works.
func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, fmt.Errorf("gnet: dup listener: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("gnet: getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("gnet: listener has unexpected address type %T", sa)
}

// reservePort resolves addr and, when its port is 0, picks a port by binding
// a socket with SO_REUSEPORT and SO_REUSEADDR that never listens (so it gets
// no connections) but holds the port until gnet's listeners bind it too. It
// returns the address to give gnet and the reserving descriptor (-1 if none).
func reservePort(addr string) (string, int, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", -1, fmt.Errorf("gnet: resolve %q: %w", addr, err)
	}
	if ta.Port != 0 {
		return ta.String(), -1, nil
	}
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{})
	if ip4 := ta.IP.To4(); ip4 != nil {
		copy(sa.(*unix.SockaddrInet4).Addr[:], ip4)
	} else if ta.IP != nil {
		family = unix.AF_INET6
		s6 := &unix.SockaddrInet6{}
		copy(s6.Addr[:], ta.IP.To16())
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", -1, fmt.Errorf("gnet: reserve port: %w", err)
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			unix.Close(fd)
			return "", -1, fmt.Errorf("gnet: reserve port: setsockopt: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return "", -1, fmt.Errorf("gnet: reserve port on %s: %w", ta, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return "", -1, fmt.Errorf("gnet: reserve port: getsockname: %w", err)
	}
	port := 0
	switch g := got.(type) {
	case *unix.SockaddrInet4:
		port = g.Port
	case *unix.SockaddrInet6:
		port = g.Port
	}
	host := "0.0.0.0"
	if ta.IP != nil {
		host = ta.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), fd, nil
}

// fdLimit is the soft RLIMIT_NOFILE.
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 30
	}
	return int(rl.Cur)
}

// logger sends gnet's logs to Config.Log, one line each, debug dropped.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "gnet: %s: %s\n", level, fmt.Sprintf(format, args...))
}

func (l *logger) Debugf(string, ...any)             {}
func (l *logger) Infof(format string, args ...any)  { l.printf("info", format, args) }
func (l *logger) Warnf(format string, args ...any)  { l.printf("warn", format, args) }
func (l *logger) Errorf(format string, args ...any) { l.printf("error", format, args) }
func (l *logger) Fatalf(format string, args ...any) { l.printf("fatal", format, args) }
