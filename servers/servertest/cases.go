package servertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"echobench/servers/work"
)

// Patience of the suite. Variables only so the suite's own tests can shorten
// them; a conforming server needs a small fraction of each.
var (
	// eofTimeout bounds the wait for EOF once every echoed byte is back
	// after a half-close.
	eofTimeout = 5 * time.Second
	// fdSettleTimeout bounds the wait for the server's fd count to return
	// to its baseline after connections end.
	fdSettleTimeout = 5 * time.Second
	// stallTimeout is how long one write may block before the slow-reader
	// case decides the server has stopped reading.
	stallTimeout = 2 * time.Second
)

// DefaultCaseTimeout bounds one case once its server is up: every
// connection of the case has an I/O deadline at 4/5 of it, and at the bound
// a watchdog kills the server, for a case stuck somewhere other than socket
// I/O. A conforming server needs a small fraction of it.
const DefaultCaseTimeout = 50 * time.Second

// SeedEnv names the environment variable that fixes the seed of every case,
// to replay a failure.
const SeedEnv = "ECHOBENCH_SERVERTEST_SEED"

// testCase is one conformance case. run gets a fresh server process.
type testCase struct {
	name string
	run  func(e *env)
	// work is the server's --work for a work case (workcases.go), with
	// --request-size workRequestBytes; "" for the others.
	work string
	// exclusive cases run one at a time across every target (catalogue.go):
	// they hold more of this process's file descriptors than several at
	// once would leave.
	exclusive bool
	// procs, when > 0, starts the server with --procs (procs.go).
	procs int
}

// cases is the suite, in run order. Names are Limitations keys: keep them.
var cases = append([]testCase{
	{name: "listen-loopback", run: caseListenLoopback},
	{name: "one-byte", run: caseOneByte},
	{name: "one-mib-single-write", run: caseOneMiB},
	{name: "fragmented-writes", run: caseFragmented},
	{name: "pipelined-1000", run: casePipelined},
	{name: "concurrent-1000x100", run: caseConcurrent},
	{name: "half-close-8mib", run: caseHalfClose},
	{name: "client-reset", run: caseClientReset},
	{name: "slow-reader-64mib", run: caseSlowReader},
	{name: "abrupt-close-100", run: caseAbruptClose},
	{name: "churn-20000", run: caseChurn},
	{name: "transfer-64mib", run: caseLargeTransfer},
	{name: "idle-10000", run: caseIdle, exclusive: true},
	{name: "sigterm-100-conns", run: caseSigterm},
}, workCases...)

// env is what a case works with.
type env struct {
	t        Reporter
	target   Target
	srv      *serverProc
	rng      *rand.Rand // owned by the case's goroutine
	seed     uint64
	deadline time.Time // I/O deadline of every connection
	spec     work.Spec // the server's --work
	procs    int       // the server's --procs, 0 when not passed
}

// runCase runs c against a fresh server of target. bound is the case's
// time limit (DefaultCaseTimeout).
func runCase(t Reporter, target Target, c testCase, bound time.Duration) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		seed = v
	}
	// Registered first, so it runs last and ends the failure output.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s %s: seed %d (replay with %s=%d)", target.Name, c.name, seed, SeedEnv, seed)
		}
	})
	if c.exclusive {
		exclusiveCases.Lock()
		t.Cleanup(exclusiveCases.Unlock)
	}
	spec := c.workSpec()
	srv := startServer(t, target, spec, c.procs)
	e := &env{
		t:        t,
		target:   target,
		srv:      srv,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		seed:     seed,
		deadline: time.Now().Add(bound - bound/5),
		spec:     spec,
		procs:    c.procs,
	}

	// The watchdog: socket deadlines end stuck I/O; this ends anything else
	// by killing the server, which fails every connection of the case.
	var (
		wdMu   sync.Mutex
		wdDone bool
	)
	wd := time.AfterFunc(bound, func() {
		wdMu.Lock()
		defer wdMu.Unlock()
		if wdDone {
			return
		}
		t.Errorf("watchdog: %s %s still running after %v; killing the server's process group %d", target.Name, c.name, bound, srv.pid)
		srv.signalGroup(syscall.SIGKILL)
	})
	t.Cleanup(func() {
		wdMu.Lock()
		wdDone = true
		wdMu.Unlock()
		wd.Stop()
	})
	c.run(e)
}

