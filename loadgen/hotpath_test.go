package loadgen

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pairWorker is a worker with one connection whose socket is one end of a
// socketpair; the test plays the echo server on the other end.
func pairWorker(tb testing.TB, cfg Config) (*worker, *conn, int) {
	tb.Helper()
	cfg.Addr, cfg.Conns, cfg.Workers, cfg.Duration = "127.0.0.1:9", 1, 1, time.Hour
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	sh, err := newShared(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := newWorker(sh, []int32{0}, 1<<16)
	if err != nil {
		tb.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		w.close()
		unix.Close(fds[1])
	})
	c := w.conns[0]
	c.fd, c.state = int32(fds[0]), stUp
	w.byFd[fds[0]] = c
	if err := w.p.Add(fds[0], 0x1); err != nil {
		tb.Fatal(err)
	}
	now := nanotime()
	sh.endNs.Store(now + int64(cfg.Duration))
	w.begin(timing{warmStartNs: now, windowStartNs: now})
	return w, c, fds[1]
}

// startedWorker is a worker with cfg's one connection, not connected, and
// its window begun now for cfg.Duration.
func startedWorker(tb testing.TB, cfg Config) *worker {
	tb.Helper()
	sh, err := newShared(cfg.WithDefaults())
	if err != nil {
		tb.Fatal(err)
	}
	w, err := newWorker(sh, []int32{0}, 1<<16)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.close)
	now := nanotime()
	sh.endNs.Store(now + int64(sh.cfg.Duration))
	w.begin(timing{warmStartNs: now, windowStartNs: now})
	return w
}

// echoOnce plays the server: reads what the worker sent and writes it back.
func echoOnce(tb testing.TB, fd int, buf []byte) {
	n, err := unix.Read(fd, buf)
	if err == unix.EAGAIN {
		return
	}
	if err != nil {
		tb.Fatalf("echo read: %v", err)
	}
	for b := buf[:n]; len(b) > 0; {
		m, err := unix.Write(fd, b)
		if err != nil {
			tb.Fatalf("echo write: %v", err)
		}
		b = b[m:]
	}
}

// roundTrip moves bytes both ways until at least one more message has
// completed, flushing the worker's writes that hit a full socket buffer.
func roundTrip(tb testing.TB, w *worker, c *conn, peer int, buf []byte) {
	before := w.st.completed
	for i := 0; w.st.completed == before; i++ {
		if i == 1000 {
			tb.Fatalf("no message completed (tx %d, rx %d)", c.txBytes, c.rxBytes)
		}
		if w.open {
			w.pace(nanotime())
		}
		if c.outArmed {
			w.onWritable(c, nanotime())
		}
		echoOnce(tb, peer, buf)
		w.onReadable(c)
	}
}

// The send, receive, verify and record path allocates nothing per message,
// in both modes and for small and large messages. (Not parallel:
// AllocsPerRun counts the whole process's allocations.)
func TestHotPathAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"closed 64B", Config{SizeBytes: 64}},
		{"closed 16KiB depth 4", Config{SizeBytes: 16 << 10, Depth: 4}},
		{"open 64B", Config{SizeBytes: 64, Mode: Open, RateMsgsPerSec: 1e6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, c, peer := pairWorker(t, tc.cfg)
			buf := make([]byte, 256<<10)
			step := func() { roundTrip(t, w, c, peer, buf) }
			step()
			if allocs := testing.AllocsPerRun(500, step); allocs != 0 {
				t.Errorf("%.2f allocations per message, want 0", allocs)
			}
			st := w.st
			if st.completed < 500 || st.corrupted+st.errored+st.timedOut != 0 || c.state != stUp {
				t.Errorf("completed %d, failed %d/%d/%d, state %d: the path did not run cleanly",
					st.completed, st.timedOut, st.errored, st.corrupted, c.state)
			}
		})
	}
}

// Recording into the timeline allocates nothing either, across interval
// boundaries and seconds and into the drain after the window: every slot
// was sized when the worker was made. Messages complete, fail and start at
// made-up times 10 ms apart over a 2 s window and 1 s past it.
// (AllocsPerRun's average is an integer division: one run of the whole
// sweep counts every allocation in it.)
func TestTimelineAllocs(t *testing.T) {
	w := startedWorker(t, Config{Addr: "127.0.0.1:9", Conns: 1, Workers: 1, SizeBytes: 64, Duration: 2 * time.Second})
	start, c := w.windowStartNs, w.conns[0]
	sweep := func() {
		for k := range int64(300) {
			now := start + k*10_000_000
			c.ring[0] = sendRec{sentNs: now - 20_000, counted: true}
			w.complete(c, 0, now)
			w.fail(c, 0, classErrored, now)
			w.recordFirstSend(c, 0, now, now)
		}
	}
	if allocs := testing.AllocsPerRun(1, sweep); allocs != 0 {
		t.Errorf("%.0f allocations recording 600 messages into a 2 s timeline, want 0", allocs)
	}
	if n := len(w.tl.counts); n != 21 {
		t.Fatalf("%d slots for a 2 s window, want 20 intervals of 100 ms and the drain", n)
	}
	for i, cnt := range w.tl.counts {
		want := int64(20) // 10 per run, two runs
		if i == 20 {
			want = 200 // the drain: the sweep's last second
		}
		if cnt.completed != want || cnt.errored != want {
			t.Errorf("slot %d: %d completed, %d errored, want %d each", i, cnt.completed, cnt.errored, want)
		}
	}
}

