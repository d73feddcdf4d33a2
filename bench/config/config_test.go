package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func testChecker() Checker {
	return Checker{
		IsGoModel: func(n string) bool { return n == "epoll" || n == "gnet" },
		IsStack:   func(n string) bool { return n == "uvloop" },
		LookPath: func(f string) (string, error) {
			if f == "/usr/bin/python3" {
				return f, nil
			}
			return "", errors.New("not found")
		},
		MaxFiles: 20000,
		NumCPU:   2,
	}
}

const good = `
duration = "2s"
warmup = "500ms"
repeats = 3
seed = 7
slo_p99 = "5ms"
slo_steps = 0
[[servers]]
model = "epoll"
[[servers]]
model = "gnet"
loops = 1
max_pending = 65536
env = { GOGC = "off" }
[[servers]]
model = "uvloop"
procs = 2
[[servers]]
name = "py"
command = ["/usr/bin/python3", "x.py"]
[[scenarios]]
mode = "closed"
conns = [1, 64, 1000]
sizes = [64, 16384]
depth = [1, 16]
source_ips = "127.0.0.2-127.0.0.9,127.0.1.1"
[[scenarios]]
mode = "open"
conns = [64]
sizes = [64]
load = [0.5, 0.9]
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
idle_conns = [0, 10000]
slow_readers = [4]
slow_read_bytes_per_s = 1024
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
work = ["none", "cpu:20us", "wait:10ms", "block:1.5ms:fixed", "wait:0.5s:exp"]
conn_lifetime = [1, 10, 100]
connect_burst = [2000]
[[scenarios]]
mode = "open"
conns = [64, 256]
sizes = [64]
depth = [1, 4]
rates = [20000, 256000]
[[scenarios]]
mode = "open"
conns = [256]
sizes = [64]
overload = [1.2, 2]
msg_timeout = "100ms"
`

