package epoll

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"echobench/internal/rawio"
	"echobench/servers/work"
)

// Work per request (Config.Work), as a raw event loop does it:
//
//   - A connection reads at most the rest of its current request, straight
//     into a request buffer (reused from the loop's free list), so nothing
//     is copied on the way in and a connection never holds more than one
//     request of input: further bytes wait in the kernel (TCP flow control).
//   - cpu spins and block sleeps inline, on the loop, before the echo: the
//     loop serves no other connection meanwhile, which is the point of those
//     kinds.
//   - wait pushes the request's deadline onto the loop's heap and returns to
//     epoll_wait; the loop's timerfd, armed at the earliest deadline, wakes
//     it then and the reply is written from the loop. A connection is not
//     read while it waits: EPOLLIN is dropped only if it becomes readable
//     meanwhile (a pipelining client), so request/reply costs no epoll_ctl.
//     A timerfd rather than epoll_wait's timeout, which counts whole
//     milliseconds and would stretch a 1 ms wait to 2.
//
// Ordinals for the exp draws are per process (an atomic counter shared by
// the loops), in accept order. No allocation per request: request buffers
// and heap entries are reused.

// maxFreeReqBytes bounds the request buffers a loop keeps for reuse.
const maxFreeReqBytes = 4 << 20

// deadline is one pending wait.
type deadline struct {
	atNs int64 // on the loop's clock (loop.nowNs)
	c    *conn
}

// deadlineHeap is a binary min-heap on atNs, typed so pushes and pops do
// not box entries as container/heap would.
type deadlineHeap []deadline

func (h *deadlineHeap) push(d deadline) {
	*h = append(*h, d)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].atNs <= s[i].atNs {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *deadlineHeap) pop() deadline {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = deadline{} // drop the *conn reference
	s = s[:last]
	for i := 0; ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s[l].atNs < s[m].atNs {
			m = l
		}
		if r < len(s) && s[r].atNs < s[m].atNs {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}

// workState is a loop's part of the work: nil when Config.Work is none.
type workState struct {
	spec    work.Spec
	reqSize int
	free    [][]byte // request buffers kept for reuse
	maxFree int
	waits   deadlineHeap
	tfd     int   // timerfd; -1 unless the kind is wait
	armedNs int64 // deadline tfd is armed for; 0 when disarmed
	base    time.Time
}

func newWorkState(spec work.Spec, reqSize int) (*workState, error) {
	w := &workState{spec: spec, reqSize: reqSize, tfd: -1, base: time.Now(),
		maxFree: max(1, maxFreeReqBytes/reqSize)}
	if spec.Kind == work.Wait {
		fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("timerfd_create: %w", err)
		}
		w.tfd = fd
	}
	return w, nil
}

func (w *workState) nowNs() int64 { return int64(time.Since(w.base)) }

// readWork reads at most the rest of c's request and serves it once whole.
func (l *loop) readWork(c *conn) {
	w := l.work
	if c.req == nil {
		c.req = l.reqBuf()
	}
	n, err := rawio.Recv(c.fd, c.req[c.have:])
	if n > 0 {
		c.have += n
		if c.have == len(c.req) {
			l.serveRequest(c)
		}
		return
	}
	if err == nil { // EOF: an unfinished request is never served
		w.recycle(c)
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

// serveRequest does the work of c's complete request.
func (l *loop) serveRequest(c *conn) {
	w := l.work
	d := w.spec.Duration(&c.rand)
	switch w.spec.Kind {
	case work.CPU:
		work.Spin(d)
	case work.Block:
		time.Sleep(d)
	case work.Wait:
		c.waiting = true
		w.waits.push(deadline{atNs: w.nowNs() + int64(d), c: c})
		l.armTimer()
		return
	}
	l.reply(c)
}

// reply echoes c's served request and makes c readable again.
func (l *loop) reply(c *conn) {
	l.echo(c, c.req)
	l.work.recycle(c)
	if c.fd < 0 {
		return
	}
	c.waiting = false
	l.watch(c)
}

// reqBuf returns a request buffer, reused when one is free.
func (l *loop) reqBuf() []byte {
	w := l.work
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return make([]byte, w.reqSize)
}

// recycle takes c's request buffer back.
func (w *workState) recycle(c *conn) {
	if c.req != nil && len(w.free) < w.maxFree {
		w.free = append(w.free, c.req)
	}
	c.req, c.have = nil, 0
}

// expire replies to every request whose wait has ended and re-arms the
// timer for the next one.
func (l *loop) expire() {
	w := l.work
	var buf [8]byte
	unix.Read(w.tfd, buf[:]) // drain; EAGAIN after a re-arm is fine
	w.armedNs = 0
	now := w.nowNs()
	for len(w.waits) > 0 && w.waits[0].atNs <= now {
		c := w.waits.pop().c
		if c.fd >= 0 { // else it closed while it waited
			l.reply(c)
		}
	}
	l.armTimer()
}

// armTimer arms the timerfd at the earliest pending deadline, unless it is
// armed there already.
func (l *loop) armTimer() {
	w := l.work
	if len(w.waits) == 0 {
		return // a stale expiry is harmless: expire finds nothing due
	}
	at := w.waits[0].atNs
	if at == w.armedNs {
		return
	}
	rel := max(at-w.nowNs(), 1)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(rel)}
	if err := unix.TimerfdSettime(w.tfd, 0, &spec, nil); err != nil {
		l.logf("timerfd_settime: %v", err)
		return
	}
	w.armedNs = at
}
