package loadgen

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"echobench/internal/poller"
	"echobench/internal/rawio"
	"echobench/internal/results"
)

// Message classes. Every intended message ends in exactly one.
const (
	classTimedOut = iota
	classErrored
	classCorrupted
)

type connState uint8

const (
	stDown       connState = iota // not connected; reconnect at retryNs
	stConnecting                  // non-blocking connect in progress
	stUp                          // connected
)

// sendRec is what a connection remembers of a message in flight: when its
// first byte was written and whether it belongs to the measured window.
type sendRec struct {
	ns      int64
	counted bool
}

// conn is one connection slot. It survives reconnects: a fault closes the
// socket, and the messages sent but not finished on it are sent again on the
// next socket with their original start times (so one fault costs one
// message, and latency still counts from the first send or intended time).
//
// Messages of a slot are numbered 0, 1, 2, ...; the current socket carries
// messages baseSeq, baseSeq+1, ... back to back, so socket byte offset k
// belongs to message baseSeq + k/size.
type conn struct {
	id       int32
	fd       int32
	state    connState
	outArmed bool
	fails    uint8 // consecutive connect failures, for backoff

	baseSeq int64 // first message on the current socket
	doneSeq int64 // oldest message not yet finished
	nextSeq int64 // first message never sent
	txBytes int64 // bytes written on the current socket
	rxBytes int64 // bytes received (and verified) on the current socket
	timeNs  int64 // stConnecting: attempt start; stDown: when to retry

	ring []sendRec // by seq % depth; covers [doneSeq, nextSeq)
}

// second is one second of the timeline, by the time messages finished.
type second struct {
	completed, failed int64
	lat               *logHist // completed latencies; nil until used
}

// workerStats is everything a worker measured; merged after the run.
type workerStats struct {
	intended, completed, timedOut, errored, corrupted int64
	connFailed, reconnects                            int64
	overflow, recordErrs, stray                       int64
	sentInWindow                                      int64 // open loop: first sends during the window
	pollNs                                            int64 // open loop: idle polling during the window
	connectedAtStart                                  int
	hist, lag                                         *hdrhistogram.Histogram
	secs                                              []second
}

// shared is the read-only run description every worker uses.
type shared struct {
	cfg       Config
	size      int64
	depth     int64
	timeoutNs int64
	connTONs  int64
	scanNs    int64
	pl        *payload
	dst       netip.AddrPort
	srcs      []netip.Addr
	// endNs is the window's end; Ctrl-C moves it earlier.
	endNs atomic.Int64
	// abort makes workers give up during connection set-up.
	abort atomic.Bool
}

// timing is the schedule a worker receives once every connection is set up.
type timing struct {
	warmStartNs, windowStartNs int64
}

// worker is one event loop: one goroutine locked to an OS thread, owning a
// poller, a read and a write buffer, one latency histogram and a share of the
// connections. Nothing in it is touched by other goroutines except through
// shared.endNs, shared.abort and Poller.Wake.
type worker struct {
	sh *shared
	// Socket addresses are per worker: x/sys/unix writes into them on use.
	dst    unix.Sockaddr
	family int
	srcs   []unix.Sockaddr
	p      *poller.Poller
	evs    []poller.Event
	tfd    int   // timerfd for the open loop's next due send, or -1
	tArm   int64 // absolute time the timer is armed for, 0 if disarmed

	conns   []*conn
	byFd    []*conn
	pending []*conn // closed during this batch, to reconnect after it
	rbuf    []byte  // one read buffer for all connections
	wbuf    []byte  // one write buffer for all connections

	started        bool
	open           bool
	fromSend       bool
	pacer          Pacer
	warmStart      int64
	ws, we         int64 // this worker's view of the window [ws, we)
	rawEnd         int64 // last value loaded from shared.endNs
	nextScan       int64
	nextDrainCheck int64
	curM           int64 // open-loop cursor: message index ...
	curJ           int   // ... and position in conns

	st workerStats
}

