// Package fake is a stand-in for `echobench serve` and `echobench load` in the
// orchestrator's tests: small, predictable, and able to misbehave on demand.
// A test binary that imports it re-executes itself as these commands.
//
// Serve takes the mode as its MODEL: echo (a correct echo server), crash
// (exits 3 at start with a message on stderr), never (never prints
// LISTENING), ignoreterm (echoes, ignores SIGTERM), anyaddr (binds 0.0.0.0
// but announces 127.0.0.1), diemid (exits 5 once a connection arrives), busy
// (echoes and keeps one CPU busy, so its CPU time is sure to be measured),
// needwork (echoes, but refuses to start, exit 2, unless it got --work and
// a --request-size the server contract accepts: what reaches a server),
// corrupt (echoes every read with its first byte inverted: a server whose
// bytes are wrong).
//
// Load connects and echoes for real and prints a results.Load. Environment:
// FAKEBENCH_CAPACITY fixes the closed-loop throughput it reports;
// FAKEBENCH_SLO_RATE makes an open-loop p99 of 100 µs at or under that rate
// and 50 ms above it. FAKEBENCH_PIDDIR, when set, receives one file per
// process started, named by its PID, so tests can check none survives.
package fake

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"echobench/internal/results"
	"echobench/loadgen"
	"echobench/servers"
	"echobench/servers/work"
)

// Modes are the server behaviours Serve knows.
var Modes = []string{"echo", "crash", "never", "ignoreterm", "anyaddr", "diemid", "busy", "needwork", "corrupt"}

// lifetime bounds every fake process: nothing may linger if a test fails.
const lifetime = 60 * time.Second

func notePID() {
	if dir := os.Getenv("FAKEBENCH_PIDDIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	}
}

// Serve runs a fake server: args are "MODEL --addr A [--loops N]
// [--max-pending B]". It returns the exit status.
func Serve(args []string) int {
	notePID()
	time.AfterFunc(lifetime, func() { os.Exit(9) })
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fake serve: missing MODEL")
		return 2
	}
	mode := args[0]
	cfg, err := servers.ParseArgs(nil, args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake serve:", err)
		return 2
	}
	addr := &cfg.Addr
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fake serve: cannot bind: simulated crash")
		return 3
	case "never":
		fmt.Fprintln(os.Stderr, "fake serve: starting very slowly")
		<-term
		return 0
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
	case "anyaddr":
		*addr = "0.0.0.0:0"
	case "busy":
		go func() {
			for x := uint64(1); ; x = x*6364136223846793005 + 1 {
				_ = x
			}
		}()
	case "needwork":
		if err := cfg.WithDefaults().Validate(false); err != nil || cfg.Work.Kind == work.None {
			fmt.Fprintf(os.Stderr, "fake serve: needwork got --work %s --request-size %d (%v)\n", cfg.Work, cfg.RequestSizeBytes, err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "fake serve: --work %s --request-size %d\n", cfg.Work, cfg.RequestSizeBytes)
	case "echo", "diemid", "corrupt":
	default:
		fmt.Fprintf(os.Stderr, "fake serve: unknown model %q\n", mode)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake serve:", err)
		return 1
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Printf("LISTENING 127.0.0.1:%d\n", port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if mode == "diemid" {
				fmt.Fprintln(os.Stderr, "fake serve: dying mid-run")
				os.Exit(5)
			}
			go echoConn(c, mode == "corrupt")
		}
	}()
	<-term
	ln.Close()
	if mode == "ignoreterm" {
		select {}
	}
	return 0
}

