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
omission). Only loopback destinations and sources are allowed.

--idle-conns N adds N connections that send nothing during the window and
must each echo one small message at the end (idle_conns, idle_failed).
--slow-readers N adds N connections that write continuously but read their
echo at most --slow-read-bytes-per-s (slow_read_bytes, slow_closed: the
server closed them, slow_corrupted). Neither is counted in intended.

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

Flags:
`

func runLoad(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "server `host:port` (loopback only; required)")
	conns := fs.Int("conns", 1, "concurrent connections")
	size := fs.Int("size", 64, "message size in `bytes`")
	duration := fs.Duration("duration", 5*time.Second, "measured window")
	warmup := fs.Duration("warmup", time.Second, "warm-up before the window, excluded from every figure")
	mode := fs.String("mode", "closed", "closed or open")
	depth := fs.Int("depth", loadgen.DefaultDepth, "most messages in flight per connection")
	rate := fs.Float64("rate", 0, "open loop: total target rate in `msgs/s` (required for --mode open)")
	timeout := fs.Duration("timeout", loadgen.DefaultTimeout, "a message slower than this is timed out")
	connectTimeout := fs.Duration("connect-timeout", loadgen.DefaultConnectTimeout, "bound on each connection attempt")
	sourceIPs := fs.String("source-ips", "", "loopback source `addresses` to bind, e.g. 127.0.0.2-127.0.0.9 or a comma list")
	workers := fs.Int("workers", 0, "event-loop threads (default: the CPUs this process may use, at most --conns)")
	idleConns := fs.Int("idle-conns", 0, "extra connections held open and silent through the window; each must echo one message at the end")
	slowReaders := fs.Int("slow-readers", 0, "extra connections that write continuously but read their echo slowly")
	slowRate := fs.Int("slow-read-bytes-per-s", loadgen.DefaultSlowReadBytesPerSec, "most `bytes/s` each slow reader reads")
	jsonOut := fs.Bool("json", false, "print one results.Load JSON object on stdout")
	hdrOut := fs.String("hdr-out", "", "write the latency percentile distribution (HdrHistogram plotter format, µs) to `file`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loadUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return usagef("load: unexpected arguments %q", fs.Args())
	}
	if *addr == "" {
		return usagef("load: --addr is required")
	}
	if *workers < 0 {
		return usagef("load: --workers must be at least 1, got %d", *workers)
	}
	if *duration <= 0 {
		return usagef("load: --duration must be positive, got %v", *duration)
	}
	cfg := loadgen.Config{
		Addr: *addr, Conns: *conns, SizeBytes: *size, Duration: *duration, Warmup: *warmup,
		Mode: loadgen.Mode(*mode), Depth: *depth, RateMsgsPerSec: *rate,
		Timeout: *timeout, ConnectTimeout: *connectTimeout, Workers: *workers,
		IdleConns: *idleConns, SlowReaders: *slowReaders,
	}
	if *slowReaders > 0 {
		cfg.SlowReadBytesPerSec = *slowRate
	}
	// Zero means "default" in Config; on the command line it is a mistake.
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"depth", *depth == 0}, {"timeout", *timeout == 0}, {"connect-timeout", *connectTimeout == 0},
		{"slow-read-bytes-per-s", *slowRate <= 0},
	} {
		if f.bad {
			return usagef("load: --%s must be positive", f.name)
		}
	}
	if *sourceIPs != "" {
		ips, err := loadgen.ParseSourceIPs(*sourceIPs)
		if err != nil {
			return usagef("load: %v", err)
		}
		cfg.SourceIPs = ips
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return usagef("load: %v", err)
	}

	// One P more than workers: a worker blocked in epoll_wait then keeps its
	// P, because the runtime's sysmon does not retake a P from a syscall
	// while another P is idle. With GOMAXPROCS=1 (one client CPU) it retakes
	// it at every 20 µs tick and the worker pays a handoff per wake-up.
	// The idle/slow loop is one more thread that blocks in epoll_wait.
	n := cfg.Workers + 1
	if cfg.IdleConns+cfg.SlowReaders > 0 {
		n++
	}
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C takes the default action: exit at once
	}()
	if !*jsonOut {
		fmt.Fprintf(stderr, "echobench load: connecting %d connections (+%d idle, +%d slow readers) to %s ...\n", cfg.Conns, cfg.IdleConns, cfg.SlowReaders, cfg.Addr)
	}
	res, runErr := loadgen.Run(ctx, cfg)
	if res == nil {
		return fmt.Errorf("load: %w", runErr)
	}
	if *hdrOut != "" {
		if err := writeHdr(*hdrOut, res); err != nil {
			return err
		}
	}
	if *jsonOut {
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
	} else if _, err := io.WriteString(stdout, res.Summary()); err != nil {
		return fmt.Errorf("load: write summary: %w", err)
	}
	if runErr != nil {
		return fmt.Errorf("load: %w", runErr)
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