// dial opens a connection to the server with the case's deadline set.
func (e *env) dial() (*net.TCPConn, error) {
	d := net.Dialer{Deadline: e.deadline}
	c, err := d.Dial("tcp", e.srv.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.srv.addr, err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetDeadline(e.deadline); err != nil {
		tc.Close()
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	return tc, nil
}

// mustDial is dial for the case's own goroutine; the connection is closed at
// the end of the test.
func (e *env) mustDial() *net.TCPConn {
	e.t.Helper()
	c, err := e.dial()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// randomBytes returns n bytes from the case's seeded generator.
func (e *env) randomBytes(n int) []byte {
	b := make([]byte, n)
	fillRandom(e.rng, b)
	return b
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := i; j < i+8 && j < len(b); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// compareEcho explains the first difference between what was sent and what
// came back, or returns nil when they are equal.
func compareEcho(want, got []byte) error {
	if bytes.Equal(want, got) {
		return nil
	}
	n := min(len(want), len(got))
	i := 0
	for i < n && want[i] == got[i] {
		i++
	}
	if i == n {
		return fmt.Errorf("echo length %d, want %d (equal up to the shorter)", len(got), len(want))
	}
	lo, hi := max(0, i-4), min(n, i+8)
	return fmt.Errorf("echo differs at byte %d of %d: got % x, want % x (bytes %d..%d)", i, len(want), got[lo:hi], want[lo:hi], lo, hi)
}

// echoRoundTrip writes data and reads it back while writing, so any size
// works without deadlock, and verifies it. The connection stays open.
func echoRoundTrip(c *net.TCPConn, data []byte) error {
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got := make([]byte, len(data))
	n, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		return fmt.Errorf("write %d bytes: %w", len(data), err)
	}
	if rerr != nil {
		return fmt.Errorf("read echo: got %d of %d bytes: %w", n, len(data), rerr)
	}
	return compareEcho(data, got)
}

// expectEOF checks that the server closes its side once everything is back.
func expectEOF(c *net.TCPConn) error {
	if err := c.SetReadDeadline(time.Now().Add(eofTimeout)); err != nil {
		return fmt.Errorf("set read deadline: %w", err)
	}
	var b [512]byte
	n, err := c.Read(b[:])
	switch {
	case n > 0:
		return fmt.Errorf("got %d extra byte(s) after the whole echo (% x...)", n, b[:min(n, 16)])
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no EOF within %v of the last echoed byte: the server did not close after the client's half-close", eofTimeout)
	default:
		return fmt.Errorf("want EOF after the whole echo, got %w", err)
	}
}

// stillEchoes checks on a new connection that the server still serves.
func (e *env) stillEchoes(after string) {
	e.t.Helper()
	c, err := e.dial()
	if err != nil {
		e.t.Fatalf("after %s the server no longer accepts: %v", after, err)
	}
	defer c.Close()
	if err := echoRoundTrip(c, e.randomBytes(4096)); err != nil {
		e.t.Fatalf("after %s a new connection is not echoed: %v", after, err)
	}
}

// baselineFDs reads the server's fd count before the case opens connections.
func (e *env) baselineFDs() int {
	e.t.Helper()
	n, err := fdCount(e.srv.pid)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// awaitFDs polls until the server's fd count is back at baseline or
// fdSettleTimeout has passed, since the server closes sockets on its own
// schedule after the client's side is gone.
func (e *env) awaitFDs(baseline int, after string) {
	e.t.Helper()
	deadline := time.Now().Add(fdSettleTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := fdCount(e.srv.pid)
		if err != nil {
			e.t.Fatal(err)
		}
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			targets := fdTargets(e.srv.pid)
			e.t.Fatalf("after %s the server holds %d fds, %d more than its baseline %d, %v later: it leaks connections\nfds: %v",
				after, n, n-baseline, baseline, fdSettleTimeout, targets)
		}
		<-tick.C
	}
}

// caseListenLoopback: the server listens on the host it was given
// (127.0.0.1), not every interface; several stacks bind all by default.
func caseListenLoopback(e *env) {
	_, portStr, err := net.SplitHostPort(e.srv.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr) // validated by parseListening
	addrs, err := listeningAddrs(e.srv.pid, port)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(addrs) == 0 {
		e.t.Fatalf("no TCP socket listens on port %d, though the server announced %s", port, e.srv.addr)
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			e.t.Errorf("a socket listens on %s: given --addr 127.0.0.1:0 the server must bind loopback only", netip.AddrPortFrom(a, uint16(port)))
		}
	}
	e.stillEchoes("checking the listener")
}

// caseOneByte: the smallest message comes back, and a half-close then ends
// the connection with nothing extra.
func caseOneByte(e *env) {
	c := e.mustDial()
	if err := echoRoundTrip(c, e.randomBytes(1)); err != nil {
		e.t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		e.t.Fatalf("half-close: %v", err)
	}
	if err := expectEOF(c); err != nil {
		e.t.Fatal(err)
	}
}

// caseOneMiB: one 1 MiB write, far larger than any read buffer, comes back
// whole and in order.
func caseOneMiB(e *env) {
	c := e.mustDial()
	if err := echoRoundTrip(c, e.randomBytes(1<<20)); err != nil {
		e.t.Fatal(err)
	}
}

// caseFragmented: 64 KiB written in 1-7 byte writes (one segment each, since
// Go sets TCP_NODELAY) comes back whole and in order.
func caseFragmented(e *env) {
	c := e.mustDial()
	data := e.randomBytes(64 << 10)
	var frags []int
	for rest := len(data); rest > 0; {
		n := min(rest, 1+e.rng.IntN(7))
		frags = append(frags, n)
		rest -= n
	}
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range frags {
			if _, err := c.Write(data[off : off+n]); err != nil {
				werr <- fmt.Errorf("write fragment at byte %d: %w", off, err)
				return
			}
			off += n
		}
		werr <- nil
	}()
	got := make([]byte, len(data))
	n, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		e.t.Fatal(err)
	}
	if rerr != nil {
		e.t.Fatalf("read echo of %d fragments: got %d of %d bytes: %v", len(frags), n, len(data), rerr)
	}
	if err := compareEcho(data, got); err != nil {
		e.t.Fatalf("%d fragments of 1-7 bytes: %v", len(frags), err)
	}
}

