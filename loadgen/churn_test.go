package loadgen

import (
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"echobench/internal/results"
	"echobench/loadgen/faultserver"
)

// The churn tests are not parallel (like the idle/slow ones): thousands of
// connects a second take CPU the timing-sensitive accuracy tests need.

// histCount decodes an encoded histogram's count; "" is an empty one.
func histCount(t *testing.T, enc string) int64 {
	t.Helper()
	if enc == "" {
		return 0
	}
	h, err := hdrhistogram.Decode([]byte(enc))
	if err != nil {
		t.Fatalf("decode connect histogram: %v", err)
	}
	return h.TotalCount()
}

// With a connection lifetime every connection carries exactly that many
// messages and is replaced; the accounting law holds, every message the
// server echoed is an intended one, and every connect of the window is in
// the connect figures.
func TestConnLifetime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime int
		mode     Mode
		depth    int
	}{
		{"closed lifetime 1", 1, Closed, 1},
		{"closed lifetime 10", 10, Closed, 1},
		{"closed lifetime 10 depth 4", 10, Closed, 4},
		{"open lifetime 1", 1, Open, 1},
		{"open lifetime 10", 10, Open, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startFault(t, faultserver.Faults{})
			cfg := closedCfg(s.Addr())
			// A generous timeout: the fault server starts a goroutine per
			// connection, and on a loaded machine a churning open loop may
			// fall behind; the test is about accounting, not speed.
			cfg.Duration, cfg.Timeout = time.Second, 3*time.Second
			cfg.ConnLifetime, cfg.Depth = tc.lifetime, tc.depth
			if tc.mode == Open {
				cfg.Mode, cfg.RateMsgsPerSec = Open, 1000
			}
			res := run(t, cfg)
			l := res.Load
			// A loaded machine may time some out (the law still holds,
			// run checks it); nothing may error or be corrupted.
			if l.Intended < 200 || l.Completed < l.Intended*9/10 || l.Errored+l.Corrupted+l.Reconnects+l.ConnFailed != 0 {
				t.Fatalf("%d of %d completed, %d errored, %d corrupted, %d reconnects, %d failed connects",
					l.Completed, l.Intended, l.Errored, l.Corrupted, l.Reconnects, l.ConnFailed)
			}
			c := l.Connects
			if c == nil {
				t.Fatal("no connect figures with a lifetime")
			}
			checkLifetimeConnects(t, cfg, l, s.Stats())
		})
	}
}

// checkLifetimeConnects: connects and messages agree with the lifetime and
// with what the server saw.
func checkLifetimeConnects(t *testing.T, cfg Config, l results.Load, st faultserver.Stats) {
	t.Helper()
	c := l.Connects
	want(t, "conn_lifetime", c.ConnLifetime, int64(cfg.ConnLifetime))
	// Each socket carries lifetime messages; a slot's first and last socket
	// of the window may be cut by its edges. A message timed out before it
	// could be sent (open loop, behind schedule) takes no socket.
	perSocket := int64(cfg.ConnLifetime)
	lo, hi := l.Completed/perSocket-int64(cfg.Conns), l.Intended/perSocket+int64(cfg.Conns)
	if c.Established < lo || c.Established > hi {
		t.Errorf("established %d connects for %d messages at lifetime %d, want %d..%d", c.Established, l.Intended, perSocket, lo, hi)
	}
	// The client closes first, so each replaced connection leaves a
	// TIME_WAIT socket on this host for a minute.
	if c.Established > 0 && c.TimeWaitSockets <= 0 {
		t.Errorf("time_wait_sockets %d after %d client-closed connections", c.TimeWaitSockets, c.Established)
	}
	if got := c.ConnectsPerSec * l.DurationS; math.Abs(got-float64(c.Established)) > 0.5 {
		t.Errorf("connects_per_s %.1f × window %.3f s = %.1f, want %d", c.ConnectsPerSec, l.DurationS, got, c.Established)
	}
	want(t, "connect histogram count", histCount(t, c.ConnectHDR), c.Established)
	if fb := histCount(t, c.FirstByteHDR); fb > c.Established || fb < c.Established-int64(cfg.Conns) {
		t.Errorf("first-byte histogram holds %d, want %d (minus at most one per slot)", fb, c.Established)
	}
	if c.ConnectUs.P50 <= 0 || c.FirstByteUs.P50 < c.ConnectUs.P50 {
		t.Errorf("connect p50 %.1f µs, first byte p50 %.1f µs: want 0 < connect <= first byte", c.ConnectUs.P50, c.FirstByteUs.P50)
	}
	want(t, "failed connects by cause", c.Failed.Total(), l.ConnFailed)
	// No warm-up: the server saw exactly the intended messages, on the
	// set-up connections plus those of the window (and at most one more
	// per slot, started in the window and abandoned once it had drained).
	// A message timed out before it could be sent never reaches the server.
	if cfg.Depth == 1 && (st.Chunks < l.Completed || st.Chunks > l.Intended) { // deeper, a chunk may hold several
		t.Errorf("server echoed %d chunks, want %d..%d (completed..intended)", st.Chunks, l.Completed, l.Intended)
	}
	if min := int64(cfg.Conns) + c.Established; st.Accepted < min || st.Accepted > min+int64(cfg.Conns) {
		t.Errorf("server accepted %d connections, want %d..%d", st.Accepted, min, min+int64(cfg.Conns))
	}
}

