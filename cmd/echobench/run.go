package main

import (
	"context"
	"errors"
	"io"
	"runtime"
	"runtime/debug"

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

// modelLibraries maps a Go model to the module that implements it, so that
// records carry the library version that was measured.
var modelLibraries = map[string]string{
	"gnet": "github.com/panjf2000/gnet/v2",
	"evio": "github.com/tidwall/evio",
}

func modelVersion(model string) string {
	v := runtime.Version()
	mod, ok := modelLibraries[model]
	if !ok {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == mod {
				return v + ", " + d.Path + " " + d.Version
			}
		}
	}
	return v
}