// echoConn echoes what c sends until c ends; corrupt inverts the first
// byte of every read, for a server whose bytes are wrong.
func echoConn(c net.Conn, corrupt bool) {
	defer c.Close()
	if !corrupt {
		_, _ = io.Copy(c, c)
		return
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			buf[0] ^= 0xff
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Load runs a fake load generator with the flags of `echobench load`, parsed
// by the load generator's own flag table (--start-at too), and prints one
// results.Load as JSON, with its window's times and a histogram as the
// real one prints them, so that several merge. It returns the exit status.
func Load(args []string) int {
	notePID()
	time.AfterFunc(lifetime, func() { os.Exit(9) })
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "")
	cfg, err := loadgen.ParseArgs(fs, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake load:", err)
		return 2
	}
	if !*jsonOut || cfg.Addr == "" || (cfg.Mode == loadgen.Open && cfg.RateMsgsPerSec <= 0) {
		fmt.Fprintln(os.Stderr, "fake load: need --addr, --json, and --rate in open mode")
		return 2
	}
	cfg = cfg.WithDefaults()
	// Idle connections and slow readers are real connections, held through
	// the window, so the server holds them as with the real load generator.
	ex := dialExtras(cfg)
	m := echoActive(cfg)
	l := summary(cfg, m, ex.check())
	b, err := json.Marshal(&l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake load:", err)
		return 1
	}
	fmt.Println(string(b))
	return 0
}

// extras are the idle connections and slow readers of a fake load.
type extras struct {
	idle, slow []net.Conn
	idleFailed int64
}

func dialExtras(cfg loadgen.Config) *extras {
	ex := &extras{}
	for i := 0; i < cfg.IdleConns+cfg.SlowReaders; i++ {
		c, err := net.Dial("tcp", cfg.Addr)
		switch {
		case err != nil && i < cfg.IdleConns:
			ex.idleFailed++
		case err != nil:
		case i < cfg.IdleConns:
			ex.idle = append(ex.idle, c)
		default:
			ex.slow = append(ex.slow, c)
		}
	}
	return ex
}

// check proves each idle connection is served and has each slow reader
// echo one small block, then closes them all.
func (ex *extras) check() extraOutcome {
	out := extraOutcome{idleFailed: ex.idleFailed}
	for _, c := range append(ex.idle, ex.slow...) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		msg := []byte("idle-or-slow-check")
		back := make([]byte, len(msg))
		_, err := c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, back)
		}
		ok := err == nil && string(back) == string(msg)
		if slices.Contains(ex.idle, c) {
			if !ok {
				out.idleFailed++
			}
		} else if ok {
			out.slowBytes += int64(len(msg))
		}
		c.Close()
	}
	return out
}

type extraOutcome struct{ idleFailed, slowBytes int64 }

// measured is what the active connections of a fake load did in the window.
type measured struct {
	mu                 sync.Mutex
	completed, errored int64
	lat                []time.Duration
	from, end          time.Time // the window
	windowStartMonoNs  int64     // CLOCK_MONOTONIC at the window's start
}

func (m *measured) fail() {
	m.mu.Lock()
	m.errored++
	m.mu.Unlock()
}

// echoActive runs cfg.Conns connections, each echoing one message at a time
// (paced per connection in open loop), until the window ends. With
// --start-at the window starts there, after a warm-up before it, as with
// the real load generator.
func echoActive(cfg loadgen.Config) *measured {
	measureFrom := time.Now().Add(cfg.Warmup)
	if !cfg.StartAt.IsZero() {
		measureFrom = cfg.StartAt
		time.Sleep(time.Until(measureFrom.Add(-cfg.Warmup)))
	}
	end := measureFrom.Add(cfg.Duration)
	m := &measured{from: measureFrom, end: end, windowStartMonoNs: monoNowNs() + int64(time.Until(measureFrom))}
	perConnGap := time.Duration(0)
	if cfg.Mode == loadgen.Open {
		perConnGap = time.Duration(float64(time.Second) * float64(cfg.Conns) / cfg.RateMsgsPerSec)
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Conns; i++ {
		wg.Go(func() { m.echo(cfg, measureFrom, end, perConnGap) })
	}
	wg.Wait()
	return m
}

func (m *measured) echo(cfg loadgen.Config, measureFrom, end time.Time, gap time.Duration) {
	c, err := net.Dial("tcp", cfg.Addr)
	if err != nil {
		m.fail()
		return
	}
	defer c.Close()
	buf := make([]byte, cfg.SizeBytes)
	back := make([]byte, cfg.SizeBytes)
	next := time.Now()
	for time.Now().Before(end) {
		if gap > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(gap)
		}
		t := time.Now()
		if _, err := c.Write(buf); err != nil {
			m.fail()
			return
		}
		if _, err := io.ReadFull(c, back); err != nil {
			m.fail()
			return
		}
		if t.After(measureFrom) && t.Before(end) {
			m.mu.Lock()
			m.completed++
			if len(m.lat) < 100000 {
				m.lat = append(m.lat, time.Since(t))
			}
			m.mu.Unlock()
		}
	}
}

