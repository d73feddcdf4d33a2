package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"echobench/internal/results"
	"echobench/loadgen/faultserver"
)

// arrivalServer is an echo server that notes, per connection, when it was
// accepted and when its first byte arrived: what a server sees of a start
// barrier.
type arrivalServer struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted []time.Time
	first    []time.Time
}

func startArrivalServer(t *testing.T) *arrivalServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &arrivalServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted = append(s.accepted, time.Now())
			s.mu.Unlock()
			go s.echo(c)
		}
	}()
	return s
}

func (s *arrivalServer) echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.first = append(s.first, time.Now())
	s.mu.Unlock()
	if _, err := c.Write(buf[:n]); err != nil {
		return
	}
	_, _ = io.CopyBuffer(c, c, buf)
}

// Two generators with one --start-at: both connect before it, measure
// exactly [TIME, TIME + duration), and the server sees no message from
// either before TIME (no warm-up here) and the first of each soon after
// it. Their results merge.
func TestStartAtTwoGenerators(t *testing.T) {
	withProcs(t, 4)
	srv := startArrivalServer(t)
	at := time.Now().Add(800 * time.Millisecond).Round(0)
	cfg := Config{Addr: srv.ln.Addr().String(), Conns: 4, SizeBytes: 64, Duration: 300 * time.Millisecond,
		Workers: 1, StartAt: at}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	res := make([]*Result, 2)
	errs := make([]error, 2)
	for i := range res {
		wg.Go(func() { res[i], errs[i] = Run(ctx, cfg) })
	}
	wg.Wait()
	for i, r := range res {
		if errs[i] != nil {
			t.Fatalf("generator %d: %v", i, errs[i])
		}
		checkInvariants(t, r)
		l := r.Load
		if l.WindowStartUnixNs != at.UnixNano() || l.WindowEndUnixNs != at.Add(cfg.Duration).UnixNano() {
			t.Errorf("generator %d: window %d..%d, want %d..%d", i, l.WindowStartUnixNs, l.WindowEndUnixNs, at.UnixNano(), at.Add(cfg.Duration).UnixNano())
		}
		if l.Completed == 0 {
			t.Errorf("generator %d completed nothing", i)
		}
	}
	srv.mu.Lock()
	accepted, first := srv.accepted, srv.first
	srv.mu.Unlock()
	if len(accepted) != 8 || len(first) != 8 {
		t.Fatalf("server saw %d connections and %d first bytes, want 8", len(accepted), len(first))
	}
	// The window starts at TIME exactly (above); the first bytes wait for
	// a timer, a channel hand-off and a loopback write: 1.6 ms on a quiet
	// machine, 66 ms once with a load average of 15 on these 2 CPUs. A
	// generator without the barrier sends 500 ms early.
	const within = 250 * time.Millisecond
	var latest time.Duration
	for i := range accepted {
		if !accepted[i].Before(at) {
			t.Errorf("a connection was accepted %v after --start-at: set-up must precede it", accepted[i].Sub(at))
		}
		d := first[i].Sub(at)
		if d < 0 || d > within {
			t.Errorf("a first byte arrived %v after --start-at, want 0..%v", d, within)
		}
		latest = max(latest, d)
	}
	t.Logf("the last of 8 connections sent its first byte %v after --start-at", latest)
	m, err := results.Merge([]results.Load{res[0].Load, res[1].Load}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Completed != res[0].Load.Completed+res[1].Load.Completed || m.DurationS != cfg.Duration.Seconds() {
		t.Errorf("merged: completed %d, window %v s", m.Completed, m.DurationS)
	}
}

// A warm-up runs before --start-at and is excluded; the window still
// starts at it.
func TestStartAtWithWarmup(t *testing.T) {
	withProcs(t, 3)
	srv := startFault(t, faultserver.Faults{})
	at := time.Now().Add(500 * time.Millisecond).Round(0)
	r := run(t, Config{Addr: srv.Addr(), Conns: 2, SizeBytes: 64, Warmup: 100 * time.Millisecond,
		Duration: 200 * time.Millisecond, Workers: 1, StartAt: at})
	if r.Load.WindowStartUnixNs != at.UnixNano() || r.Load.Completed == 0 {
		t.Errorf("window starts %d, want %d; completed %d", r.Load.WindowStartUnixNs, at.UnixNano(), r.Load.Completed)
	}
	for _, w := range r.Load.Warnings {
		if strings.Contains(w, "warm-up cut") {
			t.Errorf("warm-up cut although the set-up had 400 ms to spare: %s", w)
		}
	}
}

// A set-up that ends after --start-at measures nothing and says by how
// much it was late; a warm-up longer than the time left is cut, not the
// window.
func TestAwaitStart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	late := &loops{sh: &shared{cfg: Config{Conns: 500, StartAt: at}, startAtNs: nanotime() - int64(1200*time.Millisecond)}}
	_, err := late.awaitStart(context.Background())
	var missed *StartMissedError
	if !errors.As(err, &missed) || missed.Late < 1200*time.Millisecond ||
		!strings.Contains(err.Error(), "--start-at 2026-11-27T15:00:00Z missed: connecting 500 connections ended 1.2") {
		t.Errorf("late set-up: %v", err)
	}

	before := nanotime()
	soon := before + int64(30*time.Millisecond)
	l := &loops{sh: &shared{cfg: Config{Warmup: time.Second, StartAt: at}, startAtNs: soon}}
	tm, err := l.awaitStart(context.Background())
	if after := nanotime(); err != nil || tm.windowStartNs != soon || tm.warmStartNs < before || tm.warmStartNs > after {
		t.Errorf("warm-up longer than the time left: %+v, %v; want the window at %d and the warm-up at once (%d..%d)", tm, err, soon, before, after)
	}

	l = &loops{sh: &shared{cfg: Config{Warmup: 10 * time.Millisecond, StartAt: at}, startAtNs: nanotime() + int64(200*time.Millisecond)}}
	tm, err = l.awaitStart(context.Background())
	if now := nanotime(); err != nil || tm.warmStartNs != l.sh.startAtNs-int64(10*time.Millisecond) || now < tm.warmStartNs {
		t.Errorf("warm-up of 10 ms: %+v at %d, %v; want it to start 10 ms before the window, after the wait", tm, now, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l = &loops{sh: &shared{cfg: Config{StartAt: at}, startAtNs: nanotime() + int64(time.Hour)}}
	if _, err := l.awaitStart(ctx); err == nil || !strings.Contains(err.Error(), "interrupted while waiting for --start-at") {
		t.Errorf("Ctrl-C during the wait: %v", err)
	}
}

func TestStartAtValidation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-time.Second), "start-at 2026-11-27T14:59:59Z is in the past (1s ago"},
		{now, "is in the past"},
		{now.Add(2 * time.Hour), "is 2h0m0s ahead, more than 1h0m0s"},
		{now.Add(time.Minute), ""},
		{time.Time{}, ""},
	} {
		err := Config{StartAt: tt.at}.checkStartAt(now)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("start-at %v: %v, want %q", tt.at, err, tt.want)
		}
		var ce *ConfigError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("start-at %v: %T is not a usage error", tt.at, err)
		}
	}
}
