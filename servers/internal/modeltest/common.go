package modeltest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"echobench/servers"
)

// commonCases is the behaviour every model shares, in the order RunCommon
// runs it. Each case starts its own server.
var commonCases = []struct {
	name string
	run  func(t *testing.T, start servers.StartFunc, lim limits)
}{
	{"EchoSizes", echoSizes},
	{"EchoFragments", echoFragments},
	{"Pipelined", pipelined},
	{"ManyConnections", manyConnections},
	{"HalfCloseWithPending", halfCloseWithPending},
	{"HalfCloseStream", halfCloseStream},
	{"ResetMidEcho", resetMidEcho},
	{"WriteAndCloseAtOnce", writeAndCloseAtOnce},
	{"LoopsAndPortZero", loopsAndPortZero},
	{"CloseWithLiveConnections", closeWithLiveConnections},
}

// RunCommon runs, as parallel subtests of t, the behaviour every model must
// have: echo of every size and fragmentation, pipelining, many connections,
// half-close with output pending, resets, abrupt closes, Config.Loops with
// port 0, and Close with live connections. Model-specific behaviour
// (backpressure, allocations, descriptor exhaustion) is tested separately.
//
// The subtests are parallel, so RunCommon returns only once all have ended;
// the caller may itself be parallel.
func RunCommon(t *testing.T, start servers.StartFunc) {
	t.Helper()
	RunCommonExcept(t, start, nil)
}

// RunCommonExcept is RunCommon for a model whose library cannot pass some
// cases. limitations maps a case name ("HalfCloseStream") or a case and
// subtest ("EchoSizes/1 MiB in one write") to the reason, the one the
// model's package doc gives; that case is skipped with the reason. A key
// that names no case, or a limitation without a reason, fails the test, so
// a renamed case cannot silently stop being checked. This mirrors
// servertest's Target.Limitations: the suite stays whole, and what a model
// skips is stated where it is skipped.
func RunCommonExcept(t *testing.T, start servers.StartFunc, limitations map[string]string) {
	t.Helper()
	runCommon(t, start, limitations, true)
}

// RunCommonSerial is RunCommonExcept one case at a time, for a library
// whose servers must not start or close while another goroutine of the
// process opens descriptors (netpoll v0.7.2 closes its listener's
// descriptor twice: see servers/netpoll's package doc).
func RunCommonSerial(t *testing.T, start servers.StartFunc, limitations map[string]string) {
	t.Helper()
	runCommon(t, start, limitations, false)
}

func runCommon(t *testing.T, start servers.StartFunc, limitations map[string]string, parallel bool) {
	t.Helper()
	if err := checkLimitations(limitations); err != nil {
		t.Error(err)
	}
	lim := limits(limitations)
	for _, c := range commonCases {
		t.Run(c.name, func(t *testing.T) {
			lim.skip(t, c.name)
			if parallel {
				t.Parallel()
			}
			c.run(t, start, lim)
		})
	}
}

// limits is RunCommonExcept's limitations: a case or "case/subtest" name to
// the documented reason it is skipped.
type limits map[string]string

// skip skips t if name is a documented limitation.
func (l limits) skip(t *testing.T, name string) {
	t.Helper()
	if reason, ok := l[name]; ok {
		t.Skipf("documented limitation: %s", reason)
	}
}

// caseNames is every name a limitation may use: each common case and each
// subtest of EchoSizes.
func caseNames() []string {
	var names []string
	for _, c := range commonCases {
		names = append(names, c.name)
	}
	for _, e := range echoSizeCases {
		names = append(names, "EchoSizes/"+e.name)
	}
	return names
}

// checkLimitations rejects a limitation for a case that does not exist and
// one without a reason.
func checkLimitations(limitations map[string]string) error {
	known := caseNames()
	var errs []error
	for name, reason := range limitations {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("modeltest: limitation for unknown case %q (cases: %q)", name, known))
		} else if strings.TrimSpace(reason) == "" {
			errs = append(errs, fmt.Errorf("modeltest: limitation for case %q has no reason; give the documented one", name))
		}
	}
	return errors.Join(errs...)
}

// echoSizeCases are echoSizes' subtests: each streams total bytes in
// writes of chunk, reading concurrently, then half-closes.
var echoSizeCases = []struct {
	name         string
	total, chunk int
}{
	{"1 byte", 1, 1},
	{"64 B", 64, 64},
	{"16 KiB", 16 << 10, 16 << 10},
	{"1 MiB in one write", 1 << 20, 1 << 20},
}

