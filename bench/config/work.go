package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// WorkNone is the work spec of plain echo: the default of the work key.
const WorkNone = "none"

// Bounds of the work contract (docs/servers.md): a request is at most
// maxRequestSizeBytes, a mean at most maxWorkMean.
const (
	maxRequestSizeBytes = 16 << 20
	maxWorkMean         = 10 * time.Second
)

// workMean is the contract's duration grammar: digits, an optional
// fraction, one unit; no sign, no compound.
var workMean = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s)$`)

// canonicalWork parses a work spec as the server contract does and returns
// its canonical form (what the server's own String() prints), so that two
// spellings of one workload are one point.
//
// A local parse until servers/work lands on this branch.
func canonicalWork(spec string) (string, error) {
	if spec == WorkNone {
		return WorkNone, nil
	}
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("%q: want none, KIND:MEAN or KIND:MEAN:DIST", spec)
	}
	kind := parts[0]
	if kind != "cpu" && kind != "wait" && kind != "block" {
		return "", fmt.Errorf("%q: unknown kind %q (cpu, wait or block)", spec, kind)
	}
	if !workMean.MatchString(parts[1]) {
		return "", fmt.Errorf("%q: bad mean %q (a number and one unit of ns, us, µs, ms, s)", spec, parts[1])
	}
	mean, err := time.ParseDuration(parts[1])
	if err != nil || mean <= 0 || mean > maxWorkMean {
		return "", fmt.Errorf("%q: mean %q must be > 0 and <= %v", spec, parts[1], maxWorkMean)
	}
	out := kind + ":" + mean.String()
	if len(parts) == 3 {
		switch parts[2] {
		case "fixed":
		case "exp":
			out += ":exp"
		default:
			return "", fmt.Errorf("%q: unknown distribution %q (fixed or exp)", spec, parts[2])
		}
	}
	return out, nil
}

// checkWork checks a family's work specs and, when any is not none, its
// sizes against the server's bound on --request-size (the point's size).
func (sc Family) checkWork() error {
	withWork := false
	for _, w := range sc.Work {
		c, err := canonicalWork(w)
		if err != nil {
			return fmt.Errorf("work: %w", err)
		}
		withWork = withWork || c != WorkNone
	}
	if !withWork {
		return nil
	}
	for _, n := range sc.Sizes {
		if n > maxRequestSizeBytes {
			return fmt.Errorf("sizes: with work, a size is the server's --request-size: at most %d bytes, got %d", maxRequestSizeBytes, n)
		}
	}
	return nil
}

// canonicalize rewrites every work spec in its canonical form. It runs
// after Validate, so every spec parses.
func (c *Config) canonicalize() {
	for i := range c.Families {
		for j, w := range c.Families[i].Work {
			if cw, err := canonicalWork(w); err == nil {
				c.Families[i].Work[j] = cw
			}
		}
	}
}
