package gnet

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	modeltest.RunCommon(t, Start)
}

// TestOverCapCloses: gnet cannot stop reading a connection, so the model
// bounds memory by closing a connection whose pending output passes the cap.
func TestOverCapCloses(t *testing.T) {
	t.Parallel()
	modeltest.OverCapCloses(t, Start, func(s servers.Server) int64 { return s.(*Server).overCap.Load() })
}

// TestDescriptorGuard: past the connection cap derived from RLIMIT_NOFILE,
// new connections are closed at once instead of letting accept hit EMFILE,
// which would shut the gnet engine down.
func TestDescriptorGuard(t *testing.T) {
	// Not parallel: it changes fdReserve, read by Start.
	old := fdReserve
	fdReserve = fdLimit() - 3
	t.Cleanup(func() { fdReserve = old })
	srv := modeltest.Start(t, Start, servers.Config{})
	var live []*net.TCPConn
	for i := 0; i < 3; i++ {
		c := modeltest.Dial(t, srv)
		if err := modeltest.RoundTrip(c, []byte{byte(i)}, []byte{0}); err != nil {
			t.Fatalf("connection %d under the cap: %v", i, err)
		}
		live = append(live, c)
	}
	over := modeltest.Dial(t, srv)
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection over the cap: read got %v, want EOF", err)
	}
	live[0].Close()
	// The freed slot is usable again once the server has seen the close;
	// a refused attempt is closed at once, so retry within the watchdog.
	deadline := time.Now().Add(modeltest.Watchdog)
	for {
		c := modeltest.Dial(t, srv)
		err := modeltest.RoundTrip(c, []byte("again"), make([]byte, 5))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one closed: %v", err)
		}
		c.Close()
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
