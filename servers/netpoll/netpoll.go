// Package netpoll is the echo server model on github.com/cloudwego/netpoll:
// pollers that read every connection into its own LinkBuffer and run the
// OnRequest handler on a goroutine pool, where the echo uses netpoll's
// zero-copy Reader/Writer API as its own echo example does: Next takes the
// input without copying, Malloc reserves output in the connection's write
// buffer, one copy moves the bytes, Release frees the input, and Flush
// sends, at most maxEchoBytes per Flush.
//
// Options, and why:
//   - netpoll.Configure(PollerNum: Config.Loops): netpoll's default is
//     GOMAXPROCS/20+1 pollers, which halved echo throughput in
//     netpoll-examples#9; the model sets the count explicitly. The pollers
//     are process-wide (netpoll keeps one set for every EventLoop) and the
//     first Start in a process sets their count: changing it while another
//     server accepts races inside netpoll, and shrinking it closes pollers
//     in use. A later server that asked for another count says so in its
//     log. `echobench serve` runs one server per process, so there the
//     count is exactly --loops.
//   - Buffers: netpoll's defaults. Each connection's input LinkBuffer starts
//     at 8 KiB and doubles its read size while reads fill it, up to 8 MiB;
//     the output buffer grows per Malloc. Nothing is set per connection.
//   - Runner: netpoll's default, bytedance/gopkg's goroutine pool, which
//     runs a connection's OnRequest calls one after another.
//   - TCP_NODELAY: netpoll sets it on every accepted connection.
//   - Logging: netpoll's logger is process-wide; the first Start points it
//     at a writer that forwards to the Log of the most recently started
//     server still open (stderr under `echobench serve`).
//
// Limitations of netpoll v0.7.2 and what this model does about them:
//
// A listener closed twice. netpoll's listener (CreateListener, and
// ConvertListener of a net.TCPListener) holds one dup'd descriptor both as
// its fd and as an *os.File, and its Close closes both: syscall.Close(fd),
// then the File, which closes the same number again. Anything the process
// opens between the two calls (a dial, an accept) can get that number and
// lose it to the second close. Under `echobench serve` nothing opens a
// descriptor while the server shuts down, so it cannot bite there; in one
// test process it did ("connect: bad file descriptor" in a parallel test),
// so this package's tests run one at a time. Avoiding it in the model would
// mean replacing netpoll's listener and its accepted-connection type.
//
// Backpressure. A netpoll poller reads a connection whenever it is readable,
// whatever the handler has left unconsumed or unsent: there is no way to
// stop reading (netpoll#98: "consuming too slowly only makes memory grow";
// the read-throttling PR #298 was closed unmerged and #422 asks for
// PauseRead). Flush blocks the handler until the socket has taken
// everything, and meanwhile the poller keeps buffering the client's input.
// The only bound is closing: while a connection's echo waits in Flush, a
// guard goroutine checks its unread input every guardInterval and closes
// the connection once it holds more than Config.MaxPendingBytes (counted
// and logged at Close). A client that stops reading is disconnected, not
// slowed down; the server holds at most about MaxPendingBytes of its input,
// plus what arrives in one guardInterval, plus one echo (maxEchoBytes).
// Measured in servertest's slow-reader case (4 MiB cap): closed after the
// client pushed 12-20 MiB, server RSS 11-15 MiB above its start.
//
// Half-close. When the peer's FIN arrives, netpoll's poller reads what is
// left, detaches the descriptor and treats the connection as closed by the
// peer, while OnRequest may not even have run for the last input: a Flush
// that is waiting returns an error, later Flushes refuse, and the descriptor
// is closed as soon as the handler returns. Measured before the workaround:
// even a 1-byte write followed by a half-close got no echo. The model
// finishes what it can: when Flush refuses at its start (nothing of this
// echo submitted), the handler writes the echo to the still-open descriptor
// itself, blocking with a halfCloseFlush send timeout, before netpoll closes
// it. What remains: output already waiting in a Flush when the FIN arrives
// is partly sent and partly dropped inside netpoll's unexported output
// buffer, out of reach, so the echo of a client that half-closes with more
// pending than the socket buffers hold is truncated (servertest's
// half-close-8mib is a documented limitation); and a client that
// half-closes and stops reading stalls that handler goroutine for about
// halfCloseFlush before its echo is dropped.
package netpoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"

	"echobench/servers"
)

