//go:build linux && (amd64 || arm64)

// Package iouring is the raw io_uring echo server model: one ring per event
// loop, driven through io_uring_setup, io_uring_enter and io_uring_register
// on golang.org/x/sys/unix alone (no cgo, no io_uring library).
//
// Each loop keeps a multishot accept armed on its listener and a multishot
// recv armed on every connection, both for as long as they can be: the
// kernel posts a completion per accepted connection and per received chunk
// without the loop asking again. Received bytes land in a provided buffer
// ring (IORING_REGISTER_PBUF_RING): 1024 buffers of 16 KiB per loop in
// anonymous memory, taken by the kernel one per completion and given back
// by the loop once the bytes are sent. The echo is a send straight from
// that buffer, so a request/reply exchange costs the loop no copy and no
// system call of its own beyond the io_uring_enter that submits the send
// and waits for the next completions. A send that takes only part of the
// buffer is resubmitted for the rest.
//
// While a send is in flight, later bytes of the same connection are copied
// into its pending queue (64 KiB chunks reused across connections, as in
// the epoll model) and their buffer goes back at once, so one connection
// holds at most one buffer and sends never overlap (they could reorder).
// Backpressure is the epoll model's rule: while pending output is at or
// above Config.MaxPendingBytes the connection's multishot recv is cancelled
// (IORING_OP_ASYNC_CANCEL) and only re-armed once output drops below it, so
// a client that stops reading meets TCP backpressure.
//
// Half-close: a recv of 0 bytes is the client's FIN; the loop sends what is
// pending, then closes the socket. A connection that
// fails is shut down (SHUT_RDWR), which ends its pending recv and send, and
// closed once both have completed: an io_uring request holds the socket
// open, so closing first would leave them armed.
//
// The rings are created with IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN:
// completions are run only when the loop waits for them, in its own
// thread, so each loop goroutine is locked to its OS thread. Close wakes a
// loop through an eventfd it keeps a POLL_ADD on (no other goroutine ever
// touches a ring); the loop then cancels everything in flight, waits for
// the cancellations (at most 1 s) and closes its sockets and ring.
//
// Ownership: a buffer of the ring belongs to the kernel from the moment it
// is provided until a recv completion names it; then to the loop, which
// either sends from it (the kernel reads it until the send completes) or
// copies it into the pending queue, and gives it back by writing a ring
// entry. Pending chunks belong to their connection until sent. Each loop
// goroutine owns its ring, buffers, listener and connections; Close only
// writes to the loop's eventfd.
//
// Start first probes the kernel (Probe): io_uring enabled, the setup flags,
// the features and operations above, buffer rings and multishot recv. What
// is missing is named in the error, so the model is reported unavailable
// instead of failing at run time.
package iouring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"echobench/servers"
	"echobench/servers/internal/rawlisten"
)

const (
	// sqEntries bounds the requests queued between two io_uring_enter
	// calls; a full SQ is submitted early.
	sqEntries = 1024
	// cqEntries leaves room for the completions multishot requests post
	// without a new submission (the kernel buffers any overflow).
	cqEntries = 8192
	// bufSizeBytes and bufCount make the buffer ring: one buffer per recv
	// completion. 16 KiB holds a 16 KiB message whole; 1024 of them cover
	// the connections that receive between two waits at our connection
	// counts. Memory is touched only as far as data reaches into each
	// buffer. A recv that finds the ring empty ends (ENOBUFS) and is
	// re-armed when a buffer comes back.
	bufSizeBytes = 16 << 10
	bufCount     = 1024
	bufGroup     = 0
	// chunkSizeBytes is the unit of pending output, as in the epoll model.
	chunkSizeBytes = 64 << 10
	// maxFreeChunks bounds the chunks a loop keeps for reuse (4 MiB).
	maxFreeChunks = 64

	minAcceptPause = 5 * time.Millisecond
	maxAcceptPause = 320 * time.Millisecond
	// drainTimeout bounds the wait for cancelled requests at Close, well
	// inside the contract's 2 s.
	drainTimeout = time.Second
)

// Request kinds, the upper half of a request's user_data; the lower half is
// the connection's fd (a connection is closed only once none of its
// requests is in flight, so an fd in a completion is never a reused one).
const (
	kindAccept = iota + 1
	kindRecv
	kindSend
	kindCancel    // cancels a connection's recv (backpressure)
	kindWake      // POLL_ADD on the eventfd Close writes to
	kindTimer     // end of an accept pause
	kindCancelAll // at Close: cancels everything
	kindGuard     // at Close: bounds the wait for the cancellations
)