// summary is the fake load's results.Load, with the figures the tests fix
// through the environment.
func summary(cfg loadgen.Config, m *measured, ex extraOutcome) results.Load {
	lat := m.lat
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds())
	}
	l := results.Load{
		Mode: string(cfg.Mode), Conns: cfg.Conns, SizeBytes: cfg.SizeBytes, Depth: cfg.Depth, RateMsgsPerSec: cfg.RateMsgsPerSec, DurationS: cfg.Duration.Seconds(),
		Intended: m.completed + m.errored, Completed: m.completed, Errored: m.errored,
		ThroughputMsgsPerSec: float64(m.completed) / cfg.Duration.Seconds(),
		LatencyUs:            results.Latency{P50: pct(0.5), P90: pct(0.9), P99: pct(0.99), Max: pct(1)},
		ClientCPUUtil:        0.5,
		IdleConns:            int64(cfg.IdleConns), IdleFailed: ex.idleFailed,
		SlowReaders: int64(cfg.SlowReaders), SlowReadBytes: ex.slowBytes,
		// As echobench load reports them: one worker, one P more.
		Workers: 1, GOMAXPROCS: 2,
		// The real load generator says so only when an open loop misses.
		RateMet:           true,
		WindowStartMonoNs: m.windowStartMonoNs,
		WindowStartUnixNs: m.from.UnixNano(), WindowEndUnixNs: m.end.UnixNano(),
		HDR: encodeLatencies(lat),
	}
	addTimeline(&l, cfg)
	if cfg.SlowReaders > 0 {
		l.SlowReadBytesPerSec = int64(cfg.SlowReadBytesPerSec)
	}
	if l.Intended > 0 {
		l.CompletionRatio = float64(l.Completed) / float64(l.Intended)
	}
	if v, err := strconv.ParseFloat(os.Getenv("FAKEBENCH_CAPACITY"), 64); err == nil && cfg.Mode == loadgen.Closed {
		l.ThroughputMsgsPerSec = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("FAKEBENCH_SLO_RATE"), 64); err == nil && cfg.Mode == loadgen.Open {
		// Deterministic whatever the scheduling of a loaded test machine.
		l.CompletionRatio = 1
		l.LatencyUs.P99 = 100
		if cfg.RateMsgsPerSec > v {
			l.LatencyUs.P99 = 50000
		}
	}
	return l
}

// encodeLatencies is the fake's histogram, as results.Load carries it.
func encodeLatencies(lat []time.Duration) string {
	h := results.NewHDR()
	for _, d := range lat {
		_ = h.RecordValue(max(int64(d), results.HistLowestNs))
	}
	s, err := results.EncodeHDR(h)
	if err != nil {
		return ""
	}
	return s
}

// Stack is a fake foreign stack: it satisfies bench.Stack. A stack with Err
// set is not installed here; one without runs this binary's fake server.
type Stack struct {
	Cmd []string
	Err error
}

func (s Stack) Check(context.Context) (string, error) {
	if s.Err != nil {
		return "", s.Err
	}
	return "fake 1.0", nil
}

func (s Stack) Argv() ([]string, error) { return s.Cmd, nil }
func (s Stack) Environ() []string       { return []string{"FAKE_STACK=1"} }

// LookupStack knows two stacks: "fakestack", an echo server run as this
// binary's `serve echo`, and "missingstack", which is not installed.
func LookupStack(name string) (Stack, bool) {
	switch name {
	case "fakestack":
		exe, _ := os.Executable()
		return Stack{Cmd: []string{exe, "serve", "echo"}}, true
	case "missingstack":
		return Stack{Err: errors.New("python3-missing is not installed: run make deps")}, true
	}
	return Stack{}, false
}

// addTimeline gives l a timeline on the real load generator's grid, its
// counts spread evenly (the fake does not time its messages): enough for
// the orchestrator to put the server's CPU on the grid, and for
// results.Record.Check, which wants the intervals to add up to the totals.
func addTimeline(l *results.Load, cfg loadgen.Config) {
	width := loadgen.TimelineWidth(cfg.Duration)
	n := int64((cfg.Duration + width - 1) / width)
	l.IntervalMs = width.Milliseconds()
	l.Intervals = make([]results.Interval, n)
	for i := range l.Intervals {
		iv := &l.Intervals[i]
		iv.Completed = l.Completed / n
		if int64(i) == n-1 {
			iv.Completed += l.Completed % n
			iv.Errored = l.Errored
		}
		iv.Started = iv.Completed + iv.Errored
	}
	l.Drain = &results.Interval{}
}

// monoNowNs is CLOCK_MONOTONIC, the clock the load generator stamps its
// window with.
func monoNowNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