const (
	maxEvents         = 512
	ioBufBytes        = 64 << 10
	connectInflight   = 128 // per worker during set-up: keeps accept queues short
	minBackoffNs      = 10e6
	maxBackoffNs      = 1e9
	drainCheckEveryNs = 1e6
	// pollAheadNs: the open loop polls instead of sleeping when its next
	// send is due within this. A timer wake-up is late by 30–50 µs on the
	// VMs we measure on, and arming one (timerfd_settime) cost about 25 µs
	// of CPU there: 38% of the client's CPU at 50k msgs/s. Polling sends
	// within a few µs of the intended time; the idle polling is subtracted
	// from the client's CPU so client_bound still means busy.
	pollAheadNs = 100_000
)

func newWorker(sh *shared, ids []int32, fdLimit int, seconds int) (*worker, error) {
	p, err := poller.New(maxEvents)
	if err != nil {
		return nil, err
	}
	w := &worker{
		sh: sh, p: p, tfd: -1,
		evs:      make([]poller.Event, 0, maxEvents),
		byFd:     make([]*conn, fdLimit),
		pending:  make([]*conn, 0, len(ids)),
		rbuf:     make([]byte, ioBufBytes),
		wbuf:     make([]byte, ioBufBytes),
		open:     sh.cfg.Mode == Open,
		fromSend: sh.cfg.measureFromSend,
	}
	w.dst, w.family = sockaddr(sh.dst.Addr(), sh.dst.Port())
	for _, ip := range sh.srcs {
		sa, _ := sockaddr(ip, 0)
		w.srcs = append(w.srcs, sa)
	}
	w.conns = make([]*conn, len(ids))
	rings := make([]sendRec, len(ids)*int(sh.depth))
	for i, id := range ids {
		w.conns[i] = &conn{id: id, fd: -1, ring: rings[i*int(sh.depth) : (i+1)*int(sh.depth) : (i+1)*int(sh.depth)]}
	}
	if w.open {
		tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("timerfd_create: %w", err)
		}
		if tfd >= len(w.byFd) {
			unix.Close(tfd)
			p.Close()
			return nil, fmt.Errorf("timerfd %d beyond the open-file limit", tfd)
		}
		if err := p.Add(tfd, poller.In); err != nil {
			unix.Close(tfd)
			p.Close()
			return nil, err
		}
		w.tfd = tfd
	}
	w.st.hist = hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	if w.open {
		w.st.lag = hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	}
	w.st.secs = make([]second, max(seconds, 1))
	return w, nil
}

func (w *worker) close() {
	for _, c := range w.conns {
		if c.fd >= 0 {
			unix.Close(int(c.fd))
			c.fd = -1
		}
	}
	if w.tfd >= 0 {
		unix.Close(w.tfd)
	}
	w.p.Close()
}

// connectAll is the set-up phase: every connection gets one attempt, at most
// connectInflight at a time. Failures are counted and retried during the run.
func (w *worker) connectAll() error {
	if err := connectPaced(w.sh, w.p, w.evs, workerSlots{w}); err != nil {
		return err
	}
	for _, c := range w.conns {
		if c.state == stUp {
			w.st.connectedAtStart++
		}
	}
	return nil
}

// workerSlots are the worker's connections as connectPaced sees them.
type workerSlots struct{ w *worker }

func (s workerSlots) count() int { return len(s.w.conns) }

func (s workerSlots) start(i int, now int64) bool {
	c := s.w.conns[i]
	s.w.startConnect(c, now)
	return c.state == stConnecting
}

func (s workerSlots) finish(fd int32, events uint32, now int64) bool {
	c := s.w.byFd[fd]
	if c == nil || c.state != stConnecting {
		return false
	}
	s.w.finishConnect(c, events, now)
	return true
}

func (s workerSlots) expire(i int, now int64) bool {
	c := s.w.conns[i]
	if c.state != stConnecting || now-c.timeNs <= s.w.sh.connTONs {
		return false
	}
	s.w.connectFailed(c, now)
	return true
}

