package nbio

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

// halfCloseLimit is the reason, from the package doc, that the cases which
// half-close with echo output possibly still queued are skipped.
const halfCloseLimit = "nbio closes a connection on the peer's FIN and drops its queued output (see package nbio)"

func TestCommon(t *testing.T) {
	t.Parallel()
	modeltest.RunCommonExcept(t, Start, map[string]string{
		"HalfCloseWithPending":         halfCloseLimit,
		"HalfCloseStream":              halfCloseLimit,
		"EchoSizes/1 MiB in one write": halfCloseLimit,
	})
}

func TestNoAllocsPerMessage(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	modeltest.NoAllocsPerMessage(t, Start)
}

// TestOverCapCloses: nbio cannot stop reading a connection; past
// MaxWriteBufferSize queued bytes it closes it.
func TestOverCapCloses(t *testing.T) {
	t.Parallel()
	srv := modeltest.Start(t, Start, servers.Config{MaxPendingBytes: 64 << 10})
	c := modeltest.Dial(t, srv)
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
	// nbio closes inside Write, before onData can count it: the client may
	// see the reset first.
	for deadline := time.Now().Add(modeltest.Watchdog); srv.(*Server).overCap.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // polling a counter with a deadline, not waiting for readiness
	}
	if n := srv.(*Server).overCap.Load(); n != 1 {
		t.Errorf("over-cap closures counted: %d, want 1", n)
	}
	if err := modeltest.RoundTrip(modeltest.Dial(t, srv), []byte("next"), make([]byte, 4)); err != nil {
		t.Fatalf("server did not survive: %v", err)
	}
}

// TestSmallMaxPending: nbio refuses (closes on) any single write larger
// than MaxWriteBufferSize, so the read buffer is capped by --max-pending and
// a reading client is echoed in full even when its writes are far larger.
func TestSmallMaxPending(t *testing.T) {
	t.Parallel()
	srv := modeltest.Start(t, Start, servers.Config{MaxPendingBytes: 4 << 10})
	c := modeltest.Dial(t, srv)
	msg := make([]byte, 64<<10)
	modeltest.Pattern(msg, 0)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	n, err := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if err != nil {
		t.Fatalf("echoed %d of %d bytes: %v", n, len(msg), err)
	}
	if err := modeltest.CheckPattern(got, 0); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkEcho64B(b *testing.B)  { modeltest.BenchEcho(b, Start, 64) }
func BenchmarkEcho16KB(b *testing.B) { modeltest.BenchEcho(b, Start, 16<<10) }
