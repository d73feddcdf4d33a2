package nbio

import (
	"io"
	"testing"

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
	modeltest.OverCapCloses(t, Start, func(s servers.Server) int64 { return s.(*Server).overCap.Load() })
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