// casePipelined: 1000 messages written back to back before reading any
// reply. Their total (at most 64000 bytes) fits the socket buffers, so a
// server that echoes as it reads never blocks.
func casePipelined(e *env) {
	const msgs = 1000
	c := e.mustDial()
	var all []byte
	for i := 0; i < msgs; i++ {
		msg := e.randomBytes(1 + e.rng.IntN(64))
		if _, err := c.Write(msg); err != nil {
			e.t.Fatalf("write message %d of %d without reading: %v", i, msgs, err)
		}
		all = append(all, msg...)
	}
	got := make([]byte, len(all))
	if n, err := io.ReadFull(c, got); err != nil {
		e.t.Fatalf("read back %d pipelined messages: got %d of %d bytes: %v", msgs, n, len(all), err)
	}
	if err := compareEcho(all, got); err != nil {
		e.t.Fatalf("%d pipelined messages: %v", msgs, err)
	}
}

// caseConcurrent: 1000 connections open at once, each doing 100 verified
// request/reply round trips.
func caseConcurrent(e *env) {
	const (
		conns        = 1000
		msgs         = 100
		dialsAtATime = 64 // a listen backlog is not a stress test
	)
	conn := make([]*net.TCPConn, conns)
	e.t.Cleanup(func() {
		for _, c := range conn {
			if c != nil {
				c.Close()
			}
		}
	})
	sem := make(chan struct{}, dialsAtATime)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			conn[i], errs[i] = e.dial()
		})
	}
	wg.Wait()
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("opening %d connections: %v", conns, err)
	}
	for i := range conns {
		// Each connection has its own generator: messages derive from the
		// seed and the connection number.
		rng := rand.New(rand.NewPCG(e.seed, uint64(i)))
		wg.Go(func() {
			c := conn[i]
			var req, resp [64]byte
			for m := range msgs {
				n := 1 + rng.IntN(len(req))
				fillRandom(rng, req[:n])
				if _, err := c.Write(req[:n]); err != nil {
					errs[i] = fmt.Errorf("message %d: write: %w", m, err)
					return
				}
				if got, err := io.ReadFull(c, resp[:n]); err != nil {
					errs[i] = fmt.Errorf("message %d: read reply: got %d of %d bytes: %w", m, got, n, err)
					return
				}
				if err := compareEcho(req[:n], resp[:n]); err != nil {
					errs[i] = fmt.Errorf("message %d: %w", m, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("%d connections x %d messages: %v", conns, msgs, err)
	}
}

// firstErrors summarises the non-nil errors: how many, and the first few.
func firstErrors(errs []error, what string) error {
	var failed []error
	count := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		count++
		if len(failed) < 3 {
			failed = append(failed, fmt.Errorf("%s %d: %w", what, i, err))
		}
	}
	if count == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d failed; first: %w", count, len(errs), errors.Join(failed...))
}

// caseHalfClose: 8 MiB, then the client's half-close; exactly those 8 MiB
// come back, then EOF. 8 MiB exceeds what loopback socket buffers hold, so a
// server that drops pending output at EOF is caught.
func caseHalfClose(e *env) {
	const size = 8 << 20
	c := e.mustDial()
	data := e.randomBytes(size)
	var chunks []int
	for rest := size; rest > 0; {
		n := min(rest, 1+e.rng.IntN(256<<10))
		chunks = append(chunks, n)
		rest -= n
	}
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range chunks {
			if _, err := c.Write(data[off : off+n]); err != nil {
				werr <- fmt.Errorf("write at byte %d: %w", off, err)
				return
			}
			off += n
		}
		if err := c.CloseWrite(); err != nil {
			werr <- fmt.Errorf("half-close after %d bytes: %w", off, err)
			return
		}
		werr <- nil
	}()
	got := make([]byte, size)
	n, rerr := io.ReadFull(c, got)
	if err := <-werr; err != nil {
		e.t.Fatal(err)
	}
	if rerr != nil {
		e.t.Fatalf("read echo after half-close: got %d of %d bytes: %v", n, size, rerr)
	}
	if err := compareEcho(data, got); err != nil {
		e.t.Fatal(err)
	}
	if err := expectEOF(c); err != nil {
		e.t.Fatal(err)
	}
}

// caseClientReset: clients reset (SO_LINGER 0) while the server has echo
// output pending for them. The server must survive, keep echoing, and close
// its side: its fd count returns to the baseline.
func caseClientReset(e *env) {
	const (
		conns = 8
		size  = 1 << 20 // more than the socket buffers: the server is mid-echo
	)
	baseline := e.baselineFDs()
	data := e.randomBytes(size)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { errs[i] = resetMidEcho(e, data) })
	}
	wg.Wait()
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("resetting %d connections mid-echo: %v", conns, err)
	}
	e.stillEchoes(strconv.Itoa(conns) + " client resets mid-echo")
	e.awaitFDs(baseline, strconv.Itoa(conns)+" client resets mid-echo")
}

