package loadgen

import (
	"errors"
	"testing"
	"time"

	"echobench/loadgen/faultserver"
)

// idleSlowSequential: the tests that run load here are not parallel, so
// their sockets and slow readers never take CPU from the timing-sensitive
// accuracy tests, which run in parallel after them.

// Idle connections are opened with the others, send nothing during the
// window and each echoes one message at the end; none of that touches the
// active accounting.
func TestIdleConnections(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	s := startFault(t, faultserver.Faults{})
	cfg := closedCfg(s.Addr())
	cfg.IdleConns = 200
	res := run(t, cfg)
	l := res.Load
	want(t, "idle_conns", l.IdleConns, 200)
	want(t, "idle_failed", l.IdleFailed, 0)
	if l.Intended < 200 || l.Completed != l.Intended || l.Reconnects != 0 {
		t.Errorf("active: %d of %d completed, %d reconnects", l.Completed, l.Intended, l.Reconnects)
	}
	st := s.Stats()
	want(t, "connections accepted", st.Accepted, int64(cfg.Conns+cfg.IdleConns))
	// Silent during the window: the server saw exactly the active messages
	// plus one final message per idle connection.
	want(t, "chunks the server echoed", st.Chunks, l.Intended+int64(cfg.IdleConns))
	if l.SlowReaders != 0 || l.SlowReadBytes != 0 {
		t.Errorf("slow readers reported without any: %+v", l)
	}
}

// An idle connection the server closes, or one whose final echo does not
// come back within the timeout, counts in idle_failed.
func TestIdleFailures(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	tests := []struct {
		name   string
		faults faultserver.Faults
		check  func(t *testing.T, st faultserver.Stats)
	}{
		{"server idle timeout", faultserver.Faults{IdleTimeout: 400 * time.Millisecond}, func(t *testing.T, st faultserver.Stats) {
			if st.IdleClosed < 20 {
				t.Errorf("server closed %d idle connections, want at least the 20 idle ones", st.IdleClosed)
			}
		}},
		// Every echo takes longer than the timeout: the active messages
		// time out, and so does every idle connection's final echo.
		{"final echo too slow", faultserver.Faults{Delay: 600 * time.Millisecond}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startFault(t, tt.faults)
			cfg := closedCfg(s.Addr())
			cfg.IdleConns = 20
			cfg.Timeout = 300 * time.Millisecond
			res := run(t, cfg)
			l := res.Load
			want(t, "idle_conns", l.IdleConns, 20)
			want(t, "idle_failed", l.IdleFailed, 20)
			if l.Intended == 0 {
				t.Error("no active message intended")
			}
			if tt.check != nil {
				tt.check(t, s.Stats())
			}
		})
	}
}

// Slow readers read at about their rate, every byte verified, and the
// active connections keep their exact accounting beside them.
func TestSlowReadersRate(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	// A short queue: the server stops reading a connection it cannot echo
	// to, so a slow reader meets backpressure, not unbounded buffering.
	s := startFault(t, faultserver.Faults{QueueChunks: 2})
	cfg := closedCfg(s.Addr())
	cfg.SlowReaders, cfg.SlowReadBytesPerSec = 2, 32<<10
	cfg.IdleConns = 10
	cfg.Warmup = 300 * time.Millisecond
	res := run(t, cfg)
	l := res.Load
	want(t, "slow_readers", l.SlowReaders, 2)
	want(t, "slow_read_bytes_per_s", l.SlowReadBytesPerSec, 32<<10)
	want(t, "slow_closed", l.SlowClosed, 0)
	want(t, "slow_corrupted", l.SlowCorrupted, 0)
	want(t, "idle_failed", l.IdleFailed, 0)
	// Loose bound: never above the rate (plus one 50 ms catch-up burst), and
	// at least half of it on a loaded machine.
	ideal := float64(cfg.SlowReaders*cfg.SlowReadBytesPerSec) * l.DurationS
	if got := float64(l.SlowReadBytes); got < 0.5*ideal || got > 1.1*ideal {
		t.Errorf("slow readers read %.0f bytes in %.2f s, want about %.0f (%d × %d B/s)",
			got, l.DurationS, ideal, cfg.SlowReaders, cfg.SlowReadBytesPerSec)
	}
	if l.Intended < 200 || l.Completed != l.Intended {
		t.Errorf("active: %d of %d completed beside the slow readers", l.Completed, l.Intended)
	}
}

