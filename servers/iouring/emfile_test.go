//go:build linux && (amd64 || arm64)

package iouring

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

// TestAcceptEMFILE: when accept fails with EMFILE the loop logs it, keeps
// serving its connections, and re-arms the accept after a pause, which
// takes the waiting client once descriptors are free. modeltest's version
// lowers the limit after Start, but an io_uring accept reads RLIMIT_NOFILE
// when it is armed, so here the limit is lowered first.
func TestAcceptEMFILE(t *testing.T) {
	// Not parallel (t.Setenv enforces it): it lowers the process's limit.
	t.Setenv("ECHOBENCH_MODELTEST_SEQUENTIAL", t.Name())
	requireIOURing(t)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	lim := old
	lim.Cur = uint64(len(ents) + 64) // the server, two clients, the test's own
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
	failed := make(chan struct{}, 1)
	log := signalWriter{modeltest.LogWriter{TB: t}, failed}
	srv := modeltest.Start(t, Start, servers.Config{Log: log})
	live := modeltest.Dial(t, srv)
	if err := modeltest.RoundTrip(live, []byte("a"), []byte{0}); err != nil {
		t.Fatal(err)
	}
	for {
		fd, err := syscall.Dup(0)
		if err != nil {
			break
		}
		holders = append(holders, fd)
	}
	syscall.Close(holders[len(holders)-1]) // for the waiting client's socket
	holders = holders[:len(holders)-1]
	waiting := modeltest.Dial(t, srv)
	select {
	case <-failed:
	case <-time.After(modeltest.Watchdog):
		t.Fatal("the server never logged EMFILE on accept")
	}
	if err := modeltest.RoundTrip(live, []byte("b"), []byte{0}); err != nil {
		t.Fatalf("live connection broke while accepts fail: %v", err)
	}
	release()
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if err := modeltest.RoundTrip(waiting, []byte("c"), []byte{0}); err != nil {
		t.Fatalf("waiting client not served after descriptors freed: %v", err)
	}
}

// signalWriter passes log lines on and signals the first accept EMFILE.
type signalWriter struct {
	modeltest.LogWriter
	seen chan struct{}
}

func (s signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("accept: too many open files; pausing")) {
		select {
		case s.seen <- struct{}{}:
		default:
		}
	}
	return s.LogWriter.Write(p)
}
