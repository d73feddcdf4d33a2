package netpoll

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cloudwego/netpoll"

	"echobench/servers"
	"echobench/servers/internal/modeltest"
)

// halfCloseLimit is the reason, from the package doc, that the cases which
// half-close with echo output still pending are skipped.
const halfCloseLimit = "netpoll closes a connection once the peer's FIN is read and drops its unsent output (see package netpoll)"

// TestCommon runs the cases one at a time, and no test of this package is
// parallel: netpoll closes its listener's descriptor twice (package doc),
// and a dial in a parallel test lost its socket to the second close
// ("connect: bad file descriptor").
func TestCommon(t *testing.T) {
	modeltest.RunCommonSerial(t, Start, map[string]string{
		"HalfCloseWithPending":         halfCloseLimit,
		"HalfCloseStream":              halfCloseLimit,
		"EchoSizes/1 MiB in one write": halfCloseLimit,
	})
}

// TestOverCapCloses: netpoll cannot stop reading a connection, so while an
// echo waits in Flush the guard closes a connection whose unread input
// passes the cap.
func TestOverCapCloses(t *testing.T) {
	modeltest.OverCapCloses(t, Start, func(s servers.Server) int64 { return s.(*Server).overCap.Load() })
}

// TestPollersSetOnce: netpoll's pollers are process-wide, and changing
// their count while another server accepts races inside netpoll, so the
// first server sets it and a later one that asks for another is told.
func TestPollersSetOnce(t *testing.T) {
	// Not parallel: it reads the process-wide poller count.
	var log bytes.Buffer
	if err := configure(2, &log); err != nil {
		t.Fatal(err)
	}
	want := pollers
	if err := configure(want+1, &log); err != nil {
		t.Fatal(err)
	}
	if pollers != want {
		t.Fatalf("pollers %d after a second server asked for %d, want the first count %d kept", pollers, want+1, want)
	}
	if !bytes.Contains(log.Bytes(), []byte("pollers are process-wide")) {
		t.Errorf("asking for another count was not logged: %q", log.String())
	}
}

// TestAllocsPerMessageAreDispatch keeps docs/servers.md true: over a real
// connection a request/reply costs 2 allocations, both in netpoll's
// dispatch of OnRequest (the task closure of connection.onProcess and the
// goroutine pool's worker); TestHandlerNoAllocs shows the handler adds none.
func TestAllocsPerMessageAreDispatch(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	if raceEnabled {
		t.Skip("allocation counts need a build without -race: its sync.Pool drops buffers netpoll would reuse")
	}
	const dispatchAllocs = 2
	srv := modeltest.Start(t, Start, servers.Config{})
	for _, size := range []int{64, 16 << 10} {
		c := modeltest.Dial(t, srv)
		msg, reply := make([]byte, size), make([]byte, size)
		modeltest.Pattern(msg, 0)
		var failure error
		roundTrip := func() {
			if err := modeltest.RoundTrip(c, msg, reply); err != nil && failure == nil {
				failure = err
			}
		}
		roundTrip() // grow the buffers
		allocs := testing.AllocsPerRun(500, roundTrip)
		if failure != nil {
			t.Fatal(failure)
		}
		if allocs > dispatchAllocs {
			t.Errorf("%d-byte echo: %v allocations per round trip, want at most netpoll's %d", size, allocs, dispatchAllocs)
		}
	}
}

// fakeConn drives onRequest without sockets: Reader and Writer are
// netpoll's own LinkBuffers, so the handler runs the same Next, Malloc,
// Release and Flush code as on a connection, minus the system call.
type fakeConn struct {
	netpoll.Connection // nil: any other method panics
	in, out            *netpoll.LinkBuffer
}

func (f *fakeConn) Reader() netpoll.Reader { return f.in }
func (f *fakeConn) Writer() netpoll.Writer { return f.out }

// TestHandlerNoAllocs: the echo handler allocates nothing per message, for
// 64 B and 16 KiB. The allocations a real connection shows per message
// (two, in netpoll's dispatch of OnRequest to its goroutine pool) are the
// library's; see docs/servers.md.
func TestHandlerNoAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	if raceEnabled {
		t.Skip("allocation counts need a build without -race: its sync.Pool drops buffers netpoll would reuse")
	}
	s := &Server{maxPending: servers.DefaultMaxPendingBytes, echoMax: maxEchoBytes}
	for _, size := range []int{64, 16 << 10} {
		fc := &fakeConn{in: netpoll.NewLinkBuffer(), out: netpoll.NewLinkBuffer()}
		st := &connState{c: fc}
		ctx := context.WithValue(context.Background(), stateKey{}, st)
		msg := make([]byte, size)
		modeltest.Pattern(msg, 0)
		var failure error
		echo := func() {
			p, _ := fc.in.Malloc(size)
			copy(p, msg)
			fc.in.Flush()
			if err := s.onRequest(ctx, fc); err != nil && failure == nil {
				failure = err
			}
			got, err := fc.out.Next(size)
			if (err != nil || !bytes.Equal(got, msg)) && failure == nil {
				failure = errors.New("echo differs from the message")
			}
			fc.out.Release()
		}
		echo() // grow the buffers
		allocs := testing.AllocsPerRun(500, echo)
		if failure != nil {
			t.Fatalf("%d-byte echo: %v", size, failure)
		}
		if allocs != 0 {
			t.Errorf("%d-byte echo: %v allocations per message in the handler, want 0", size, allocs)
		}
		if s.flushing != nil {
			t.Errorf("%d-byte echo: connection left on the flushing list", size)
		}
	}
}

func BenchmarkEcho64B(b *testing.B)  { modeltest.BenchEcho(b, Start, 64) }
func BenchmarkEcho16KB(b *testing.B) { modeltest.BenchEcho(b, Start, 16<<10) }