// connectSlots is what connectPaced needs of a set of connection slots.
type connectSlots interface {
	count() int
	// start begins connecting slot i and reports whether the attempt is
	// still in progress (a failure is counted by start itself).
	start(i int, now int64) bool
	// finish completes the attempt of the slot that owns fd, reporting
	// false when fd is not one that is connecting.
	finish(fd int32, events uint32, now int64) bool
	// expire fails slot i's attempt when it is still connecting after the
	// connect timeout, and reports whether it did.
	expire(i int, now int64) bool
}

// connectPaced gives every slot one connect attempt, at most
// connectInflight at a time, so a big set does not overflow the server's
// accept queue. It stops early when the run is aborted.
func connectPaced(sh *shared, p *poller.Poller, evs []poller.Event, slots connectSlots) error {
	next, inflight, n := 0, 0, slots.count()
	for next < n || inflight > 0 {
		if sh.abort.Load() {
			return errors.New("aborted")
		}
		now := nanotime()
		for ; next < n && inflight < connectInflight; next++ {
			if slots.start(next, now) {
				inflight++
			}
		}
		ready, _, err := p.Wait(evs, 10)
		if err != nil {
			return err
		}
		now = nanotime()
		for _, ev := range ready {
			if slots.finish(ev.Fd, ev.Events, now) {
				inflight--
			}
		}
		for i := 0; i < next; i++ {
			if slots.expire(i, now) {
				inflight--
			}
		}
	}
	return nil
}

// begin starts the measured schedule.
func (w *worker) begin(t timing) {
	w.started = true
	w.warmStart, w.ws = t.warmStartNs, t.windowStartNs
	w.rawEnd = w.sh.endNs.Load()
	w.we = max(w.rawEnd, w.ws)
	w.pacer = Pacer{StartNs: w.warmStart, RateMsgsPerSec: w.sh.cfg.RateMsgsPerSec, Conns: w.sh.cfg.Conns}
	now := nanotime()
	w.nextScan = now + w.sh.scanNs
	if !w.open {
		for _, c := range w.conns {
			w.send(c, now)
		}
	}
}

// refreshEnd notices an earlier end (Ctrl-C). The worker's end is never
// before a time it has already reached, so every message it started has an
// intended time inside its window: the accounting stays exact.
func (w *worker) refreshEnd(now int64) {
	if e := w.sh.endNs.Load(); e != w.rawEnd {
		w.rawEnd = e
		w.we = max(min(w.we, max(e, now+1)), w.ws)
	}
}

// loop runs the schedule until the window has ended and every message has
// finished or timed out.
func (w *worker) loop() error {
	for {
		now := nanotime()
		w.refreshEnd(now)
		if w.open && now < w.we {
			w.pace(now)
		}
		if now >= w.nextScan {
			w.scan(now)
			w.nextScan = now + w.sh.scanNs
		}
		if now >= w.we {
			if now >= w.we+w.sh.timeoutNs {
				return nil
			}
			if now >= w.nextDrainCheck {
				if w.drained() {
					return nil
				}
				w.nextDrainCheck = now + drainCheckEveryNs
			}
		}
		ms, poll := w.waitMs(now)
		var t0 int64
		if poll {
			t0 = nanotime()
		}
		evs, _, err := w.p.Wait(w.evs, ms)
		if err != nil {
			return err
		}
		if poll && len(evs) == 0 && t0 >= w.ws {
			// Nothing was due and nothing arrived: time spent only waiting
			// for the next send, excluded from the client's work.
			w.st.pollNs += nanotime() - t0
		}
		for _, ev := range evs {
			w.dispatch(ev)
		}
		w.reconnectPending()
	}
}

func (w *worker) dispatch(ev poller.Event) {
	if int(ev.Fd) == w.tfd {
		var b [8]byte
		unix.Read(w.tfd, b[:]) // only clears readiness; the loop re-reads the clock
		w.tArm = 0
		return
	}
	c := w.byFd[ev.Fd]
	if c == nil {
		return // closed earlier in this batch
	}
	switch c.state {
	case stConnecting:
		w.finishConnect(c, ev.Events, nanotime())
	case stUp:
		if ev.Events&(poller.In|poller.Err|poller.Hup) != 0 {
			w.onReadable(c)
		} else if ev.Events&poller.Out != 0 {
			w.onWritable(c, nanotime())
		}
	}
}

