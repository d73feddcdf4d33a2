//go:build linux && (amd64 || arm64)

package iouring

import (
	"os"
	"testing"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

// requireIOURing skips where the kernel cannot run the model, with the
// probe's reason, unless ECHOBENCH_REQUIRE_IOURING=1 (CI on a host that
// offers io_uring), where that is a failure.
func requireIOURing(tb testing.TB) {
	tb.Helper()
	if err := Probe(); err != nil {
		if os.Getenv("ECHOBENCH_REQUIRE_IOURING") == "1" {
			tb.Fatalf("ECHOBENCH_REQUIRE_IOURING=1 and the model cannot run: %v", err)
		}
		tb.Skip(err)
	}
}

func TestCommon(t *testing.T) {
	t.Parallel()
	requireIOURing(t)
	modeltest.RunCommon(t, Start)
}

// TestBackpressure: past MaxPendingBytes the loop cancels the connection's
// multishot recv, so a client that never reads stalls; whatever it managed
// to send still comes back.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	requireIOURing(t)
	modeltest.Backpressure(t, Start, servers.Config{MaxPendingBytes: 64 << 10})
}

func TestNoAllocsPerMessage(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	requireIOURing(t)
	modeltest.NoAllocsPerMessage(t, Start)
}

func BenchmarkEcho64B(b *testing.B)  { requireIOURing(b); modeltest.BenchEcho(b, Start, 64) }
func BenchmarkEcho16KB(b *testing.B) { requireIOURing(b); modeltest.BenchEcho(b, Start, 16<<10) }
