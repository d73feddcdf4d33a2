package main

import (
	"errors"
	"flag"
)

// parseInterspersed parses flags placed before, between or after positional
// arguments ("run CONFIG --seed 1" and "run --seed 1 CONFIG") and returns the
// positional ones in order. A flag error is a usageError; -h is flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
