package gnet

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"echobench/servers/work"
)

// Work per request (Config.Work), as a gnet user writes it:
//
//   - A request's bytes stay in gnet's inbound buffer until it is served:
//     OnTraffic serves while InboundBuffered holds a whole request, with
//     Peek, Write and Discard, so a request is never copied by the model.
//   - cpu spins and block sleeps inline in OnTraffic, on the event loop.
//   - wait starts the connection's timer (a runtime timer, reused: see
//     work.Waiter) and returns to the loop; on expiry the timer goroutine
//     calls Conn.Wake, gnet's documented way to get back onto a
//     connection's loop from another goroutine, which runs OnTraffic there,
//     and the reply is written from the loop.
//
// gnet reads a connection whatever the model does (no backpressure, see
// the package doc), so bytes a pipelining client sends during a wait pile
// up in gnet's inbound buffer: a connection whose unserved input passes
// max(MaxPendingBytes, RequestSizeBytes) is closed, as with output.
// gnet closes a connection at read EOF, so a client that half-closes while
// a request waits loses that reply and those after it.
//
// Allocation: each wake allocates a closure inside gnet (Conn.Wake), and
// Peek copies into a pooled slice when a request straddles the end of
// gnet's ring buffer. Ordinals for the exp draws are per process.

// connWork is one connection's work state, its gnet context.
type connWork struct {
	rand    work.Rand
	waiter  *work.Waiter // nil unless the kind is wait
	waiting bool         // a request's wait is running
}

func (h *handler) openWork(c gnet.Conn) {
	st := &connWork{rand: work.NewRand(h.s.accepted.Add(1) - 1)}
	if h.s.work.Kind == work.Wait {
		st.waiter = work.NewWaiter(func() { _ = c.Wake(nil) })
	}
	c.SetContext(st)
}

func closeWork(c gnet.Conn) {
	if st, ok := c.Context().(*connWork); ok && st.waiter != nil {
		st.waiter.Stop()
	}
}

// trafficWork serves every whole request that has arrived, in order, unless
// one is waiting.
func (h *handler) trafficWork(c gnet.Conn) gnet.Action {
	s := h.s
	st := c.Context().(*connWork)
	for {
		if st.waiting {
			if !st.waiter.Done() {
				break
			}
			st.waiting = false
			if !reply(c, s.requestSize) {
				return gnet.Close
			}
		}
		if c.InboundBuffered() < s.requestSize {
			break
		}
		d := s.work.Duration(&st.rand)
		switch s.work.Kind {
		case work.CPU:
			work.Spin(d)
		case work.Block:
			time.Sleep(d)
		case work.Wait:
			st.waiting = true
			st.waiter.Start(d)
			continue
		}
		if !reply(c, s.requestSize) {
			return gnet.Close
		}
	}
	if c.OutboundBuffered() > s.maxPending || c.InboundBuffered() > max(s.maxPending, s.requestSize) {
		s.overCap.Add(1)
		return gnet.Close
	}
	return gnet.None
}

// reply echoes the request at the head of c's input.
func reply(c gnet.Conn, size int) bool {
	req, err := c.Peek(size)
	if err != nil {
		return false
	}
	_, err = c.Write(req)
	c.Discard(size)
	return err == nil
}
