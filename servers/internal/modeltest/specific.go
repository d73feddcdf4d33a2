package modeltest

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

// Backpressure checks a model that stops reading a connection whose output
// is pending: a client that writes and never reads must stall, and every
// byte it managed to send must still come back once it reads. cfg is the
// model's configuration for the test (typically a small MaxPendingBytes).
// It may run in parallel with other tests.
func Backpressure(t *testing.T, start servers.StartFunc, cfg servers.Config) {
	t.Helper()
	srv := Start(t, start, cfg)
	c := Dial(t, srv)
	written, stalled := WriteUntilStall(t, c, 64<<20)
	if !stalled {
		t.Fatalf("wrote %d bytes without reading and never stalled: no backpressure", written)
	}
	t.Logf("stalled after %d bytes", written)
	if err := c.SetDeadline(time.Now().Add(Watchdog)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(c, 0)
	if err != nil || got != written {
		t.Fatalf("echoed %d of %d bytes: %v", got, written, err)
	}
}

// WriteUntilStall writes Pattern without reading until limit bytes are
// written or one write makes no progress for 300 ms. It fails the test on
// any write error other than that timeout.
func WriteUntilStall(t *testing.T, c *net.TCPConn, limit int) (written int, stalled bool) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for written < limit {
		Pattern(buf, written)
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

// requireSequential makes a test that measures or changes the whole process
// fail loudly if it is (or later becomes) parallel: t.Setenv panics in a
// test that is parallel or has a parallel ancestor, and makes a later
// t.Parallel panic. Sequential top-level tests run while no parallel test
// does, which is what these tests need.
func requireSequential(t *testing.T) {
	t.Setenv("ECHOBENCH_MODELTEST_SEQUENTIAL", t.Name())
}

// NoAllocsPerMessage proves the model's hot path (one read, one write back)
// allocates nothing, for 64 B and 16 KiB messages: the client is
// allocation-free, so any allocation counted across the process during the
// round trips is the server's.
//
// It must run as a sequential (not parallel) test: testing.AllocsPerRun
// counts every goroutine's allocations. It panics if called from a parallel
// test.
func NoAllocsPerMessage(t *testing.T, start servers.StartFunc) {
	t.Helper()
	requireSequential(t)
	srv := Start(t, start, servers.Config{})
	for _, size := range []int{64, 16 << 10} {
		c := Dial(t, srv)
		msg, reply := make([]byte, size), make([]byte, size)
		Pattern(msg, 0)
		if err := RoundTrip(c, msg, reply); err != nil {
			t.Fatal(err)
		}
		var rtErr error
		allocs := testing.AllocsPerRun(500, func() {
			if err := RoundTrip(c, msg, reply); err != nil && rtErr == nil {
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

// AcceptEMFILE runs the server out of file descriptors: accept fails with
// EMFILE, the server logs a line containing failLog and keeps serving its
// connections, and it accepts the waiting client once descriptors are free
// again. failLog is the model's own log line for a failed accept.
//
// It must run as a sequential (not parallel) test, since it lowers the
// process's descriptor limit; it panics if called from a parallel test. It
// skips where the limit cannot be lowered or /proc/self/fd cannot be read.
func AcceptEMFILE(t *testing.T, start servers.StartFunc, failLog string) {
	t.Helper()
	requireSequential(t)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 1)
	srv := Start(t, start, servers.Config{Log: signalWriter{LogWriter{t}, failLog, failed}})
	live := Dial(t, srv)
	if err := RoundTrip(live, []byte("a"), []byte{0}); err != nil {
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
	waiting := Dial(t, srv) // connects (backlog) but the server cannot accept it
	select {
	case <-failed:
	case <-time.After(Watchdog):
		t.Fatalf("the server never logged %q (EMFILE on accept)", failLog)
	}
	if err := RoundTrip(live, []byte("b"), []byte{0}); err != nil {
		t.Fatalf("live connection broke while accepts fail: %v", err)
	}
	release()
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := RoundTrip(waiting, []byte("c"), []byte{0}); err != nil {
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

// countFDs counts this process's open descriptors, skipping the test where
// /proc is unavailable.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// OverCapCloses checks a model that cannot stop reading a connection (gnet,
// netpoll, nbio) and bounds memory by closing it instead: a client that
// writes without reading is closed, not stalled, the closure is counted once
// (overCap reads the model's counter; some libraries close before the model
// can count, so it is polled), and the server still serves others.
func OverCapCloses(t *testing.T, start servers.StartFunc, overCap func(servers.Server) int64) {
	t.Helper()
	srv := Start(t, start, servers.Config{MaxPendingBytes: 64 << 10})
	c := Dial(t, srv)
	buf := make([]byte, 64<<10)
	written := 0
	var err error
	for written < 64<<20 {
		var n int
		if err = c.SetWriteDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err = c.Write(buf)
		written += n
		if err != nil {
			break
		}
	}
	if err == nil {
		t.Fatalf("wrote %d bytes without reading and the connection stayed open", written)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writes stalled after %d bytes instead of the connection being closed", written)
	}
	t.Logf("connection closed after %d bytes: %v", written, err)
	for deadline := time.Now().Add(Watchdog); overCap(srv) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // polling a counter with a deadline, not waiting for readiness
	}
	if n := overCap(srv); n != 1 {
		t.Errorf("over-cap closures counted: %d, want 1", n)
	}
	if err := RoundTrip(Dial(t, srv), []byte("next"), make([]byte, 4)); err != nil {
		t.Fatalf("server did not survive: %v", err)
	}
}
