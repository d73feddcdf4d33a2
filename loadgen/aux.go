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
	id       int32
	fd       int32
	slow     bool
	state    auxState
	outArmed bool
	startNs  int64 // connect attempt start
	tx, rx   int64 // stream bytes written and read (slow); message bytes (idle check)
	// allowance is how many bytes a slow reader may still read now: it
	// grows at the configured rate, capped at slowBurst.
	allowance float64
	checked   bool // idle: the final echo came back intact
}

// auxStats is what the aux loop counted; merged into results.Load.
type auxStats struct {
	idleConns, idleFailed                            int64
	idleConnectFailed, idleClosed, idleCheckFailed   int64
	slowReaders, slowReadBytes, slowClosed, slowCorr int64
	slowConnectFailed                                int64
}

// aux is the event loop of the idle connections and slow readers. One
// goroutine owns it; it shares only shared.endNs, shared.abort and
// Poller.Wake with the others.
type aux struct {
	sh     *shared
	dst    unix.Sockaddr
	family int
	srcs   []unix.Sockaddr
	p      *poller.Poller
	evs    []poller.Event
	conns  []*auxConn
	byFd   []*auxConn
	rbuf   []byte
	wbuf   []byte
	idlePl *payload

	bytesPerNs float64 // slow readers' read rate
	burst      float64 // cap of a slow reader's allowance, bytes
	ws, we     int64
	rawEnd     int64
	lastTick   int64

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
		evs:    make([]poller.Event, 0, maxEvents),
		byFd:   make([]*auxConn, fdLimit),
		rbuf:   make([]byte, ioBufBytes),
		wbuf:   make([]byte, ioBufBytes),
		idlePl: newPayload(idleMsgBytes),
	}
	a.dst, a.family = sockaddr(sh.dst.Addr(), sh.dst.Port())
	for _, ip := range sh.srcs {
		sa, _ := sockaddr(ip, 0)
		a.srcs = append(a.srcs, sa)
	}
	if cfg.SlowReaders > 0 {
		a.bytesPerNs = float64(cfg.SlowReadBytesPerSec) / 1e9
		// A late tick may catch up by at most 50 ms of reading (at least
		// one 1 KiB read), so the rate is never exceeded by much.
		a.burst = math.Max(float64(cfg.SlowReadBytesPerSec)/20, 1024)
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
		if c.fd >= 0 {
			unix.Close(int(c.fd))
			c.fd = -1
		}
	}
	a.p.Close()
}

// connectAll opens every idle connection and slow reader, at most
// connectInflight at a time, over the source addresses like the active
// ones. Each gets one attempt: one that fails is counted, not retried.
func (a *aux) connectAll() error {
	return connectPaced(a.sh, a.p, a.evs, auxSlots{a})
}

// auxSlots are the idle connections and slow readers as connectPaced sees
// them.
type auxSlots struct{ a *aux }

func (s auxSlots) count() int { return len(s.a.conns) }

func (s auxSlots) start(i int, now int64) bool {
	c := s.a.conns[i]
	s.a.startConnect(c, now)
	return c.state == auxConnecting
}

func (s auxSlots) finish(fd int32, events uint32, _ int64) bool {
	c := s.a.byFd[fd]
	if c == nil || c.state != auxConnecting {
		return false
	}
	s.a.finishConnect(c, events)
	return true
}

func (s auxSlots) expire(i int, now int64) bool {
	c := s.a.conns[i]
	if c.state != auxConnecting || now-c.startNs <= s.a.sh.connTONs {
		return false
	}
	s.a.connectFailed(c)
	return true
}

func (a *aux) startConnect(c *auxConn, now int64) {
	c.startNs = now
	fd, err := unix.Socket(a.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		a.connectFailed(c)
		return
	}
	if fd >= len(a.byFd) {
		unix.Close(fd)
		a.connectFailed(c)
		return
	}
	c.fd = int32(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		a.connectFailed(c)
		return
	}
	if len(a.srcs) > 0 {
		if a.family == unix.AF_INET {
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		}
		if err := unix.Bind(fd, a.srcs[int(c.id)%len(a.srcs)]); err != nil {
			a.connectFailed(c)
			return
		}
	}
	err = unix.Connect(fd, a.dst)
	switch err {
	case nil:
		a.byFd[fd] = c
		if err := a.p.Add(fd, a.events(c)); err != nil {
			a.connectFailed(c)
			return
		}
		c.state = auxUp
	case unix.EINPROGRESS:
		a.byFd[fd] = c
		if err := a.p.Add(fd, poller.Out); err != nil {
			a.connectFailed(c)
			return
		}
		c.state = auxConnecting
	default:
		a.connectFailed(c)
	}
}

func (a *aux) finishConnect(c *auxConn, events uint32) {
	soerr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || soerr != 0 || events&(poller.Err|poller.Hup) != 0 || events&poller.Out == 0 {
		a.connectFailed(c)
		return
	}
	if err := a.p.Mod(int(c.fd), a.events(c)); err != nil {
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
	a.ws = t.windowStartNs
	a.rawEnd = a.sh.endNs.Load()
	a.we = max(a.rawEnd, a.ws)
	now := nanotime()
	a.lastTick = now
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
		if e := a.sh.endNs.Load(); e != a.rawEnd {
			a.rawEnd = e
			a.we = max(min(a.we, max(e, now+1)), a.ws)
		}
		if now >= a.we {
			return nil
		}
		if a.bytesPerNs > 0 && now-a.lastTick >= slowTickNs {
			a.tick(now)
		}
		until := a.we
		if a.bytesPerNs > 0 {
			until = min(until, a.lastTick+slowTickNs)
		}
		ms := 0
		if d := until - now; d > 0 {
			ms = int((d + 999_999) / 1_000_000)
		}
		evs, _, err := a.p.Wait(a.evs, ms)
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
	if now < a.we {
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
		a.sh.pl.fill(a.wbuf, c.id, 0, c.tx)
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
		c.tx += int64(n)
		written += n
	}
}

// tick lets every slow reader read what its rate allows since the last
// tick, verifies it and tops its stream up.
func (a *aux) tick(now int64) {
	dt := float64(now - a.lastTick)
	a.lastTick = now
	for _, c := range a.conns {
		if !c.slow || c.state != auxUp {
			continue
		}
		c.allowance = math.Min(c.allowance+dt*a.bytesPerNs, a.burst)
		for c.state == auxUp && c.allowance >= 1 {
			want := min(int(c.allowance), len(a.rbuf))
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
			if c.rx+int64(n) > c.tx || !a.sh.pl.matchesStream(a.rbuf[:n], c.id, c.rx) {
				// Bytes that were never sent, or differ: the server
				// corrupted the stream. The connection is of no further use.
				a.drop(c)
				a.st.slowCorr++
				break
			}
			c.rx += int64(n)
			c.allowance -= float64(n)
			if now >= a.ws && now < a.we {
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
		c.tx = idleMsgBytes
		pending++
	}
	deadline := now + a.sh.timeoutNs
	for pending > 0 {
		now = nanotime()
		if now >= deadline {
			break
		}
		ms := int((deadline - now + 999_999) / 1_000_000)
		evs, _, err := a.p.Wait(a.evs, ms)
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
			if err != nil || n == 0 || c.rx+int64(n) > idleMsgBytes || !a.idlePl.matches(a.rbuf[:n], c.id, 0, c.rx) {
				a.idleCheckFailed(c)
				continue
			}
			c.rx += int64(n)
			if c.rx < idleMsgBytes {
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
