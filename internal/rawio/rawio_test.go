package rawio

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// socketpair returns a connected pair of non-blocking stream sockets.
func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestReadWrite(t *testing.T) {
	a, b := socketpair(t)
	msg := []byte("hello, echo")
	if n, err := Write(a, msg); n != len(msg) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 64)
	n, err := Read(b, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("Read = %q, %v; want %q", buf[:n], err, msg)
	}
	if n, err := Read(b, nil); n != 0 || err != nil {
		t.Errorf("Read of an empty buffer = %d, %v", n, err)
	}
}

// The errors must come back as the errno values a loop compares against,
// decoded from the raw result (which is a negative number on amd64).
func TestErrors(t *testing.T) {
	a, b := socketpair(t)
	buf := make([]byte, 64)
	if _, err := Read(b, buf); err != unix.EAGAIN {
		t.Errorf("Read of an empty socket: %v, want EAGAIN", err)
	}
	if _, err := Read(-1, buf); err != unix.EBADF {
		t.Errorf("Read of fd -1: %v, want EBADF", err)
	}
	// Fill the send buffer: the last write must say EAGAIN, not a count.
	chunk := make([]byte, 1<<16)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = Write(a, chunk)
	}
	if err != unix.EAGAIN {
		t.Errorf("Write to a full socket: %v, want EAGAIN", err)
	}
	unix.Shutdown(b, unix.SHUT_RDWR)
	for i := 0; i < 1000 && err == unix.EAGAIN; i++ {
		_, err = Write(a, chunk)
	}
	if err != unix.EPIPE {
		t.Errorf("Write after the peer closed: %v, want EPIPE", err)
	}
}

func TestNoAllocs(t *testing.T) {
	a, b := socketpair(t)
	buf := make([]byte, 8)
	allocs := testing.AllocsPerRun(100, func() {
		Write(a, buf)
		Read(b, buf)
		Read(b, buf) // EAGAIN
	})
	if allocs != 0 {
		t.Errorf("%v allocations per write+read+EAGAIN, want 0", allocs)
	}
}