func tag(kind, fd int) uint64 { return uint64(kind)<<32 | uint64(uint32(fd)) }

// Server is a running io_uring model. It implements servers.Server.
type Server struct {
	addr  net.Addr
	loops []*loop
	wg    sync.WaitGroup
	once  sync.Once
	errMu sync.Mutex
	err   error
}

// Start probes the kernel, binds cfg.Addr and starts cfg.Loops loops. It
// returns once every ring is set up and every listener accepts.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	if err := servers.EchoOnly("iouring", cfg); err != nil {
		return nil, err
	}
	return start(ctx, cfg, bufCount)
}

// start is Start with the buffer ring's size given, so that a test can run
// the loops short of buffers.
func start(ctx context.Context, cfg servers.Config, nbufs int) (servers.Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := Probe(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	// Blocking sockets: io_uring tries each operation without waiting and
	// polls when it cannot complete, whereas an O_NONBLOCK socket's accepts
	// would come back as EAGAIN.
	lfds, addr, err := rawlisten.All("iouring", cfg.Addr, cfg.Loops, false)
	if err != nil {
		return nil, err
	}
	s := &Server{addr: addr}
	ready := make(chan error, len(lfds))
	for i, lfd := range lfds {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			for _, fd := range lfds[i:] {
				unix.Close(fd)
			}
			s.Close()
			return nil, fmt.Errorf("iouring: eventfd: %w", err)
		}
		l := &loop{s: s, idx: i, lfd: lfd, efd: efd, maxPending: cfg.MaxPendingBytes, log: cfg.Log, nbufs: nbufs}
		s.loops = append(s.loops, l)
		s.wg.Add(1)
		go l.run(ready)
	}
	var errs error
	for range s.loops {
		errs = errors.Join(errs, <-ready)
	}
	if errs != nil {
		s.Close()
		return nil, errs
	}
	return s, nil
}

// Addr is the bound listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close wakes every loop, which cancels its requests and closes its
// listener, connections and ring, and waits for the loops to end. Safe to
// call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		one := [8]byte{1}
		for _, l := range s.loops {
			if _, err := unix.Write(l.efd, one[:]); err != nil && err != unix.EAGAIN {
				s.setErr(fmt.Errorf("iouring: wake loop %d: %w", l.idx, err))
			}
		}
		s.wg.Wait()
		for _, l := range s.loops {
			unix.Close(l.efd)
		}
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
	fd int
	// Requests in flight, and why a recv is not.
	recvArmed  bool // a multishot recv is armed
	cancelling bool // an ASYNC_CANCEL of that recv is in flight
	sending    bool // a send is in flight
	starved    bool // the recv ended for lack of buffers: in loop.starved
	eof        bool // the client half-closed: flush, then close
	closing    bool // shut down; closed once nothing is in flight
	// The in-flight send reads buffer sendBid's [sendOff, sendEnd), or,
	// with sendBid -1, out[0][head:].
	sendBid          int32
	sendOff, sendEnd int
	// out holds output queued behind the in-flight send: out[0][head:],
	// out[1], ... Every chunk but the last is full.
	out  [][]byte
	head int
	// pending counts the bytes received and not yet sent: the in-flight
	// send's rest plus out.
	pending int
}

// loop is one event loop and everything it owns.
type loop struct {
	s          *Server
	idx        int
	lfd        int
	efd        int // Close writes here; closed by Close after the loop ends
	maxPending int
	log        io.Writer
	nbufs      int // buffers in the ring: bufCount but in tests

	r       *ring
	bufs    *bufRing
	conns   []*conn  // indexed by fd
	free    [][]byte // drained chunks kept for reuse
	starved []*conn  // recvs ended by ENOBUFS, re-armed when a buffer returns
	// returned: a buffer went back since the starved were last re-armed.
	returned bool
	// inflight counts requests whose last completion is still to come.
	inflight    int
	stopping    bool
	broken      bool // the SQ stopped taking requests: no drain possible
	timerArmed  bool
	guardFired  bool
	acceptPause time.Duration
	// ts is the duration a TIMEOUT request points to; the kernel reads it
	// when the request is submitted.
	ts      unix.Timespec
	scratch sqe // filled when the SQ is broken, so callers need no check
}

func (l *loop) logf(format string, args ...any) {
	fmt.Fprintf(l.log, "iouring: loop %d: "+format+"\n", append([]any{l.idx}, args...)...)
}

