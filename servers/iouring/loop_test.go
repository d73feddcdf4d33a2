//go:build linux && (amd64 || arm64)

package iouring

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

// testLoop is a loop with a real ring and buffer ring but no listener and
// no goroutine: a test calls its handlers as completions would and reads
// the SQEs they queue (never submitted). The caller's goroutine is locked
// to its thread for the SINGLE_ISSUER ring.
func testLoop(t *testing.T, nbufs, size int) *loop {
	t.Helper()
	requireIOURing(t)
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := newRing(16, 32, ringFlags)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close() })
	b, err := newBufRing(r, nbufs, size, bufGroup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.free)
	return &loop{s: &Server{}, lfd: -1, efd: -1, maxPending: 1 << 20, log: io.Discard, r: r, bufs: b, conns: make([]*conn, 8)}
}

// lastSQE is the SQE queued last.
func (l *loop) lastSQE() *sqe { return &l.r.sqes[(l.r.localTail-1)&l.r.sqMask] }

func addrOf(p []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&p[0]))) }

// A send that the kernel takes only part of goes again for exactly the
// rest, from the same buffer, and the buffer goes back to the kernel only
// once all of it is sent. Bytes received meanwhile queue behind it.
func TestShortSendResubmitsRest(t *testing.T) {
	l := testLoop(t, 4, 1024)
	c := &conn{fd: 5, sendBid: -1, recvArmed: true}
	l.conns[5] = c
	tail := l.bufs.tail

	l.echo(c, 2, 100)
	s := l.lastSQE()
	if s.opcode != opSend || s.addr != addrOf(l.bufs.buf(2, 100)) || s.len != 100 {
		t.Fatalf("first send: op %d addr %#x len %d, want a send of buffer 2's 100 bytes", s.opcode, s.addr, s.len)
	}
	l.echo(c, 3, 10) // arrives while the send is in flight
	if l.bufs.tail != tail+1 || len(c.out) != 1 || len(c.out[0]) != 10 {
		t.Fatalf("bytes behind an in-flight send: buffer tail +%d, queue %d chunks; want copied to the queue and their buffer returned", l.bufs.tail-tail, len(c.out))
	}

	l.onSend(c, 30)
	s = l.lastSQE()
	if s.opcode != opSend || s.addr != addrOf(l.bufs.buf(2, 100)[30:]) || s.len != 70 {
		t.Fatalf("after a short send of 30: op %d addr %#x len %d, want the last 70 bytes of buffer 2", s.opcode, s.addr, s.len)
	}
	if c.pending != 80 || l.bufs.tail != tail+1 {
		t.Fatalf("pending %d, buffers returned %d; want 80 and 1", c.pending, l.bufs.tail-tail)
	}

	l.onSend(c, 70)
	s = l.lastSQE()
	if s.opcode != opSend || s.addr != addrOf(c.out[0]) || s.len != 10 {
		t.Fatalf("after buffer 2 is sent: op %d len %d, want the queued 10 bytes", s.opcode, s.len)
	}
	if l.bufs.tail != tail+2 || c.sendBid != -1 {
		t.Fatalf("buffer 2 not returned (tail +%d, sendBid %d)", l.bufs.tail-tail, c.sendBid)
	}
	l.onSend(c, 10)
	if c.pending != 0 || len(c.out) != 0 || c.sending {
		t.Fatalf("all sent: pending %d, queue %d chunks, sending %v", c.pending, len(c.out), c.sending)
	}
}

// With a buffer ring of two, recvs keep finding it empty (ENOBUFS ends a
// multishot recv): each must be re-armed once a buffer comes back, and
// every stream must still echo whole.
func TestFewBuffers(t *testing.T) {
	t.Parallel()
	requireIOURing(t)
	start := func(ctx context.Context, cfg servers.Config) (servers.Server, error) { return start(ctx, cfg, 2) }
	srv := modeltest.Start(t, start, servers.Config{})
	const conns, total = 16, 1 << 20
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		c := modeltest.Dial(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := modeltest.StreamEcho(c, total, 64<<10)
			if err != nil || got != total {
				t.Errorf("connection %d: echoed %d of %d bytes: %v", i, got, total, err)
			}
		}()
	}
	wg.Wait()
}
