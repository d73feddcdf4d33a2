package loadgen

import (
	"testing"
)

func TestPacerIntended(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Pacer
		conn int
		m    int64
		want int64
	}{
		{"first message of conn 0 at start", Pacer{StartNs: 1000, RateMsgsPerSec: 1000, Conns: 4}, 0, 0, 1000},
		{"conns staggered by 1/rate", Pacer{StartNs: 0, RateMsgsPerSec: 1000, Conns: 4}, 1, 0, 1_000_000},
		{"conn 3 message 0", Pacer{StartNs: 0, RateMsgsPerSec: 1000, Conns: 4}, 3, 0, 3_000_000},
		{"per-conn interval is conns/rate", Pacer{StartNs: 0, RateMsgsPerSec: 1000, Conns: 4}, 0, 1, 4_000_000},
		{"one conn, 1M msgs/s", Pacer{StartNs: 5, RateMsgsPerSec: 1e6, Conns: 1}, 0, 1_000_000, 5 + 1e9},
		{"fractional rate", Pacer{StartNs: 0, RateMsgsPerSec: 3, Conns: 1}, 0, 1, 333_333_333},
		{"a day at 10M msgs/s stays exact to the ns", Pacer{StartNs: 0, RateMsgsPerSec: 1e7, Conns: 1000}, 999, 864_000_000 - 1, 86_400e9 - 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Intended(tt.conn, tt.m); got != tt.want {
				t.Errorf("Intended(%d, %d) = %d, want %d", tt.conn, tt.m, got, tt.want)
			}
		})
	}
}

func TestPacerCountBefore(t *testing.T) {
	t.Parallel()
	p := Pacer{StartNs: 1_000_000, RateMsgsPerSec: 1000, Conns: 4} // conn c: 1ms*(4m+c) after start
	tests := []struct {
		conn int
		t    int64
		want int64
	}{
		{0, 0, 0},
		{0, 1_000_000, 0},       // at start: message 0 intended at t, not before
		{0, 1_000_001, 1},       // just after
		{1, 2_000_000, 0},       // conn 1's message 0 is at start+1ms
		{1, 2_000_001, 1},       //
		{0, 5_000_000, 1},       // message 1 at start+4ms = 5ms: not before
		{0, 5_000_001, 2},       //
		{3, 1_000_000_000, 249}, // 4m+3 < 999 ms after start: m = 0..248
	}
	for _, tt := range tests {
		if got := p.CountBefore(tt.conn, tt.t); got != tt.want {
			t.Errorf("CountBefore(%d, %d) = %d, want %d", tt.conn, tt.t, got, tt.want)
		}
	}
	if got := p.Due(0, 1_000_000); got != 1 {
		t.Errorf("Due(0, start) = %d, want 1 (message 0 is due at its intended time)", got)
	}
}

// CountBefore must be the exact inverse of Intended for every rate, however
// the float division rounds.
func TestPacerInverse(t *testing.T) {
	t.Parallel()
	for _, p := range []Pacer{
		{StartNs: 0, RateMsgsPerSec: 1000, Conns: 4},
		{StartNs: 123, RateMsgsPerSec: 7, Conns: 3},
		{StartNs: 1e12, RateMsgsPerSec: 123456.789, Conns: 1000},
		{StartNs: 5, RateMsgsPerSec: 3e7, Conns: 1},
		{StartNs: 0, RateMsgsPerSec: 0.5, Conns: 2},
	} {
		for conn := 0; conn < min(p.Conns, 5); conn++ {
			for m := int64(0); m < 2000; m += 7 {
				it := p.Intended(conn, m)
				if got := p.CountBefore(conn, it); got > m {
					t.Fatalf("%+v conn %d: CountBefore(Intended(%d)=%d) = %d, want <= %d", p, conn, m, it, got, m)
				}
				if got := p.CountBefore(conn, it+1); got != m+1 {
					t.Fatalf("%+v conn %d: CountBefore(Intended(%d)+1) = %d, want %d", p, conn, m, got, m+1)
				}
			}
		}
	}
}

// Over a whole window the connections together get the rate, spread evenly.
func TestPacerSpreadsRate(t *testing.T) {
	t.Parallel()
	p := Pacer{StartNs: 0, RateMsgsPerSec: 10_000, Conns: 7}
	var total int64
	for c := 0; c < p.Conns; c++ {
		n := p.CountBefore(c, 1e9)
		if n < 10_000/7 || n > 10_000/7+1 {
			t.Errorf("conn %d gets %d messages in 1 s, want %d or %d", c, n, 10_000/7, 10_000/7+1)
		}
		total += n
	}
	if total != 10_000 {
		t.Errorf("total in 1 s = %d, want 10000", total)
	}
}
