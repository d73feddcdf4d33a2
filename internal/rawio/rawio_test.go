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

func TestSendRecv(t *testing.T) {
	a, b := socketpair(t)
	msg := []byte("hello, echo")
	if n, err := Send(a, msg); n != len(msg) || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	buf := make([]byte, 64)
	n, err := Recv(b, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("Recv = %q, %v; want %q", buf[:n], err, msg)
	}
	if n, err := Recv(b, nil); n != 0 || err != nil {
		t.Errorf("Recv into an empty buffer = %d, %v", n, err)
	}
}

// The errors must come back as the errno values a loop compares against,
// decoded from the raw result (which is a negative number on amd64).
func TestErrors(t *testing.T) {
	a, b := socketpair(t)
	buf := make([]byte, 64)
	if _, err := Recv(b, buf); err != unix.EAGAIN {
		t.Errorf("Recv on an empty socket: %v, want EAGAIN", err)
	}
	if _, err := Recv(-1, buf); err != unix.EBADF {
		t.Errorf("Recv on fd -1: %v, want EBADF", err)
	}
	// Fill the send buffer: the last write must say EAGAIN, not a count.
	chunk := make([]byte, 1<<16)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = Send(a, chunk)
	}
	if err != unix.EAGAIN {
		t.Errorf("Send to a full socket: %v, want EAGAIN", err)
	}
	unix.Shutdown(b, unix.SHUT_RDWR)
	for i := 0; i < 1000 && err == unix.EAGAIN; i++ {
		_, err = Send(a, chunk)
	}
	if err != unix.EPIPE {
		t.Errorf("Send after the peer shut down: %v, want EPIPE", err)
	}
}

func TestNoAllocs(t *testing.T) {
	a, b := socketpair(t)
	buf := make([]byte, 8)
	allocs := testing.AllocsPerRun(100, func() {
		Send(a, buf)
		Recv(b, buf)
		Recv(b, buf) // EAGAIN
	})
	if allocs != 0 {
		t.Errorf("%v allocations per send+recv+EAGAIN, want 0", allocs)
	}
}

// Recv is recvfrom with no flags: on a pipe it says ENOTSOCK (read(2) would
// succeed), and two one-byte receives consume two bytes (a stray MSG_PEEK
// in the flags register would return the first byte twice).
func TestSocketCallsOnly(t *testing.T) {
	a, b := socketpair(t)
	if _, err := Send(a, []byte("ab")); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	var got []byte
	for range 2 {
		if n, err := Recv(b, one); n != 1 || err != nil {
			t.Fatalf("Recv = %d, %v", n, err)
		}
		got = append(got, one[0])
	}
	if string(got) != "ab" {
		t.Errorf("two one-byte receives gave %q, want \"ab\"", got)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := Send(p[1], one); err != unix.ENOTSOCK {
		t.Errorf("Send on a pipe: %v, want ENOTSOCK", err)
	}
	if _, err := Recv(p[0], one); err != unix.ENOTSOCK {
		t.Errorf("Recv on a pipe: %v, want ENOTSOCK", err)
	}
}
