// Package epoll is the raw epoll echo server model: level-triggered event loops
// on golang.org/x/sys/unix through internal/poller, the Go counterpart of the
// minimal C server in ../shared/refecho/refserver.c (outside this repository).
//
// Per readable event a loop does one read of up to 64 KiB into the loop's
// buffer and writes it straight back: one read and one write per message, no
// epoll_ctl and no allocation (perf stat counted exactly one read and one
// write per echoed message, and epoll_ctl only per connection). The read and
// write are internal/rawio's recvfrom and sendto: one system call each,
// without the runtime's syscall bookkeeping (the sockets are non-blocking, so
// there is never a blocked thread to hand over) or the kernel's file layer.
// Only a partial write changes the registration: the rest is copied into the
// connection's pending buffer and EPOLLOUT is armed until it drains. While pending output is at or above
// Config.MaxPendingBytes the connection is not read (EPOLLIN dropped), so a
// client that stops reading meets TCP backpressure instead of growing the
// server: pending output stays below MaxPendingBytes plus one read.
//
// With Config.Loops > 1 every loop owns a listener bound to the same address
// with SO_REUSEPORT and accepts for itself: the kernel spreads connections
// across the loops by their address hash, so no loop hands file descriptors to
// another and nothing is shared between loops. The price is that the spread is
// statistical (a few connections may land unevenly) where a round-robin
// acceptor would be exact; for the tens to thousands of connections we
// measure, the hash spread is close to even and costs no cross-thread wake-up.
//
// Half-close: on read EOF a loop stops reading, flushes all pending output,
// then closes. Accept errors never stop the server: EMFILE, ENFILE, ENOBUFS and
// ENOMEM take the listener out of the poll set for a growing pause (5 ms up to
// 320 ms) so the loop keeps serving its connections meanwhile; other accept
// errors are logged and retried the same way.
//
// Work per request (Config.Work) is in work.go; with work none the loop runs
// exactly the echo above.
//
// Ownership: each loop goroutine owns its poller, its read buffer, its
// listener and its connections (and their pending buffers); no other
// goroutine touches them. Close only sets a flag and wakes the loops, which
// close everything themselves.
package epoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"echobench/internal/poller"
	"echobench/internal/rawio"
	"echobench/servers"
	"echobench/servers/internal/rawlisten"
	"echobench/servers/work"
)

const (
	// readBufSize is one read per readable event, as in the C reference.
	readBufSize = 64 << 10
	// maxEvents bounds one epoll_wait batch, as in the C reference.
	maxEvents = 512
	// acceptBatch bounds accepts per listener event so a connect storm
	// cannot starve established connections.
	acceptBatch = 256
	// chunkSize is the unit of pending output. Pending output is a queue of
	// fixed chunks rather than one growing slice, so it never copies what
	// is already queued and its memory is the pending bytes rounded up to a
	// chunk, with no garbage left behind by growth.
	chunkSize = 64 << 10
	// maxFreeChunks bounds the chunks a loop keeps for reuse (4 MiB).
	maxFreeChunks = 64

	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = 320 * time.Millisecond
)

// lockOSThread, when true, pins each loop goroutine to its own OS thread.
// It is off: a loop goroutine never parks on a Go primitive (it blocks only
// inside epoll_wait), so it keeps running on the same thread anyway, and a
// short interleaved run with GOMAXPROCS=1 (50 connections, 64 B) showed no
// gain: 137k msg/s locked against 143k unlocked, within that run's noise.
// Flip it and rebuild to measure again on a quiet machine.
const lockOSThread = false

// Server is a running epoll model. It implements servers.Server.
type Server struct {
	addr    net.Addr
	loops   []*loop
	wg      sync.WaitGroup
	closing atomic.Bool
	// accepted numbers connections across loops, for the exp draws.
	accepted atomic.Uint64
	once     sync.Once
	errMu    sync.Mutex
	err      error
}

