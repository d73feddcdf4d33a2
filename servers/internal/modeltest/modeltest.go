// Package modeltest holds the in-process tests and helpers every Go server
// model (netconn, epoll, gnet, evio, netpoll, nbio) shares. It is an ordinary package so the
// models' _test files can import it, but only tests import it: nothing in the
// echobench binary depends on it.
//
// Each helper takes the model's servers.StartFunc, so one copy of a check
// runs against every model. A model's test file calls RunCommon (or
// RunCommonExcept, naming the cases its library cannot pass and why) for the
// behaviour all models share, Backpressure, NoAllocsPerMessage and
// AcceptEMFILE where the model supports them, and BenchEcho for its
// benchmarks; tests of what only one model does stay in that model's
// package. The cross-model conformance suite, which runs each model as a
// separate process, is servers/servertest.
package modeltest

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

// Watchdog bounds every network wait in a test.
const Watchdog = 20 * time.Second

// Start starts a model with cfg and closes it when the test ends; a Close
// error fails the test. A nil cfg.Log sends the server's logs to the test log.
func Start(tb testing.TB, start servers.StartFunc, cfg servers.Config) servers.Server {
	tb.Helper()
	if cfg.Log == nil {
		cfg.Log = LogWriter{tb}
	}
	srv, err := start(context.Background(), cfg)
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

// LogWriter sends server logs to the test log, one Logf per Write. Logging
// after the test ended is dropped rather than panicking, since a server
// goroutine may outlive the test by a moment.
type LogWriter struct{ TB testing.TB }

// Write logs p without its trailing newline and always reports success.
func (w LogWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }()
	w.TB.Logf("server: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// Dial connects to srv with a Watchdog deadline and closes the connection
// when the test ends.
func Dial(tb testing.TB, srv servers.Server) *net.TCPConn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr().String(), Watchdog)
	if err != nil {
		tb.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetDeadline(time.Now().Add(Watchdog)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tc.Close() })
	return tc
}

// Pattern fills p with bytes that depend on their offset from off, so a
// reordering, loss or duplication shows up as a mismatch in CheckPattern.
func Pattern(p []byte, off int) {
	for i := range p {
		x := off + i
		p[i] = byte(x ^ x>>8 ^ x>>16)
	}
}

// CheckPattern reports the first byte of got that differs from what Pattern
// writes at offset off.
func CheckPattern(got []byte, off int) error {
	for i, b := range got {
		x := off + i
		if want := byte(x ^ x>>8 ^ x>>16); b != want {
			return fmt.Errorf("byte %d: got %#x, want %#x", off+i, b, want)
		}
	}
	return nil
}

// StreamEcho writes total bytes of Pattern in chunks of chunk while reading
// the echo concurrently, then half-closes and reads to EOF. It returns the
// number of bytes that came back and the first error.
func StreamEcho(c *net.TCPConn, total, chunk int) (int, error) {
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, chunk)
		for off := 0; off < total; {
			n := min(chunk, total-off)
			Pattern(buf[:n], off)
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
	got, rerr := ReadAll(c, 0)
	wg.Wait()
	return got, errors.Join(werr, rerr)
}

// ReadAll reads c to EOF, checking the bytes against Pattern from offset
// off, and returns how many bytes it read.
func ReadAll(c *net.TCPConn, off int) (int, error) {
	buf := make([]byte, 64<<10)
	got := 0
	for {
		n, err := c.Read(buf)
		if cerr := CheckPattern(buf[:n], off+got); cerr != nil {
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

// RoundTrip writes msg and reads len(msg) bytes back into reply, checking
// that they equal msg. It allocates nothing, so allocation counts taken
// around it are the server's.
func RoundTrip(c net.Conn, msg, reply []byte) error {
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

// BenchEcho measures request/reply echo of size-byte messages on one
// connection to the model start starts. The client allocates nothing per
// message, so allocs/op is the server's.
func BenchEcho(b *testing.B, start servers.StartFunc, size int) {
	srv := Start(b, start, servers.Config{Log: io.Discard})
	c := Dial(b, srv)
	if err := c.SetDeadline(time.Time{}); err != nil {
		b.Fatal(err)
	}
	msg, reply := make([]byte, size), make([]byte, size)
	Pattern(msg, 0)
	if err := RoundTrip(c, msg, reply); err != nil { // warm up buffers
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := RoundTrip(c, msg, reply); err != nil {
			b.Fatal(err)
		}
	}
}
