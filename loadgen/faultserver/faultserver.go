// Package faultserver is an echo server with injectable faults, for testing
// the load generator's accuracy: it delays, stalls, corrupts, drops, closes
// and ignores on purpose, and counts exactly what it did so a test can check
// that every fault landed in the right class.
//
// It is a goroutine-per-connection server built for control, not speed. A
// "chunk" is what one read returned; with request/reply loads of small
// messages a chunk is one message.
package faultserver

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults selects the misbehaviour. Zero values disable each fault.
type Faults struct {
	// Delay holds every chunk this long after it arrived before echoing it.
	Delay time.Duration
	// StallFor out of every StallEvery, no connection echoes anything:
	// chunks due in a stall are held until it ends. Stalls occupy the end of
	// each period, counted from Start.
	StallEvery, StallFor time.Duration
	// CorruptEvery: every Nth chunk (server-wide) is echoed with one byte
	// flipped.
	CorruptEvery int
	// DropEvery: every Nth chunk (server-wide) is not echoed at all.
	DropEvery int
	// CloseAfterBytes: each connection is closed once it has echoed this
	// many bytes; the chunk that crosses the limit is echoed only up to it.
	CloseAfterBytes int64
	// SilentEvery: every Nth accepted connection reads and discards
	// everything and never answers.
	SilentEvery int
	// IdleTimeout closes a connection that has received nothing for this
	// long, as servers with an idle timeout do.
	IdleTimeout time.Duration
	// QueueChunks bounds the chunks read but not yet echoed per connection
	// (default 4096). When the queue is full the server stops reading the
	// connection: a small queue is backpressure for a client that reads
	// slowly, where the default lets the server buffer up to 4096 reads.
	QueueChunks int
	// ClosePendingBytes closes a connection once more than this many bytes
	// wait to be echoed to it, as gnet closes a connection past
	// --max-pending: a slow reader is shed instead of buffered.
	ClosePendingBytes int64
	// ResetEvery: every Nth accepted connection is reset (RST, SO_LINGER 0)
	// as soon as its first bytes arrive, without echoing them: the client
	// has exactly one message outstanding on it.
	ResetEvery int
}

// Stats counts what the server did.
type Stats struct {
	Accepted  int64
	Chunks    int64 // chunks read on answering connections
	Corrupted int64 // corrupted chunks written
	Dropped   int64 // chunks dropped
	// Closed counts connections closed by CloseAfterBytes in the middle of a
	// chunk: the client had a message outstanding.
	Closed int64
	// SilentWithData counts silent connections that received at least one
	// byte: each leaves the client one message without an answer.
	SilentWithData int64
	// RemoteIPs is how many distinct client addresses connected.
	RemoteIPs int
	// IdleClosed counts connections closed by IdleTimeout.
	IdleClosed int64
	// PendingClosed counts connections closed by ClosePendingBytes.
	PendingClosed int64
	// Reset counts connections reset by ResetEvery after bytes arrived.
	Reset int64
}

// Server is a running fault server.
type Server struct {
	f     Faults
	ln    net.Listener
	start time.Time
	wg    sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	remotes map[string]bool
	done    bool

	accepted, chunks, corrupted, dropped, closed, silent atomic.Int64
	idleClosed, pendingClosed, reset                     atomic.Int64
}

// Start listens on 127.0.0.1:0 and serves until Close.
func Start(f Faults) (*Server, error) {
	if f.StallEvery < 0 || f.StallFor < 0 || f.StallFor > f.StallEvery {
		return nil, fmt.Errorf("faultserver: stall %v every %v: want 0 <= stall <= period", f.StallFor, f.StallEvery)
	}
	if f.QueueChunks < 0 || f.IdleTimeout < 0 || f.ClosePendingBytes < 0 || f.ResetEvery < 0 {
		return nil, fmt.Errorf("faultserver: negative queue %d, idle timeout %v or pending cap %d", f.QueueChunks, f.IdleTimeout, f.ClosePendingBytes)
	}
	if f.QueueChunks == 0 {
		f.QueueChunks = 4096
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultserver: listen: %w", err)
	}
	s := &Server{f: f, ln: ln, start: time.Now(), conns: map[net.Conn]struct{}{}, remotes: map[string]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	remotes := len(s.remotes)
	s.mu.Unlock()
	return Stats{
		RemoteIPs: remotes,
		Accepted:  s.accepted.Load(), Chunks: s.chunks.Load(), Corrupted: s.corrupted.Load(),
		Dropped: s.dropped.Load(), Closed: s.closed.Load(), SilentWithData: s.silent.Load(),
		IdleClosed: s.idleClosed.Load(), PendingClosed: s.pendingClosed.Load(),
		Reset: s.reset.Load(),
	}
}

// Close stops accepting, closes every connection and waits for the
// connection goroutines to end.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		n := s.accepted.Add(1)
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			s.remotes[a.IP.String()] = true
		}
		s.wg.Add(1)
		s.mu.Unlock()
		silent := s.f.SilentEvery > 0 && n%int64(s.f.SilentEvery) == 0
		if s.f.ResetEvery > 0 && n%int64(s.f.ResetEvery) == 0 {
			go s.resetOnData(c)
			continue
		}
		go s.serve(c, silent)
	}
}