func TestDecodeGood(t *testing.T) {
	t.Parallel()
	c, err := Decode([]byte(good), testChecker())
	if err != nil {
		t.Fatal(err)
	}
	if c.Duration.Duration != 2*time.Second || c.Warmup.Duration != 500*time.Millisecond || c.Repeats != 3 || c.Seed != 7 {
		t.Errorf("top-level keys: %+v", c)
	}
	if *c.SLOSteps != 0 {
		t.Errorf("explicit slo_steps = 0 became %d", *c.SLOSteps)
	}
	if c.SLOCompletion != DefaultSLOCompletion || c.ReadyTimeout.Duration != DefaultReadyTimeout {
		t.Errorf("defaults not applied: %+v", c)
	}
	if got := c.Servers[0].Addr; got != DefaultAddr {
		t.Errorf("default addr = %q", got)
	}
	if got := c.Servers[1].Env["GOGC"]; got != "off" {
		t.Errorf("env = %q", got)
	}
	if got := c.Servers[2].Procs; got != 2 {
		t.Errorf("procs = %d", got)
	}
	if got := c.Servers[3].DisplayName(); got != "py" {
		t.Errorf("display name = %q", got)
	}
	if got := c.Families[1].Depth; !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("default depth = %v", got)
	}
	if sc := c.Families[1]; !reflect.DeepEqual(sc.IdleConns, []int{0}) || !reflect.DeepEqual(sc.SlowReaders, []int{0}) || sc.SlowReadBytesPerSec != DefaultSlowReadBytesPerSec {
		t.Errorf("default idle_conns %v, slow_readers %v, slow_read_bytes_per_s %d", sc.IdleConns, sc.SlowReaders, sc.SlowReadBytesPerSec)
	}
	if sc := c.Families[1]; !reflect.DeepEqual(sc.ConnLifetime, []int{0}) || !reflect.DeepEqual(sc.ConnectBurst, []int{0}) {
		t.Errorf("default conn_lifetime %v, connect_burst %v", sc.ConnLifetime, sc.ConnectBurst)
	}
	if sc := c.Families[3]; !reflect.DeepEqual(sc.ConnLifetime, []int{1, 10, 100}) || !reflect.DeepEqual(sc.ConnectBurst, []int{2000}) {
		t.Errorf("conn_lifetime %v, connect_burst %v", sc.ConnLifetime, sc.ConnectBurst)
	}
	if sc := c.Families[2]; !reflect.DeepEqual(sc.IdleConns, []int{0, 10000}) || !reflect.DeepEqual(sc.SlowReaders, []int{4}) || sc.SlowReadBytesPerSec != 1024 {
		t.Errorf("idle_conns %v, slow_readers %v, slow_read_bytes_per_s %d", sc.IdleConns, sc.SlowReaders, sc.SlowReadBytesPerSec)
	}
	if got := c.Families[0].Work; !reflect.DeepEqual(got, []string{"none"}) {
		t.Errorf("default work = %q", got)
	}
	if sc := c.Families[4]; !reflect.DeepEqual(sc.RatesMsgsPerSec, []float64{20000, 256000}) || sc.MsgTimeout.Duration != 0 {
		t.Errorf("rates %v, msg_timeout %v", sc.RatesMsgsPerSec, sc.MsgTimeout)
	}
	if sc := c.Families[5]; !reflect.DeepEqual(sc.Overload, []float64{1.2, 2}) || sc.MsgTimeout.Duration != 100*time.Millisecond {
		t.Errorf("overload %v, msg_timeout %v", sc.Overload, sc.MsgTimeout)
	}
	if n, m := c.FamilySLOSteps(c.Families[4]), c.FamilySLOSteps(c.Families[5]); n != 0 || m != 0 {
		t.Errorf("SLO steps %d and %d with slo_steps = 0", n, m)
	}
	// Canonical forms, as the server's own String() prints them.
	if got, want := c.Families[3].Work, []string{"none", "cpu:20µs", "wait:10ms", "block:1.5ms", "wait:500ms:exp"}; !reflect.DeepEqual(got, want) {
		t.Errorf("work = %q, want %q", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	const servers = "[[servers]]\nmodel = \"epoll\"\n"
	const closed = "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n"
	const open64 = "[[scenarios]]\nmode = \"open\"\nconns = [64]\nsizes = [64]\n"
	base := "duration = \"1s\"\n"
	tests := []struct {
		name, file, want string
	}{
		{"unknown top key", base + "durration = \"1s\"\n" + servers + closed, `unknown key "durration"`},
		{"unknown nested key", base + "[[servers]]\nmodel = \"epoll\"\nlops = 2\n" + closed, `unknown key "servers.lops"`},
		{"no duration", servers + closed, "duration:"},
		{"zero duration", "duration = \"0s\"\n" + servers + closed, "duration:"},
		{"bad duration", "duration = \"fast\"\n" + servers + closed, "parse:"},
		{"negative warmup", base + "warmup = \"-1s\"\n" + servers + closed, "warmup:"},
		{"negative repeats", base + "repeats = -1\n" + servers + closed, "repeats:"},
		{"slo completion", base + "slo_completion = 1.5\n" + servers + closed, "slo_completion:"},
		{"slo steps", base + "slo_steps = -1\n" + servers + closed, "slo_steps:"},
		{"cpu list", base + "server_cpus = \"5\"\n" + servers + closed, "server_cpus:"},
		{"cpu range", base + "client_cpus = \"1-0\"\n" + servers + closed, "client_cpus:"},
		{"no servers", base + closed, "servers:"},
		{"no scenarios", base + servers, "scenarios:"},
		{"unknown model", base + "[[servers]]\nmodel = \"nope\"\n" + closed, `servers[0]: model: unknown model "nope"`},
		{"model and command", base + "[[servers]]\nmodel = \"epoll\"\ncommand = [\"/usr/bin/python3\"]\n" + closed, "servers[0]: model and command"},
		{"command without name", base + "[[servers]]\ncommand = [\"/usr/bin/python3\"]\n" + closed, "servers[0]: name: required"},
		{"missing command", base + "[[servers]]\nname = \"x\"\ncommand = [\"/no/such\"]\n" + closed, `servers[0]: command: program "/no/such" not found`},
		{"empty command", base + "[[servers]]\nname = \"x\"\ncommand = [\"\"]\n" + closed, "servers[0]: command: the program is empty"},
		{"duplicate name", base + servers + servers + closed, `servers[1]: name "epoll" is also used`},
		{"bad name", base + "[[servers]]\nname = \"a b\"\ncommand = [\"/usr/bin/python3\"]\n" + closed, "servers[0]: name:"},
		{"public addr", base + "[[servers]]\nmodel = \"epoll\"\naddr = \"0.0.0.0:0\"\n" + closed, "servers[0]: addr:"},
		{"remote addr", base + "[[servers]]\nmodel = \"epoll\"\naddr = \"10.0.0.1:80\"\n" + closed, "not a loopback"},
		{"negative loops", base + "[[servers]]\nmodel = \"epoll\"\nloops = -2\n" + closed, "servers[0]: loops:"},
		{"negative max pending", base + "[[servers]]\nmodel = \"epoll\"\nmax_pending = -2\n" + closed, "servers[0]: max_pending:"},
		{"negative procs", base + "[[servers]]\nmodel = \"uvloop\"\nprocs = -1\n" + closed, "servers[0]: procs: must be 0"},
		{"too many procs", base + "[[servers]]\nmodel = \"uvloop\"\nprocs = 257\n" + closed, "servers[0]: procs: must be 0 (the number of server CPUs) to 256, got 257"},
		{"procs for a Go model", base + "[[servers]]\nmodel = \"epoll\"\nprocs = 2\n" + closed, "servers[0]: procs: epoll is a Go model"},
		{"bad mode", base + servers + "[[scenarios]]\nmode = \"half\"\nconns = [1]\nsizes = [64]\n", "scenarios[0]: mode:"},
		{"zero conns", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [0]\nsizes = [64]\n", "scenarios[0]: conns:"},
		{"too many conns", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [19990]\nsizes = [64]\n", "scenarios[0]: conns: 19990 connections"},
		{"public source range", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nsource_ips = \"127.0.0.2-10.0.0.1\"\n", "scenarios[0]: source_ips:"},
		{"no sizes", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\n", "scenarios[0]: sizes:"},
		{"negative size", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [-1]\n", "scenarios[0]: sizes:"},
		{"zero depth", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\ndepth = [0]\n", "scenarios[0]: depth:"},
		{"open without load", base + servers + "[[scenarios]]\nmode = \"open\"\nconns = [1]\nsizes = [1]\n", "scenarios[0]: load:"},
		{"closed with load", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nload = [0.5]\n", "scenarios[0]: load:"},
		{"zero load", base + servers + "[[scenarios]]\nmode = \"open\"\nconns = [1]\nsizes = [1]\nload = [0]\n", "scenarios[0]: load:"},
		{"public source ip", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nsource_ips = \"127.0.0.2,10.1.1.1\"\n", "scenarios[0]: source_ips:"},
		{"negative idle", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nidle_conns = [-1]\n", "scenarios[0]: idle_conns:"},
		{"negative slow", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nslow_readers = [0, -3]\n", "scenarios[0]: slow_readers:"},
		{"negative slow rate", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nslow_read_bytes_per_s = -1\n", "scenarios[0]: slow_read_bytes_per_s:"},
		{"idle past the file limit", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [64, 10000]\nsizes = [1]\nidle_conns = [9950]\nslow_readers = [10]\n", "scenarios[0]: conns: 10000 connections + 9950 idle + 10 slow readers need 20024 open files"},
		{"unknown work kind", base + servers + closed + "work = [\"none\", \"sleep:1ms\"]\n", `scenarios[0]: work: "sleep:1ms": unknown kind`},
		{"negative work", base + servers + closed + "work = [\"cpu:-1ms\"]\n", `scenarios[0]: work: "cpu:-1ms": bad mean`},
		{"zero work", base + servers + closed + "work = [\"wait:0s\"]\n", `scenarios[0]: work: "wait:0s": mean`},
		{"absurd work", base + servers + closed + "work = [\"block:11s\"]\n", `scenarios[0]: work: "block:11s": mean`},
		{"compound work", base + servers + closed + "work = [\"cpu:1ms500us\"]\n", `scenarios[0]: work: "cpu:1ms500us": bad mean`},
		{"work distribution", base + servers + closed + "work = [\"cpu:1ms:normal\"]\n", `scenarios[0]: work: "cpu:1ms:normal": unknown distribution`},
		{"work without mean", base + servers + closed + "work = [\"cpu\"]\n", `scenarios[0]: work: "cpu": want none`},
		{"work past request size", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64, 16777217]\nwork = [\"cpu:1ms\"]\n", "scenarios[0]: sizes: must be 1 byte to 16 MiB"},
		{"negative lifetime", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nconn_lifetime = [1, -1]\n", "scenarios[0]: conn_lifetime: must not be negative"},
		{"negative burst", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\nconnect_burst = [-2]\n", "scenarios[0]: connect_burst: must not be negative"},
		{"burst past the file limit", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [64]\nsizes = [1]\nconnect_burst = [19900]\n", "scenarios[0]: connect_burst: 19900 burst connections beside 64 others need 20028 open files"},
		{"negative load_procs", base + servers + closed + "load_procs = -1\n", "scenarios[0]: load_procs: must be 1..256"},
		{"load_procs past the CPUs", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [500]\nsizes = [1]\nload_procs = 200\n", "scenarios[0]: load_procs: 200 generators need a client CPU each"},
		{"load_procs past the conns", base + servers + "[[scenarios]]\nmode = \"closed\"\nconns = [8, 1]\nsizes = [1]\nload_procs = 2\n", "scenarios[0]: load_procs: 2 generators need at least one connection each, conns has 1"},
		{"too large", base + strings.Repeat("#", MaxFileBytes), "larger than"},
		{"rates with load", base + servers + open64 + "load = [0.5]\nrates = [1000]\n", "scenarios[0]: rates: exclusive with load"},
		{"closed with rates", base + servers + closed + "rates = [1000]\n", "scenarios[0]: rates: only open-loop scenarios"},
		{"closed with overload", base + servers + closed + "overload = [1.2]\n", "scenarios[0]: overload: only open-loop scenarios"},
		{"zero rate", base + servers + open64 + "rates = [1000, 0]\n", "scenarios[0]: rates: must be in (0, 5e+07] msgs/s, got 0"},
		{"negative rate", base + servers + open64 + "rates = [-5]\n", "scenarios[0]: rates: must be in"},
		{"absurd rate", base + servers + "[[scenarios]]\nmode = \"open\"\nconns = [19000]\nsizes = [64]\nrates = [6e7]\n", "scenarios[0]: rates: must be in"},
		{"rate beyond the connections", base + servers + "[[scenarios]]\nmode = \"open\"\nconns = [4, 64]\nsizes = [64]\nrates = [20000]\n",
			"scenarios[0]: rates: 20000 msgs/s over 4 connections x depth 1 is 5000 msgs/s per connection, above 4000: the client would queue messages a connection cannot turn around in time; use at least 5 connections"},
		{"overload of 1", base + servers + open64 + "overload = [1.2, 1]\n", "scenarios[0]: overload: factors must be in (1, 10]"},
		{"absurd overload", base + servers + open64 + "overload = [11]\n", "scenarios[0]: overload: factors must be in (1, 10]"},
		{"negative scenario timeout", base + servers + closed + "msg_timeout = \"-1s\"\n", "scenarios[0]: msg_timeout: must be 0"},
		{"scenario timeout too long", base + servers + closed + "msg_timeout = \"11m\"\n", "scenarios[0]: msg_timeout: must be 0"},
		{"unknown network", base + "network = \"veth\"\n" + servers + closed, `network: must be "loopback" or "netns", got "veth"`},
		{"rtt on loopback", base + "rtt = \"10ms\"\n" + servers + closed, `rtt: needs network = "netns"`},
		{"loss on loopback", base + "network = \"loopback\"\nloss = 0.01\n" + servers + closed, `loss: needs network = "netns"`},
		{"negative rtt", base + "network = \"netns\"\nrtt = \"-1ms\"\n" + servers + closed, "rtt: must be in [0, 10s]"},
		{"huge rtt", base + "network = \"netns\"\nrtt = \"11s\"\n" + servers + closed, "rtt: must be in [0, 10s]"},
		{"loss of everything", base + "network = \"netns\"\nloss = 1.0\n" + servers + closed, "loss: must be a fraction in [0, 1)"},
		{"negative loss", base + "network = \"netns\"\nloss = -0.1\n" + servers + closed, "loss: must be a fraction in [0, 1)"},
		{"netns with source ips", base + "network = \"netns\"\n" + servers + closed + "source_ips = \"127.0.0.2\"\n", "scenarios[0]: source_ips: loopback sources cannot reach the server namespace"},
		{"remote host name", base + "allow_remote = true\n[[servers]]\nmodel = \"epoll\"\naddr = \"example.com:80\"\n" + closed, "servers[0]: addr: \"example.com:80\": the host must be an IP literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.file), testChecker())
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			// The command makes it a usage error (exit status 2).
			if ce := (*Error)(nil); !errors.As(err, &ce) {
				t.Errorf("%v is not a *config.Error", err)
			}
		})
	}
}

// The network keys: netns with an emulated round trip and loss, and
// allow_remote letting a server's addr leave loopback.
func TestDecodeNetwork(t *testing.T) {
	t.Parallel()
	const rest = "[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n"
	c, err := Decode([]byte("duration = \"1s\"\nnetwork = \"netns\"\nrtt = \"10ms\"\nloss = 0.01\n"+rest), testChecker())
	if err != nil {
		t.Fatal(err)
	}
	if c.Network != NetworkNetns || c.RTT.Duration != 10*time.Millisecond || c.Loss != 0.01 || c.AllowRemote {
		t.Errorf("network %q, rtt %v, loss %v, allow_remote %v", c.Network, c.RTT.Duration, c.Loss, c.AllowRemote)
	}
	c, err = Decode([]byte("duration = \"1s\"\n"+rest), testChecker())
	if err != nil || c.Network != NetworkLoopback {
		t.Fatalf("default network: %v, %v", c, err)
	}
	remote := "duration = \"1s\"\nallow_remote = true\n[[servers]]\nmodel = \"epoll\"\naddr = \"192.0.2.7:9000\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n"
	if c, err = Decode([]byte(remote), testChecker()); err != nil || !c.AllowRemote || c.Servers[0].Addr != "192.0.2.7:9000" {
		t.Fatalf("allow_remote with a remote addr: %+v, %v", c, err)
	}
	if _, err := Decode([]byte(strings.Replace(remote, "allow_remote = true\n", "", 1)), testChecker()); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("a remote addr without allow_remote: %v", err)
	}
}

func TestLoadCapsBeforeParsing(t *testing.T) {
	t.Parallel()
	// A deeply nested array would overflow the parser's stack; the cap
	// must reject it before the parser runs.
	p := filepath.Join(t.TempDir(), "deep.toml")
	if err := os.WriteFile(p, []byte("a = "+strings.Repeat("[", MaxFileBytes+10)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(p, testChecker()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load = %v, want size error", err)
	}
}

func TestCPUList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		n       int
		want    []int
		wantErr bool
	}{
		{"0", 2, []int{0}, false},
		{"1", 2, []int{1}, false},
		{"0-3,6", 8, []int{0, 1, 2, 3, 6}, false},
		{"3,1,1", 8, []int{1, 3}, false},
		{"2", 2, nil, true},
		{"", 2, nil, true},
		{"a", 2, nil, true},
		{"3-1", 8, nil, true},
		{"-1", 8, nil, true},
		{"0,", 8, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseCPUList(tt.in, tt.n)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCPUList(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr {
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCPUList(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if back, _ := ParseCPUList(FormatCPUList(got), tt.n); !reflect.DeepEqual(back, got) {
				t.Errorf("FormatCPUList(%v) = %q does not round-trip", got, FormatCPUList(got))
			}
		}
	}
	if got := FormatCPUList([]int{0, 1, 2, 5, 7, 8}); got != "0-2,5,7-8" {
		t.Errorf("FormatCPUList = %q", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:0": true, "127.9.9.9:80": true, "[::1]:0": true, "localhost:1": true,
		"0.0.0.0:0": false, "[::]:0": false, ":0": false, "192.168.1.1:0": false, "127.0.0.1": false,
		"127.0.0.1:99999": false,
	} {
		if err := CheckLoopback(addr); (err == nil) != ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("duration = \"1s\"\n[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"open\"\nconns = [1]\nsizes = [1]\nload = [1.0]\n"))
	f.Add([]byte("a = [[[[1]]]]"))
	f.Add([]byte("[servers]\nx = 1"))
	ck := testChecker()
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Keep inputs small: the nesting crash is guarded by the size cap,
		// which TestLoadCapsBeforeParsing covers.
		if len(raw) > 4096 {
			return
		}
		c, err := Decode(raw, ck)
		if err != nil {
			return
		}
		// Whatever decodes must satisfy the invariants the runner relies on.
		if c.Duration.Duration <= 0 || c.Repeats < 1 || len(c.Servers) == 0 || len(c.Families) == 0 {
			t.Fatalf("accepted an invalid config: %+v", c)
		}
		for _, sc := range c.Families {
			if len(sc.Depth) == 0 || len(sc.Conns) == 0 || len(sc.Sizes) == 0 {
				t.Fatalf("accepted an empty scenario: %+v", sc)
			}
			for _, n := range sc.Conns {
				if n < 1 || n+FDHeadroom > ck.MaxFiles {
					t.Fatalf("accepted conns %d", n)
				}
			}
			open := len(sc.Load)+len(sc.RatesMsgsPerSec)+len(sc.Overload) > 0
			if (sc.Mode == ModeOpen) != open || (len(sc.Load) > 0 && len(sc.RatesMsgsPerSec) > 0) {
				t.Fatalf("accepted load fractions %v, rates %v, overload %v for mode %q", sc.Load, sc.RatesMsgsPerSec, sc.Overload, sc.Mode)
			}
			for _, r := range sc.RatesMsgsPerSec {
				if r/float64(slices.Min(sc.Conns)*slices.Min(sc.Depth)) > MaxRatePerSlotMsgsPerSec {
					t.Fatalf("accepted rate %v over conns %v, depth %v", r, sc.Conns, sc.Depth)
				}
			}
		}
		for _, s := range c.Servers {
			if CheckAddr(s.Addr, c.AllowRemote) != nil || (!c.AllowRemote && CheckLoopback(s.Addr) != nil) {
				t.Fatalf("accepted addr %q (allow_remote %v)", s.Addr, c.AllowRemote)
			}
		}
		if (c.Network != NetworkLoopback && c.Network != NetworkNetns) || (c.Network != NetworkNetns && (c.RTT.Duration != 0 || c.Loss != 0)) {
			t.Fatalf("accepted network %q with rtt %v and loss %v", c.Network, c.RTT.Duration, c.Loss)
		}
	})
}
