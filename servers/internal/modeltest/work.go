package modeltest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"echobench/servers"
	"echobench/servers/work"
)

// workRequestBytes is the request size of the in-process work tests.
const workRequestBytes = 64

func workConfig(t testing.TB, spec string, loops int) servers.Config {
	t.Helper()
	sp, err := work.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return servers.Config{Work: sp, RequestSizeBytes: workRequestBytes, Loops: loops}
}

// WorkPipelined checks, in process (so -race sees the model's timers and
// wake-ups), that with each kind of work several connections on two loops
// get their pipelined requests back exact and in order, including requests
// that arrive in pieces across reads.
func WorkPipelined(t *testing.T, start servers.StartFunc) {
	for _, spec := range []string{"cpu:50us:exp", "wait:1ms:exp", "block:200us"} {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			srv := Start(t, start, workConfig(t, spec, 2))
			var wg sync.WaitGroup
			for range 8 {
				c := Dial(t, srv)
				wg.Go(func() {
					if err := pipelineRequests(c, 20, 37); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		})
	}
}

// pipelineRequests writes n requests of Pattern in writes of chunk bytes
// (most requests straddle two) while reading the replies, and checks them.
// It does not half-close: gnet and evio close at read EOF, dropping
// replies still waiting (docs/servers.md).
func pipelineRequests(c net.Conn, n, chunk int) error {
	total := n * workRequestBytes
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, total)
		Pattern(buf, 0)
		for off := 0; off < total; off += chunk {
			if _, err := c.Write(buf[off:min(off+chunk, total)]); err != nil {
				werr <- fmt.Errorf("write at %d: %w", off, err)
				return
			}
		}
		werr <- nil
	}()
	got := make([]byte, total)
	k, rerr := io.ReadFull(c, got)
	if err := errors.Join(<-werr, rerr); err != nil {
		return fmt.Errorf("echoed %d of %d bytes: %w", k, total, err)
	}
	return CheckPattern(got, 0)
}

// NoAllocsPerRequest is NoAllocsPerMessage with work on: request/reply
// with each kind allocates nothing in the model. Sequential, like
// NoAllocsPerMessage.
func NoAllocsPerRequest(t *testing.T, start servers.StartFunc) {
	t.Helper()
	if RaceEnabled {
		// The race detector makes sync.Pool drop a random share of what is
		// put back, so counts are not the program's; make test runs the
		// allocation tests without it (the Makefile's allocs target).
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	requireSequential(t)
	for _, spec := range []string{"cpu:10us:exp", "wait:100us:exp", "block:10us"} {
		srv := Start(t, start, workConfig(t, spec, 1))
		c := Dial(t, srv)
		msg, reply := make([]byte, workRequestBytes), make([]byte, workRequestBytes)
		Pattern(msg, 0)
		for range 10 { // warm up buffers, timers and heaps
			if err := RoundTrip(c, msg, reply); err != nil {
				t.Fatal(err)
			}
		}
		var rtErr error
		allocs := testing.AllocsPerRun(200, func() {
			if err := RoundTrip(c, msg, reply); err != nil && rtErr == nil {
				rtErr = err
			}
		})
		if rtErr != nil {
			t.Fatal(rtErr)
		}
		if allocs != 0 {
			t.Errorf("--work %s: %v allocations per request, want 0", spec, allocs)
		}
	}
}

// UnfinishedRequestWaits: half a request gets no reply until its rest
// arrives.
func UnfinishedRequestWaits(t *testing.T, start servers.StartFunc) {
	srv := Start(t, start, workConfig(t, "cpu:10us", 1))
	c := Dial(t, srv)
	msg := make([]byte, workRequestBytes)
	Pattern(msg, 0)
	if _, err := c.Write(msg[:workRequestBytes/2]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, workRequestBytes)
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Read(got); n > 0 {
		t.Fatalf("%d bytes of half a request came back", n)
	}
	if err := c.SetDeadline(time.Now().Add(Watchdog)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg[workRequestBytes/2:]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("the finished request came back as % x, %v", got, err)
	}
}
