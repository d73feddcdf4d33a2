package config

import (
	"fmt"
	"time"
)

// Upper bounds of a matrix file. Each keeps a hostile or mistyped file from
// costing time or memory before it is refused, and keeps the arithmetic of
// plans and time estimates far from overflow.
const (
	// MaxNesting is the deepest nesting of arrays and inline tables. A real
	// matrix nests two deep; the TOML parser's cost grows quadratically with
	// depth (a 30 KB file of "[[[[..." took seconds and a gigabyte).
	MaxNesting = 16
	// MaxRepeats bounds repeats: the plan holds every point of every repeat.
	MaxRepeats = 1000
	// MaxPoints bounds the points of a run (servers x points x repeats).
	MaxPoints = 100_000
	// MaxWindow bounds duration and warmup, as the load generator does.
	MaxWindow = 24 * time.Hour
	// MaxTimeout bounds msg_timeout (the load generator's limit),
	// ready_timeout and slo_p99.
	MaxTimeout = 10 * time.Minute
)

// checkNesting refuses a file whose arrays or inline tables nest deeper than
// MaxNesting, in one linear pass before the parser sees it. Brackets inside
// strings and comments do not count.
func checkNesting(raw []byte) error {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '#':
			for i < len(raw) && raw[i] != '\n' {
				i++
			}
		case '"', '\'':
			i = skipString(raw, i)
		case '[', '{':
			depth++
			if depth > MaxNesting {
				return fmt.Errorf("arrays or inline tables nest deeper than %d levels (byte %d)", MaxNesting, i)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return nil
}

// skipString returns the index of the last byte of the string that starts at
// raw[i]: basic ("...", with escapes) or literal ('...'), single or triple.
func skipString(raw []byte, i int) int {
	q := raw[i]
	triple := i+2 < len(raw) && raw[i+1] == q && raw[i+2] == q
	if triple {
		for j := i + 3; j+2 < len(raw); j++ {
			if q == '"' && raw[j] == '\\' {
				j++
				continue
			}
			if raw[j] == q && raw[j+1] == q && raw[j+2] == q {
				return j + 2
			}
		}
		return len(raw) - 1
	}
	for j := i + 1; j < len(raw); j++ {
		switch {
		case q == '"' && raw[j] == '\\':
			j++
		case raw[j] == q || raw[j] == '\n':
			return j
		}
	}
	return len(raw) - 1
}

// checkBounds refuses values above the limits above, naming the key.
func (c *Config) checkBounds() error {
	for _, d := range []struct {
		key      string
		v, limit time.Duration
	}{
		{"duration", c.Duration.Duration, MaxWindow},
		{"warmup", c.Warmup.Duration, MaxWindow},
		{"ready_timeout", c.ReadyTimeout.Duration, MaxTimeout},
		{"msg_timeout", c.MsgTimeout.Duration, MaxTimeout},
		{"slo_p99", c.SLOP99.Duration, MaxTimeout},
	} {
		if d.v > d.limit {
			return fmt.Errorf("%s: at most %v, got %v", d.key, d.limit, d.v)
		}
	}
	if c.Repeats > MaxRepeats {
		return fmt.Errorf("repeats: at most %d, got %d", MaxRepeats, c.Repeats)
	}
	if n := c.points(); n > MaxPoints {
		return fmt.Errorf("the matrix has more than %d points (servers x scenario lists x repeats); split it into several runs", MaxPoints)
	}
	return nil
}

// points counts the run's points, saturating at MaxPoints+1 so no product
// overflows: per family the cross product of its lists, an open-loop family
// counting its capacity point (an upper bound: one may be shared), each load
// fraction, rate, overload factor and SLO step.
func (c *Config) points() int {
	over := MaxPoints + 1
	mul := func(a, b int) int {
		if a == 0 || b == 0 {
			return 0
		}
		if a > over/b {
			return over
		}
		return a * b
	}
	perRepeat := 0
	for _, f := range c.Families {
		n := 1
		for _, l := range []int{len(f.Conns), len(f.Sizes), len(f.Depth), max(len(f.IdleConns), 1), max(len(f.SlowReaders), 1),
			max(len(f.ConnLifetime), 1), max(len(f.ConnectBurst), 1), max(len(f.Work), 1)} {
			n = mul(n, l)
		}
		if f.Mode == ModeOpen {
			n = mul(n, 1+len(f.Load)+len(f.RatesMsgsPerSec)+len(f.Overload)+c.FamilySLOSteps(f))
		}
		perRepeat = min(perRepeat+n, over)
	}
	return mul(mul(perRepeat, len(c.Servers)), c.Repeats)
}