func echoSizes(t *testing.T, start servers.StartFunc, lim limits) {
	srv := Start(t, start, servers.Config{})
	for _, tt := range echoSizeCases {
		t.Run(tt.name, func(t *testing.T) {
			lim.skip(t, "EchoSizes/"+tt.name)
			t.Parallel()
			got, err := StreamEcho(Dial(t, srv), tt.total, tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.total {
				t.Fatalf("echoed %d bytes, want %d", got, tt.total)
			}
		})
	}
}

// echoFragments writes 64 KiB in random pieces of 1 to 7 bytes.
func echoFragments(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	c := Dial(t, srv)
	const total = 64 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	done := make(chan error, 1)
	go func() {
		var buf [7]byte
		for off := 0; off < total; {
			n := min(1+rng.IntN(7), total-off)
			Pattern(buf[:n], off)
			if _, err := c.Write(buf[:n]); err != nil {
				done <- err
				return
			}
			off += n
		}
		done <- c.CloseWrite()
	}()
	got, err := ReadAll(c, 0)
	if werr := <-done; werr != nil {
		t.Fatalf("write: %v", werr)
	}
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func pipelined(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	c := Dial(t, srv)
	const msgs, size = 1000, 64
	buf := make([]byte, msgs*size)
	Pattern(buf, 0)
	for i := 0; i < msgs; i++ { // all sent before any is read
		if _, err := c.Write(buf[i*size : (i+1)*size]); err != nil {
			t.Fatalf("write message %d: %v", i, err)
		}
	}
	got := make([]byte, len(buf))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := CheckPattern(got, 0); err != nil {
		t.Fatal(err)
	}
}

func manyConnections(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	const conns, msgs, size = 200, 20, 128
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := Dial(t, srv)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg, reply := make([]byte, size), make([]byte, size)
			for m := 0; m < msgs; m++ {
				Pattern(msg, i*msgs+m)
				if err := RoundTrip(c, msg, reply); err != nil {
					errs <- fmt.Errorf("conn %d message %d: %w", i, m, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// halfCloseWithPending sends more than the socket buffers hold without
// reading, half-closes, and only then reads: the server must deliver every
// byte it had pending when it saw EOF.
func halfCloseWithPending(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	c := Dial(t, srv)
	const total = 1 << 20
	buf := make([]byte, total)
	Pattern(buf, 0)
	if _, err := c.Write(buf); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(c, 0)
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func halfCloseStream(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	const total = 8 << 20
	got, err := StreamEcho(Dial(t, srv), total, 256<<10)
	if err != nil || got != total {
		t.Fatalf("echoed %d of %d bytes: %v", got, total, err)
	}
}

func resetMidEcho(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	for i := 0; i < 20; i++ {
		c := Dial(t, srv)
		buf := make([]byte, 256<<10)
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := c.SetLinger(0); err != nil { // close sends RST
			t.Fatal(err)
		}
		c.Close()
	}
	msg, reply := []byte("still here"), make([]byte, 10)
	if err := RoundTrip(Dial(t, srv), msg, reply); err != nil {
		t.Fatalf("server did not survive resets: %v", err)
	}
}

func writeAndCloseAtOnce(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{})
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		c := Dial(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write([]byte("bye"))
			c.Close()
		}()
	}
	wg.Wait()
	msg, reply := []byte("after"), make([]byte, 5)
	if err := RoundTrip(Dial(t, srv), msg, reply); err != nil {
		t.Fatalf("server did not survive: %v", err)
	}
}

func loopsAndPortZero(t *testing.T, start servers.StartFunc, _ limits) {
	srv := Start(t, start, servers.Config{Loops: 3})
	if srv.Addr().(*net.TCPAddr).Port == 0 {
		t.Fatalf("Addr %v has port 0", srv.Addr())
	}
	for i := 0; i < 30; i++ {
		msg, reply := []byte{byte(i)}, []byte{0}
		if err := RoundTrip(Dial(t, srv), msg, reply); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
}

// closeWithLiveConnections starts the server itself, not through Start,
// because it checks Close's result and timing rather than leaving Close to
// the cleanup.
func closeWithLiveConnections(t *testing.T, start servers.StartFunc, _ limits) {
	srv, err := start(t.Context(), servers.Config{Log: LogWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() }) // if the test stops early; Close is idempotent
	var conns []*net.TCPConn
	for i := 0; i < 50; i++ {
		c := Dial(t, srv)
		if err := RoundTrip(c, []byte("x"), []byte{0}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	begin := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with live connections", d)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for i, c := range conns {
		// Closed by the server: EOF or reset. A timeout means still open.
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("connection %d still open after Close: %v", i, err)
		}
	}
	ln, err := net.Listen("tcp", srv.Addr().String())
	if err != nil {
		t.Fatalf("port not rebindable after Close: %v", err)
	}
	ln.Close()
}
