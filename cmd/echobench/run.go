package main

import (
	"context"
	"errors"
	"io"

	"echobench/bench"
	"echobench/servers/all"
	"echobench/servers/external"
)

func init() {
	register("run", command{summary: "run a matrix of servers and loads (a TOML file)", run: runRun})
}

func runRun(stdout, stderr io.Writer, args []string) error {
	err := bench.Command(stdout, stderr, args, bench.Deps{
		GoModels:     all.Models.Names(),
		ModelVersion: modelVersion,
		Stacks:       lookupStack,
	})
	var ue bench.UsageError
	if errors.As(err, &ue) {
		return usageError{ue.Msg}
	}
	return err
}

// stack adapts servers/external to the runner's view of a foreign stack.
type stack struct{ s external.Stack }

func (s stack) Check(ctx context.Context) (string, error) { return s.s.Check(ctx) }
func (s stack) Argv() ([]string, error)                   { return s.s.Argv() }
func (s stack) Environ() []string                         { return s.s.Env }

func lookupStack(name string) (bench.Stack, bool) {
	s, ok := external.Lookup(name)
	if !ok {
		return nil, false
	}
	return stack{s}, true
}

// modelVersion is the version a record of the Go model called name carries.
func modelVersion(name string) string { return all.Models[name].Version() }