// A server that resets every 7th connection once its message arrived costs
// exactly one errored message per reset, whatever the lifetime: the law
// holds and nothing else is lost.
func TestConnLifetimeReset(t *testing.T) {
	for _, lifetime := range []int{1, 10} {
		t.Run("lifetime "+itoa(lifetime), func(t *testing.T) {
			s := startFault(t, faultserver.Faults{ResetEvery: 7})
			cfg := closedCfg(s.Addr())
			cfg.Duration, cfg.ConnLifetime = time.Second, lifetime
			l := run(t, cfg).Load
			st := s.Stats()
			if l.Intended < 200 || st.Reset == 0 {
				t.Fatalf("%d messages, %d resets: too few to test", l.Intended, st.Reset)
			}
			want(t, "errored", l.Errored, st.Reset)
			want(t, "reconnects", l.Reconnects, st.Reset)
			want(t, "timed out", l.TimedOut, 0)
			want(t, "corrupted", l.Corrupted, 0)
			want(t, "completed + errored", l.Completed+l.Errored, l.Intended)
		})
	}
}

// A connect burst connects all at once at the start of the window, each
// connection echoes one message; the active figures are untouched.
func TestConnectBurst(t *testing.T) {
	s := startFault(t, faultserver.Faults{})
	cfg := closedCfg(s.Addr())
	cfg.Duration, cfg.ConnectBurst = time.Second, 300
	l := run(t, cfg).Load
	b := l.Burst
	if b == nil {
		t.Fatal("no burst figures")
	}
	want(t, "burst conns", b.Conns, 300)
	want(t, "burst echoed", b.Echoed, 300)
	want(t, "burst echo failed", b.EchoFailed, 0)
	want(t, "burst failed connects", b.Failed.Total(), 0)
	want(t, "burst connect histogram", histCount(t, b.ConnectHDR), 300)
	if b.DurationS <= 0 || b.DurationS > cfg.ConnectTimeout.Seconds()+DefaultTimeout.Seconds() || b.FirstByteUs.Max/1e6 > b.DurationS {
		t.Errorf("burst took %.3f s, slowest first byte %.0f µs", b.DurationS, b.FirstByteUs.Max)
	}
	if l.Completed != l.Intended || l.Reconnects != 0 || l.Connects == nil || l.Connects.Established != 0 {
		t.Errorf("active: %d of %d completed, %d reconnects, connects %+v", l.Completed, l.Intended, l.Reconnects, l.Connects)
	}
	st := s.Stats()
	want(t, "connections accepted", st.Accepted, int64(cfg.Conns)+300)
	want(t, "chunks the server echoed", st.Chunks, l.Intended+300)
}

// A burst at an address nothing listens on is refused, counted by cause.
func TestConnectBurstRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Config{Addr: addr, Conns: 1, SizeBytes: 64, Duration: time.Second, ConnectBurst: 50}.WithDefaults()
	sh, err := newShared(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBurst(sh, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.run(timing{windowStartNs: nanotime()}); err != nil {
		t.Fatal(err)
	}
	r, _ := b.figures()
	want(t, "refused", r.Failed.Refused, 50)
	want(t, "echoed", r.Echoed, 0)
	want(t, "other failures", r.Failed.Total()-r.Failed.Refused, 0)
}

// Each cause lands in its own count, and ports exhausted is the client's
// limit in the warning, never the server's fault.
func TestConnectFailureCauses(t *testing.T) {
	t.Parallel()
	var f results.ConnectFailures
	for _, err := range []error{unix.ECONNREFUSED, unix.ECONNRESET, unix.EPIPE, errConnectTimeout, unix.EADDRNOTAVAIL, unix.EMFILE} {
		addConnectFailure(&f, err)
	}
	if f != (results.ConnectFailures{Refused: 1, Reset: 2, TimedOut: 1, PortsExhausted: 1, Other: 1}) {
		t.Errorf("causes %+v", f)
	}
	ws := connectWarnings("connections", &connectStats{failed: f}, 0)
	if len(ws) != 1 || !strings.Contains(ws[0], "EADDRNOTAVAIL") || !strings.Contains(ws[0], "client's limit") {
		t.Errorf("warnings %q, want one naming the client's port limit", ws)
	}
}

// Bad churn values are usage errors naming the flag.
func TestChurnConfigErrors(t *testing.T) {
	t.Parallel()
	limit, err := OpenFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ConnLifetime: -1}, "conn-lifetime"},
		{Config{ConnectBurst: -5}, "connect-burst"},
		{Config{ConnectBurst: int(limit) + 1}, "connect-burst"},
		{Config{ConnectBurst: int(limit) - 10}, "connect-burst"},
	} {
		c := tc.cfg
		c.Addr, c.Conns, c.SizeBytes, c.Duration, c.Workers = "127.0.0.1:9", 1, 64, time.Second, 1
		err := c.WithDefaults().Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lifetime %d burst %d: Validate = %v, want a ConfigError naming %s", c.ConnLifetime, c.ConnectBurst, err, tc.want)
		}
	}
}

func TestParseTimeWait(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in string
		n  int64
		ok bool
	}{
		{"sockets: used 8\nTCP: inuse 1 orphan 0 tw 83 alloc 1 mem 98\nUDP: inuse 0 mem 0\n", 83, true},
		{"TCP6: inuse 2\nUDP6: inuse 0\n", 0, false},
		{"TCP: inuse 1 orphan 0 tw x\n", 0, false},
	} {
		if n, ok := parseTimeWait(tt.in); n != tt.n || ok != tt.ok {
			t.Errorf("parseTimeWait(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
	}
}