func (l *loop) fail(err error) {
	err = fmt.Errorf("iouring: loop %d: %w", l.idx, err)
	l.s.setErr(err)
	fmt.Fprintln(l.log, err)
}

// run sets the loop up on its own locked thread (a SINGLE_ISSUER ring
// belongs to the thread that creates it), reports to Start, and serves.
func (l *loop) run(ready chan<- error) {
	defer l.s.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := l.init(); err != nil {
		if l.r != nil {
			l.r.close()
		}
		unix.Close(l.lfd)
		ready <- fmt.Errorf("iouring: loop %d: %w", l.idx, err)
		return
	}
	ready <- nil
	l.serve()
	l.shutdown()
}

func (l *loop) init() error {
	r, err := newRing(sqEntries, cqEntries, ringFlags)
	if err != nil {
		return err
	}
	l.r = r
	if l.bufs, err = newBufRing(r, l.nbufs, bufSizeBytes, bufGroup); err != nil {
		return err
	}
	s := l.sqe()
	s.opcode, s.fd, s.opFlags, s.userData = opPollAdd, int32(l.efd), unix.POLLIN, tag(kindWake, 0)
	l.inflight++
	l.armAccept()
	return nil
}

// sqe returns the next SQE to fill. If the kernel stopped taking requests,
// the loop is broken: it stops, and the SQE returned is a scratch one.
func (l *loop) sqe() *sqe {
	if s := l.r.next(); s != nil {
		return s
	}
	if !l.broken {
		l.broken, l.stopping = true, true
		l.fail(errors.New("the submission queue takes no more requests"))
	}
	l.scratch = sqe{}
	return &l.scratch
}

// serve submits, waits and handles completions until Close or a failure.
func (l *loop) serve() {
	for !l.stopping {
		if !l.wait() {
			return
		}
		l.reap()
	}
}

// wait publishes the returned buffers, submits what is queued and waits for
// at least one completion. It reports false on a failure that ends the loop.
func (l *loop) wait() bool {
	l.bufs.publish()
	switch errno := l.r.enter(1, 0); errno {
	case 0, unix.EINTR, unix.EAGAIN, unix.EBUSY:
		return true
	default:
		l.fail(fmt.Errorf("io_uring_enter: %w", errno))
		return false
	}
}

// reap handles every completion in the CQ, then re-arms the connections
// starved of buffers if some came back.
func (l *loop) reap() {
	for {
		c, ok := l.r.peek()
		if !ok {
			break
		}
		l.r.advance()
		l.complete(c)
	}
	if l.returned && len(l.starved) > 0 {
		l.rearmStarved()
	}
}

func (l *loop) complete(c cqe) {
	kind, fd := int(c.userData>>32), int(int32(uint32(c.userData)))
	more := c.flags&cqeFMore != 0
	if !more && kind != kindGuard {
		l.inflight--
	}
	switch kind {
	case kindAccept:
		l.onAccept(c.res, more)
	case kindRecv:
		l.onRecv(l.conns[fd], c.res, c.flags, more)
	case kindSend:
		l.onSend(l.conns[fd], c.res)
	case kindCancel:
		cn := l.conns[fd]
		cn.cancelling = false
		l.settle(cn)
	case kindWake:
		l.stopping = true
	case kindTimer:
		l.timerArmed = false
		if !l.stopping {
			l.armAccept()
		}
	case kindGuard:
		l.guardFired = true
	}
}

func (l *loop) armAccept() {
	s := l.sqe()
	s.opcode, s.fd, s.ioprio, s.opFlags, s.userData = opAccept, int32(l.lfd), acceptMultishot, unix.SOCK_CLOEXEC, tag(kindAccept, l.lfd)
	l.inflight++
}

func (l *loop) onAccept(res int32, more bool) {
	if res >= 0 {
		l.acceptPause = 0
		l.addConn(int(res))
	}
	if more || l.stopping {
		return
	}
	// The multishot accept ended: re-arm it, after a pause when the error
	// says retrying at once would fail the same way.
	switch errno := unix.Errno(-res); {
	case res >= 0, errno == unix.EINTR, errno == unix.ECONNABORTED, errno == unix.EPROTO, errno == unix.EPERM, errno == unix.EAGAIN:
		l.armAccept()
	default: // EMFILE, ENFILE, ENOBUFS, ENOMEM or worse
		l.pauseAccept(errno)
	}
}

