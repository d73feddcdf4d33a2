package loadgen

import (
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
	sentNs  int64
	counted bool
}

// conn is one connection slot. It survives reconnects: a fault closes the
// socket, and the messages sent but not finished on it are sent again on the
// next socket with their original start times (so one fault costs one
// message, and latency still counts from the first send or intended time).
//
// Messages of a slot are numbered 0, 1, 2, ...; the current socket carries
// messages baseSeq, baseSeq+1, ... back to back, so socket byte offset k
// belongs to message baseSeq + k/sizeBytes.
type conn struct {
	id           int32
	fd           int32
	state        connState
	outArmed     bool
	connectFails uint8 // consecutive connect failures, for backoff
	// awaitFirstByte: the socket's connect was counted and its first echoed
	// byte has not arrived yet; establishedNs and firstSendNs (0 before it)
	// time it.
	awaitFirstByte bool

	baseSeq        int64 // first message on the current socket
	doneSeq        int64 // oldest message not yet finished
	nextSeq        int64 // first message never sent
	txBytes        int64 // bytes written on the current socket
	rxBytes        int64 // bytes received (and verified) on the current socket
	connectStartNs int64 // stConnecting: when the attempt started
	establishedNs  int64
	firstSendNs    int64
	retryAtNs      int64 // stDown: when to connect again

	ring []sendRec // by seq % depth; covers [doneSeq, nextSeq)
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
}

