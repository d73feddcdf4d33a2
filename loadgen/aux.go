package loadgen

import (
	"math"

	"golang.org/x/sys/unix"

	"echobench/internal/poller"
	"echobench/internal/rawio"
)

// The idle connections and slow readers live in an event loop of their own
// (aux), never in the workers: neither can then delay a worker or the open
// loop's pacer, and the workers' hot path is exactly what it is without
// them. Their connection ids follow the active ones (Conns ..
// Conns+SlowReaders-1 are slow readers, then the idle connections), so
// payloads never collide with an active connection's.

// idleMsgBytes is the message an idle connection echoes at the end to prove
// it is still served: the 12-byte header (id, sequence 0) and some pattern.
const idleMsgBytes = 32

// slowTickNs is how often slow readers read: small enough for a smooth rate,
// large enough that the loop costs nothing (100 wake-ups a second).
const slowTickNs = 10e6

type auxState uint8

const (
	auxConnecting auxState = iota
	auxUp
	auxDead // failed, closed by the server, or given up; the socket is closed
)

// auxConn is one idle connection or slow reader.
type auxConn struct {
	id             int32
	fd             int32
	slow           bool
	state          auxState
	outArmed       bool
	connectStartNs int64
	// Slow readers: stream bytes written and read. Idle connections: bytes
	// of the final check's message.
	txBytes, rxBytes int64
	// allowanceBytes is how many bytes a slow reader may still read now: it
	// grows at the configured rate, capped at aux.burstBytes.
	allowanceBytes float64
	checked        bool // idle: the final echo came back intact
}

// auxStats is what the aux loop counted; merged into results.Load.
type auxStats struct {
	idleConns, idleFailed                                 int64
	idleConnectFailed, idleClosed, idleCheckFailed        int64
	slowReaders, slowReadBytes, slowClosed, slowCorrupted int64
	slowConnectFailed                                     int64
}

// aux is the event loop of the idle connections and slow readers. One
// goroutine owns it; it shares only shared.endNs, shared.abort and
// Poller.Wake with the others.
type aux struct {
	sh     *shared
	dialer dialer
	p      *poller.Poller
	evs    []poller.Event
	conns  []*auxConn
	byFd   []*auxConn
	rbuf   []byte
	wbuf   []byte
	idlePl *payload

	readBytesPerNs float64 // slow readers' read rate
	burstBytes     float64 // cap of a slow reader's allowance
	lastTickNs     int64
	measuredWindow

	st auxStats
}

func newAux(sh *shared, fdLimit int) (*aux, error) {
	p, err := poller.New(maxEvents)
	if err != nil {
		return nil, err
	}
	cfg := sh.cfg
	a := &aux{
		sh: sh, p: p,
		dialer: newDialer(sh, p, fdLimit),
		evs:    make([]poller.Event, 0, maxEvents),
		byFd:   make([]*auxConn, fdLimit),
		rbuf:   make([]byte, ioBufBytes),
		wbuf:   make([]byte, ioBufBytes),
		idlePl: newPayload(idleMsgBytes),
	}
	if cfg.SlowReaders > 0 {
		a.readBytesPerNs = float64(cfg.SlowReadBytesPerSec) / 1e9
		// A late tick may catch up by at most 50 ms of reading (at least
		// one 1 KiB read), so the rate is never exceeded by much.
		a.burstBytes = math.Max(float64(cfg.SlowReadBytesPerSec)/20, 1024)
	}
	id := int32(cfg.Conns)
	for i := 0; i < cfg.SlowReaders; i++ {
		a.conns = append(a.conns, &auxConn{id: id, fd: -1, slow: true})
		id++
	}
	for i := 0; i < cfg.IdleConns; i++ {
		a.conns = append(a.conns, &auxConn{id: id, fd: -1})
		id++
	}
	a.st.idleConns, a.st.slowReaders = int64(cfg.IdleConns), int64(cfg.SlowReaders)
	return a, nil
}

func (a *aux) close() {
	for _, c := range a.conns {
		closeFd(&c.fd)
	}
	a.p.Close()
}

// connectAll opens every idle connection and slow reader, at most
// connectInflight at a time, over the source addresses like the active
// ones. Each gets one attempt: one that fails is counted, not retried.
func (a *aux) connectAll() error {
	return connectPaced(a.sh, a.p, a.evs, connectSet[*auxConn]{
		conns:  a.conns,
		byFd:   a.byFd,
		start:  a.startConnect,
		finish: func(c *auxConn, events uint32, _ int64) { a.finishConnect(c, events) },
		fail:   func(c *auxConn, _ int64) { a.connectFailed(c) },
	})
}

