package loadgen

import (
	"time"

	"golang.org/x/sys/unix"

	"echobench/internal/poller"
	"echobench/internal/rawio"
	"echobench/internal/results"
)

// The connect burst (Config.ConnectBurst) is a storm: at the start of the
// window every burst connection starts connecting at once, with no pacing,
// as when a fleet restarts or a load balancer fails over. Each echoes one
// small message (the idle connections' 32 bytes, its own id in the header)
// and closes. The burst runs in an event loop of its own, so the storm
// never stalls a worker; it is measured beside the active figures, never
// in them. Its ids follow the idle connections', so payloads never
// collide.

type burstState uint8

const (
	burstConnecting burstState = iota
	burstUp                    // connected, its message sent, awaiting the echo
	burstDone                  // echoed or failed; the socket is closed
)

// burstConn is one connection of the burst.
type burstConn struct {
	id             int32
	fd             int32
	state          burstState
	firstByteSeen  bool
	connectStartNs int64
	rxBytes        int64
}

// burstStats is what the burst measured.
type burstStats struct {
	conns, echoed, echoFailed int64
	startNs, lastDoneNs       int64
	cs                        *connectStats
}

// burst is the burst's event loop. One goroutine owns it; it shares only
// shared.abort and Poller.Wake with the others.
type burst struct {
	sh      *shared
	dialer  dialer
	p       *poller.Poller
	evs     []poller.Event
	conns   []burstConn
	byFd    []*burstConn
	rbuf    []byte
	wbuf    []byte
	pl      *payload
	pending int // connections neither echoed nor failed

	st burstStats
}

func newBurst(sh *shared, fdLimit int) (*burst, error) {
	p, err := poller.New(maxEvents)
	if err != nil {
		return nil, err
	}
	cfg := sh.cfg
	b := &burst{
		sh: sh, p: p,
		dialer: newDialer(sh, p, fdLimit),
		evs:    make([]poller.Event, 0, maxEvents),
		conns:  make([]burstConn, cfg.ConnectBurst),
		byFd:   make([]*burstConn, fdLimit),
		rbuf:   make([]byte, idleMsgBytes),
		wbuf:   make([]byte, idleMsgBytes),
		pl:     newPayload(idleMsgBytes),
	}
	first := int32(cfg.Conns + cfg.SlowReaders + cfg.IdleConns)
	for i := range b.conns {
		b.conns[i] = burstConn{id: first + int32(i), fd: -1}
	}
	b.st.conns = int64(cfg.ConnectBurst)
	b.st.cs = newConnectStats()
	return b, nil
}

func (b *burst) close() {
	for i := range b.conns {
		closeFd(&b.conns[i].fd)
	}
	b.p.Close()
}

// run waits for the window to start, starts every connection at once and
// serves them until each has echoed or failed, or until the connect
// timeout plus the message timeout have passed since the start.
func (b *burst) run(t timing) error {
	for !b.sh.abort.Load() && nanotime() < t.windowStartNs {
		time.Sleep(time.Duration(min(t.windowStartNs-nanotime(), int64(10*time.Millisecond))))
	}
	if b.sh.abort.Load() {
		return nil
	}
	b.st.startNs = nanotime()
	b.st.lastDoneNs = b.st.startNs
	b.pending = len(b.conns)
	for i := range b.conns {
		b.start(&b.conns[i])
	}
	deadlineNs := b.st.startNs + b.sh.connectTimeoutNs + b.sh.timeoutNs
	for b.pending > 0 && !b.sh.abort.Load() {
		now := nanotime()
		if now >= deadlineNs {
			break
		}
		evs, _, err := b.p.Wait(b.evs, ceilMs(deadlineNs-now))
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if c := b.byFd[ev.Fd]; c != nil {
				b.dispatch(c, ev.Events)
			}
		}
	}
	b.giveUp(nanotime())
	return nil
}