// guardInterval is how often the guard checks the input of connections
// whose echo waits in Flush: short enough that a client writing at loopback
// speed adds only a few MiB past the cap before it is closed.
const guardInterval = time.Millisecond

// maxEchoBytes caps one echo (one Flush). A Flush that waits holds its
// whole echo, so without a cap a burst read while the handler was not
// running would be held twice, as input and as output; 64 KiB is what one
// read of the C reference or our epoll model moves.
const maxEchoBytes = 64 << 10

// closeGrace bounds Close: the contract is exit within 2 s of SIGTERM.
const closeGrace = 1200 * time.Millisecond

// halfCloseFlush bounds each blocking write of an echo finished after the
// peer's half-close: a write that makes no progress for this long gives up.
const halfCloseFlush = 500 * time.Millisecond

// Server is a running netpoll model. It implements servers.Server.
type Server struct {
	addr       net.Addr
	loop       netpoll.EventLoop
	serveDone  chan error
	maxPending int
	echoMax    int // bytes echoed per Flush: min(maxEchoBytes, maxPending)
	log        io.Writer

	connsMu sync.Mutex
	conns   map[*connState]struct{} // open connections, for Close

	flushMu  sync.Mutex
	flushing *connState    // connections whose echo is in Flush
	wake     chan struct{} // the flushing list became non-empty
	stop     chan struct{}
	guarded  chan struct{} // the guard goroutine has ended
	victims  []*connState  // the guard's scratch list

	once sync.Once
	err  error

	overCap       atomic.Int64 // closed for exceeding MaxPendingBytes
	halfCloseSync atomic.Int64 // echoes written directly after a half-close
}

// connState is the model's per-connection state, reached from OnRequest's
// context.
type connState struct {
	c          netpoll.Connection
	prev, next *connState // in Server.flushing, guarded by flushMu
	inFlush    bool       // guarded by flushMu
	lost       bool       // part of the output was dropped; owned by OnRequest
	closedByUs atomic.Bool
}

type stateKey struct{}

// Start configures netpoll's pollers, listens on cfg.Addr and serves.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := servers.EchoOnly("netpoll", cfg); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := configure(cfg.Loops, cfg.Log); err != nil {
		return nil, err
	}
	ln, err := netpoll.CreateListener("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("netpoll: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		addr:       ln.Addr(),
		serveDone:  make(chan error, 1),
		maxPending: cfg.MaxPendingBytes,
		echoMax:    min(maxEchoBytes, cfg.MaxPendingBytes),
		log:        cfg.Log,
		conns:      map[*connState]struct{}{},
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		guarded:    make(chan struct{}),
	}
	addLogSink(s)
	s.loop, err = netpoll.NewEventLoop(s.onRequest, netpoll.WithOnPrepare(s.onPrepare))
	if err != nil {
		removeLogSink(s)
		ln.Close()
		return nil, fmt.Errorf("netpoll: event loop: %w", err)
	}
	go s.guard()
	// The listener is bound and listening: the kernel queues connections
	// until Serve's poller accepts them.
	go func() { s.serveDone <- s.loop.Serve(ln) }()
	return s, nil
}

// onPrepare runs on the poller as a connection is accepted, before it is
// registered: it gives the connection its state and Close a way to find it.
func (s *Server) onPrepare(c netpoll.Connection) context.Context {
	st := &connState{c: c}
	s.connsMu.Lock()
	s.conns[st] = struct{}{}
	s.connsMu.Unlock()
	c.AddCloseCallback(func(netpoll.Connection) error {
		s.connsMu.Lock()
		delete(s.conns, st)
		s.connsMu.Unlock()
		return nil
	})
	return context.WithValue(context.Background(), stateKey{}, st)
}

