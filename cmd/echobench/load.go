package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"echobench/loadgen"
)

func init() {
	register("load", command{summary: "drive an echo server and measure it", run: runLoad})
}

const loadUsage = `Usage: echobench load --addr HOST:PORT [flags]

Drives a TCP echo server with --conns connections and measures it: every
echoed byte is verified, every message ends as completed, timed out, errored
or corrupted, and latency goes into HDR histograms. The warm-up is excluded
from every figure. Closed loop (default) keeps --depth messages in flight per
connection, latency from the actual send; open loop sends --rate msgs/s in
total, latency from each message's intended send time (no coordinated
omission). Only loopback destinations and sources are allowed, unless
--allow-remote: your own hosts, or the network namespaces of a run with
network = "netns". --addr is an IP literal and port; no name is looked up.

--idle-conns N adds N connections that send nothing during the window and
must each echo one small message at the end (idle_conns, idle_failed).
--slow-readers N adds N connections that write continuously but read their
echo at most --slow-read-bytes-per-s (slow_read_bytes, slow_closed: the
server closed them, slow_corrupted). Neither is counted in intended.
--conn-lifetime N closes each connection after its N-th message and opens a
new one in its place; --connect-burst N adds N connections that all connect
at the start of the window, echo one message and close (load.connects,
load.burst: connects/s, connect latency, failures by cause).

--start-at TIME is a start barrier for several generators, on one host or
many: each connects, warms up in the --warmup before TIME, and measures
exactly [TIME, TIME + --duration); "echobench merge" adds their results up.
TIME is RFC 3339 (2026-11-27T15:00:00.5Z), at most 1 h ahead. A set-up
that ends after TIME exits 1 and says by how much.

With --json, stdout carries exactly one JSON object (results.Load); all else
goes to stderr. Ctrl-C ends the window early and still reports it; a second
Ctrl-C exits at once. Exit status: 0 the measurement ran (failed messages are
data), 1 it could not run (e.g. no connection at all; the JSON is still
printed), 2 usage error.

Examples:
  echobench load --addr 127.0.0.1:9000 --conns 50 --size 64 --duration 5s --warmup 1s
  echobench load --addr 127.0.0.1:9000 --conns 100 --mode open --rate 50000 --duration 10s --json
  taskset -c 1 echobench load --addr 127.0.0.1:9000 --conns 15000 --source-ips 127.0.0.2-127.0.0.9 --duration 10s
  echobench load --addr 127.0.0.1:9000 --conns 64 --idle-conns 10000 --source-ips 127.0.0.2-127.0.0.9
  echobench load --addr 127.0.0.1:9000 --conns 64 --slow-readers 4 --slow-read-bytes-per-s 65536
  echobench load --addr 127.0.0.1:9000 --conns 8 --conn-lifetime 1 --connect-burst 500 --json
  echobench load --addr 127.0.0.1:9000 --conns 50 --start-at 2026-11-27T15:00:00Z --json > gen1.json
  echobench load --addr 192.0.2.10:9000 --allow-remote --conns 50 --duration 10s --json

Flags:
`

func runLoad(stdout, stderr io.Writer, args []string) error {
	cfg, out, err := parseLoadArgs(stderr, args)
	if err != nil {
		return err
	}
	raiseGOMAXPROCS(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C takes the default action: exit at once
	}()
	if !out.json {
		fmt.Fprintf(stderr, "echobench load: connecting %d connections (+%d idle, +%d slow readers) to %s ...\n", cfg.Conns, cfg.IdleConns, cfg.SlowReaders, cfg.Addr)
		if cfg.ConnectBurst > 0 {
			fmt.Fprintf(stderr, "echobench load: %d more connect at once when the window starts (connect burst)\n", cfg.ConnectBurst)
		}
		if !cfg.StartAt.IsZero() {
			fmt.Fprintf(stderr, "echobench load: the window starts at %s (--start-at)\n", cfg.StartAt.UTC().Format(time.RFC3339Nano))
		}
	}
	res, runErr := loadgen.Run(ctx, cfg)
	if res == nil {
		return fmt.Errorf("load: %w", runErr)
	}
	res.Load.GOMAXPROCS, res.Load.Workers = runtime.GOMAXPROCS(0), cfg.Workers
	if err := out.write(stdout, stderr, res); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("load: %w", runErr)
	}
	return nil
}

// loadOutput is what `echobench load` prints besides the measurement
// itself; these flags are the command's, not the load generator's Config.
type loadOutput struct {
	json bool
	hdr  string
}

// parseLoadArgs parses the flags: the load generator's Config through its
// one flag table (loadgen.ParseArgs, the same code the orchestrator's argv
// round-trips through), the output flags here.
func parseLoadArgs(stderr io.Writer, args []string) (loadgen.Config, loadOutput, error) {
	var out loadOutput
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&out.json, "json", false, "print one results.Load JSON object on stdout")
	fs.StringVar(&out.hdr, "hdr-out", "", "write the latency percentile distribution (HdrHistogram plotter format, µs) to `file`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadUsage)
		fs.PrintDefaults()
	}
	cfg, err := loadgen.ParseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, out, err
		}
		return cfg, out, usagef("load: %v", err)
	}
	if cfg.Addr == "" {
		return cfg, out, usagef("load: --addr is required")
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, out, usagef("load: %v", err)
	}
	return cfg, out, nil
}

// raiseGOMAXPROCS gives the process one P more than its workers: a worker
// blocked in epoll_wait then keeps its P, because the runtime's sysmon does
// not retake a P from a syscall while another P is idle. With GOMAXPROCS=1
// (one client CPU) it retakes it at every 20 µs tick and the worker pays a
// handoff per wake-up. The idle/slow loop and the connect burst's loop are
// one more thread each that blocks in epoll_wait.
func raiseGOMAXPROCS(cfg loadgen.Config) {
	n := cfg.Workers + 1
	if cfg.IdleConns+cfg.SlowReaders > 0 {
		n++
	}
	if cfg.ConnectBurst > 0 {
		n++
	}
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
}

// write prints the result: one JSON object, or the human summary.
func (o loadOutput) write(stdout, stderr io.Writer, res *loadgen.Result) error {
	if o.hdr != "" {
		if err := writeHdr(o.hdr, res); err != nil {
			return err
		}
	}
	if !o.json {
		if _, err := io.WriteString(stdout, res.Summary()); err != nil {
			return fmt.Errorf("load: write summary: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(res.Load)
	if err != nil {
		return fmt.Errorf("load: encode result: %w", err)
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("load: write result: %w", err)
	}
	for _, w := range res.Load.Warnings {
		fmt.Fprintln(stderr, "echobench load: warning:", w)
	}
	return nil
}

func writeHdr(path string, res *loadgen.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("load: --hdr-out: %w", err)
	}
	if err := res.WritePercentiles(f); err != nil {
		f.Close()
		return fmt.Errorf("load: --hdr-out %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load: --hdr-out %s: %w", path, err)
	}
	return nil
}
