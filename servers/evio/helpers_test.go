package evio

// Test helpers shared by this package's tests and benchmarks. The same
// helpers live in each Go model's package (netconn, gnet, evio, epoll) so
// each package tests in isolation; the cross-model conformance suite is
// servers/servertest.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"echobench/servers"
)

// watchdog bounds every network wait in a test.
const watchdog = 20 * time.Second

// start starts the model with cfg and closes it when the test ends.
func start(tb testing.TB, cfg servers.Config) servers.Server {
	tb.Helper()
	if cfg.Log == nil {
		cfg.Log = tbWriter{tb}
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return srv
}

// tbWriter sends server logs to the test log; logging after the test ended
// is dropped rather than panicking.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }()
	w.tb.Logf("server: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// dial connects to srv with a watchdog deadline and closes on cleanup.
func dial(tb testing.TB, srv servers.Server) *net.TCPConn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr().String(), watchdog)
	if err != nil {
		tb.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetDeadline(time.Now().Add(watchdog)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tc.Close() })
	return tc
}

// pattern fills p with bytes that depend on their offset from off, so a
// reordering, loss or duplication shows up as a mismatch.
func pattern(p []byte, off int) {
	for i := range p {
		x := off + i
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
}

// checkPattern reports the first byte of got that differs from pattern.
func checkPattern(got []byte, off int) error {
	for i, b := range got {
		x := off + i
		if want := byte(x ^ x>>8 ^ x>>16); b != want {
			return fmt.Errorf("byte %d: got %#x, want %#x", off+i, b, want)
		}
	}
	return nil
}

// streamEcho writes total bytes in chunks of chunk while reading the echo
// concurrently, then half-closes and reads to EOF. It returns the number of
// bytes that came back and the first error.
func streamEcho(c *net.TCPConn, total, chunk int) (int, error) {
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, chunk)
		for off := 0; off < total; {
			n := min(chunk, total-off)
			pattern(buf[:n], off)
			if _, err := c.Write(buf[:n]); err != nil {
				werr = fmt.Errorf("write at %d: %w", off, err)
				return
			}
			off += n
		}
		if err := c.CloseWrite(); err != nil {
			werr = fmt.Errorf("close write: %w", err)
		}
	}()
	got, rerr := readAll(c, 0)
	wg.Wait()
	return got, errors.Join(werr, rerr)
}

// readAll reads c to EOF checking the pattern from offset off.
func readAll(c *net.TCPConn, off int) (int, error) {
	buf := make([]byte, 64<<10)
	got := 0
	for {
		n, err := c.Read(buf)
		if cerr := checkPattern(buf[:n], off+got); cerr != nil {
			return got, cerr
		}
		got += n
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, fmt.Errorf("read after %d bytes: %w", got, err)
		}
	}
}

// roundTrip writes msg and reads len(msg) bytes back into reply, checking
// them. It allocates nothing.
func roundTrip(c net.Conn, msg, reply []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, reply); err != nil {
		return err
	}
	if !bytes.Equal(msg, reply) {
		return errors.New("echo differs from what was sent")
	}
	return nil
}

// benchEcho measures request/reply echo of size-byte messages on one
// connection. The client allocates nothing per message, so allocs/op is
// the server's.
func benchEcho(b *testing.B, size int) {
	srv := start(b, servers.Config{Log: io.Discard})
	c := dial(b, srv)
	if err := c.SetDeadline(time.Time{}); err != nil {
		b.Fatal(err)
	}
	msg, reply := make([]byte, size), make([]byte, size)
	pattern(msg, 0)
	if err := roundTrip(c, msg, reply); err != nil { // warm up buffers
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := roundTrip(c, msg, reply); err != nil {
			b.Fatal(err)
		}
	}
}