type chunk struct {
	data    []byte
	release time.Time
	corrupt bool
}

// resetOnData resets c once its first bytes arrive (or closes it quietly if
// the client leaves first).
func (s *Server) resetOnData(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	if n, _ := c.Read(buf); n > 0 {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		s.reset.Add(1)
	}
}

func (s *Server) serve(c net.Conn, silent bool) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if silent {
		buf := make([]byte, 64<<10)
		counted := false
		for {
			n, err := c.Read(buf)
			if n > 0 && !counted {
				// Counted on arrival, before the client can time it out.
				s.silent.Add(1)
				counted = true
			}
			if err != nil {
				return
			}
		}
	}
	out := make(chan chunk, s.f.QueueChunks)
	var pending atomic.Int64 // bytes read and not yet echoed
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.write(c, out, &pending)
	}()
	defer func() {
		close(out)
		<-writerDone
	}()
	buf := make([]byte, 64<<10)
	for {
		if s.f.IdleTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(s.f.IdleTimeout))
		}
		n, err := c.Read(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() && s.f.IdleTimeout > 0 {
			s.idleClosed.Add(1)
			c.Close()
			return
		}
		if n > 0 && s.f.ClosePendingBytes > 0 && pending.Add(int64(n)) > s.f.ClosePendingBytes {
			s.pendingClosed.Add(1)
			// Closed before waiting for the writer, which may be blocked
			// writing to the client that does not read.
			c.Close()
			return
		}
		if n > 0 {
			arrived := time.Now()
			k := s.chunks.Add(1)
			if s.f.DropEvery > 0 && k%int64(s.f.DropEvery) == 0 {
				s.dropped.Add(1)
			} else {
				ch := chunk{data: append([]byte(nil), buf[:n]...), release: arrived.Add(s.f.Delay)}
				if s.f.CorruptEvery > 0 && k%int64(s.f.CorruptEvery) == 0 {
					ch.data[len(ch.data)/2] ^= 0xff
					ch.corrupt = true
				}
				select {
				case out <- ch:
				case <-writerDone:
					return
				}
			}
		}
		if err != nil {
			return // EOF, reset or closed by the writer
		}
	}
}

// write echoes chunks in order, each at its release time or, if that falls
// in a stall, when the stall ends.
func (s *Server) write(c net.Conn, in <-chan chunk, pending *atomic.Int64) {
	var written int64
	for ch := range in {
		t := s.stallEnd(ch.release)
		if d := time.Until(t); d > 0 {
			time.Sleep(d)
		}
		data := ch.data
		crossing := false
		if lim := s.f.CloseAfterBytes; lim > 0 && written+int64(len(data)) >= lim {
			crossing = written+int64(len(data)) > lim
			data = data[:lim-written]
		}
		if _, err := c.Write(data); err != nil {
			c.Close()
			drain(in)
			return
		}
		if ch.corrupt {
			s.corrupted.Add(1)
		}
		pending.Add(-int64(len(ch.data)))
		written += int64(len(data))
		if s.f.CloseAfterBytes > 0 && written >= s.f.CloseAfterBytes {
			if crossing {
				s.closed.Add(1)
			}
			c.Close()
			drain(in)
			return
		}
	}
}

// stallEnd returns t, or the end of the stall t falls in.
func (s *Server) stallEnd(t time.Time) time.Time {
	if s.f.StallFor <= 0 {
		return t
	}
	since := t.Sub(s.start)
	period := since / s.f.StallEvery
	phase := since - period*s.f.StallEvery
	if phase < s.f.StallEvery-s.f.StallFor {
		return t
	}
	return s.start.Add((period + 1) * s.f.StallEvery)
}

func drain(in <-chan chunk) {
	for range in {
	}
}
