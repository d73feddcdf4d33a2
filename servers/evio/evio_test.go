package evio

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	modeltest.RunCommon(t, Start)
}

// TestBackpressure: evio does not read a connection with output pending, so
// a client that never reads stalls, and everything it sent still comes back.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	modeltest.Backpressure(t, Start, servers.Config{})
}

// TestNoDelayInherited checks that the accepted socket has TCP_NODELAY,
// which the model sets on evio's listener for accepted sockets to inherit.
func TestNoDelayInherited(t *testing.T) {
	t.Parallel()
	srv := modeltest.Start(t, Start, servers.Config{})
	c := modeltest.Dial(t, srv)
	if err := modeltest.RoundTrip(c, []byte("x"), []byte{0}); err != nil {
		t.Fatal(err)
	}
	peer := c.LocalAddr().(*net.TCPAddr)
	fd := acceptedFD(t, peer)
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if err != nil {
		t.Fatal(err)
	}
	if v == 0 {
		t.Fatal("accepted socket has TCP_NODELAY off")
	}
}

// acceptedFD finds the server-side descriptor whose peer is the client.
func acceptedFD(t *testing.T, client *net.TCPAddr) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list descriptors: %v", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		if a, ok := sa.(*unix.SockaddrInet4); ok && a.Port == client.Port && net.IP(a.Addr[:]).Equal(client.IP) {
			return fd
		}
	}
	t.Fatalf("no server socket with peer %v", client)
	return -1
}

// TestDescriptorGuard: past the connection cap derived from RLIMIT_NOFILE,
// new connections are closed at once instead of letting accept hit EMFILE,
// which would shut evio down.
func TestDescriptorGuard(t *testing.T) {
	// Not parallel: it changes fdReserve, read by Start.
	old := fdReserve
	fdReserve = fdLimit() - 3
	t.Cleanup(func() { fdReserve = old })
	srv := modeltest.Start(t, Start, servers.Config{})
	for i := 0; i < 3; i++ {
		if err := modeltest.RoundTrip(modeltest.Dial(t, srv), []byte{byte(i)}, []byte{0}); err != nil {
			t.Fatalf("connection %d under the cap: %v", i, err)
		}
	}
	over := modeltest.Dial(t, srv)
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection over the cap: read got %v, want EOF", err)
	}
	if n := srv.(*Server).refused.Load(); n < 1 {
		t.Errorf("refused connections counted: %d, want ≥ 1", n)
	}
}

func BenchmarkEcho64B(b *testing.B)  { modeltest.BenchEcho(b, Start, 64) }
func BenchmarkEcho16KB(b *testing.B) { modeltest.BenchEcho(b, Start, 16<<10) }

// TestWork: requests with work come back exact and in order, pipelined,
// in pieces, on two loops; half a request waits for its rest.
func TestWork(t *testing.T) {
	t.Parallel()
	t.Run("Pipelined", func(t *testing.T) { modeltest.WorkPipelined(t, Start) })
	t.Run("UnfinishedRequestWaits", func(t *testing.T) { t.Parallel(); modeltest.UnfinishedRequestWaits(t, Start) })
}