func (b *burst) start(c *burstConn) {
	c.connectStartNs = nanotime()
	fd, outcome, err := b.dialer.dial(c.id, poller.In)
	if outcome == dialFailed {
		b.connectFailed(c, err)
		return
	}
	c.fd = int32(fd)
	b.byFd[fd] = c
	if outcome == dialConnected {
		b.established(c)
	}
}

func (b *burst) dispatch(c *burstConn, events uint32) {
	switch c.state {
	case burstConnecting:
		if err := b.dialer.finish(int(c.fd), events, poller.In); err != nil {
			b.connectFailed(c, err)
			return
		}
		b.established(c)
	case burstUp:
		b.onReadable(c)
	}
}

// established records the connect latency and sends the message. A 32-byte
// write to a fresh socket cannot meet a full buffer: a short one means the
// connection is broken.
func (b *burst) established(c *burstConn) {
	now := nanotime()
	c.state = burstUp
	b.st.cs.established++
	b.st.cs.record(b.st.cs.connectHist, now-c.connectStartNs)
	b.pl.fill(b.wbuf, c.id, 0, 0)
	if n, err := rawio.Send(int(c.fd), b.wbuf); err != nil || n != idleMsgBytes {
		b.finish(c, false, now)
	}
}

// onReadable verifies the echo; the connection is done once all of it has
// come back intact, or at the first error or wrong byte.
func (b *burst) onReadable(c *burstConn) {
	n, err := rawio.Recv(int(c.fd), b.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	now := nanotime()
	if err != nil || n == 0 || c.rxBytes+int64(n) > idleMsgBytes || !b.pl.matches(b.rbuf[:n], c.id, 0, c.rxBytes) {
		b.finish(c, false, now)
		return
	}
	if !c.firstByteSeen {
		c.firstByteSeen = true
		b.st.cs.record(b.st.cs.firstByteHist, now-c.connectStartNs)
	}
	if c.rxBytes += int64(n); c.rxBytes == idleMsgBytes {
		b.finish(c, true, now)
	}
}

func (b *burst) connectFailed(c *burstConn, err error) {
	addConnectFailure(&b.st.cs.failed, err)
	b.finish(c, false, nanotime())
}

// finish closes c for good: echoed, or failed after it connected.
func (b *burst) finish(c *burstConn, echoed bool, now int64) {
	if c.state == burstUp {
		if echoed {
			b.st.echoed++
		} else {
			b.st.echoFailed++
		}
	}
	if c.fd >= 0 {
		b.byFd[c.fd] = nil
		closeFd(&c.fd)
	}
	c.state = burstDone
	b.pending--
	b.st.lastDoneNs = max(b.st.lastDoneNs, now)
}

// giveUp fails whatever is still open at the deadline: connects still in
// progress timed out, connections up did not echo in time.
func (b *burst) giveUp(now int64) {
	for i := range b.conns {
		switch c := &b.conns[i]; c.state {
		case burstConnecting:
			addConnectFailure(&b.st.cs.failed, errConnectTimeout)
			b.finish(c, false, now)
		case burstUp:
			b.finish(c, false, now)
		}
	}
}

// figures is the burst's part of the record, and its warnings.
func (b *burst) figures() (*results.Burst, []string) {
	st := &b.st
	r := &results.Burst{
		Conns:        st.conns,
		Echoed:       st.echoed,
		DurationS:    float64(st.lastDoneNs-st.startNs) / 1e9,
		ConnectUs:    results.LatencyOf(st.cs.connectHist),
		FirstByteUs:  results.LatencyOf(st.cs.firstByteHist),
		ConnectHDR:   encodeHist(st.cs.connectHist),
		FirstByteHDR: encodeHist(st.cs.firstByteHist),
		Failed:       st.cs.failed,
		EchoFailed:   st.echoFailed,
	}
	return r, connectWarnings("connect burst", st.cs, 0)
}