// resetMidEcho sends data without reading beyond the first echoed byte (so
// the server has output it cannot send), then resets the connection.
func resetMidEcho(e *env, data []byte) error {
	c, err := e.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return fmt.Errorf("read first echoed byte: %w", err)
	}
	if first[0] != data[0] {
		return fmt.Errorf("first echoed byte %#x, want %#x", first[0], data[0])
	}
	if err := c.SetLinger(0); err != nil {
		return fmt.Errorf("set SO_LINGER 0: %w", err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("close with SO_LINGER 0: %w", err)
	}
	<-werr // the pending write fails on the closed socket, as intended
	return nil
}

// caseSlowReader: a client writes 64 MiB and never reads. The server must
// stop reading it (the writes stall) or close it, and its RSS may grow by at
// most 2*max-pending + 16 MiB. Socket buffers on this kernel hold well under
// 64 MiB, so a server that stops reading cannot take it all.
func caseSlowReader(e *env) {
	const (
		total = 64 << 20
		chunk = 256 << 10
	)
	limitKiB := int64(2*e.target.maxPending()+16<<20) >> 10
	baseKiB, err := statusKiB(e.srv.pid, "VmRSS")
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.mustDial()
	buf := e.randomBytes(chunk)
	pushed := 0
	var outcome string
	for pushed < total {
		if err := c.SetWriteDeadline(time.Now().Add(stallTimeout)); err != nil {
			e.t.Fatal(err)
		}
		n, err := c.Write(buf[:min(chunk, total-pushed)])
		pushed += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			outcome = fmt.Sprintf("writes stalled for %v after %.1f MiB: the server stopped reading", stallTimeout, mib(pushed))
			break
		}
		if err != nil {
			outcome = fmt.Sprintf("the server closed the connection after %.1f MiB (%v)", mib(pushed), err)
			break
		}
	}
	// VmHWM is the peak RSS since the process started, so growth between
	// samples is not missed.
	peakKiB, err := statusKiB(e.srv.pid, "VmHWM")
	if err != nil {
		e.t.Fatal(err)
	}
	growthKiB := peakKiB - baseKiB
	e.t.Logf("%s: %s; peak RSS %d KiB, %d KiB above the %d KiB at start (limit %d KiB)", e.target.Name, outcome, peakKiB, growthKiB, baseKiB, limitKiB)
	if pushed >= total {
		e.t.Errorf("the server read all %d MiB from a client that never reads: no backpressure", total>>20)
	}
	if growthKiB > limitKiB {
		e.t.Errorf("server peak RSS grew by %.1f MiB while a client wrote without reading, over the limit 2 x max-pending (%d bytes) + 16 MiB = %.1f MiB: unbounded buffering",
			float64(growthKiB)/1024, e.target.maxPending(), float64(limitKiB)/1024)
	}
}