// BenchmarkHotPath is the per-message work without syscalls: fill a
// message, verify its echo, record its latency.
func BenchmarkHotPath(b *testing.B) {
	for _, size := range []int{64, 16 << 10} {
		b.Run(sizeName(size), func(b *testing.B) {
			w, c, _ := pairWorker(b, Config{SizeBytes: size})
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			seq := int64(0)
			for b.Loop() {
				w.sh.pl.fill(msg, c.id, 0, seq*int64(size))
				if !w.sh.pl.matches(msg, c.id, seq, 0) {
					b.Fatal("mismatch")
				}
				c.ring[0] = sendRec{sentNs: nanotime() - 20_000, counted: true}
				w.complete(c, 0, nanotime())
				seq++
			}
		})
	}
}

// BenchmarkRoundTrip is the whole path through real sockets: send, echo by
// the benchmark, read, verify, record, send the next.
func BenchmarkRoundTrip(b *testing.B) {
	w, c, peer := pairWorker(b, Config{SizeBytes: 64})
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, w, c, peer, buf)
	}
}

// BenchmarkClock compares the clocks the hot path could read once per event.
func BenchmarkClock(b *testing.B) {
	b.Run("runtime.nanotime", func(b *testing.B) {
		var s int64
		for b.Loop() {
			s += nanotime()
		}
		_ = s
	})
	b.Run("time.Now", func(b *testing.B) {
		base := time.Now()
		var s int64
		for b.Loop() {
			s += int64(time.Since(base))
		}
		_ = s
	})
	b.Run("unix.ClockGettime", func(b *testing.B) {
		var ts unix.Timespec
		for b.Loop() {
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		}
	})
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// rawListener is a blocking loopback listener driven by raw syscalls, so
// that the test's server side allocates nothing either (AllocsPerRun counts
// the whole process).
func rawListener(tb testing.TB) (fd int, addr string) {
	tb.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		tb.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	return fd, "127.0.0.1:" + itoa(sa.(*unix.SockaddrInet4).Port)
}

// acceptRaw accepts without asking for the peer's address (unix.Accept
// would allocate one).
func acceptRaw(tb testing.TB, lfd int) int {
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		tb.Fatalf("accept: %v", errno)
	}
	return int(nfd)
}

// A whole connection cycle at --conn-lifetime 1 (connect, send, echo,
// verify, record, close, connect again) allocates nothing on the
// generator's side.
func TestConnectionCycleAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"closed", Config{SizeBytes: 64}},
		{"open", Config{SizeBytes: 64, Mode: Open, RateMsgsPerSec: 1e6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lfd, addr := rawListener(t)
			cfg := tc.cfg
			cfg.Addr, cfg.Conns, cfg.Workers, cfg.Duration, cfg.ConnLifetime = addr, 1, 1, time.Hour, 1
			w := startedWorker(t, cfg)
			c := w.conns[0]
			w.pending = append(w.pending, c)
			buf := make([]byte, 4096)
			cycle := func() { connectionCycle(t, w, c, lfd, buf) }
			cycle()
			if allocs := testing.AllocsPerRun(300, cycle); allocs != 0 {
				t.Errorf("%.2f allocations per connection cycle, want 0", allocs)
			}
			if w.cs.established < 300 || w.st.completed < 300 || w.st.errored+w.st.timedOut+w.st.corrupted+w.st.connFailed != 0 {
				t.Errorf("established %d, completed %d, failed %d/%d/%d, connect failures %d: the cycle did not run cleanly",
					w.cs.established, w.st.completed, w.st.timedOut, w.st.errored, w.st.corrupted, w.st.connFailed)
			}
		})
	}
}

// connectionCycle connects the worker's pending slot, plays the server for
// one echo on the accepted socket and runs the worker until the message
// completed and the slot was queued to connect again.
func connectionCycle(tb testing.TB, w *worker, c *conn, lfd int, buf []byte) {
	w.reconnectPending()
	sfd := acceptRaw(tb, lfd)
	defer unix.Close(sfd)
	before := w.st.completed
	for i := 0; w.st.completed == before || len(w.pending) == 0; i++ {
		if i == 1000 {
			tb.Fatalf("no cycle (state %d, tx %d, rx %d)", c.state, c.txBytes, c.rxBytes)
		}
		if w.open {
			w.pace(nanotime())
		}
		evs, _, err := w.p.Wait(w.evs, 0)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ev := range evs {
			w.dispatch(ev)
		}
		if c.state == stUp && c.txBytes > c.rxBytes {
			echoOnce(tb, sfd, buf)
		}
	}
}