// waitMs is how long the poller may block: until the next scan, the end of
// the window or the drain. poll is true when it must not block because the
// open loop's next send is due within pollAheadNs: the loop then polls
// (epoll_wait with timeout 0) until the send is due. Further ahead, a timerfd
// armed pollAheadNs before the due time wakes it (epoll_wait's millisecond
// timeout is too coarse for pacing), and it polls the remainder.
func (w *worker) waitMs(now int64) (ms int, poll bool) {
	until := w.nextScan
	if now < w.we {
		until = min(until, w.we)
		if w.open {
			due := w.pacer.Intended(int(w.conns[w.curJ].id), w.curM)
			if due < w.we {
				if due <= now {
					return 0, false
				}
				if due-now <= pollAheadNs {
					return 0, true
				}
				w.armTimer(due - pollAheadNs)
			}
		}
	} else {
		until = min(until, w.we+w.sh.timeoutNs, w.nextDrainCheck)
	}
	d := until - now
	if d <= 0 {
		return 0, false
	}
	return int((d + 999_999) / 1_000_000), false
}

func (w *worker) armTimer(at int64) {
	if w.tArm == at {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(at)}
	if err := unix.TimerfdSettime(w.tfd, unix.TFD_TIMER_ABSTIME, &spec, nil); err == nil {
		w.tArm = at
	}
}

// pace walks the open loop's schedule in global order and sends, on each
// connection whose message is due, everything it has due: one batch per wake
// however late the wake was, never one sleep per message.
func (w *worker) pace(now int64) {
	for {
		c := w.conns[w.curJ]
		if t := w.pacer.Intended(int(c.id), w.curM); t > now || t >= w.we {
			return
		}
		w.send(c, now)
		if w.curJ++; w.curJ == len(w.conns) {
			w.curJ = 0
			w.curM++
		}
	}
}

// startOf returns when message seq of c started for latency purposes, and
// whether it is in the measured window.
func (w *worker) startOf(c *conn, seq int64) (int64, bool) {
	if w.open {
		t := w.pacer.Intended(int(c.id), seq)
		return t, t >= w.ws && t < w.we
	}
	r := c.ring[seq%w.sh.depth]
	return r.ns, r.counted
}

// limit is the first message c may not send yet.
func (w *worker) limit(c *conn, now int64) int64 {
	lim := c.doneSeq + w.sh.depth
	if w.open {
		lim = min(lim, w.pacer.Due(int(c.id), now), w.pacer.CountBefore(int(c.id), w.we))
	} else if now >= w.we || !w.started {
		lim = min(lim, c.nextSeq) // only messages already started may be resent
	}
	return lim
}

// send writes everything c may send now. Hot path: no allocation.
func (w *worker) send(c *conn, now int64) {
	if c.state != stUp || c.outArmed {
		return
	}
	size := w.sh.size
	// decided is when the limit let these messages start: in closed loop it
	// decides whether they belong to the window, so that a message the
	// limit admitted before the window's end is counted even when its
	// write returns after it (a descheduled thread), and the server never
	// echoes a message that is not accounted for.
	decided := now
	target := (w.limit(c, now) - c.baseSeq) * size
	for c.txBytes < target {
		n := min(target-c.txBytes, int64(len(w.wbuf)))
		buf := w.wbuf[:n]
		w.sh.pl.fill(buf, c.id, c.baseSeq, c.txBytes)
		m, err := rawio.Send(int(c.fd), buf)
		if err != nil {
			if err == unix.EAGAIN {
				w.armOut(c, true)
				return
			}
			if err == unix.EINTR {
				continue
			}
			w.fault(c, classErrored, now)
			return
		}
		first := c.baseSeq + (c.txBytes+size-1)/size
		c.txBytes += int64(m)
		end := c.baseSeq + (c.txBytes+size-1)/size
		if first < end && end > c.nextSeq {
			// The send time is when write returned: the bytes were handed
			// to the kernel, as the C reference client measures it. (Before
			// the write, the client's own send syscall, some µs on loopback,
			// would count as server latency.)
			now = nanotime()
		}
		for s := max(first, c.nextSeq); s < end; s++ {
			w.started1(c, s, now, decided)
		}
		c.nextSeq = max(c.nextSeq, end)
	}
}

