// Package netconn is the goroutine-per-connection echo server model on the
// standard net package: one accept loop, one goroutine per connection that
// reads into its own buffer and writes every byte back before reading again.
//
// Backpressure is natural here: Write blocks until the kernel has taken all
// of the bytes, and while it blocks the goroutine does not read, so a client
// that stops reading fills the socket buffers and then its own writes stall.
// The server never holds more than one buffer (bufSize) of a connection's
// output, whatever Config.MaxPendingBytes says.
//
// Buffers come from a sync.Pool: a connection holds its buffer for its whole
// life, so pooling does nothing for the steady state, but under connection
// churn (many short connections) it reuses buffers instead of allocating
// 32 KiB per connection and leaving them to the collector.
//
// With work (Config.Work), the connection's goroutine is the handler, as a
// net/http handler is: it reads until a whole request (RequestSizeBytes) is
// in its buffer, does the request's work right there (time.Sleep for both
// wait and block, since a goroutine that sleeps is this model's
// non-blocking wait; work.Spin for cpu), writes the request back, then
// serves the next request already buffered or reads again. Bytes of an
// unfinished request wait in the buffer; the buffer holds at most one read
// beyond a request, so buffering stays bounded as without work. Ordinals for
// the exp draws are per process, in accept order.
//
// Accept errors never end the server: temporary ones (EMFILE, ENFILE,
// ECONNABORTED and anything net reports as temporary) are retried after a
// pause that doubles from 5 ms up to 1 s, as net/http does; so are the
// others, logged, since a server that stops accepting would fail silently.
// Only closing the listener (Close) ends the accept loop.
package netconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"echobench/servers"
	"echobench/servers/work"
)

// bufSize is io.Copy's buffer size: big enough that a 16 KiB message is one
// read, small enough that 1000 connections cost 32 MiB of buffers.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

const (
	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = time.Second
)

// Server is a running netconn model. It implements servers.Server.
type Server struct {
	ln   net.Listener
	log  io.Writer
	work work.Spec
	// requestSize frames requests when work is on.
	requestSize int
	accepted    atomic.Uint64 // connection ordinals, for the exp draws
	done        chan struct{}
	wg          sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	once     sync.Once
	closeErr error
}

// Start listens on cfg.Addr and serves it until Close.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	cfg = cfg.WithDefaults()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("netconn: listen %s: %w", cfg.Addr, err)
	}
	s := &Server{ln: ln, log: cfg.Log, work: cfg.Work, requestSize: cfg.RequestSizeBytes,
		done: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and waits for all the
// server's goroutines. Safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.closeErr = s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("netconn: close listener: %w", s.closeErr)
		}
	})
	return s.closeErr
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var pause time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if pause == 0 {
				pause = minAcceptPause
			} else if pause < maxAcceptPause {
				pause = min(2*pause, maxAcceptPause)
			}
			kind := "error"
			if isTemporary(err) {
				kind = "temporary error"
			}
			fmt.Fprintf(s.log, "netconn: accept %s: %v; retrying in %v\n", kind, err, pause)
			t := time.NewTimer(pause)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		pause = 0
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		if s.work.Kind == work.None {
			go s.serve(c)
		} else {
			go s.serveWork(c, work.NewRand(s.accepted.Add(1)-1))
		}
	}
}

// isTemporary reports accept errors that are expected to clear by themselves.
func isTemporary(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
		return true
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// track records c so Close can close it; false means the server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// serve echoes c until EOF or an error. Each write completes before the
// next read, so every byte read has been written back by the time EOF is
// seen: closing then loses nothing.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveWork is serve with work per request. buf[:end] holds what was read
// and not yet served; every complete request in it is served, in order,
// before the next read, and the unfinished rest moves to the front.
func (s *Server) serveWork(c net.Conn, r work.Rand) {
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.Close()
	size := s.requestSize
	var buf []byte
	if size <= bufSize {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf = *bp
	} else {
		buf = make([]byte, size) // one request must fit: up to 16 MiB
	}
	end := 0
	for {
		n, err := c.Read(buf[end:])
		end += n
		start := 0
		for ; end-start >= size; start += size {
			s.do(&r)
			if _, werr := c.Write(buf[start : start+size]); werr != nil {
				return
			}
		}
		end = copy(buf, buf[start:end])
		if err != nil {
			return // at EOF an unfinished request is never served
		}
	}
}

// do is one request's work, in the connection's goroutine.
func (s *Server) do(r *work.Rand) {
	d := s.work.Duration(r)
	if s.work.Kind == work.CPU {
		work.Spin(d)
		return
	}
	time.Sleep(d) // wait and block alike: a sleeping goroutine blocks no one else
}