// shared is the read-only run description every worker uses.
type shared struct {
	cfg              Config
	sizeBytes        int64
	depth            int64
	timeoutNs        int64
	connectTimeoutNs int64
	scanEveryNs      int64
	pl               *payload
	dst              netip.AddrPort
	srcs             []netip.Addr
	// endNs is the window's end; Ctrl-C moves it earlier.
	endNs atomic.Int64
	// abort makes workers give up during connection set-up.
	abort atomic.Bool
	// wallMinusMonoNs turns the monotonic clock into Unix time: the
	// schedule runs on the monotonic clock, the result and --start-at
	// speak wall-clock time.
	wallMinusMonoNs int64
	// startAtNs is Config.StartAt on the monotonic clock; 0 without it.
	startAtNs int64
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
	sh             *shared
	dialer         dialer
	p              *poller.Poller
	evs            []poller.Event
	timerFd        int   // timerfd for the open loop's next due send, or -1
	timerArmedAtNs int64 // absolute time the timer is armed for, 0 if disarmed

	conns   []*conn
	byFd    []*conn
	pending []*conn // closed during this batch, to reconnect after it
	rbuf    []byte  // one read buffer for all connections
	wbuf    []byte  // one write buffer for all connections

	started          bool
	open             bool
	measureFromSend  bool
	pacer            Pacer
	nextScanNs       int64
	nextDrainCheckNs int64
	// The open loop paces in global order: the next message due is message
	// pacedSeq of conns[pacedConn].
	pacedSeq  int64
	pacedConn int
	measuredWindow
	// lifetime is the messages a socket carries before it is replaced (0:
	// no limit); cs the connect figures, nil when the run does not measure
	// connects.
	lifetime int64
	cs       *connectStats

	st workerStats
	tl timelineRec
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

func newWorker(sh *shared, ids []int32, fdLimit int) (*worker, error) {
	p, err := poller.New(maxEvents)
	if err != nil {
		return nil, err
	}
	w := &worker{
		sh: sh, p: p, timerFd: -1,
		dialer:          newDialer(sh, p, fdLimit),
		evs:             make([]poller.Event, 0, maxEvents),
		byFd:            make([]*conn, fdLimit),
		pending:         make([]*conn, 0, len(ids)),
		rbuf:            make([]byte, ioBufBytes),
		wbuf:            make([]byte, ioBufBytes),
		open:            sh.cfg.Mode == Open,
		measureFromSend: sh.cfg.measureFromSend,
		lifetime:        int64(sh.cfg.ConnLifetime),
	}
	if sh.cfg.measuresConnects() {
		w.cs = newConnectStats()
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
		w.timerFd = tfd
	}
	w.st.hist = hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	if w.open {
		w.st.lag = hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	}
	w.tl = newTimelineRec(sh.cfg.Duration)
	return w, nil
}

func (w *worker) close() {
	for _, c := range w.conns {
		closeFd(&c.fd)
	}
	if w.timerFd >= 0 {
		unix.Close(w.timerFd)
	}
	w.p.Close()
}

// connectAll is the set-up phase: every connection gets one attempt, at most
// connectInflight at a time. Failures are counted and retried during the run.
func (w *worker) connectAll() error {
	set := connectSet[*conn]{
		conns: w.conns, byFd: w.byFd,
		start: w.startConnect, finish: w.finishConnect,
		fail: func(c *conn, now int64) { w.connectFailed(c, now, errConnectTimeout) },
	}
	if err := connectPaced(w.sh, w.p, w.evs, set); err != nil {
		return err
	}
	for _, c := range w.conns {
		if c.state == stUp {
			w.st.connectedAtStart++
		}
	}
	return nil
}

// connectingSince reports whether c is connecting, and since when.
func (c *conn) connectingSince() (startNs int64, connecting bool) {
	return c.connectStartNs, c.state == stConnecting
}

// begin starts the measured schedule.
func (w *worker) begin(t timing) {
	w.started = true
	w.beginWindow(w.sh, t.windowStartNs)
	w.pacer = Pacer{StartNs: t.warmStartNs, RateMsgsPerSec: w.sh.cfg.RateMsgsPerSec, Conns: w.sh.cfg.Conns}
	now := nanotime()
	w.nextScanNs = now + w.sh.scanEveryNs
	if !w.open {
		for _, c := range w.conns {
			w.send(c, now)
		}
	}
}

// loop runs the schedule until the window has ended and every message has
// finished or timed out.
func (w *worker) loop() error {
	for {
		now := nanotime()
		w.refreshWindowEnd(w.sh, now)
		// pace stops at the first message due at or after the window's
		// end, so it also runs after the end: a wake that comes late (a
		// descheduled thread) still sends what fell due before the end.
		// Those messages are intended; unsent, they would time out as if
		// the server had never answered.
		if w.open {
			w.pace(now)
		}
		if now >= w.nextScanNs {
			w.scan(now)
			w.nextScanNs = now + w.sh.scanEveryNs
		}
		if now >= w.windowEndNs {
			if now >= w.windowEndNs+w.sh.timeoutNs {
				return nil
			}
			if now >= w.nextDrainCheckNs {
				if w.drained() {
					return nil
				}
				w.nextDrainCheckNs = now + drainCheckEveryNs
			}
		}
		ms, poll := w.waitMs(now)
		var pollStartNs int64
		if poll {
			pollStartNs = nanotime()
		}
		evs, _, err := w.p.Wait(w.evs, ms)
		if err != nil {
			return err
		}
		if poll && len(evs) == 0 && pollStartNs >= w.windowStartNs {
			// Nothing was due and nothing arrived: time spent only waiting
			// for the next send, excluded from the client's work.
			w.st.pollNs += nanotime() - pollStartNs
		}
		for _, ev := range evs {
			w.dispatch(ev)
		}
		w.reconnectPending()
	}
}

func (w *worker) dispatch(ev poller.Event) {
	if int(ev.Fd) == w.timerFd {
		var b [8]byte
		unix.Read(w.timerFd, b[:]) // only clears readiness; the loop re-reads the clock
		w.timerArmedAtNs = 0
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
	untilNs := w.nextScanNs
	if now < w.windowEndNs {
		untilNs = min(untilNs, w.windowEndNs)
		if w.open {
			dueNs := w.pacer.Intended(int(w.conns[w.pacedConn].id), w.pacedSeq)
			if dueNs < w.windowEndNs {
				if dueNs <= now {
					return 0, false
				}
				if dueNs-now <= pollAheadNs {
					return 0, true
				}
				w.armTimer(dueNs - pollAheadNs)
			}
		}
	} else {
		untilNs = min(untilNs, w.windowEndNs+w.sh.timeoutNs, w.nextDrainCheckNs)
	}
	return ceilMs(untilNs - now), false
}

func (w *worker) armTimer(atNs int64) {
	if w.timerArmedAtNs == atNs {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(atNs)}
	if err := unix.TimerfdSettime(w.timerFd, unix.TFD_TIMER_ABSTIME, &spec, nil); err == nil {
		w.timerArmedAtNs = atNs
	}
}

// pace walks the open loop's schedule in global order and sends, on each
// connection whose message is due, everything it has due: one batch per wake
// however late the wake was, never one sleep per message.
func (w *worker) pace(now int64) {
	for {
		c := w.conns[w.pacedConn]
		if dueNs := w.pacer.Intended(int(c.id), w.pacedSeq); dueNs > now || dueNs >= w.windowEndNs {
			return
		}
		w.send(c, now)
		if w.pacedConn++; w.pacedConn == len(w.conns) {
			w.pacedConn = 0
			w.pacedSeq++
		}
	}
}

// startOf returns when message seq of c started for latency purposes, and
// whether it is in the measured window.
func (w *worker) startOf(c *conn, seq int64) (int64, bool) {
	if w.open {
		intendedNs := w.pacer.Intended(int(c.id), seq)
		return intendedNs, w.inWindow(intendedNs)
	}
	r := c.ring[seq%w.sh.depth]
	return r.sentNs, r.counted
}

// limit is the first message c may not send yet.
func (w *worker) limit(c *conn, now int64) int64 {
	lim := c.doneSeq + w.sh.depth
	if w.lifetime > 0 {
		lim = min(lim, c.baseSeq+w.lifetime)
	}
	if w.open {
		lim = min(lim, w.pacer.Due(int(c.id), now), w.pacer.CountBefore(int(c.id), w.windowEndNs))
	} else if now >= w.windowEndNs || !w.started {
		lim = min(lim, c.nextSeq) // only messages already started may be resent
	}
	return lim
}

// send writes everything c may send now. Hot path: no allocation.
func (w *worker) send(c *conn, now int64) {
	if c.state != stUp || c.outArmed {
		return
	}
	// admittedNs is when the limit let these messages start: in closed loop
	// it decides whether they belong to the window, so that a message the
	// limit admitted before the window's end is counted even when its
	// write returns after it (a descheduled thread), and the server never
	// echoes a message that is not accounted for.
	admittedNs := now
	targetBytes := (w.limit(c, now) - c.baseSeq) * w.sh.sizeBytes
	for c.txBytes < targetBytes {
		buf := w.wbuf[:min(targetBytes-c.txBytes, int64(len(w.wbuf)))]
		w.sh.pl.fill(buf, c.id, c.baseSeq, c.txBytes)
		written, err := rawio.Send(int(c.fd), buf)
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
		if c.awaitFirstByte && c.firstSendNs == 0 {
			c.firstSendNs = now
		}
		firstSeq := w.sentFrontier(c)
		c.txBytes += int64(written)
		endSeq := w.sentFrontier(c)
		if firstSeq < endSeq && endSeq > c.nextSeq {
			// The send time is when write returned: the bytes were handed
			// to the kernel, as the C reference client measures it. (Before
			// the write, the client's own send syscall, some µs on loopback,
			// would count as server latency.)
			now = nanotime()
		}
		for seq := max(firstSeq, c.nextSeq); seq < endSeq; seq++ {
			w.recordFirstSend(c, seq, now, admittedNs)
		}
		c.nextSeq = max(c.nextSeq, endSeq)
	}
}

// recordFirstSend records that message seq went out for the first time at
// sentNs, admitted by the limit at admittedNs.
func (w *worker) recordFirstSend(c *conn, seq int64, sentNs, admittedNs int64) {
	r := &c.ring[seq%w.sh.depth]
	r.sentNs = sentNs
	if w.open {
		intendedNs := w.pacer.Intended(int(c.id), seq)
		r.counted = w.inWindow(intendedNs)
		if r.counted {
			w.recordLag(sentNs - intendedNs)
		}
		// The achieved rate is what went on the wire during the window,
		// whenever it was due: a steady lag does not lower it, a growing
		// one does.
		if w.inWindow(sentNs) {
			w.st.sentInWindow++
		}
		return
	}
	r.counted = w.inWindow(admittedNs)
	if r.counted {
		w.st.intended++
		w.tl.counts[w.tl.slot(admittedNs, w.windowStartNs, w.windowEndNs)].started++
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
	if c.awaitFirstByte {
		w.noteFirstByte(c, now)
	}
	sizeBytes := w.sh.sizeBytes
	unread := w.rbuf[:n]
	rxOffset := c.rxBytes // socket byte offset of unread[0]
	for len(unread) > 0 {
		if rxOffset >= c.txBytes {
			// Bytes that were never sent: out of place.
			c.rxBytes = rxOffset
			if c.doneSeq >= w.sentFrontier(c) {
				w.st.stray++
			}
			w.fault(c, classCorrupted, now)
			return
		}
		msgIndex := rxOffset / sizeBytes
		offsetInMsg := rxOffset - msgIndex*sizeBytes
		seq := c.baseSeq + msgIndex
		chunkBytes := min(int64(len(unread)), sizeBytes-offsetInMsg, c.txBytes-rxOffset)
		if !w.sh.pl.matches(unread[:chunkBytes], c.id, seq, offsetInMsg) {
			c.rxBytes = rxOffset
			w.fault(c, classCorrupted, now)
			return
		}
		rxOffset += chunkBytes
		unread = unread[chunkBytes:]
		if offsetInMsg+chunkBytes == sizeBytes {
			w.complete(c, seq, now)
			c.doneSeq = seq + 1
		}
	}
	c.rxBytes = rxOffset
	if w.lifetimeOver(c) {
		w.retire(c, now)
		return
	}
	w.send(c, now)
}

// complete finishes message seq, which has fully and correctly come back.
func (w *worker) complete(c *conn, seq int64, now int64) {
	startNs, counted := w.startOf(c, seq)
	if !counted {
		return
	}
	if w.measureFromSend {
		startNs = c.ring[seq%w.sh.depth].sentNs
	}
	latencyNs := now - startNs
	i := w.tl.slot(now, w.windowStartNs, w.windowEndNs)
	if latencyNs > w.sh.timeoutNs {
		w.st.timedOut++
		w.tl.fail(i, classTimedOut)
		return
	}
	w.st.completed++
	w.tl.complete(i, latencyNs)
	w.record(w.st.hist, latencyNs)
}

func (w *worker) record(h *hdrhistogram.Histogram, valueNs int64) {
	if valueNs < results.HistLowestNs {
		valueNs = results.HistLowestNs
	}
	if valueNs > results.HistHighestNs {
		w.st.overflow++
		valueNs = results.HistHighestNs // at the top of the range, never dropped
	}
	if h.RecordValue(valueNs) != nil {
		w.st.recordErrs++
	}
}

func (w *worker) recordLag(lagNs int64) {
	if lagNs < 0 {
		lagNs = 0
	}
	lagNs = min(max(lagNs, results.HistLowestNs), results.HistHighestNs)
	if w.st.lag.RecordValue(lagNs) != nil {
		w.st.recordErrs++
	}
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
	w.tl.fail(w.tl.slot(now, w.windowStartNs, w.windowEndNs), class)
}

// sentFrontier is the first message of c with no byte on the current socket.
func (w *worker) sentFrontier(c *conn) int64 {
	return c.baseSeq + (c.txBytes+w.sh.sizeBytes-1)/w.sh.sizeBytes
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
	c.retryAtNs = now
	c.connectFails = 0
	if w.started && now >= w.windowStartNs {
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
	c.connectStartNs = now
	fd, outcome, err := w.dialer.dial(c.id, poller.In)
	if outcome == dialFailed {
		w.connectFailed(c, now, err)
		return
	}
	c.fd = int32(fd)
	w.byFd[fd] = c
	if outcome == dialConnected {
		w.connected(c, nanotime())
	} else {
		c.state = stConnecting
	}
}

func (w *worker) finishConnect(c *conn, events uint32, now int64) {
	if err := w.dialer.finish(int(c.fd), events, poller.In); err != nil {
		w.connectFailed(c, now, err)
		return
	}
	w.connected(c, now)
}

// connected puts a fresh socket to use: messages that can no longer finish
// within the timeout are timed out rather than sent, the rest start at offset
// zero of the new socket.
func (w *worker) connected(c *conn, now int64) {
	c.state = stUp
	c.connectFails = 0
	w.noteEstablished(c, now)
	if w.started {
		for {
			var start int64
			switch {
			case c.doneSeq < c.nextSeq:
				start, _ = w.startOf(c, c.doneSeq)
			case w.open && c.doneSeq < w.pacer.CountBefore(int(c.id), w.windowEndNs):
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

func (w *worker) connectFailed(c *conn, now int64, err error) {
	w.closeSocket(c)
	c.state = stDown
	if !w.started || now >= w.windowStartNs {
		w.st.connFailed++
	}
	w.noteConnectFailure(now, err)
	backoff := int64(minBackoffNs) << min(c.connectFails, 6)
	c.retryAtNs = now + min(backoff, maxBackoffNs)
	c.connectFails++
}

// scan is the slow path, every scanEveryNs: time out stuck messages, give up on
// slow connects, retry failed ones. A message is timed out once its latency
// exceeds the timeout, so a silent connection never holds up the others.
func (w *worker) scan(now int64) {
	for _, c := range w.conns {
		switch c.state {
		case stUp:
			// Stuck: the oldest message has been on the wire longer than the
			// timeout. (One that merely started late, in open loop, is
			// classed by its latency when it completes; the socket is fine.)
			if c.doneSeq < w.sentFrontier(c) && now-c.ring[c.doneSeq%w.sh.depth].sentNs > w.sh.timeoutNs {
				w.fault(c, classTimedOut, now)
			}
		case stConnecting:
			if now-c.connectStartNs > w.sh.connectTimeoutNs {
				w.connectFailed(c, now, errConnectTimeout)
			}
		case stDown:
			if now >= c.retryAtNs && w.wantsConn(c, now) {
				w.startConnect(c, now)
			}
		}
	}
	w.reconnectPending()
}

// wantsConn: after the window a slot reconnects only to finish its messages.
func (w *worker) wantsConn(c *conn, now int64) bool {
	if now < w.windowEndNs {
		return true
	}
	return c.doneSeq < w.lastSeq(c)
}

// lastSeq is the end of c's messages once the window is over.
func (w *worker) lastSeq(c *conn) int64 {
	if w.open {
		return w.pacer.CountBefore(int(c.id), w.windowEndNs)
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
			w.st.intended += w.pacer.CountBefore(int(c.id), w.windowEndNs) - w.pacer.CountBefore(int(c.id), w.windowStartNs)
		}
		w.openStarts()
	}
	st := &w.st
	if sum := st.completed + st.timedOut + st.errored + st.corrupted; sum != st.intended {
		return fmt.Errorf("accounting error: completed %d + timed out %d + errored %d + corrupted %d = %d, intended %d",
			st.completed, st.timedOut, st.errored, st.corrupted, sum, st.intended)
	}
	return nil
}
