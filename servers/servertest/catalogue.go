package servertest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// exclusiveCases serialises the cases that need most of this process's
// file descriptors.
var exclusiveCases sync.Mutex

// caseLargeTransfer: one connection echoes 64 MiB, written and read at once,
// every byte checked, while the server's peak RSS grows by at most
// 2 x max-pending + 16 MiB: a server that copies what it receives into a
// growing buffer instead of writing it out is caught here. The first 32 MiB
// are a warm-up that the growth is measured from, so a model's fixed
// buffers (iouring's 16 MiB buffer ring, touched page by page as the kernel
// cycles through it) count as fixed, and only growth with the stream counts.
// The client never half-closes (that is half-close-8mib's question) and keeps
// at most 1 MiB in flight, as a streaming client with a window does: the
// case asks whether the server streams without growing, not how it treats
// a client that falls behind (slow-reader-64mib's question, which gnet, nbio
// and netpoll answer by closing).
func caseLargeTransfer(e *env) {
	const (
		warm  = 32 << 20
		total = warm + 64<<20
		chunk = 256 << 10
	)
	limitKiB := int64(2*e.target.maxPending()+16<<20) >> 10
	var baseKiB int64
	c := e.mustDial()
	pattern := e.randomBytes(chunk)
	// Each chunk carries its index, so a chunk echoed twice or out of order
	// shows.
	chunkAt := func(dst []byte, i int) {
		copy(dst, pattern)
		binary.LittleEndian.PutUint64(dst, uint64(i))
	}
	// One credit per chunk in flight: the writer takes one before each
	// chunk, the reader gives it back once that chunk's echo is in.
	credits := make(chan struct{}, (1<<20)/chunk)
	for range cap(credits) {
		credits <- struct{}{}
	}
	writeErr := make(chan error, 1)
	go func() {
		buf := make([]byte, chunk)
		for i := 0; i < total/chunk; i++ {
			select {
			case <-credits:
			case <-time.After(time.Until(e.deadline)):
				writeErr <- errors.New("no echo came back within the case's deadline")
				return
			}
			chunkAt(buf, i)
			if _, err := c.Write(buf); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	got, want := make([]byte, chunk), make([]byte, chunk)
	for i := 0; i < total/chunk; i++ {
		if i == warm/chunk {
			var err error
			if baseKiB, err = statusKiB(e.srv.pid, "VmHWM"); err != nil {
				e.t.Fatal(err)
			}
		}
		if _, err := io.ReadFull(c, got); err != nil {
			e.t.Fatalf("read the echo of chunk %d of %d: %v", i, total/chunk, err)
		}
		chunkAt(want, i)
		if !bytes.Equal(got, want) {
			e.t.Fatalf("chunk %d of the 96 MiB stream: %v", i, compareEcho(want, got))
		}
		credits <- struct{}{}
	}
	if err := <-writeErr; err != nil {
		e.t.Fatalf("write the 96 MiB stream: %v", err)
	}
	peakKiB, err := statusKiB(e.srv.pid, "VmHWM")
	if err != nil {
		e.t.Fatal(err)
	}
	growthKiB := peakKiB - baseKiB
	e.t.Logf("%s: 64 MiB echoed after a 32 MiB warm-up; peak RSS %d KiB, %d KiB above the %d KiB peak after the warm-up (limit %d KiB)", e.target.Name, peakKiB, growthKiB, baseKiB, limitKiB)
	if growthKiB > limitKiB {
		e.t.Errorf("server peak RSS grew by %.1f MiB while echoing 64 MiB to a client that reads, over 2 x max-pending + 16 MiB = %.1f MiB",
			float64(growthKiB)/1024, float64(limitKiB)/1024)
	}
}

// idleConns is how many idle connections caseIdle holds.
const idleConns = 10_000

// caseIdle: 10,000 connections are opened and held silent, then each must
// still echo one message: a model that drops, starves or times out idle
// connections fails. The server's open fds must cover them all while held.
func caseIdle(e *env) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < idleConns+1000 {
		e.t.Skipf("this process may open %d files, fewer than the %d idle connections need (RLIMIT_NOFILE)", rl.Cur, idleConns+1000)
	}
	baseline := e.baselineFDs()
	conns := make([]*net.TCPConn, 0, idleConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for len(conns) < idleConns {
		c, err := e.dial()
		if err != nil {
			e.t.Fatalf("connection %d of %d: %v", len(conns)+1, idleConns, err)
		}
		conns = append(conns, c)
	}
	connected := time.Since(start)
	// A connect completes in the kernel's accept queue; the server takes
	// it when it gets to it. Poll, as awaitFDs does, until it holds them.
	held, deadline := 0, time.Now().Add(fdSettleTimeout)
	for {
		if n, err := fdCount(e.srv.pid); err == nil {
			held = n - baseline
		}
		if held >= idleConns || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if held < idleConns {
		e.t.Errorf("%v after the last connect the server holds %d fds over its %d at rest for %d idle connections: it has not accepted, or has dropped, some",
			fdSettleTimeout, held, baseline, idleConns)
	}
	if err := echoEach(conns); err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("%s: %d idle connections opened in %v, each echoed one message after (%v in all)",
		e.target.Name, idleConns, connected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// echoEach writes one message on every connection, then reads each echo
// back: every connection is served, none is starved by the others.
func echoEach(conns []*net.TCPConn) error {
	msg := func(i int) []byte { return fmt.Appendf(nil, "idle %06d", i) }
	for i, c := range conns {
		if _, err := c.Write(msg(i)); err != nil {
			return fmt.Errorf("idle connection %d: write after idling: %w", i, err)
		}
	}
	var errs []error
	for i, c := range conns {
		want := msg(i)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			errs = append(errs, fmt.Errorf("idle connection %d: %w", i, err))
		} else if !bytes.Equal(got, want) {
			errs = append(errs, fmt.Errorf("idle connection %d: %v", i, compareEcho(want, got)))
		}
		if len(errs) >= 3 {
			break
		}
	}
	return errors.Join(errs...)
}
