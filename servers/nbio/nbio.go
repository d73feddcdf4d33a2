// Package nbio is the echo server model on github.com/lesismal/nbio: an
// Engine whose poller goroutines read each connection into the poller's own
// read buffer and hand it to OnData, where the echo is written straight back
// with Conn.Write, as nbio's README echo does.
//
// Options, and why:
//   - NPoller(Config.Loops): exactly the loops asked for. nbio's default is
//     runtime.NumCPU()/4, which follows the taskset mask, not the
//     measurement's setting. The listener is one more goroutine: nbio accepts
//     with Go's net.Listener (blocking Accept on the runtime's poller), dups
//     the descriptor and hands it to a poller by descriptor hash.
//   - ReadBufferSize min(64 KiB, MaxPendingBytes): nbio's default 64 KiB
//     (one read of up to 64 KiB per readable event, as the C reference and
//     our epoll model), lowered only when --max-pending is smaller, because
//     nbio refuses (closes) a single write larger than its write limit even
//     when the socket could take it (see Backpressure).
//   - MaxWriteBufferSize(Config.MaxPendingBytes): the only bound nbio offers
//     on a connection's unsent output.
//   - TCP_NODELAY: Go's accept sets it and the dup'd descriptor keeps it.
//   - Logging: nbio's logger writes to stdout, which must carry only the
//     LISTENING line; it is process-wide, so the first Start installs a
//     logger that writes to the Log of the most recently started server
//     still open (stderr under `echobench serve`).
//
// The echo writes the slice OnData gets, which aliases the poller's read
// buffer. That is safe: Conn.Write (conn_unix.go write/newToWriteBuf in
// v1.6.8) sends what the socket takes at once and copies only the unsent
// remainder into a pooled buffer. The README's example copies data first
// (append([]byte{}, data...)); that is one allocation per message this
// model leaves out.
//
// Limitations of nbio v1.6.8 and what this model does about them:
//
// Backpressure. nbio keeps reading a connection whatever it has queued to
// write (EPOLLIN stays armed). Past MaxWriteBufferSize queued bytes a Write
// fails with ErrOverflow and nbio closes the connection: a client that stops
// reading is disconnected, not slowed down (counted and logged at Close).
// nbio checks the limit before trying the socket, so one write larger than
// the limit is refused outright; the read buffer is therefore never larger
// than the limit.
//
// Half-close. nbio treats EPOLLRDHUP (the peer's FIN) as a close: it reads
// what the event carries, then closes the descriptor at once and drops any
// output still queued. A client that half-closes with echo output pending
// loses its tail; nothing in nbio's API runs before that close, so the
// model cannot prevent it (servertest's half-close-8mib is a documented
// limitation).
package nbio

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

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"echobench/servers"
)

// stopGrace bounds Close: the contract is exit within 2 s of SIGTERM.
const stopGrace = 1200 * time.Millisecond

// Server is a running nbio model. It implements servers.Server.
type Server struct {
	eng  *nbio.Engine
	addr net.Addr
	log  io.Writer

	maxPending int
	once       sync.Once
	err        error

	overCap atomic.Int64 // closed by nbio for exceeding MaxWriteBufferSize
}

// Start runs an nbio engine on cfg.Addr and returns once it accepts.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := servers.EchoOnly("nbio", cfg); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{log: cfg.Log, maxPending: cfg.MaxPendingBytes}
	addLogSink(s)
	s.eng = nbio.NewEngine(nbio.Config{
		Name:               "echobench",
		Network:            "tcp",
		Addrs:              []string{cfg.Addr},
		NPoller:            cfg.Loops,
		ReadBufferSize:     min(64<<10, cfg.MaxPendingBytes),
		MaxWriteBufferSize: cfg.MaxPendingBytes,
	})
	s.eng.OnData(s.onData)
	if err := s.eng.Start(); err != nil {
		removeLogSink(s)
		return nil, fmt.Errorf("nbio: start on %s: %w", cfg.Addr, err)
	}
	// Start rewrote Addrs with the bound addresses, so port 0 works.
	addr, err := net.ResolveTCPAddr("tcp", s.eng.Addrs[0])
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("nbio: bound address %q: %w", s.eng.Addrs[0], err)
	}
	s.addr = addr
	return s, nil
}

// onData echoes what arrived. data aliases the poller's read buffer, valid
// only during the call; Write copies whatever the socket does not take.
func (s *Server) onData(c *nbio.Conn, data []byte) {
	if _, err := c.Write(data); errors.Is(err, nbio.ErrOverflow) {
		s.overCap.Add(1) // nbio has closed the connection
	}
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the engine, which closes the listener and every connection,
// and waits for its goroutines, at most stopGrace. Safe to call more than
// once.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		if err := s.eng.Shutdown(ctx); err != nil {
			s.err = fmt.Errorf("nbio: stop: %w", err)
		}
		removeLogSink(s)
		if n := s.overCap.Load(); n > 0 {
			fmt.Fprintf(s.log, "nbio: %d connections closed for exceeding %d pending bytes\n", n, s.maxPending)
		}
	})
	return s.err
}

// nbio's logger is process-wide. It writes to the Log of the most recently
// started server that is still open (stderr when none is), under logMu, and
// Close takes its server off the list under logMu too, so no line is
// written to a Log after its server's Close has returned.
var (
	logMu    sync.Mutex
	logSinks []*Server // open servers, most recent last
	logOnce  sync.Once
)

// addLogSink makes s's Log the destination of nbio's logs.
func addLogSink(s *Server) {
	logOnce.Do(func() { logging.SetLogger(logger{}) })
	logMu.Lock()
	logSinks = append(logSinks, s)
	logMu.Unlock()
}

// removeLogSink stops sending nbio's logs to s's Log.
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

// logger sends nbio's logs to the current sink, one line each, debug
// dropped.
type logger struct{}

func (logger) printf(level, format string, args []any) {
	logMu.Lock()
	defer logMu.Unlock()
	var w io.Writer = os.Stderr
	if n := len(logSinks); n > 0 {
		w = logSinks[n-1].log
	}
	fmt.Fprintf(w, "nbio: %s: %s\n", level, fmt.Sprintf(format, args...))
}

func (logger) Debug(string, ...any)               {}
func (l logger) Info(format string, args ...any)  { l.printf("info", format, args) }
func (l logger) Warn(format string, args ...any)  { l.printf("warn", format, args) }
func (l logger) Error(format string, args ...any) { l.printf("error", format, args) }