// Start binds cfg.Addr and starts cfg.Loops event loops. It returns once every
// listener is bound and listening.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{}
	lfds, addr, err := rawlisten.All("epoll", cfg.Addr, cfg.Loops, true)
	if err != nil {
		return nil, err
	}
	s.addr = addr
	for i, lfd := range lfds {
		l, err := newLoop(s, i, lfd, cfg)
		if err != nil {
			for _, fd := range lfds[i:] {
				unix.Close(fd)
			}
			for _, l := range s.loops {
				l.release()
			}
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	s.wg.Add(len(s.loops))
	for _, l := range s.loops {
		go l.run()
	}
	return s, nil
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close wakes every loop, which closes its listener and connections, and
// waits for the loops to end. Safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.closing.Store(true)
		for _, l := range s.loops {
			if err := l.p.Wake(); err != nil {
				s.setErr(fmt.Errorf("epoll: wake loop %d: %w", l.idx, err))
			}
		}
		s.wg.Wait()
	})
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	s.err = errors.Join(s.err, err)
	s.errMu.Unlock()
}

// conn is one connection, owned by its loop.
type conn struct {
	fd     int
	events uint32 // what the poller currently watches
	eof    bool   // the client half-closed: stop reading, flush, close
	// out holds unsent output: out[0][head:], out[1], ... Every chunk but
	// the last is full.
	out     [][]byte
	head    int
	pending int // unsent bytes in out

	// With work only (work.go): the request being received or served,
	// req[:have], nil between requests; waiting while its wait runs.
	req     []byte
	have    int
	waiting bool
	rand    work.Rand
}

func (c *conn) pendingLen() int { return c.pending }

// loop is one event loop and everything it owns.
type loop struct {
	s          *Server
	idx        int
	p          *poller.Poller
	lfd        int
	maxPending int
	log        io.Writer
	buf        []byte
	events     []poller.Event
	conns      []*conn    // indexed by fd: fds are small and dense
	free       [][]byte   // drained chunks kept for reuse
	work       *workState // nil with work none

	listening   bool          // the listener is in the poll set
	acceptPause time.Duration // current back-off; 0 when accepting normally
	resumeAt    time.Time     // when a paused listener returns to the poll set
}

func newLoop(s *Server, idx, lfd int, cfg servers.Config) (*loop, error) {
	p, err := poller.New(maxEvents)
	if err != nil {
		return nil, fmt.Errorf("epoll: loop %d: %w", idx, err)
	}
	l := &loop{
		s: s, idx: idx, p: p, lfd: lfd,
		maxPending: cfg.MaxPendingBytes,
		log:        cfg.Log,
		buf:        make([]byte, readBufSize),
		events:     make([]poller.Event, 0, maxEvents),
	}
	if err := p.Add(lfd, poller.In); err != nil {
		p.Close()
		return nil, fmt.Errorf("epoll: loop %d: watch listener: %w", idx, err)
	}
	l.listening = true
	if cfg.Work.Kind != work.None {
		if err := l.startWork(cfg); err != nil {
			p.Close()
			return nil, fmt.Errorf("epoll: loop %d: %w", idx, err)
		}
	}
	return l, nil
}

// startWork sets up the loop's work state and watches its timerfd.
func (l *loop) startWork(cfg servers.Config) error {
	w, err := newWorkState(cfg.Work, cfg.RequestSizeBytes)
	if err != nil {
		return err
	}
	if w.tfd >= 0 {
		if err := l.p.Add(w.tfd, poller.In); err != nil {
			unix.Close(w.tfd)
			return fmt.Errorf("watch timerfd: %w", err)
		}
	}
	l.work = w
	return nil
}

// release frees what newLoop acquired, for a loop that never ran.
func (l *loop) release() {
	l.closeTimer()
	l.p.Close()
	unix.Close(l.lfd)
}

func (l *loop) closeTimer() {
	if l.work != nil && l.work.tfd >= 0 {
		unix.Close(l.work.tfd)
		l.work.tfd = -1
	}
}

func (l *loop) logf(format string, args ...any) {
	fmt.Fprintf(l.log, "epoll: loop %d: "+format+"\n", append([]any{l.idx}, args...)...)
}