// connectingSince reports whether c is connecting, and since when.
func (c *auxConn) connectingSince() (startNs int64, connecting bool) {
	return c.connectStartNs, c.state == auxConnecting
}

func (a *aux) startConnect(c *auxConn, now int64) {
	c.connectStartNs = now
	fd, outcome, _ := a.dialer.dial(c.id, a.events(c))
	if outcome == dialFailed {
		a.connectFailed(c)
		return
	}
	c.fd = int32(fd)
	a.byFd[fd] = c
	if outcome == dialConnected {
		c.state = auxUp
	} else {
		c.state = auxConnecting
	}
}

func (a *aux) finishConnect(c *auxConn, events uint32) {
	if a.dialer.finish(int(c.fd), events, a.events(c)) != nil {
		a.connectFailed(c)
		return
	}
	c.state = auxUp
}

// events is what an established aux connection waits for. An idle one
// waits for input: anything the server sends it, EOF or a reset is a
// failure. A slow reader is never polled for input (it reads on its own
// schedule, and level-triggered input readiness would spin): only the
// server's close (RDHUP, HUP, ERR) and, when armed, room to write.
func (a *aux) events(c *auxConn) uint32 {
	if !c.slow {
		return poller.In | poller.RDHup
	}
	ev := uint32(poller.RDHup)
	if c.outArmed {
		ev |= poller.Out
	}
	return ev
}

func (a *aux) connectFailed(c *auxConn) {
	a.drop(c)
	if c.slow {
		a.st.slowConnectFailed++
	} else {
		a.st.idleConnectFailed++
		a.st.idleFailed++
	}
}

// drop closes c's socket for good.
func (a *aux) drop(c *auxConn) {
	if c.fd >= 0 {
		a.byFd[c.fd] = nil
		unix.Close(int(c.fd))
		c.fd = -1
	}
	c.state = auxDead
	c.outArmed = false
}

// begin starts the slow readers at the start of the warm-up, so the window
// sees their steady state, not the first filling of the buffers.
func (a *aux) begin(t timing) {
	a.beginWindow(a.sh, t.windowStartNs)
	now := nanotime()
	a.lastTickNs = now
	for _, c := range a.conns {
		if c.slow && c.state == auxUp {
			a.write(c, now)
		}
	}
}

// loop serves the idle connections and slow readers until the window ends.
func (a *aux) loop() error {
	for {
		now := nanotime()
		a.refreshWindowEnd(a.sh, now)
		if now >= a.windowEndNs {
			return nil
		}
		if a.readBytesPerNs > 0 && now-a.lastTickNs >= slowTickNs {
			a.tick(now)
		}
		untilNs := a.windowEndNs
		if a.readBytesPerNs > 0 {
			untilNs = min(untilNs, a.lastTickNs+slowTickNs)
		}
		evs, _, err := a.p.Wait(a.evs, ceilMs(untilNs-now))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			c := a.byFd[ev.Fd]
			if c == nil || c.state != auxUp {
				continue
			}
			if c.slow {
				a.onSlowEvent(c, ev.Events, nanotime())
			} else {
				a.onIdleInput(c)
			}
		}
	}
}

// onIdleInput: an idle connection became readable while it had sent
// nothing. EOF, a reset or unsolicited bytes all mean the server did not
// keep it as an idle connection should be kept.
func (a *aux) onIdleInput(c *auxConn) {
	_, err := rawio.Recv(int(c.fd), a.rbuf[:1])
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	a.drop(c)
	a.st.idleFailed++
	a.st.idleClosed++
}

func (a *aux) onSlowEvent(c *auxConn, events uint32, now int64) {
	if events&(poller.Err|poller.Hup|poller.RDHup) != 0 {
		a.slowClosed(c, now)
		return
	}
	if events&poller.Out != 0 {
		a.armOut(c, false)
		a.write(c, now)
	}
}

// slowClosed records that the server closed or reset a slow reader: a
// behaviour of the server (gnet closes a connection past its pending-output
// cap), counted as data.
func (a *aux) slowClosed(c *auxConn, now int64) {
	a.drop(c)
	if now < a.windowEndNs {
		a.st.slowClosed++
	}
}

func (a *aux) armOut(c *auxConn, on bool) {
	if c.outArmed == on {
		return
	}
	c.outArmed = on
	if err := a.p.Mod(int(c.fd), a.events(c)); err != nil {
		a.slowClosed(c, nanotime())
	}
}