func mib(n int) float64 { return float64(n) / (1 << 20) }

// caseAbruptClose: 100 connections write and close at once, without reading
// their echo (so the client's kernel resets them as the echo arrives). The
// server survives and its fd count returns to the baseline.
func caseAbruptClose(e *env) {
	const conns = 100
	baseline := e.baselineFDs()
	data := e.randomBytes(4096)
	conn := make([]*net.TCPConn, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { conn[i], errs[i] = e.dial() })
	}
	wg.Wait()
	for _, c := range conn {
		if c != nil {
			defer c.Close()
		}
	}
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("opening %d connections: %v", conns, err)
	}
	start := make(chan struct{})
	for i, c := range conn {
		wg.Go(func() {
			<-start
			if _, err := c.Write(data); err != nil {
				errs[i] = fmt.Errorf("write: %w", err)
			}
			if err := c.Close(); err != nil {
				errs[i] = fmt.Errorf("close: %w", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("write and close %d connections: %v", conns, err)
	}
	e.stillEchoes(strconv.Itoa(conns) + " connections wrote and closed at once")
	e.awaitFDs(baseline, strconv.Itoa(conns)+" connections wrote and closed at once")
}

// caseSigterm: with 100 live connections, SIGTERM makes the server exit 0
// within 2 s, leave no process in its group, and free its port at once.
func caseSigterm(e *env) {
	const conns = 100
	conn := make([]*net.TCPConn, conns)
	errs := make([]error, conns)
	data := e.randomBytes(conns * 16)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := e.dial()
			if err != nil {
				errs[i] = err
				return
			}
			conn[i] = c
			// A round trip proves the server has this connection.
			errs[i] = echoRoundTrip(c, data[i*16:(i+1)*16])
		})
	}
	wg.Wait()
	for _, c := range conn {
		if c != nil {
			defer c.Close()
		}
	}
	if err := firstErrors(errs, "connection"); err != nil {
		e.t.Fatalf("opening %d live connections: %v", conns, err)
	}

	e.srv.noteChildren()
	sent := time.Now()
	if err := e.srv.signalGroup(syscall.SIGTERM); err != nil {
		e.t.Fatal(err)
	}
	if !e.srv.waitExit(termTimeout) {
		e.t.Fatalf("still running %v after SIGTERM with %d live connections; the contract is exit within %v", termTimeout, conns, termTimeout)
	}
	took := time.Since(sent)
	st := e.srv.state
	if st == nil || !st.Exited() || st.ExitCode() != 0 {
		e.t.Errorf("after SIGTERM with %d live connections: %s, want exit status 0", conns, e.srv.describeExit())
	}
	// The port must be free at once, so a benchmark can restart a server on
	// a fixed port: that needs SO_REUSEADDR and no process still holding it.
	ln, err := net.Listen("tcp", e.srv.addr)
	if err != nil {
		e.t.Errorf("%v after SIGTERM the port cannot be bound again: %v (the server needs SO_REUSEADDR, and no process may keep the listener)", took.Round(time.Millisecond), err)
	} else {
		ln.Close()
	}
	for {
		group, children := e.srv.groupAlive(), e.srv.liveChildren()
		if !group && len(children) == 0 {
			break
		}
		if time.Since(sent) > termTimeout {
			if group {
				e.t.Errorf("processes are left in the server's process group %d %v after SIGTERM; the contract is no child processes left", e.srv.pid, termTimeout)
			}
			if len(children) > 0 {
				e.t.Errorf("child processes %v of the server still run %v after SIGTERM; the contract is no child processes left", children, termTimeout)
			}
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline, not waiting for readiness
	}
}