func (l *loop) run() {
	defer l.s.wg.Done()
	if lockOSThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	defer l.shutdown()
	for {
		timeout := -1
		if !l.listening {
			timeout = l.resumeTimeoutMs()
		}
		evs, woken, err := l.p.Wait(l.events, timeout)
		l.events = evs[:0]
		if err != nil {
			l.s.setErr(fmt.Errorf("epoll: loop %d: %w", l.idx, err))
			l.logf("stopping: %v", err)
			return
		}
		if woken && l.s.closing.Load() {
			return
		}
		for _, ev := range evs {
			fd := int(ev.Fd)
			if fd == l.lfd {
				l.acceptAll()
				continue
			}
			if fd < len(l.conns) && l.conns[fd] != nil {
				l.handle(l.conns[fd], ev.Events)
			} else if l.work != nil && fd == l.work.tfd {
				l.expire()
			}
		}
		if !l.listening && !time.Now().Before(l.resumeAt) {
			l.resumeAccept()
		}
	}
}

func (l *loop) resumeTimeoutMs() int {
	d := time.Until(l.resumeAt)
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// shutdown closes everything the loop owns.
func (l *loop) shutdown() {
	for fd, c := range l.conns {
		if c != nil {
			unix.Close(fd)
			l.conns[fd] = nil
		}
	}
	if err := unix.Close(l.lfd); err != nil {
		l.s.setErr(fmt.Errorf("epoll: loop %d: close listener: %w", l.idx, err))
	}
	l.closeTimer()
	if err := l.p.Close(); err != nil {
		l.s.setErr(fmt.Errorf("epoll: loop %d: close poller: %w", l.idx, err))
	}
}

func (l *loop) acceptAll() {
	for i := 0; i < acceptBatch; i++ {
		nfd, _, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			switch {
			case errors.Is(err, unix.EAGAIN):
				l.acceptPause = 0
			case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED), errors.Is(err, unix.EPROTO), errors.Is(err, unix.EPERM):
				// The pending connection went away or was refused by a
				// firewall: the listener itself is fine.
				continue
			default:
				// EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: retrying at once
				// would spin, since level-triggered epoll keeps reporting
				// the queued connection.
				l.pauseAccept(err)
			}
			return
		}
		// Nagle would hold small echoes back waiting for an ACK.
		if err := unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			l.logf("TCP_NODELAY on fd %d: %v", nfd, err)
		}
		if err := l.p.Add(nfd, poller.In); err != nil {
			l.logf("%v", err)
			unix.Close(nfd)
			continue
		}
		for nfd >= len(l.conns) {
			l.conns = append(l.conns, make([]*conn, len(l.conns)+64)...)
		}
		c := &conn{fd: nfd, events: poller.In}
		if l.work != nil {
			c.rand = work.NewRand(l.s.accepted.Add(1) - 1)
		}
		l.conns[nfd] = c
	}
}

func (l *loop) pauseAccept(err error) {
	if l.acceptPause == 0 {
		l.acceptPause = minAcceptPause
	} else if l.acceptPause < maxAcceptPause {
		l.acceptPause *= 2
	}
	l.logf("accept: %v; pausing accepts for %v", err, l.acceptPause)
	if err := l.p.Del(l.lfd); err != nil {
		l.logf("%v", err)
		return
	}
	l.listening = false
	l.resumeAt = time.Now().Add(l.acceptPause)
}

func (l *loop) resumeAccept() {
	if err := l.p.Add(l.lfd, poller.In); err != nil {
		l.logf("%v", err)
		l.resumeAt = time.Now().Add(l.acceptPause)
		return
	}
	l.listening = true
}

