package netconn

import (
	"testing"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	modeltest.RunCommon(t, Start)
}

// TestBackpressure: a connection's goroutine blocks in Write while the
// client does not read, so it stops reading too; whatever the client managed
// to send still comes back.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	modeltest.Backpressure(t, Start, servers.Config{MaxPendingBytes: 64 << 10})
}

func TestNoAllocsPerMessage(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	modeltest.NoAllocsPerMessage(t, Start)
}

// TestAcceptEMFILE: an accept error such as EMFILE is logged and retried
// after a growing pause; live connections keep being served meanwhile.
func TestAcceptEMFILE(t *testing.T) {
	// Not parallel: it lowers the process's descriptor limit.
	modeltest.AcceptEMFILE(t, Start, "too many open files; retrying")
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

func TestNoAllocsPerRequest(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	modeltest.NoAllocsPerRequest(t, Start)
}