func (l *loop) pauseAccept(err error) {
	if l.acceptPause == 0 {
		l.acceptPause = minAcceptPause
	} else if l.acceptPause < maxAcceptPause {
		l.acceptPause *= 2
	}
	l.logf("accept: %v; pausing accepts for %v", err, l.acceptPause)
	l.armTimeout(l.acceptPause, kindTimer)
	l.timerArmed = true
	l.inflight++
}

// armTimeout submits an IORING_OP_TIMEOUT that completes after d.
func (l *loop) armTimeout(d time.Duration, kind int) {
	l.ts = unix.NsecToTimespec(int64(d))
	s := l.sqe()
	s.opcode, s.addr, s.len, s.userData = opTimeout, uint64(uintptr(unsafe.Pointer(&l.ts))), 1, tag(kind, 0)
}

func (l *loop) addConn(fd int) {
	if l.stopping {
		unix.Close(fd)
		return
	}
	// Nagle would hold small echoes back waiting for an ACK.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		l.logf("TCP_NODELAY on fd %d: %v", fd, err)
	}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, len(l.conns)+64)...)
	}
	c := &conn{fd: fd, sendBid: -1}
	l.conns[fd] = c
	l.armRecv(c)
}

func (l *loop) armRecv(c *conn) {
	s := l.sqe()
	s.opcode, s.fd, s.ioprio, s.flags, s.bufGroup, s.userData = opRecv, int32(c.fd), recvMultishot, sqeBufferSelect, bufGroup, tag(kindRecv, c.fd)
	l.inflight++
	c.recvArmed = true
}

func (l *loop) cancelRecv(c *conn) {
	s := l.sqe()
	s.opcode, s.fd, s.addr, s.userData = opAsyncCancel, -1, tag(kindRecv, c.fd), tag(kindCancel, c.fd)
	l.inflight++
	c.cancelling = true
}

// onRecv handles one recv completion: bytes to echo, and, when the
// multishot recv ended, why.
func (l *loop) onRecv(c *conn, res int32, flags uint32, more bool) {
	if !more {
		c.recvArmed = false
	}
	if res > 0 {
		bid := uint16(flags >> bufferShift)
		if c.closing || l.stopping {
			l.putBuf(bid)
		} else {
			l.echo(c, bid, int(res))
		}
	}
	if !more && !c.closing {
		switch {
		case res > 0, res == -int32(unix.ECANCELED):
			// Ended by our cancel, or by the kernel after delivering:
			// settle re-arms it when wanted.
		case res == 0:
			c.eof = true
		case res == -int32(unix.ENOBUFS):
			c.starved = true
			l.starved = append(l.starved, c)
		default: // reset or another error: nothing more can be echoed
			l.closeConn(c)
			return
		}
	}
	l.settle(c)
}

// echo sends n received bytes from buffer bid: straight from the buffer
// when nothing is ahead of them, else copied behind the pending output.
func (l *loop) echo(c *conn, bid uint16, n int) {
	c.pending += n
	if !c.sending && len(c.out) == 0 {
		c.sendBid, c.sendOff, c.sendEnd = int32(bid), 0, n
		l.send(c, l.bufs.buf(bid, n))
		return
	}
	l.queue(c, l.bufs.buf(bid, n))
	l.putBuf(bid)
}

func (l *loop) send(c *conn, p []byte) {
	s := l.sqe()
	s.opcode, s.fd, s.addr, s.len = opSend, int32(c.fd), uint64(uintptr(unsafe.Pointer(&p[0]))), uint32(len(p))
	s.opFlags, s.userData = unix.MSG_NOSIGNAL, tag(kindSend, c.fd)
	l.inflight++
	c.sending = true
}

// onSend handles a send completion: the rest of a short send goes again,
// a finished buffer goes back to the kernel, and queued output follows.
func (l *loop) onSend(c *conn, res int32) {
	c.sending = false
	live := res > 0 && !c.closing && !l.stopping
	if res > 0 {
		c.pending -= int(res)
	}
	if c.sendBid >= 0 {
		c.sendOff += max(int(res), 0)
		if live && c.sendOff < c.sendEnd {
			l.send(c, l.bufs.buf(uint16(c.sendBid), c.sendEnd)[c.sendOff:])
			return
		}
		l.putBuf(uint16(c.sendBid))
		c.sendBid = -1
	} else if res > 0 {
		l.consumed(c, int(res))
	}
	switch {
	case res <= 0 && !c.closing:
		l.closeConn(c)
		return
	case live && len(c.out) > 0:
		l.send(c, c.out[0][c.head:])
	}
	l.settle(c)
}

