package evio

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/tidwall/evio"

	"echobench/servers/work"
)

// Work per request (Config.Work), as an evio user writes it:
//
//   - evio hands Data each read and keeps nothing, so bytes of requests not
//     yet served are kept in the connection's own input buffer (copied from
//     evio's read buffer only when a read leaves an unfinished or waiting
//     request behind; whole requests are served from evio's buffer).
//   - cpu spins and block sleeps inline in Data, on the event loop; the
//     replies of all the whole requests of a read are returned at once.
//   - wait starts the connection's timer (a runtime timer, reused: see
//     work.Waiter) and returns; on expiry the timer goroutine calls
//     Conn.Wake, evio's way back onto a connection's loop, which calls Data
//     with no input there, and the reply is returned from the loop.
//
// evio reads a connection whenever it has no output pending, so bytes a
// pipelining client sends during a wait pile up in the input buffer: a
// connection whose unserved input passes max(MaxPendingBytes,
// RequestSizeBytes) is closed. evio copies a reply returned from a wake
// into a new slice (one allocation per waited request, inside evio).
// Ordinals for the exp draws are per process.
//
// evio's wake path assigns the reply to the connection's output buffer,
// replacing output not yet sent (loopWake: c.out = append([]byte{},
// out...)). That can happen when a pipelining client's next wait ends
// before the previous reply has left. Before replying from a wake the model
// therefore reads the length of evio's unexported conn.out (reflect,
// read-only) and, while output is pending, looks again retryWait later. If
// evio's conn has no such field (another evio version), wait is refused:
// each connection is closed and that is logged, rather than risk bytes.
const retryWait = 200 * time.Microsecond

// outField is the index of evio's conn.out, or -1.
var (
	outFieldOnce sync.Once
	outField     = -1
)

func findOutField(c evio.Conn) {
	outFieldOnce.Do(func() {
		t := reflect.TypeOf(c)
		if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return
		}
		if f, ok := t.Elem().FieldByName("out"); ok && f.Type == reflect.TypeFor[[]byte]() && len(f.Index) == 1 {
			outField = f.Index[0]
		}
	})
}

// unsent is how many bytes of output evio holds for c.
func unsent(c evio.Conn) int {
	return reflect.ValueOf(c).Elem().Field(outField).Len()
}

// connWork is one connection's work state, its evio context.
type connWork struct {
	rand    work.Rand
	waiter  *work.Waiter // nil unless the kind is wait
	waiting bool         // the request at the front of the input waits
	in      []byte       // unserved input is in[head:]
	head    int
}

// openWork gives c its work state; false means c must be closed.
func (s *Server) openWork(c evio.Conn) bool {
	st := &connWork{rand: work.NewRand(s.accepted.Add(1) - 1)}
	if s.work.Kind == work.Wait {
		if findOutField(c); outField < 0 {
			s.noOut.Do(func() {
				fmt.Fprintf(s.log, "evio: --work %v refused: this evio's connection has no readable output buffer (see servers/evio/work.go)\n", s.work)
			})
			return false
		}
		st.waiter = work.NewWaiter(c.Wake)
	}
	c.SetContext(st)
	return true
}

func closeWork(c evio.Conn) {
	if st, ok := c.Context().(*connWork); ok && st.waiter != nil {
		st.waiter.Stop()
	}
}

// dataWork serves the whole requests that have arrived, in order, stopping
// at one that waits, and returns their replies. The replies may alias in or
// st.in: evio copies them before it calls back again, and only then is
// st.in compacted.
func (s *Server) dataWork(c evio.Conn, in []byte) ([]byte, evio.Action) {
	st := c.Context().(*connWork)
	if st.head > 0 {
		st.in = st.in[:copy(st.in, st.in[st.head:])]
		st.head = 0
	}
	src := in // nothing held: serve from evio's buffer, no copy
	if len(st.in) > 0 {
		st.in = append(st.in, in...)
		src = st.in
	}
	n := s.serve(c, st, src)
	if len(st.in) > 0 {
		st.head = n
	} else {
		st.in = append(st.in, src[n:]...)
	}
	if len(st.in)-st.head > max(s.maxPending, s.requestSize) {
		s.overCap.Add(1)
		return nil, evio.Close
	}
	return src[:n], evio.None
}

// serve does the work of the requests at the front of src and returns how
// many bytes of src they span.
func (s *Server) serve(c evio.Conn, st *connWork, src []byte) int {
	size := s.requestSize
	n := 0
	if st.waiting {
		if !st.waiter.Done() {
			return 0
		}
		if unsent(c) > 0 { // a wake now would replace it: look again soon
			st.waiter.Start(retryWait)
			return 0
		}
		st.waiting = false
		n = size
	}
	for ; len(src)-n >= size; n += size {
		d := s.work.Duration(&st.rand)
		switch s.work.Kind {
		case work.CPU:
			work.Spin(d)
		case work.Block:
			time.Sleep(d)
		case work.Wait:
			st.waiting = true
			st.waiter.Start(d)
			return n
		}
	}
	return n
}
