package epoll

import (
	"testing"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	modeltest.RunCommon(t, Start)
}

// TestBackpressure: past MaxPendingBytes the loop stops polling the
// connection for input, so a client that never reads stalls; whatever it
// managed to send still comes back.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	modeltest.Backpressure(t, Start, servers.Config{MaxPendingBytes: 64 << 10})
}

func TestNoAllocsPerMessage(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	modeltest.NoAllocsPerMessage(t, Start)
}

// TestAcceptEMFILE: on EMFILE the loop takes the listener out of epoll for a
// growing pause (else it would spin on the pending connection) and keeps
// serving its live connections.
func TestAcceptEMFILE(t *testing.T) {
	// Not parallel: it lowers the process's descriptor limit.
	modeltest.AcceptEMFILE(t, Start, "accept: too many open files")
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