// maxWriteBurst bounds what one slow reader writes per turn. A server that
// buffers without bound would otherwise keep the loop writing to one
// connection for as long as it takes to fill it.
const maxWriteBurst = 1 << 20

// write sends the slow reader's stream for as long as the socket accepts
// it, then waits for room. Never blocks.
func (a *aux) write(c *auxConn, now int64) {
	for written := 0; c.state == auxUp && !c.outArmed; {
		if written >= maxWriteBurst {
			// Still writable: level-triggered EPOLLOUT brings it back on
			// the next turn, after the other connections.
			a.armOut(c, true)
			return
		}
		a.sh.pl.fill(a.wbuf, c.id, 0, c.txBytes)
		n, err := rawio.Send(int(c.fd), a.wbuf)
		switch {
		case err == unix.EAGAIN:
			a.armOut(c, true)
			return
		case err == unix.EINTR:
			continue
		case err != nil:
			a.slowClosed(c, now)
			return
		}
		c.txBytes += int64(n)
		written += n
	}
}

// tick lets every slow reader read what its rate allows since the last
// tick, verifies it and tops its stream up.
func (a *aux) tick(now int64) {
	elapsedNs := float64(now - a.lastTickNs)
	a.lastTickNs = now
	for _, c := range a.conns {
		if !c.slow || c.state != auxUp {
			continue
		}
		c.allowanceBytes = math.Min(c.allowanceBytes+elapsedNs*a.readBytesPerNs, a.burstBytes)
		for c.state == auxUp && c.allowanceBytes >= 1 {
			want := min(int(c.allowanceBytes), len(a.rbuf))
			n, err := rawio.Recv(int(c.fd), a.rbuf[:want])
			if err == unix.EAGAIN {
				break
			}
			if err == unix.EINTR {
				continue
			}
			if err != nil || n == 0 {
				a.slowClosed(c, now)
				break
			}
			if c.rxBytes+int64(n) > c.txBytes || !a.sh.pl.matchesStream(a.rbuf[:n], c.id, c.rxBytes) {
				// Bytes that were never sent, or differ: the server
				// corrupted the stream. The connection is of no further use.
				a.drop(c)
				a.st.slowCorrupted++
				break
			}
			c.rxBytes += int64(n)
			c.allowanceBytes -= float64(n)
			if a.inWindow(now) {
				a.st.slowReadBytes += int64(n)
			}
		}
		if c.state == auxUp {
			a.write(c, now)
		}
	}
}

// finalCheck makes every idle connection still open prove it is served:
// it sends one small message and must get it back intact within the
// message timeout. It runs after the active connections have drained, so
// it never competes with a measured message.
func (a *aux) finalCheck() error {
	pending := 0
	now := nanotime()
	for _, c := range a.conns {
		if c.slow || c.state != auxUp {
			continue
		}
		a.idlePl.fill(a.wbuf[:idleMsgBytes], c.id, 0, 0)
		n, err := rawio.Send(int(c.fd), a.wbuf[:idleMsgBytes])
		if err != nil || n != idleMsgBytes {
			// A 32-byte write to an idle socket cannot meet a full buffer:
			// anything short of it is a broken connection.
			a.idleCheckFailed(c)
			continue
		}
		c.txBytes = idleMsgBytes
		pending++
	}
	deadlineNs := now + a.sh.timeoutNs
	for pending > 0 {
		now = nanotime()
		if now >= deadlineNs {
			break
		}
		evs, _, err := a.p.Wait(a.evs, ceilMs(deadlineNs-now))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			c := a.byFd[ev.Fd]
			if c == nil || c.slow || c.state != auxUp || c.checked {
				continue
			}
			n, err := rawio.Recv(int(c.fd), a.rbuf)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			pending--
			if err != nil || n == 0 || c.rxBytes+int64(n) > idleMsgBytes || !a.idlePl.matches(a.rbuf[:n], c.id, 0, c.rxBytes) {
				a.idleCheckFailed(c)
				continue
			}
			c.rxBytes += int64(n)
			if c.rxBytes < idleMsgBytes {
				pending++ // more to come
				continue
			}
			c.checked = true
			// Stop polling it: a later close by the server (it may time
			// out idle connections) is no failure once it proved itself,
			// and its hang-up must not wake this loop again.
			a.p.Del(int(c.fd))
		}
	}
	for _, c := range a.conns {
		if !c.slow && c.state == auxUp && !c.checked {
			a.idleCheckFailed(c) // no (whole) answer within the timeout
		}
	}
	return nil
}

func (a *aux) idleCheckFailed(c *auxConn) {
	a.drop(c)
	a.st.idleFailed++
	a.st.idleCheckFailed++
}
