package config

import (
	"errors"
	"fmt"
	"strings"

	"echobench/servers"
	"echobench/servers/work"
)

// WorkNone is the work spec of plain echo: the default of the work key.
const WorkNone = "none"

// canonicalWork parses a work spec with the server contract's own parser
// (servers/work, what `echobench serve --work` runs) and returns its
// canonical form, so that two spellings of one workload are one point and
// a spec the servers would refuse is refused before anything starts.
func canonicalWork(spec string) (string, error) {
	w, err := work.Parse(spec)
	if err != nil {
		// The error names the flag; here the key is named by the caller.
		return "", errors.New(strings.TrimPrefix(err.Error(), "--work "))
	}
	return w.String(), nil
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
		if n > servers.MaxRequestSizeBytes {
			return fmt.Errorf("sizes: with work, a size is the server's --request-size: at most %d bytes, got %d", servers.MaxRequestSizeBytes, n)
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