// handle serves one readiness report. Output goes first, so pending bytes
// leave before new input is read.
func (l *loop) handle(c *conn, ev uint32) {
	if ev&(poller.Err|poller.Hup) != 0 {
		// Reset or both directions shut: nothing can be echoed any more.
		l.closeConn(c)
		return
	}
	if ev&poller.Out != 0 && c.pendingLen() > 0 {
		if !l.flush(c) {
			return
		}
	}
	if ev&poller.In != 0 && c.events&poller.In != 0 {
		switch {
		case l.work == nil:
			l.read(c)
		case c.waiting:
			l.watch(c) // readable while it waits: stop polling its input
		default:
			l.readWork(c)
		}
	}
}

// read does one read and echoes what it got. This is the hot path: one
// read, one write, no epoll_ctl, no allocation when the write completes.
func (l *loop) read(c *conn) {
	n, err := rawio.Recv(c.fd, l.buf)
	if n > 0 {
		l.echo(c, l.buf[:n])
		return
	}
	if err == nil { // n == 0: the client shut down its side
		c.eof = true
		if c.pendingLen() == 0 {
			l.closeConn(c)
			return
		}
		l.watch(c)
		return
	}
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	l.closeConn(c)
}

func (l *loop) echo(c *conn, data []byte) {
	if c.pendingLen() == 0 {
		n, err := write(c.fd, data)
		if n == len(data) {
			return
		}
		if err != nil && err != unix.EAGAIN {
			l.closeConn(c)
			return
		}
		data = data[n:]
	}
	l.queue(c, data)
	l.watch(c)
}

// queue appends data to c's pending output.
func (l *loop) queue(c *conn, data []byte) {
	for len(data) > 0 {
		if n := len(c.out); n == 0 || len(c.out[n-1]) == chunkSize {
			c.out = append(c.out, l.chunk())
		}
		last := &c.out[len(c.out)-1]
		k := copy((*last)[len(*last):chunkSize], data)
		*last = (*last)[:len(*last)+k]
		c.pending += k
		data = data[k:]
	}
}

// chunk returns an empty chunk, reused when one is free.
func (l *loop) chunk() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, chunkSize)
}

// flush writes pending output until it is gone or the socket is full. It
// reports whether the connection is still open.
func (l *loop) flush(c *conn) bool {
	for c.pending > 0 {
		b := c.out[0][c.head:]
		n, err := write(c.fd, b)
		c.head += n
		c.pending -= n
		if n == len(b) {
			l.recycle(c.out[0])
			c.out[0] = nil
			c.out = c.out[1:]
			c.head = 0
		}
		if err == unix.EAGAIN || (err == nil && n < len(b)) {
			break
		}
		if err != nil {
			l.closeConn(c)
			return false
		}
	}
	if c.pending == 0 {
		c.out = c.out[:0:0] // let a long queue's backing array go
		if c.eof {
			l.closeConn(c)
			return false
		}
	}
	return l.watch(c)
}

func (l *loop) recycle(b []byte) {
	if len(l.free) < maxFreeChunks {
		l.free = append(l.free, b[:0])
	}
}

// watch makes the poll registration match c's state: EPOLLOUT only while
// output is pending, EPOLLIN only while the client may still send and
// pending output is under the cap. It reports whether c is still open.
func (l *loop) watch(c *conn) bool {
	var want uint32
	p := c.pendingLen()
	if p > 0 {
		want |= poller.Out
	}
	if !c.eof && p < l.maxPending && !c.waiting {
		want |= poller.In
	}
	if want == c.events {
		return true
	}
	if err := l.p.Mod(c.fd, want); err != nil {
		l.logf("%v", err)
		l.closeConn(c)
		return false
	}
	c.events = want
	return true
}

func (l *loop) closeConn(c *conn) {
	for _, b := range c.out {
		l.recycle(b)
	}
	if l.work != nil {
		l.work.recycle(c)
	}
	c.out, c.pending = nil, 0
	// Closing removes the fd from the epoll set: it is never duplicated.
	unix.Close(c.fd)
	l.conns[c.fd] = nil
	c.fd = -1
}

// write is a non-blocking write that retries EINTR; n is never negative.
func write(fd int, p []byte) (int, error) {
	for {
		n, err := rawio.Send(fd, p)
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}
