package evio

// Behaviour every model shares; the same tests live in each Go model's
// package. Model-specific behaviour (backpressure, allocations) is in
// <model>_test.go.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"echobench/servers"
)

func TestEchoSizes(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	tests := []struct {
		name         string
		total, chunk int
	}{
		{"1 byte", 1, 1},
		{"64 B", 64, 64},
		{"16 KiB", 16 << 10, 16 << 10},
		{"1 MiB in one write", 1 << 20, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := streamEcho(dial(t, srv), tt.total, tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.total {
				t.Fatalf("echoed %d bytes, want %d", got, tt.total)
			}
		})
	}
}

func TestEchoFragments(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	c := dial(t, srv)
	const total = 64 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	done := make(chan error, 1)
	go func() {
		var buf [7]byte
		for off := 0; off < total; {
			n := min(1+rng.IntN(7), total-off)
			pattern(buf[:n], off)
			if _, err := c.Write(buf[:n]); err != nil {
				done <- err
				return
			}
			off += n
		}
		done <- c.CloseWrite()
	}()
	got, err := readAll(c, 0)
	if werr := <-done; werr != nil {
		t.Fatalf("write: %v", werr)
	}
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func TestPipelined(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	c := dial(t, srv)
	const msgs, size = 1000, 64
	buf := make([]byte, msgs*size)
	pattern(buf, 0)
	for i := 0; i < msgs; i++ { // all sent before any is read
		if _, err := c.Write(buf[i*size : (i+1)*size]); err != nil {
			t.Fatalf("write message %d: %v", i, err)
		}
	}
	got := make([]byte, len(buf))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := checkPattern(got, 0); err != nil {
		t.Fatal(err)
	}
}

func TestManyConnections(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	const conns, msgs, size = 200, 20, 128
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := dial(t, srv)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg, reply := make([]byte, size), make([]byte, size)
			for m := 0; m < msgs; m++ {
				pattern(msg, i*msgs+m)
				if err := roundTrip(c, msg, reply); err != nil {
					errs <- fmt.Errorf("conn %d message %d: %w", i, m, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHalfCloseWithPending sends more than the socket buffers hold without
// reading, half-closes, and only then reads: the server must deliver every
// byte it had pending when it saw EOF.
func TestHalfCloseWithPending(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	c := dial(t, srv)
	const total = 1 << 20
	buf := make([]byte, total)
	pattern(buf, 0)
	if _, err := c.Write(buf); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(c, 0)
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func TestHalfCloseStream(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	const total = 8 << 20
	got, err := streamEcho(dial(t, srv), total, 256<<10)
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func TestResetMidEcho(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	for i := 0; i < 20; i++ {
		c := dial(t, srv)
		buf := make([]byte, 256<<10)
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := c.SetLinger(0); err != nil { // close sends RST
			t.Fatal(err)
		}
		c.Close()
	}
	msg, reply := []byte("still here"), make([]byte, 10)
	if err := roundTrip(dial(t, srv), msg, reply); err != nil {
		t.Fatalf("server did not survive resets: %v", err)
	}
}

func TestWriteAndCloseAtOnce(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{})
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		c := dial(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write([]byte("bye"))
			c.Close()
		}()
	}
	wg.Wait()
	msg, reply := []byte("after"), make([]byte, 5)
	if err := roundTrip(dial(t, srv), msg, reply); err != nil {
		t.Fatalf("server did not survive: %v", err)
	}
}

func TestLoopsAndPortZero(t *testing.T) {
	t.Parallel()
	srv := start(t, servers.Config{Loops: 3})
	if srv.Addr().(*net.TCPAddr).Port == 0 {
		t.Fatalf("Addr %v has port 0", srv.Addr())
	}
	for i := 0; i < 30; i++ {
		msg, reply := []byte{byte(i)}, []byte{0}
		if err := roundTrip(dial(t, srv), msg, reply); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
}

func TestCloseWithLiveConnections(t *testing.T) {
	t.Parallel()
	srv, err := Start(t.Context(), servers.Config{Log: tbWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*net.TCPConn
	for i := 0; i < 50; i++ {
		c := dial(t, srv)
		if err := roundTrip(c, []byte("x"), []byte{0}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	begin := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with live connections", d)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for i, c := range conns {
		// Closed by the server: EOF or reset. A timeout means still open.
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("connection %d still open after Close: %v", i, err)
		}
	}
	ln, err := net.Listen("tcp", srv.Addr().String())
	if err != nil {
		t.Fatalf("port not rebindable after Close: %v", err)
	}
	ln.Close()
}
