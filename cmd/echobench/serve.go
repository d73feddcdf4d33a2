package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"echobench/servers"
	"echobench/servers/all"
)

func init() {
	register("serve", command{summary: "run one echo server model until SIGTERM", run: runServe})
}

const serveUsage = `Usage: echobench serve MODEL [--addr 127.0.0.1:0] [--loops N] [--max-pending BYTES]
                             [--work SPEC --request-size BYTES] [--allow-remote] [--usage-out FILE]

Runs one echo server model. Once it accepts connections it prints exactly one
line, "LISTENING host:port", on stdout; diagnostics go to stderr. SIGTERM or
SIGINT closes it and it exits 0.

--addr is an IP literal and port ("localhost" means 127.0.0.1; no host name is
looked up). It must be loopback unless --allow-remote says that you mean a
server other hosts can reach.

--work gives each request of --request-size bytes some work before its echo:
cpu (burn CPU), wait (a timer, without blocking other connections) or block
(a blocking sleep where the handler runs), for MEAN, fixed or exponential
(docs/servers.md, "Work per request").

--usage-out FILE writes, when the server exits, one JSON line of its own
figures from getrusage: cpu_user_s, cpu_sys_s, peak_rss_bytes,
voluntary_ctxsw, involuntary_ctxsw and wall_s, its life. "-" writes it to
stdout after the LISTENING line. On a host the orchestrator cannot sample,
"echobench merge --server-usage FILE" puts it into the record.

--procs belongs to the contract every server shares: a foreign stack runs that
many worker processes on one port. A Go model runs in one process and refuses
--procs above 1; give it --loops N and GOMAXPROCS=N for N cores.

Examples:
  echobench serve epoll
  taskset -c 0 env GOMAXPROCS=1 echobench serve gnet --addr 127.0.0.1:9000 --loops 1
  echobench serve netconn --work wait:10ms:exp --request-size 64
  echobench serve epoll --addr 10.0.0.5:9000 --allow-remote --usage-out server-usage.json

Flags:
`

// shutdownGrace bounds Close: the contract is exit within 2 s of SIGTERM.
const shutdownGrace = 1500 * time.Millisecond

func runServe(stdout, stderr io.Writer, args []string) error {
	startedAt := time.Now()
	model, cfg, usagePath, err := parseServeArgs(stderr, args)
	if err != nil {
		return err
	}
	m, err := all.Models.Lookup(model)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := m.CheckWork(cfg.Work); err != nil {
		return usagef("serve: %v", err)
	}
	if cfg.Procs > 1 {
		// Several processes is the foreign stacks' idiom for several cores;
		// a Go model gets them from --loops and GOMAXPROCS instead, and
		// running it once per process would be a different model.
		return usagef("serve: --procs %d: model %s runs in one process and scales with --loops and GOMAXPROCS; --procs is for the foreign stacks (Python, Node)", cfg.Procs, model)
	}
	var usage *usageOut
	if usagePath != "" {
		if usage, err = openUsageOut("serve", usagePath, stdout); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg.Log = stderr
	srv, err := m.Start(ctx, cfg)
	if err != nil {
		if usage != nil {
			usage.close()
		}
		return fmt.Errorf("serve %s: %w", model, err)
	}
	if _, err := fmt.Fprintf(stdout, "LISTENING %s\n", srv.Addr()); err != nil {
		srv.Close()
		return fmt.Errorf("serve %s: announce address: %w", model, err)
	}
	<-ctx.Done()
	stop() // a second signal now takes the default action: exit at once
	err = shutdown(srv, model)
	if usage != nil {
		var ru syscall.Rusage
		if uerr := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); uerr != nil {
			return errors.Join(err, fmt.Errorf("serve: --usage-out: getrusage: %w", uerr))
		}
		err = errors.Join(err, usage.write("serve", usageOf(&ru, time.Since(startedAt))))
	}
	return err
}

// parseServeArgs parses the command line: the model, the contract's flags
// through their one table, and the command's own flags.
func parseServeArgs(stderr io.Writer, args []string) (string, servers.Config, string, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := servers.CommandDefaults()
	servers.Flags.Register(fs, &cfg)
	allowRemote := fs.Bool("allow-remote", false, "allow an --addr beyond loopback (a server you mean to reach from other hosts)")
	usagePath := fs.String("usage-out", "", "at exit, write the server's CPU, peak RSS and context switches (getrusage) as one JSON line to `file` (\"-\": stdout)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nModels: %v\n", all.Models.Names())
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", cfg, "", err
	}
	switch {
	case len(pos) == 0:
		return "", cfg, "", usagef("serve: missing MODEL")
	case len(pos) > 1:
		return "", cfg, "", usagef("serve: unexpected arguments %q", pos[1:])
	}
	if err := servers.Flags.CheckPositive(fs, &cfg); err != nil {
		return "", cfg, "", usagef("serve: %v", err)
	}
	// "localhost" means 127.0.0.1, as in `echobench load`: no lookup.
	if port, ok := strings.CutPrefix(cfg.Addr, "localhost:"); ok {
		cfg.Addr = "127.0.0.1:" + port
	}
	if err := cfg.Validate(*allowRemote); err != nil {
		return "", cfg, "", usagef("serve: %v", err)
	}
	return pos[0], cfg, *usagePath, nil
}

// shutdown closes srv within the contract's grace period.
func shutdown(srv servers.Server, model string) error {
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("serve %s: close: %w", model, err)
		}
		return nil
	case <-time.After(shutdownGrace):
		return errors.New("serve " + model + ": close did not finish within " + shutdownGrace.String())
	}
}
