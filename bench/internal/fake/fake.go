// Package fake is a stand-in for `echobench serve` and `echobench load` in the
// orchestrator's tests: small, predictable, and able to misbehave on demand.
// A test binary that imports it re-executes itself as these commands.
//
// Serve takes the mode as its MODEL: echo (a correct echo server), crash
// (exits 3 at start with a message on stderr), never (never prints
// LISTENING), ignoreterm (echoes, ignores SIGTERM), anyaddr (binds 0.0.0.0
// but announces 127.0.0.1), diemid (exits 5 once a connection arrives), busy
// (echoes and keeps one CPU busy, so its CPU time is sure to be measured).
//
// Load connects and echoes for real and prints a results.Load. Environment:
// FAKEBENCH_CAPACITY fixes the closed-loop throughput it reports;
// FAKEBENCH_SLO_RATE makes an open-loop p99 of 100 µs at or under that rate
// and 50 ms above it. FAKEBENCH_PIDDIR, when set, receives one file per
// process started, named by its PID, so tests can check none survives.
package fake

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"echobench/internal/results"
)

// Modes are the server behaviours Serve knows.
var Modes = []string{"echo", "crash", "never", "ignoreterm", "anyaddr", "diemid", "busy"}

// lifetime bounds every fake process: nothing may linger if a test fails.
const lifetime = 60 * time.Second

func notePID() {
	if dir := os.Getenv("FAKEBENCH_PIDDIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	}
}

// Serve runs a fake server: args are "MODEL --addr A [--loops N]
// [--max-pending B]". It returns the exit status.
func Serve(args []string) int {
	notePID()
	time.AfterFunc(lifetime, func() { os.Exit(9) })
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fake serve: missing MODEL")
		return 2
	}
	mode := args[0]
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "")
	fs.Int("loops", 1, "")
	fs.Int("max-pending", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "fake serve: cannot bind: simulated crash")
		return 3
	case "never":
		fmt.Fprintln(os.Stderr, "fake serve: starting very slowly")
		<-term
		return 0
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
	case "anyaddr":
		*addr = "0.0.0.0:0"
	case "busy":
		go func() {
			for x := uint64(1); ; x = x*6364136223846793005 + 1 {
				_ = x
			}
		}()
	case "echo", "diemid":
	default:
		fmt.Fprintf(os.Stderr, "fake serve: unknown model %q\n", mode)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake serve:", err)
		return 1
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Printf("LISTENING 127.0.0.1:%d\n", port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if mode == "diemid" {
				fmt.Fprintln(os.Stderr, "fake serve: dying mid-run")
				os.Exit(5)
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	<-term
	ln.Close()
	if mode == "ignoreterm" {
		select {}
	}
	return 0
}

// Load runs a fake load generator with the flags of `echobench load` and
// prints one results.Load as JSON. It returns the exit status.
func Load(args []string) int {
	notePID()
	time.AfterFunc(lifetime, func() { os.Exit(9) })
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	conns := fs.Int("conns", 1, "")
	size := fs.Int("size", 64, "")
	duration := fs.Duration("duration", time.Second, "")
	warmup := fs.Duration("warmup", 0, "")
	mode := fs.String("mode", "closed", "")
	depth := fs.Int("depth", 1, "")
	rate := fs.Float64("rate", 0, "")
	fs.Duration("timeout", 0, "")
	fs.String("source-ips", "", "")
	idleConns := fs.Int("idle-conns", 0, "")
	slowReaders := fs.Int("slow-readers", 0, "")
	slowRate := fs.Int("slow-read-bytes-per-s", 65536, "")
	jsonOut := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*jsonOut || *addr == "" || (*mode == "open" && *rate <= 0) {
		fmt.Fprintln(os.Stderr, "fake load: need --addr, --json, and --rate in open mode")
		return 2
	}

	// Idle connections and slow readers are real connections, held through
	// the window, so the server holds them as with the real load generator.
	var idle, slow []net.Conn
	var idleFailed int64
	for i := 0; i < *idleConns+*slowReaders; i++ {
		c, err := net.Dial("tcp", *addr)
		switch {
		case err != nil && i < *idleConns:
			idleFailed++
		case err != nil:
		case i < *idleConns:
			idle = append(idle, c)
		default:
			slow = append(slow, c)
		}
	}

	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	var (
		mu        sync.Mutex
		completed int64
		errored   int64
		lat       []time.Duration
		wg        sync.WaitGroup
	)
	perConnGap := time.Duration(0)
	if *mode == "open" {
		perConnGap = time.Duration(float64(time.Second) * float64(*conns) / *rate)
	}
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				mu.Lock()
				errored++
				mu.Unlock()
				return
			}
			defer c.Close()
			buf := make([]byte, *size)
			back := make([]byte, *size)
			next := time.Now()
			for time.Now().Before(end) {
				if perConnGap > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(perConnGap)
				}
				t := time.Now()
				if _, err := c.Write(buf); err != nil {
					mu.Lock()
					errored++
					mu.Unlock()
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					mu.Lock()
					errored++
					mu.Unlock()
					return
				}
				if t.After(measureFrom) && t.Before(end) {
					mu.Lock()
					completed++
					if len(lat) < 100000 {
						lat = append(lat, time.Since(t))
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// Each idle connection proves it is served; each slow reader echoes one
	// small block.
	var slowBytes int64
	for _, c := range append(idle, slow...) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		msg := []byte("idle-or-slow-check")
		back := make([]byte, len(msg))
		_, err := c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, back)
		}
		ok := err == nil && string(back) == string(msg)
		if slices.Contains(idle, c) {
			if !ok {
				idleFailed++
			}
		} else if ok {
			slowBytes += int64(len(msg))
		}
		c.Close()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds())
	}
	l := results.Load{
		Mode: *mode, Conns: *conns, SizeBytes: *size, Depth: *depth, RateMsgsPerSec: *rate, DurationS: duration.Seconds(),
		Intended: completed + errored, Completed: completed, Errored: errored,
		ThroughputMsgsPerSec: float64(completed) / duration.Seconds(),
		LatencyUs:            results.Latency{P50: pct(0.5), P90: pct(0.9), P99: pct(0.99), Max: pct(1)},
		ClientCPUUtil:        0.5,
		IdleConns:            int64(*idleConns), IdleFailed: idleFailed,
		SlowReaders: int64(*slowReaders), SlowReadBytes: slowBytes,
	}
	if *slowReaders > 0 {
		l.SlowReadBytesPerSec = int64(*slowRate)
	}
	if l.Intended > 0 {
		l.CompletionRatio = float64(l.Completed) / float64(l.Intended)
	}
	if v, err := strconv.ParseFloat(os.Getenv("FAKEBENCH_CAPACITY"), 64); err == nil && *mode == "closed" {
		l.ThroughputMsgsPerSec = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("FAKEBENCH_SLO_RATE"), 64); err == nil && *mode == "open" {
		// Deterministic whatever the scheduling of a loaded test machine.
		l.CompletionRatio = 1
		l.LatencyUs.P99 = 100
		if *rate > v {
			l.LatencyUs.P99 = 50000
		}
	}
	b, err := json.Marshal(&l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake load:", err)
		return 1
	}
	fmt.Println(string(b))
	return 0
}
