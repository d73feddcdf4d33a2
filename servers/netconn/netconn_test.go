package netconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"echobench/servers"
)

// TestBackpressure: a client that writes and never reads must stall once
// pending output reaches the cap, and every byte it managed to send must
// still come back once it reads.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{MaxPendingBytes: 64 << 10})
	c := dial(t, srv)
	written, stalled := writeUntilStall(t, c, 64<<20)
	if !stalled {
		t.Fatalf("wrote %d bytes without reading and never stalled: no backpressure", written)
	}
	t.Logf("stalled after %d bytes", written)
	if err := c.SetDeadline(time.Now().Add(watchdog)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(c, 0)
	if err != nil || got != written {
		t.Fatalf("echoed %d of %d bytes: %v", got, written, err)
	}
}

// writeUntilStall writes the pattern without reading until limit bytes are
// written or one write makes no progress for 300 ms.
func writeUntilStall(t *testing.T, c *net.TCPConn, limit int) (written int, stalled bool) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for written < limit {
		pattern(buf, written)
		if err := c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := c.Write(buf)
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n == 0 {
				return written, true
			}
			continue
		}
		if err != nil {
			t.Fatalf("write after %d bytes: %v", written, err)
		}
	}
	return written, false
}

// TestNoAllocsPerMessage proves the hot path (one read, one write back)
// allocates nothing: the client is allocation-free, so any allocation
// counted across the process during the round trips is the server's.
func TestNoAllocsPerMessage(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	srv := start(t, servers.Config{})
	for _, size := range []int{64, 16 << 10} {
		c := dial(t, srv)
		msg, reply := make([]byte, size), make([]byte, size)
		pattern(msg, 0)
		if err := roundTrip(c, msg, reply); err != nil {
			t.Fatal(err)
		}
		var rtErr error
		allocs := testing.AllocsPerRun(500, func() {
			if err := roundTrip(c, msg, reply); err != nil && rtErr == nil {
				rtErr = err
			}
		})
		if rtErr != nil {
			t.Fatal(rtErr)
		}
		if allocs != 0 {
			t.Errorf("%d-byte echo: %v allocations per round trip, want 0", size, allocs)
		}
	}
}

// TestAcceptEMFILE runs the server out of file descriptors: accept fails
// with EMFILE, the server keeps serving its connections, and accepts the
// waiting client once descriptors are free again.
func TestAcceptEMFILE(t *testing.T) {
	// Not parallel: it lowers the process's descriptor limit.
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 1)
	srv := start(t, servers.Config{Log: signalWriter{tbWriter{t}, "too many open files; retrying", failed}})
	live := dial(t, srv)
	if err := roundTrip(live, []byte("a"), []byte{0}); err != nil {
		t.Fatal(err)
	}
	// Use up every descriptor but one, which the next client takes.
	open := countFDs(t)
	lim := old
	lim.Cur = uint64(open + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var holders []int
	release := func() {
		for _, fd := range holders {
			syscall.Close(fd)
		}
		holders = nil
	}
	t.Cleanup(func() {
		release()
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	})
	for {
		fd, err := syscall.Dup(0)
		if err != nil {
			break
		}
		holders = append(holders, fd)
	}
	syscall.Close(holders[len(holders)-1])
	holders = holders[:len(holders)-1]
	waiting := dial(t, srv) // connects (backlog) but the server cannot accept it
	select {
	case <-failed:
	case <-time.After(watchdog):
		t.Fatal("the server never reported EMFILE on accept")
	}
	if err := roundTrip(live, []byte("b"), []byte{0}); err != nil {
		t.Fatalf("live connection broke while accepts fail: %v", err)
	}
	release()
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(waiting, []byte("c"), []byte{0}); err != nil {
		t.Fatalf("waiting client not served after descriptors freed: %v", err)
	}
}

// signalWriter passes writes on and signals when one contains substr.
type signalWriter struct {
	w      io.Writer
	substr string
	seen   chan struct{}
}

func (s signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(s.substr)) {
		select {
		case s.seen <- struct{}{}:
		default:
		}
	}
	return s.w.Write(p)
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

func BenchmarkEcho64B(b *testing.B)  { benchEcho(b, 64) }
func BenchmarkEcho16KB(b *testing.B) { benchEcho(b, 16<<10) }
