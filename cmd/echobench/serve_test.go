package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad serve flags are usage errors naming the flag, before anything binds.
func TestServeUsageErrors(t *testing.T) {
	t.Parallel()
	testUsageErrors(t, "serve", []usageCase{
		{"too many loops", []string{"netconn", "--loops", "30000"}, "--loops must be 1..1024"},
		{"zero loops", []string{"netconn", "--loops", "0"}, "--loops must be positive"},
		{"huge max-pending", []string{"netconn", "--max-pending", "4294967296"}, "--max-pending must be 1.."},
		{"every interface", []string{"netconn", "--addr", "0.0.0.0:0"}, "--allow-remote"},
		{"empty host", []string{"netconn", "--addr", ":0"}, "want IP:port"},
		{"host name", []string{"netconn", "--addr", "example.com:80"}, "no host names"},
		{"no model", []string{"--addr", "127.0.0.1:0"}, "missing MODEL"},
		{"unknown model", []string{"nosuch"}, "unknown server model"},
		{"stray argument", []string{"netconn", "extra"}, "unexpected arguments"},
		{"unknown work kind", []string{"netconn", "--work", "nap:1ms", "--request-size", "64"}, `--work "nap:1ms": unknown kind "nap"`},
		{"negative work", []string{"netconn", "--work", "wait:-1ms", "--request-size", "64"}, `bad mean "-1ms"`},
		{"absurd work", []string{"netconn", "--work", "wait:1000s", "--request-size", "64"}, `mean "1000s" out of range`},
		{"work without size", []string{"netconn", "--work", "cpu:20us"}, "needs --request-size"},
		{"huge request", []string{"netconn", "--work", "cpu:20us", "--request-size", "16777217"}, "--request-size must be 1.."},
		{"zero procs", []string{"netconn", "--procs", "0"}, "--procs must be positive"},
		{"too many procs", []string{"netconn", "--procs", "257"}, "--procs must be 1..256"},
		{"procs for a Go model", []string{"epoll", "--procs", "2"}, "--procs 2: model epoll runs in one process"},
	})
}

// A model refuses the work it does not implement, as a usage error naming
// --work, instead of faking it.
func TestServeRefusesUnimplementedWork(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(&stdout, &stderr, []string{"serve", "iouring", "--work", "wait:1ms", "--request-size", "64"})
	if code := exitCode(err, &stderr); code != 2 || !strings.Contains(err.Error(), "--work wait:1ms: model iouring does not implement") {
		t.Errorf("exit %d, %v", code, err)
	}
}