// settle brings c's requests in line with its state: close when done,
// recv armed while the client may send and pending output is under the
// cap, cancelled while it is not.
func (l *loop) settle(c *conn) {
	switch {
	case l.stopping:
	case c.closing:
		if !c.recvArmed && !c.sending && !c.cancelling {
			l.finalize(c)
		}
	case c.eof:
		if c.pending == 0 && !c.sending {
			l.closeConn(c)
		}
	case c.pending < l.maxPending:
		if !c.recvArmed && !c.starved && !c.cancelling {
			l.armRecv(c)
		}
	case c.recvArmed && !c.cancelling:
		l.cancelRecv(c)
	}
}

// closeConn shuts c down, which completes its recv and send, and closes it
// once they have (settle → finalize).
func (l *loop) closeConn(c *conn) {
	c.closing = true
	if c.recvArmed || c.sending {
		unix.Shutdown(c.fd, unix.SHUT_RDWR)
	}
	l.settle(c)
}

func (l *loop) finalize(c *conn) {
	for _, b := range c.out {
		l.recycle(b)
	}
	c.out, c.pending = nil, 0
	unix.Close(c.fd)
	l.conns[c.fd] = nil
	c.fd = -1
}

func (l *loop) putBuf(bid uint16) {
	l.bufs.put(bid)
	l.returned = true
}

// rearmStarved re-arms the recvs that ended for lack of buffers. Those that
// find the ring empty again end again and wait for the next return.
func (l *loop) rearmStarved() {
	l.returned = false
	list := l.starved
	l.starved = l.starved[:0]
	for i, c := range list {
		list[i] = nil
		c.starved = false
		if c.fd >= 0 {
			l.settle(c)
		}
	}
}

// queue appends data to c's pending output.
func (l *loop) queue(c *conn, data []byte) {
	for len(data) > 0 {
		if n := len(c.out); n == 0 || len(c.out[n-1]) == chunkSizeBytes {
			c.out = append(c.out, l.chunk())
		}
		last := &c.out[len(c.out)-1]
		k := copy((*last)[len(*last):chunkSizeBytes], data)
		*last = (*last)[:len(*last)+k]
		data = data[k:]
	}
}

// consumed drops n sent bytes from the front of c's queue. No send is in
// flight, so a drained chunk can be reused at once; the slice of chunks
// keeps its backing array, so queueing again does not allocate.
func (l *loop) consumed(c *conn, n int) {
	c.head += n
	if c.head < len(c.out[0]) {
		return
	}
	l.recycle(c.out[0])
	copy(c.out, c.out[1:])
	c.out[len(c.out)-1] = nil
	c.out = c.out[:len(c.out)-1]
	c.head = 0
}

// chunk returns an empty chunk, reused when one is free.
func (l *loop) chunk() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, chunkSizeBytes)
}

func (l *loop) recycle(b []byte) {
	if len(l.free) < maxFreeChunks {
		l.free = append(l.free, b[:0])
	}
}

// shutdown cancels every request, waits for the cancellations, and closes
// what the loop owns. The buffers are unmapped only when nothing in flight
// can still write to them; otherwise they are left mapped (the process is
// about to exit, and a late write must not land in reused memory).
func (l *loop) shutdown() {
	drained := l.drain()
	for fd, c := range l.conns {
		if c != nil {
			unix.Close(fd)
			l.conns[fd] = nil
		}
	}
	if err := unix.Close(l.lfd); err != nil {
		l.fail(fmt.Errorf("close listener: %w", err))
	}
	if err := l.r.close(); err != nil {
		l.fail(fmt.Errorf("close ring: %w", err))
	}
	if drained {
		l.bufs.free()
	} else {
		l.logf("%d requests still in flight after %v; their buffers stay mapped", l.inflight, drainTimeout)
	}
}

// drain cancels every request in flight and handles completions until all
// have ended or drainTimeout passes. It reports whether all ended.
func (l *loop) drain() bool {
	l.stopping = true
	if l.broken {
		return false
	}
	s := l.sqe()
	s.opcode, s.fd, s.opFlags, s.userData = opAsyncCancel, -1, cancelAll|cancelAny, tag(kindCancelAll, 0)
	l.inflight++
	l.armTimeout(drainTimeout, kindGuard)
	for l.inflight > 0 && !l.guardFired && !l.broken {
		if !l.wait() {
			return false
		}
		l.reap()
	}
	return l.inflight == 0
}