// started1 records the first send of message s: sent at now, admitted by
// the limit at decided.
func (w *worker) started1(c *conn, s int64, now, decided int64) {
	r := &c.ring[s%w.sh.depth]
	r.ns = now
	if w.open {
		t := w.pacer.Intended(int(c.id), s)
		r.counted = t >= w.ws && t < w.we
		if r.counted {
			w.recordLag(now - t)
		}
		// The achieved rate is what went on the wire during the window,
		// whenever it was due: a steady lag does not lower it, a growing
		// one does.
		if now >= w.ws && now < w.we {
			w.st.sentInWindow++
		}
		return
	}
	r.counted = decided >= w.ws && decided < w.we
	if r.counted {
		w.st.intended++
	}
}

func (w *worker) armOut(c *conn, on bool) {
	if c.outArmed == on {
		return
	}
	ev := uint32(poller.In)
	if on {
		ev |= poller.Out
	}
	if err := w.p.Mod(int(c.fd), ev); err != nil {
		w.fault(c, classErrored, nanotime())
		return
	}
	c.outArmed = on
}

func (w *worker) onWritable(c *conn, now int64) {
	w.armOut(c, false)
	w.send(c, now)
}

// onReadable reads once (the poller is level-triggered), checks every byte
// against the expected stream, finishes complete messages and tops the
// connection up. Hot path: no allocation.
func (w *worker) onReadable(c *conn) {
	n, err := rawio.Recv(int(c.fd), w.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	// One clock read per event: the arrival of these bytes, and the send
	// time of the messages this event starts (see BenchmarkClock).
	now := nanotime()
	if err != nil || n == 0 {
		w.fault(c, classErrored, now) // reset, EOF
		return
	}
	size := w.sh.size
	b := w.rbuf[:n]
	off := c.rxBytes
	for len(b) > 0 {
		if off >= c.txBytes {
			// Bytes that were never sent: out of place.
			c.rxBytes = off
			if c.doneSeq >= c.baseSeq+(c.txBytes+size-1)/size {
				w.st.stray++
			}
			w.fault(c, classCorrupted, now)
			return
		}
		k := off / size
		within := off - k*size
		seq := c.baseSeq + k
		m := min(int64(len(b)), size-within, c.txBytes-off)
		if !w.sh.pl.matches(b[:m], c.id, seq, within) {
			c.rxBytes = off
			w.fault(c, classCorrupted, now)
			return
		}
		off += m
		b = b[m:]
		if within+m == size {
			w.complete(c, seq, now)
			c.doneSeq = seq + 1
		}
	}
	c.rxBytes = off
	w.send(c, now)
}

// complete finishes message seq, which has fully and correctly come back.
func (w *worker) complete(c *conn, seq int64, now int64) {
	start, counted := w.startOf(c, seq)
	if !counted {
		return
	}
	if w.fromSend {
		start = c.ring[seq%w.sh.depth].ns
	}
	lat := now - start
	sec := w.second(now)
	if lat > w.sh.timeoutNs {
		w.st.timedOut++
		sec.failed++
		return
	}
	w.st.completed++
	sec.completed++
	if sec.lat == nil {
		sec.lat = new(logHist) // once per second, not per message
	}
	sec.lat[logBucket(lat)]++
	w.record(w.st.hist, lat)
}

func (w *worker) record(h *hdrhistogram.Histogram, v int64) {
	if v < results.HistLowestNs {
		v = results.HistLowestNs
	}
	if v > results.HistHighestNs {
		w.st.overflow++
		v = results.HistHighestNs // at the top of the range, never dropped
	}
	if h.RecordValue(v) != nil {
		w.st.recordErrs++
	}
}

func (w *worker) recordLag(v int64) {
	if v < 0 {
		v = 0
	}
	v = min(max(v, results.HistLowestNs), results.HistHighestNs)
	if w.st.lag.RecordValue(v) != nil {
		w.st.recordErrs++
	}
}

func (w *worker) second(now int64) *second {
	i := (now - w.ws) / 1e9
	i = min(max(i, 0), int64(len(w.st.secs)-1))
	return &w.st.secs[i]
}

// fail finishes message seq with a failure class.
func (w *worker) fail(c *conn, seq int64, class int, now int64) {
	if _, counted := w.startOf(c, seq); !counted {
		return
	}
	switch class {
	case classTimedOut:
		w.st.timedOut++
	case classErrored:
		w.st.errored++
	case classCorrupted:
		w.st.corrupted++
	}
	w.second(now).failed++
}

// sentFrontier is the first message of c with no byte on the current socket.
func (w *worker) sentFrontier(c *conn) int64 {
	return c.baseSeq + (c.txBytes+w.sh.size-1)/w.sh.size
}

// fault ends c's socket after a failure: the oldest message on it, if it was
// sent, gets the class; the rest of the messages in flight go out again on
// the next socket. The slot reconnects after the current batch.
func (w *worker) fault(c *conn, class int, now int64) {
	if c.state != stUp {
		return
	}
	if c.doneSeq < w.sentFrontier(c) {
		w.fail(c, c.doneSeq, class, now)
		c.doneSeq++
	}
	w.closeSocket(c)
	c.state = stDown
	c.timeNs = now
	c.fails = 0
	if w.started && now >= w.ws {
		w.st.reconnects++
	}
	w.pending = append(w.pending, c)
}

func (w *worker) closeSocket(c *conn) {
	if c.fd >= 0 {
		w.byFd[c.fd] = nil
		unix.Close(int(c.fd)) // closing also removes it from the epoll set
		c.fd = -1
	}
	c.outArmed = false
}

func (w *worker) reconnectPending() {
	if len(w.pending) == 0 {
		return
	}
	now := nanotime()
	for _, c := range w.pending {
		if c.state == stDown {
			w.startConnect(c, now)
		}
	}
	w.pending = w.pending[:0]
}

func (w *worker) startConnect(c *conn, now int64) {
	c.timeNs = now
	fd, err := unix.Socket(w.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		w.connectFailed(c, now)
		return
	}
	if fd >= len(w.byFd) {
		unix.Close(fd)
		w.connectFailed(c, now)
		return
	}
	c.fd = int32(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		w.connectFailed(c, now)
		return
	}
	if len(w.srcs) > 0 {
		if w.family == unix.AF_INET {
			// Defer the port choice to connect, so each source/destination
			// pair gets the whole ephemeral range.
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		}
		if err := unix.Bind(fd, w.srcs[int(c.id)%len(w.srcs)]); err != nil {
			w.connectFailed(c, now)
			return
		}
	}
	err = unix.Connect(fd, w.dst)
	switch {
	case err == nil:
		if err := w.p.Add(fd, poller.In); err != nil {
			w.connectFailed(c, now)
			return
		}
		w.byFd[fd] = c
		w.connected(c, now)
	case err == unix.EINPROGRESS:
		if err := w.p.Add(fd, poller.Out); err != nil {
			w.connectFailed(c, now)
			return
		}
		w.byFd[fd] = c
		c.state = stConnecting
	default:
		w.connectFailed(c, now)
	}
}

func (w *worker) finishConnect(c *conn, events uint32, now int64) {
	soerr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || soerr != 0 || events&(poller.Err|poller.Hup) != 0 || events&poller.Out == 0 {
		w.connectFailed(c, now)
		return
	}
	if err := w.p.Mod(int(c.fd), poller.In); err != nil {
		w.connectFailed(c, now)
		return
	}
	w.connected(c, now)
}

// connected puts a fresh socket to use: messages that can no longer finish
// within the timeout are timed out rather than sent, the rest start at offset
// zero of the new socket.
func (w *worker) connected(c *conn, now int64) {
	c.state = stUp
	c.fails = 0
	if w.started {
		for {
			var start int64
			switch {
			case c.doneSeq < c.nextSeq:
				start, _ = w.startOf(c, c.doneSeq)
			case w.open && c.doneSeq < w.pacer.CountBefore(int(c.id), w.we):
				start = w.pacer.Intended(int(c.id), c.doneSeq)
			default:
				start = now
			}
			if now-start <= w.sh.timeoutNs {
				break
			}
			w.fail(c, c.doneSeq, classTimedOut, now)
			c.doneSeq++
		}
		c.nextSeq = max(c.nextSeq, c.doneSeq)
	}
	c.baseSeq = c.doneSeq
	c.txBytes, c.rxBytes = 0, 0
	if w.started {
		w.send(c, now)
	}
}

func (w *worker) connectFailed(c *conn, now int64) {
	w.closeSocket(c)
	c.state = stDown
	if !w.started || now >= w.ws {
		w.st.connFailed++
	}
	backoff := int64(minBackoffNs) << min(c.fails, 6)
	c.timeNs = now + min(backoff, maxBackoffNs)
	c.fails++
}

// scan is the slow path, every scanNs: time out stuck messages, give up on
// slow connects, retry failed ones. A message is timed out once its latency
// exceeds the timeout, so a silent connection never holds up the others.
func (w *worker) scan(now int64) {
	for _, c := range w.conns {
		switch c.state {
		case stUp:
			// Stuck: the oldest message has been on the wire longer than the
			// timeout. (One that merely started late, in open loop, is
			// classed by its latency when it completes; the socket is fine.)
			if c.doneSeq < w.sentFrontier(c) && now-c.ring[c.doneSeq%w.sh.depth].ns > w.sh.timeoutNs {
				w.fault(c, classTimedOut, now)
			}
		case stConnecting:
			if now-c.timeNs > w.sh.connTONs {
				w.connectFailed(c, now)
			}
		case stDown:
			if now >= c.timeNs && w.wantsConn(c, now) {
				w.startConnect(c, now)
			}
		}
	}
	w.reconnectPending()
}

// wantsConn: after the window a slot reconnects only to finish its messages.
func (w *worker) wantsConn(c *conn, now int64) bool {
	if now < w.we {
		return true
	}
	return c.doneSeq < w.lastSeq(c)
}

// lastSeq is the end of c's messages once the window is over.
func (w *worker) lastSeq(c *conn) int64 {
	if w.open {
		return w.pacer.CountBefore(int(c.id), w.we)
	}
	return c.nextSeq
}

func (w *worker) drained() bool {
	for _, c := range w.conns {
		if c.doneSeq < w.lastSeq(c) {
			return false
		}
	}
	return true
}

// finish times out whatever is still unfinished and checks the accounting:
// completed + timed out + errored + corrupted must equal intended.
func (w *worker) finish(now int64) error {
	if !w.started {
		return nil
	}
	for _, c := range w.conns {
		for s := c.doneSeq; s < w.lastSeq(c); s++ {
			w.fail(c, s, classTimedOut, now)
		}
		c.doneSeq = max(c.doneSeq, w.lastSeq(c))
	}
	if w.open {
		w.st.intended = 0
		for _, c := range w.conns {
			w.st.intended += w.pacer.CountBefore(int(c.id), w.we) - w.pacer.CountBefore(int(c.id), w.ws)
		}
	}
	st := &w.st
	if sum := st.completed + st.timedOut + st.errored + st.corrupted; sum != st.intended {
		return fmt.Errorf("accounting error: completed %d + timed out %d + errored %d + corrupted %d = %d, intended %d",
			st.completed, st.timedOut, st.errored, st.corrupted, sum, st.intended)
	}
	return nil
}

// sockaddr converts an address for unix.Connect and unix.Bind.
func sockaddr(ip netip.Addr, port uint16) (unix.Sockaddr, int) {
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}, unix.AF_INET6
}