// A server that sheds a slow reader (as gnet does past --max-pending) shows
// in slow_closed: data, not an error, and the active connections are
// untouched.
func TestSlowReadersClosed(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	s := startFault(t, faultserver.Faults{ClosePendingBytes: 256 << 10})
	cfg := closedCfg(s.Addr())
	cfg.SlowReaders = 3
	cfg.Warmup = 200 * time.Millisecond
	res := run(t, cfg)
	l := res.Load
	st := s.Stats()
	want(t, "server closes", st.PendingClosed, 3)
	want(t, "slow_closed", l.SlowClosed, 3)
	want(t, "slow_corrupted", l.SlowCorrupted, 0)
	if l.Errored != 0 || l.Reconnects != 0 || l.Completed != l.Intended {
		t.Errorf("active: %d of %d completed, %d errored, %d reconnects: the slow readers' fate leaked into the active accounting",
			l.Completed, l.Intended, l.Errored, l.Reconnects)
	}
}

// A slow reader whose echo is corrupted counts in slow_corrupted.
func TestSlowReadersCorrupted(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	// Every chunk corrupted: the active messages are corrupted too, and
	// still balance. One active connection and a delay keep its reconnects
	// to about 50 a second.
	s := startFault(t, faultserver.Faults{CorruptEvery: 1, QueueChunks: 2, Delay: 20 * time.Millisecond})
	cfg := closedCfg(s.Addr())
	cfg.Conns, cfg.Workers = 1, 1
	cfg.SlowReaders = 2
	res := run(t, cfg)
	l := res.Load
	want(t, "slow_corrupted", l.SlowCorrupted, 2)
	if l.Corrupted == 0 {
		t.Error("no active message corrupted though every chunk was")
	}
}

func TestIdleSlowConfig(t *testing.T) {
	t.Parallel()
	limit, err := OpenFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	base := Config{Addr: "127.0.0.1:9", Conns: 4, SizeBytes: 64, Duration: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(c *Config) {}, true},
		{"idle and slow", func(c *Config) { c.IdleConns, c.SlowReaders = 100, 2 }, true},
		{"negative idle", func(c *Config) { c.IdleConns = -1 }, false},
		{"negative slow", func(c *Config) { c.SlowReaders = -1 }, false},
		{"negative rate", func(c *Config) { c.SlowReaders, c.SlowReadBytesPerSec = 1, -5 }, false},
		{"rate too high", func(c *Config) { c.SlowReaders, c.SlowReadBytesPerSec = 1, MaxSlowReadBytesPerSec+1 }, false},
		{"idle beyond the file limit", func(c *Config) { c.IdleConns = int(min(limit, 1<<24)) }, false},
		{"all three beyond the file limit", func(c *Config) {
			n := int(min(limit, 1<<24))
			c.Conns, c.IdleConns, c.SlowReaders = n/2, n/2, 40
		}, false},
	} {
		c := base
		tc.edit(&c)
		c = c.WithDefaults()
		err := c.Validate()
		var ce *ConfigError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.As(err, &ce):
			t.Errorf("%s: err = %v, want a *ConfigError", tc.name, err)
		}
		if tc.name == "idle and slow" && c.SlowReadBytesPerSec != DefaultSlowReadBytesPerSec {
			t.Errorf("default slow read rate %d, want %d", c.SlowReadBytesPerSec, DefaultSlowReadBytesPerSec)
		}
	}
}

// matchesStream checks a slow reader's stream at any offset and read size,
// across message boundaries, and catches a flipped byte or a wrong id.
func TestMatchesStream(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 13, 64, 1000} {
		p := newPayload(size)
		stream := make([]byte, 5000)
		p.fill(stream, 7, 0, 0)
		for _, cut := range [][2]int{{0, 5000}, {3, 70}, {63, 65}, {999, 2001}, {4999, 5000}} {
			b := stream[cut[0]:cut[1]]
			if !p.matchesStream(b, 7, int64(cut[0])) {
				t.Errorf("size %d: stream[%d:%d] does not match itself", size, cut[0], cut[1])
			}
			if p.matchesStream(b, 8, int64(cut[0])) && cut[1]-cut[0] > 12 {
				t.Errorf("size %d: stream[%d:%d] matches another connection's", size, cut[0], cut[1])
			}
			bad := append([]byte(nil), b...)
			bad[len(bad)/2] ^= 1
			if p.matchesStream(bad, 7, int64(cut[0])) {
				t.Errorf("size %d: a flipped byte in stream[%d:%d] went unnoticed", size, cut[0], cut[1])
			}
		}
	}
}

// Cancelling ends the window early with idle connections and slow readers
// too: the idle loop notices the new end, and the final echo still runs.
func TestCancelIdleSlow(t *testing.T) {
	// Not parallel: see idleSlowSequential.
	s := startFault(t, faultserver.Faults{QueueChunks: 2})
	cfg := closedCfg(s.Addr())
	cfg.IdleConns, cfg.SlowReaders = 10, 1
	l := runCancelled(t, cfg).Load
	want(t, "idle_failed", l.IdleFailed, 0)
	if l.SlowReadBytes == 0 || l.SlowClosed != 0 {
		t.Errorf("slow reader read %d bytes, closed %d", l.SlowReadBytes, l.SlowClosed)
	}
}
