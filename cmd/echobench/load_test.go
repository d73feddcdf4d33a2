package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"echobench/internal/results"
	"echobench/loadgen/faultserver"
)

func TestLoadUsageErrors(t *testing.T) {
	t.Parallel()
	testUsageErrors(t, "load", []usageCase{
		{"no addr", []string{"--conns", "1"}, "--addr is required"},
		{"non-loopback addr", []string{"--addr", "10.0.0.1:9000"}, "not loopback"},
		{"hostname", []string{"--addr", "example.com:80"}, "loopback IP"},
		{"non-loopback source", []string{"--addr", "127.0.0.1:9", "--source-ips", "10.0.0.1"}, "not loopback"},
		{"range leaving loopback", []string{"--addr", "127.0.0.1:9", "--source-ips", "127.255.255.254-128.0.0.1"}, "not loopback"},
		{"zero conns", []string{"--addr", "127.0.0.1:9", "--conns", "0"}, "conns must be at least 1"},
		{"negative size", []string{"--addr", "127.0.0.1:9", "--size", "-1"}, "size must be"},
		{"zero duration", []string{"--addr", "127.0.0.1:9", "--duration", "0s"}, "duration must be positive"},
		{"negative warmup", []string{"--addr", "127.0.0.1:9", "--warmup", "-1s"}, "warmup must be"},
		{"zero depth", []string{"--addr", "127.0.0.1:9", "--depth", "0"}, "--depth must be positive"},
		{"zero timeout", []string{"--addr", "127.0.0.1:9", "--timeout", "0s"}, "--timeout must be positive"},
		{"open without rate", []string{"--addr", "127.0.0.1:9", "--mode", "open"}, "open loop needs a rate"},
		{"rate in closed loop", []string{"--addr", "127.0.0.1:9", "--rate", "100"}, "open loop only"},
		{"bad mode", []string{"--addr", "127.0.0.1:9", "--mode", "half"}, "mode must be"},
		{"conns above the file limit", []string{"--addr", "127.0.0.1:9", "--conns", "50000"}, "RLIMIT_NOFILE"},
		{"more workers than conns", []string{"--addr", "127.0.0.1:9", "--conns", "2", "--workers", "3"}, "workers must be"},
		{"port zero", []string{"--addr", "127.0.0.1:0"}, "port must be"},
		{"stray argument", []string{"--addr", "127.0.0.1:9", "extra"}, "unexpected arguments"},
		{"negative idle conns", []string{"--addr", "127.0.0.1:9", "--idle-conns", "-1"}, "idle-conns must not be negative"},
		{"negative slow readers", []string{"--addr", "127.0.0.1:9", "--slow-readers", "-2"}, "slow-readers must not be negative"},
		{"zero slow read rate", []string{"--addr", "127.0.0.1:9", "--slow-readers", "1", "--slow-read-bytes-per-s", "0"}, "--slow-read-bytes-per-s must be positive"},
		{"idle conns above the file limit", []string{"--addr", "127.0.0.1:9", "--conns", "10", "--idle-conns", "50000"}, "RLIMIT_NOFILE"},
		{"negative conn lifetime", []string{"--addr", "127.0.0.1:9", "--conn-lifetime", "-1"}, "conn-lifetime must not be negative"},
		{"negative connect burst", []string{"--addr", "127.0.0.1:9", "--connect-burst", "-1"}, "connect-burst must not be negative"},
		{"connect burst above the file limit", []string{"--addr", "127.0.0.1:9", "--connect-burst", "50000"}, "connect-burst 50000 is above"},
		{"start in the past", []string{"--addr", "127.0.0.1:9", "--start-at", "2020-01-01T00:00:00Z"}, "start-at 2020-01-01T00:00:00Z is in the past"},
		{"start a day ahead", []string{"--addr", "127.0.0.1:9", "--start-at", time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, "more than 1h0m0s"},
		{"start not a time", []string{"--addr", "127.0.0.1:9", "--start-at", "in 5 minutes"}, "want an RFC 3339 time"},
	})
}

// With --json, stdout is exactly one results.Load object, and --hdr-out
// writes the plotter's format.
func TestLoadJSON(t *testing.T) {
	t.Parallel()
	// A short queue: backpressure for the slow reader, not buffering.
	s, err := faultserver.Start(faultserver.Faults{QueueChunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hdr := filepath.Join(t.TempDir(), "lat.hgrm")
	var stdout, stderr bytes.Buffer
	err = run(&stdout, &stderr, []string{"load", "--addr", s.Addr(), "--conns", "3", "--size", "100",
		"--duration", "300ms", "--warmup", "100ms", "--json", "--hdr-out", hdr,
		"--idle-conns", "5", "--slow-readers", "1", "--slow-read-bytes-per-s", "10000"})
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("exit %d: %v\nstderr: %s", code, err, stderr.String())
	}
	raw := stdout.String()
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	var l results.Load
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("stdout is not one results.Load: %v", err)
	}
	if dec.More() {
		t.Error("stdout holds more than one JSON value")
	}
	if l.Mode != "closed" || l.Conns != 3 || l.SizeBytes != 100 || l.Completed == 0 || l.Completed != l.Intended || l.HDR == "" {
		t.Errorf("unexpected result: %+v", l)
	}
	if l.IdleConns != 5 || l.IdleFailed != 0 || l.SlowReaders != 1 || l.SlowReadBytesPerSec != 10000 || l.SlowReadBytes == 0 {
		t.Errorf("idle/slow figures: idle %d failed %d, slow %d at %d B/s read %d",
			l.IdleConns, l.IdleFailed, l.SlowReaders, l.SlowReadBytesPerSec, l.SlowReadBytes)
	}
	if l.Workers < 1 || l.GOMAXPROCS <= l.Workers {
		t.Errorf("the load generator must report its workers and GOMAXPROCS (> workers): %d, %d", l.Workers, l.GOMAXPROCS)
	}
	for _, key := range []string{`"idle_conns":5`, `"slow_readers":1`, `"slow_read_bytes":`, `"workers":`, `"gomaxprocs":`} {
		if !strings.Contains(raw, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	b, err := os.ReadFile(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), " Value\tPercentile\tTotalCount\t1/(1-Percentile)") || !strings.Contains(string(b), "#[Max") {
		t.Errorf("--hdr-out is not in the HdrHistogram plotter format:\n%s", b)
	}
}

// No server: exit 1, and the JSON still says what happened.
func TestLoadNoServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	err = run(&stdout, &stderr, []string{"load", "--addr", addr, "--conns", "2", "--duration", "1s", "--json"})
	if code := exitCode(err, &stderr); code != 1 {
		t.Fatalf("exit %d (%v), want 1", code, err)
	}
	var l results.Load
	if err := json.Unmarshal(stdout.Bytes(), &l); err != nil {
		t.Fatalf("stdout: %v: %q", err, stdout.String())
	}
	if l.ConnFailed != 2 {
		t.Errorf("conn_failed = %d, want 2", l.ConnFailed)
	}
	if !strings.Contains(stderr.String(), "no connection") {
		t.Errorf("stderr does not say why: %q", stderr.String())
	}
}

// Without --json: a readable summary on stdout.
func TestLoadSummary(t *testing.T) {
	t.Parallel()
	s, err := faultserver.Start(faultserver.Faults{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var stdout, stderr bytes.Buffer
	err = run(&stdout, &stderr, []string{"load", "--addr", s.Addr(), "--conns", "2", "--mode", "open",
		"--rate", "500", "--duration", "300ms", "--warmup", "0s", "--idle-conns", "3"})
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr.String())
	}
	for _, want := range []string{"open loop, 2 conns", "intended 150", "latency µs", "send lag", "idle       3 conns  0 failed"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}
