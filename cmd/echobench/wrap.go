package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func init() {
	register("wrap", command{summary: "run a server command and report its CPU and memory at exit", run: runWrap})
}

const wrapUsage = `Usage: echobench wrap --usage-out FILE -- COMMAND [ARGS...]

Runs COMMAND (a foreign server: Python, Node, a C program) and, when it
exits, writes one JSON line of its figures from wait4's rusage, the same
line "echobench serve --usage-out" writes: cpu_user_s, cpu_sys_s,
peak_rss_bytes, voluntary_ctxsw, involuntary_ctxsw, wall_s. They cover the
command and the children it waited for. "echobench merge --server-usage
FILE" puts them into the record of a run whose server host the
orchestrator cannot sample.

COMMAND's stdout and stderr pass through unchanged (its LISTENING line
too). COMMAND runs in its own process group; SIGTERM and SIGINT sent to
wrap are forwarded to it once each, and wrap exits with COMMAND's exit
status (128 + the signal number if a signal ended it).

Examples:
  echobench wrap --usage-out usage.json -- python3 servers/python/echo_asyncio_protocol.py --addr 10.0.0.5:9000
  echobench wrap --usage-out - -- node servers/node/echo.js --addr 127.0.0.1:9000

Flags:
`

// exitStatusError makes the command exit with a status of its own: the
// wrapped command's.
type exitStatusError struct {
	code int
	msg  string
}

func (e exitStatusError) Error() string { return e.msg }

func runWrap(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("wrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usagePath := fs.String("usage-out", "", "write the command's CPU, peak RSS and context switches (wait4 rusage) as one JSON line to `file` when it exits (\"-\": stdout); required")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), wrapUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	argv := fs.Args()
	switch {
	case *usagePath == "":
		return usagef("wrap: --usage-out is required")
	case len(argv) == 0:
		return usagef("wrap: missing COMMAND (after --)")
	}
	usage, err := openUsageOut("wrap", *usagePath, stdout)
	if err != nil {
		return err
	}
	return wrapCommand(argv, stdout, stderr, usage)
}

// wrapCommand runs argv to its end, forwarding signals, and writes its
// usage line.
func wrapCommand(argv []string, stdout, stderr io.Writer, usage *usageOut) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, stdout, stderr
	// Its own group: a Ctrl-C at the terminal or a signal to wrap's group
	// reaches it once, through wrap, not twice. If wrap dies, it is told.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// A grandchild that keeps the output pipes open must not hold wrap.
	cmd.WaitDelay = time.Second
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	startedAt := time.Now()
	if err := cmd.Start(); err != nil {
		usage.close()
		return fmt.Errorf("wrap: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go forwardSignals(sigs, done, cmd.Process)
	waitErr := cmd.Wait()
	st := cmd.ProcessState
	if st == nil {
		usage.close()
		return fmt.Errorf("wrap: %s: %w", argv[0], waitErr)
	}
	ru, _ := st.SysUsage().(*syscall.Rusage)
	if ru == nil {
		ru = &syscall.Rusage{}
	}
	if err := usage.write("wrap", usageOf(ru, time.Since(startedAt))); err != nil {
		return err
	}
	return childStatus(argv[0], st)
}

// forwardSignals passes each SIGTERM or SIGINT on to p until done closes.
func forwardSignals(sigs <-chan os.Signal, done <-chan struct{}, p *os.Process) {
	for {
		select {
		case s := <-sigs:
			_ = p.Signal(s)
		case <-done:
			return
		}
	}
}

// childStatus is nil for a command that exited 0, else the error that
// makes wrap exit as it did.
func childStatus(name string, st *os.ProcessState) error {
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		if st.Success() {
			return nil
		}
		return exitStatusError{1, fmt.Sprintf("wrap: %s: %v", name, st)}
	case ws.Signaled():
		return exitStatusError{128 + int(ws.Signal()), fmt.Sprintf("wrap: %s ended by %v", name, ws.Signal())}
	case ws.ExitStatus() != 0:
		return exitStatusError{ws.ExitStatus(), fmt.Sprintf("wrap: %s exited with status %d", name, ws.ExitStatus())}
	}
	return nil
}