// onRequest echoes up to echoMax bytes of what is buffered (netpoll calls
// it again while input remains): Next aliases the input buffer,
// Malloc reserves as much in the output buffer, one copy moves it, Release
// frees the input (before Flush, so a waiting echo does not hold its input
// too) and Flush sends, waiting while the socket is full. Nothing here
// allocates once the connection's buffers have grown.
func (s *Server) onRequest(ctx context.Context, c netpoll.Connection) error {
	st, _ := ctx.Value(stateKey{}).(*connState)
	r, w := c.Reader(), c.Writer()
	n := min(r.Len(), s.echoMax)
	in, err := r.Next(n)
	if err != nil {
		return err
	}
	if st != nil && st.lost {
		return r.Release() // output was lost already: more would leave a gap
	}
	out, err := w.Malloc(n)
	if err != nil {
		return err
	}
	copy(out, in)
	if err := r.Release(); err != nil {
		return err
	}
	s.beginFlush(st)
	err = w.Flush()
	s.endFlush(st)
	if err == nil || st == nil {
		return err
	}
	return s.afterFailedFlush(st, w, out, err)
}

// afterFailedFlush finishes an echo whose Flush failed because the peer
// half-closed before it began. netpoll then refuses every Flush, but the
// descriptor stays open until this handler returns, so the echo is written
// to it directly (blocking, with a timeout). Flush refused at its start
// exactly when the Malloc'd bytes are still unsubmitted (MallocLen); they
// stay valid in netpoll's output buffer until the connection is closed. If
// Flush failed later, part of the echo may have been sent and the rest is
// in netpoll's output buffer, out of reach: the connection's output is
// lost, and nothing more is written to it.
func (s *Server) afterFailedFlush(st *connState, w netpoll.Writer, echo []byte, err error) error {
	if w.MallocLen() != len(echo) || st.c.IsActive() || st.closedByUs.Load() {
		st.lost = true
		return err
	}
	_ = w.MallocAck(0)
	if werr := writeBlocking(st.c, echo); werr != nil {
		st.lost = true
		return fmt.Errorf("netpoll: echo after half-close: %w", werr)
	}
	s.halfCloseSync.Add(1)
	return nil
}

