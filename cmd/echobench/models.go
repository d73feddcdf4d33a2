package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"echobench/servers"
	"echobench/servers/all"
	"echobench/servers/external"
)

func init() {
	register("models", command{summary: "list every server model and whether it is available here", run: runModels})
}

const modelsUsage = `Usage: echobench models [--json] [--argv MODEL]

Lists every server model: the Go models (built into this binary; one that
needs a kernel feature this host lacks, as iouring may, is listed unavailable
with the reason) and the foreign stacks (Python and Node.js servers run as their own
processes, and c-epoll, the native baseline in C, compiled with the system C
compiler on first use; its version is the compiler's), with the version that
would run and, for a stack that cannot run here, why not. Install the foreign
stacks and the C compiler with 'make deps'.

--argv MODEL prints the command that starts MODEL, one argument per line,
before the contract flags (--addr, --max-pending, --loops): "echobench serve
MODEL" for a Go model, the interpreter and its cached script for a foreign
stack, the cached binary for c-epoll. With it a shell can start any model the
same way.

Examples:
  echobench models
  echobench models --json | jq -r '.[] | select(.available) | .name'
  mapfile -t cmd < <(echobench models --argv uvloop-protocol)
  taskset -c 0 "${cmd[@]}" --addr 127.0.0.1:9000

Flags:
`

// modelInfo is one row of the listing; its JSON form is what --json prints.
type modelInfo struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"` // "go" or "foreign"
	Doc       string `json:"doc"`
	Available bool   `json:"available"`
	Version   string `json:"version,omitempty"`
	// Reason says why an unavailable model cannot run here.
	Reason string `json:"reason,omitempty"`
	// Command is the foreign stack's argv before --addr and --max-pending.
	Command []string `json:"command,omitempty"`
	// Limitations are the conformance cases the model documents it cannot
	// pass, with the reason; `echobench check MODEL` skips them.
	Limitations map[string]string `json:"limitations,omitempty"`
}

// modelsCheckTimeout bounds the whole listing: the checks run in parallel and
// each starts one interpreter.
const modelsCheckTimeout = 30 * time.Second

func runModels(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	argvOf := fs.String("argv", "", "print the command that starts `MODEL`, one argument per line, and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), modelsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return usagef("models: unexpected arguments %q", fs.Args())
	}
	if *argvOf != "" {
		argv, err := modelArgv(*argvOf)
		if err != nil {
			return err
		}
		for _, a := range argv {
			if strings.ContainsAny(a, "\n\x00") {
				return fmt.Errorf("models: argument %q cannot be printed one per line", a)
			}
		}
		_, err = fmt.Fprintln(stdout, strings.Join(argv, "\n"))
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), modelsCheckTimeout)
	defer cancel()
	infos := listModels(ctx)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(infos); err != nil {
			return fmt.Errorf("models: %w", err)
		}
		return nil
	}
	return writeModelsTable(stdout, infos)
}

// modelArgv is the command that starts the model called name.
func modelArgv(name string) ([]string, error) {
	if _, err := all.Models.Lookup(name); err == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("models: locate this binary: %w", err)
		}
		return []string{exe, "serve", name}, nil
	}
	s, ok := external.Lookup(name)
	if !ok {
		return nil, usagef("models: unknown model %q (Go: %v; foreign: %v)", name, all.Models.Names(), external.Names())
	}
	argv, err := s.Argv()
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	if len(s.Env) > 0 {
		// A printed argv would silently drop it; no stack sets any today.
		return nil, fmt.Errorf("models: %s needs environment %q, which --argv cannot carry", name, s.Env)
	}
	return argv, nil
}

// listModels gathers every Go model, then every foreign stack, checking the
// stacks in parallel.
func listModels(ctx context.Context) []modelInfo {
	infos := goModelInfos(all.Models)
	stacks := external.Stacks()
	foreign := make([]modelInfo, len(stacks))
	var wg sync.WaitGroup
	for i, s := range stacks {
		wg.Go(func() {
			info := modelInfo{Name: s.Name, Kind: "foreign", Doc: s.Doc, Limitations: s.Limitations}
			version, err := s.Check(ctx)
			if err != nil {
				info.Reason = err.Error()
			} else {
				info.Available, info.Version = true, version
			}
			if argv, err := s.Argv(); err == nil {
				info.Command = argv
			}
			foreign[i] = info
		})
	}
	wg.Wait()
	return append(infos, foreign...)
}

// goModelInfos lists the Go models of reg; one whose probe fails is
// unavailable, with the probe's reason.
func goModelInfos(reg servers.Registry) []modelInfo {
	var infos []modelInfo
	for _, name := range reg.Names() {
		m := reg[name]
		info := modelInfo{Name: name, Kind: "go", Doc: m.Doc, Available: true, Version: m.Version(), Limitations: m.Limitations}
		if err := m.Available(); err != nil {
			info.Available, info.Reason, info.Version = false, err.Error(), ""
		}
		infos = append(infos, info)
	}
	return infos
}

func writeModelsTable(w io.Writer, infos []modelInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tKIND\tAVAILABLE\tVERSION\tDESCRIPTION")
	var notes []string
	for _, m := range infos {
		avail, version := "yes", m.Version
		if !m.Available {
			avail, version = "no", "-"
			notes = append(notes, fmt.Sprintf("  %s: %s", m.Name, m.Reason))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.Kind, avail, version, m.Doc)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nNot available here:\n%s\n", strings.Join(notes, "\n"))
	}
	return nil
}
