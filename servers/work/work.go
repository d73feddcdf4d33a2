// Package work is what a server's handler does per request besides echoing
// (issue #14; the contract is docs/servers.md's "Work per request"): burn CPU,
// wait without CPU, or block the serving thread, for a fixed or exponential
// duration. A Spec is parsed once from `--work`; every model then draws each
// request's duration from its connection's Rand, the same SplitMix64 stream
// in every language, so every model, Go or foreign, sees the same law.
package work

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kind is what the handler does for a request's duration.
type Kind uint8

const (
	// None is plain echo: no framing, no work (today's code path).
	None Kind = iota
	// CPU burns the serving thread's CPU (Spin).
	CPU
	// Wait waits without CPU, in the model's non-blocking idiom (a timer,
	// then the reply is written later); other connections keep being served.
	Wait
	// Block is a blocking sleep (time.Sleep) inline where the handler runs:
	// an event loop stops serving every connection meanwhile.
	Block
)

var kindNames = [...]string{None: "none", CPU: "cpu", Wait: "wait", Block: "block"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Dist is the law of a request's duration.
type Dist uint8

const (
	// Fixed: every request takes Mean.
	Fixed Dist = iota
	// Exp: exponential with mean Mean, capped at 100 × Mean (Rand.Next).
	Exp
)

var distNames = [...]string{Fixed: "fixed", Exp: "exp"}

func (d Dist) String() string {
	if int(d) < len(distNames) {
		return distNames[d]
	}
	return fmt.Sprintf("Dist(%d)", d)
}

// MaxMean bounds Mean: a request's work is a handler's, not a test's; 10 s
// is far beyond any workload worth measuring and keeps a typo ("10m") out.
const MaxMean = 10 * time.Second

// Spec is one `--work` value. The zero Spec is None: plain echo. It is a
// flag.Value (and encoding.TextUnmarshaler, so a TOML matrix can hold it),
// and comparable, so configurations holding it can be compared with ==.
type Spec struct {
	Kind Kind
	// Mean is the fixed duration or the exponential's mean; zero for None.
	Mean time.Duration
	Dist Dist
}

// meanRE is the contract's duration grammar: Go's time.ParseDuration
// restricted to one unsigned decimal number and one unit, so the Python and
// Node parsers can accept exactly the same strings.
var meanRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s)$`)

// Parse reads `none`, `KIND:MEAN` or `KIND:MEAN:DIST`. Its errors name
// --work, the whole value, and the part that is wrong.
func Parse(s string) (Spec, error) {
	if s == "none" {
		return Spec{}, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Spec{}, specError(s, "want none, KIND:MEAN or KIND:MEAN:DIST (e.g. cpu:20us, wait:1ms:exp)")
	}
	var sp Spec
	switch parts[0] {
	case "cpu":
		sp.Kind = CPU
	case "wait":
		sp.Kind = Wait
	case "block":
		sp.Kind = Block
	default:
		return Spec{}, specError(s, fmt.Sprintf("unknown kind %q (want cpu, wait or block)", parts[0]))
	}
	mean, err := parseMean(parts[1])
	if err != nil {
		return Spec{}, specError(s, err.Error())
	}
	sp.Mean = mean
	if len(parts) == 3 {
		switch parts[2] {
		case "fixed":
			sp.Dist = Fixed
		case "exp":
			sp.Dist = Exp
		default:
			return Spec{}, specError(s, fmt.Sprintf("unknown distribution %q (want fixed or exp)", parts[2]))
		}
	}
	return sp, nil
}

// parseMean applies the contract's grammar and bounds to a MEAN. A fraction
// below a nanosecond is truncated, as Go's ParseDuration does.
func parseMean(m string) (time.Duration, error) {
	if !meanRE.MatchString(m) {
		return 0, fmt.Errorf("bad mean %q (want a number and one unit of ns, us, µs, ms, s, e.g. 20us or 1.5ms)", m)
	}
	d, err := time.ParseDuration(m)
	if err != nil {
		return 0, fmt.Errorf("bad mean %q (out of range)", m)
	}
	if d <= 0 || d > MaxMean {
		return 0, fmt.Errorf("mean %q out of range (want > 0 and <= %v)", m, MaxMean)
	}
	return d, nil
}

func specError(s, reason string) error {
	return fmt.Errorf("--work %q: %s", s, reason)
}

// String is the canonical form, which Parse reads back: `none`, or
// KIND:MEAN with Go's Duration String for MEAN (20µs, 1ms, 1.5s), and
// `:exp` only for Exp (`:fixed` is the default and left out).
func (s Spec) String() string {
	if s.Kind == None {
		return "none"
	}
	out := s.Kind.String() + ":" + s.Mean.String()
	if s.Dist != Fixed {
		out += ":" + s.Dist.String()
	}
	return out
}

// Set makes *Spec a flag.Value.
func (s *Spec) Set(v string) error {
	sp, err := Parse(v)
	if err != nil {
		return err
	}
	*s = sp
	return nil
}

// MarshalText writes the canonical form.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses as Set does.
func (s *Spec) UnmarshalText(b []byte) error { return s.Set(string(b)) }

// Validate checks a Spec built in code rather than parsed: a known kind and
// law, and a Mean within (0, MaxMean] unless None (whose Mean and Dist must
// be zero, so a None never carries a forgotten duration).
func (s Spec) Validate() error {
	switch {
	case s.Kind > Block:
		return fmt.Errorf("--work: unknown kind %v", s.Kind)
	case s.Dist > Exp:
		return fmt.Errorf("--work: unknown distribution %v", s.Dist)
	case s.Kind == None && (s.Mean != 0 || s.Dist != Fixed):
		return errors.New("--work none takes no mean or distribution")
	case s.Kind != None && (s.Mean <= 0 || s.Mean > MaxMean):
		return fmt.Errorf("--work %s: mean %v out of range (want > 0 and <= %v)", s, s.Mean, MaxMean)
	}
	return nil
}

// Duration is the work of a connection's next request: Mean, or the next
// exponential draw from r. It does not allocate.
func (s Spec) Duration(r *Rand) time.Duration {
	if s.Dist == Exp {
		return r.Next(s.Mean)
	}
	return s.Mean
}