// writeBlocking writes p to c's descriptor in blocking mode, each write
// giving up after halfCloseFlush without progress. Only for a connection
// netpoll has detached (the peer half-closed): nothing else writes to it.
func writeBlocking(c netpoll.Connection, p []byte) error {
	fd := c.(interface{ Fd() int }).Fd()
	tv := unix.NsecToTimeval(halfCloseFlush.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return err
	}
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// beginFlush puts st on the flushing list and wakes the guard if the list
// was empty.
func (s *Server) beginFlush(st *connState) {
	if st == nil {
		return
	}
	s.flushMu.Lock()
	wasEmpty := s.flushing == nil
	st.prev, st.next, st.inFlush = nil, s.flushing, true
	if s.flushing != nil {
		s.flushing.prev = st
	}
	s.flushing = st
	s.flushMu.Unlock()
	if wasEmpty {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// endFlush takes st off the flushing list.
func (s *Server) endFlush(st *connState) {
	if st == nil {
		return
	}
	s.flushMu.Lock()
	if st.prev != nil {
		st.prev.next = st.next
	} else {
		s.flushing = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	}
	st.prev, st.next, st.inFlush = nil, nil, false
	s.flushMu.Unlock()
}

// guard closes connections whose input passes the cap while their echo
// waits in Flush. It sleeps while no echo is in Flush.
func (s *Server) guard() {
	defer close(s.guarded)
	tick := time.NewTimer(guardInterval)
	tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		for s.closeOverCap() {
			tick.Reset(guardInterval)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}
}

// closeOverCap closes every flushing connection over the cap and reports
// whether any echo is still in Flush.
func (s *Server) closeOverCap() (anyFlushing bool) {
	s.victims = s.victims[:0]
	s.flushMu.Lock()
	for st := s.flushing; st != nil; st = st.next {
		if st.c.Reader().Len() > s.maxPending {
			s.victims = append(s.victims, st)
		}
	}
	anyFlushing = s.flushing != nil
	s.flushMu.Unlock()
	for _, st := range s.victims {
		if st.c.IsActive() {
			st.closedByUs.Store(true)
			s.overCap.Add(1)
			st.c.Close() // the waiting Flush returns, then netpoll closes
		}
	}
	return anyFlushing
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops accepting, closes every connection and waits, at most
// closeGrace, for netpoll to have closed them all. Safe to call more than
// once.
func (s *Server) Close() error {
	s.once.Do(func() {
		deadline := time.Now().Add(closeGrace)
		close(s.stop)
		<-s.guarded
		s.err = s.shutdown(deadline)
		if err := s.closeConns(deadline); err != nil {
			s.err = errors.Join(s.err, err)
		}
		removeLogSink(s)
		if n := s.overCap.Load(); n > 0 {
			fmt.Fprintf(s.log, "netpoll: %d connections closed for exceeding %d pending bytes\n", n, s.maxPending)
		}
	})
	return s.err
}

// shutdown closes the listener through EventLoop.Shutdown and waits for
// Serve to return. Shutdown does nothing until Serve has registered the
// listener, so it is retried; its context is already cancelled because the
// model closes busy connections itself instead of waiting for them.
func (s *Server) shutdown(deadline time.Time) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		_ = s.loop.Shutdown(ctx) // context.Canceled while connections are busy
		select {
		case err := <-s.serveDone:
			if err != nil {
				return fmt.Errorf("netpoll: serve: %w", err)
			}
			return nil
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("netpoll: Serve did not return after Shutdown")
		}
	}
}

// closeConns closes every open connection and waits until netpoll has run
// their close callbacks (the descriptor is closed by then).
func (s *Server) closeConns(deadline time.Time) error {
	s.connsMu.Lock()
	open := make([]*connState, 0, len(s.conns))
	for st := range s.conns {
		open = append(open, st)
	}
	s.connsMu.Unlock()
	for _, st := range open {
		st.closedByUs.Store(true)
		st.c.Close()
	}
	for {
		s.connsMu.Lock()
		left := len(s.conns)
		s.connsMu.Unlock()
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netpoll: %d connections still open %v after Close", left, closeGrace)
		}
		time.Sleep(2 * time.Millisecond) // polling netpoll's close callbacks, which have no completion signal
	}
}

// Pollers are netpoll's, process-wide: the first Start sets their count and
// later ones keep it. Changing it while connections are being accepted races
// inside netpoll (manager.Run rebalances the pollers that Pick is reading),
// and shrinking closes pollers other servers' connections are registered on.
var (
	pollMu  sync.Mutex
	pollers int // 0 until the first Start
)

// configure sets netpoll's poller count to loops, unless an earlier server
// in this process has set it, and sends netpoll's logs to log.
func configure(loops int, log io.Writer) error {
	pollMu.Lock()
	defer pollMu.Unlock()
	if pollers > 0 {
		if pollers != loops {
			fmt.Fprintf(log, "netpoll: %d pollers, not %d: netpoll's pollers are process-wide and the first server here set them\n", pollers, loops)
		}
		return nil
	}
	if err := netpoll.Configure(netpoll.Config{PollerNum: loops, LoggerOutput: logWriter{}}); err != nil {
		return fmt.Errorf("netpoll: configure %d pollers: %w", loops, err)
	}
	// netpoll opens pollers lazily, at the first registration after a
	// change; opening them now means the server's descriptors are all open
	// once Start returns, not at some moment after.
	netpoll.Initialize()
	pollers = loops
	return nil
}

// netpoll's logger is process-wide. It writes to the Log of the most
// recently started server that is still open (stderr when none is), under
// logMu, and Close takes its server off the list under logMu too, so no line
// is written to a Log after its server's Close has returned.
var (
	logMu    sync.Mutex
	logSinks []*Server // open servers, most recent last
)

// addLogSink makes s's Log the destination of netpoll's logs.
func addLogSink(s *Server) {
	logMu.Lock()
	logSinks = append(logSinks, s)
	logMu.Unlock()
}

// removeLogSink stops sending netpoll's logs to s's Log.
func removeLogSink(s *Server) {
	logMu.Lock()
	defer logMu.Unlock()
	for i, o := range logSinks {
		if o == s {
			logSinks = append(logSinks[:i], logSinks[i+1:]...)
			return
		}
	}
}

// logWriter is netpoll's logger output: the current sink.
type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	if n := len(logSinks); n > 0 {
		return logSinks[n-1].log.Write(p)
	}
	return os.Stderr.Write(p)
}
