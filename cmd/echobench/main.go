// Command echobench compares server concurrency models with evidence.
//
//	echobench serve MODEL [flags]   run one echo server model
//	echobench load [flags]          drive a server and measure it
//	echobench run CONFIG [flags]    run a matrix of models and loads
//	echobench report RESULTS_DIR    write charts, index.html and summary.md
//	echobench compare OLD NEW       compare two runs point by point
//	echobench models                list every server model and whether it is available
//	echobench check -- COMMAND      run the conformance suite against any server command
//	echobench merge A.json B.json   add up the results of several load generators
//	echobench wrap -- COMMAND       run a server command, report its CPU and memory at exit
//	echobench cleanup [RUN_ID]      remove the network namespaces a killed run left
//
// Exit status: 0 success, 1 failure, 2 usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file and registers itself
// in init, so subcommands do not touch each other's code.
type command struct {
	summary string
	run     func(stdout, stderr io.Writer, args []string) error
}

var commands = map[string]command{}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("duplicate command " + name)
	}
	commands[name] = c
}

// usageError marks an error caused by how the command was called; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(exitCode(run(os.Stdout, os.Stderr, os.Args[1:]), os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "echobench:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var es exitStatusError
	if errors.As(err, &es) {
		return es.code
	}
	return 1
}

func run(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q; run 'echobench help'", args[0])
	}
	return c.run(stdout, stderr, args[1:])
}

func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("echobench: which server concurrency model should I pick for my workload?\n\nUsage:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  echobench %-8s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'echobench COMMAND -h' for a command's flags and examples.\n")
	io.WriteString(w, b.String())
}
