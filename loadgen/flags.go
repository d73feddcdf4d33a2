package loadgen

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"echobench/internal/argv"
)

// The flags of `echobench load` are Config's fields, declared once in Flags.
// That one table serves both sides of the process boundary: the command and
// the orchestrator's test fake parse with it (ParseArgs), the orchestrator
// builds argv with it (Config.Args). TestArgsRoundTrip keeps every field of
// Config in the table.

// CommandDefaults is the Config that `echobench load` starts from before its
// flags apply: what its --help shows. Fields left zero here take the
// defaults of WithDefaults (Workers: the usable CPUs; SlowReadBytesPerSec:
// DefaultSlowReadBytesPerSec once there are slow readers).
func CommandDefaults() Config {
	return Config{
		Conns:          1,
		SizeBytes:      64,
		Duration:       5 * time.Second,
		Warmup:         time.Second,
		Mode:           Closed,
		Depth:          DefaultDepth,
		Timeout:        DefaultTimeout,
		ConnectTimeout: DefaultConnectTimeout,
	}
}

// Flags is every Config flag of `echobench load`, in argv order.
var Flags = argv.Table[Config]{
	{Name: "addr", Usage: "server `host:port`, an IP literal (loopback only unless --allow-remote; required)",
		Value: func(c *Config) flag.Value { return (*argv.String)(&c.Addr) }},
	{Name: "allow-remote", Usage: "allow --addr and --source-ips beyond loopback (your own hosts, or a run's network namespaces)",
		Value: func(c *Config) flag.Value { return (*argv.Bool)(&c.AllowRemote) }},
	{Name: "conns", Usage: "concurrent connections",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.Conns) }},
	{Name: "size", Usage: "message size in `bytes`",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.SizeBytes) }},
	{Name: "duration", Usage: "measured window", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Duration)(&c.Duration) }},
	{Name: "warmup", Usage: "warm-up before the window, excluded from every figure",
		Value: func(c *Config) flag.Value { return (*argv.Duration)(&c.Warmup) }},
	{Name: "mode", Usage: "closed or open",
		Value: func(c *Config) flag.Value { return (*modeValue)(&c.Mode) }},
	{Name: "depth", Usage: "most messages in flight per connection", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.Depth) }},
	{Name: "rate", Usage: "open loop: total target rate in `msgs/s` (required for --mode open)",
		Value: func(c *Config) flag.Value { return (*argv.Float)(&c.RateMsgsPerSec) }},
	{Name: "timeout", Usage: "a message slower than this is timed out", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Duration)(&c.Timeout) }},
	{Name: "connect-timeout", Usage: "bound on each connection attempt", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Duration)(&c.ConnectTimeout) }},
	{Name: "source-ips", Usage: "loopback source `addresses` to bind, e.g. 127.0.0.2-127.0.0.9 or a comma list",
		Value: func(c *Config) flag.Value { return (*sourceIPsValue)(&c.SourceIPs) }},
	{Name: "workers", Usage: "event-loop threads (default: the CPUs this process may use, at most --conns)",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.Workers) }},
	{Name: "idle-conns", Usage: "extra connections held open and silent through the window; each must echo one message at the end",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.IdleConns) }},
	{Name: "slow-readers", Usage: "extra connections that write continuously but read their echo slowly",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.SlowReaders) }},
	{Name: "slow-read-bytes-per-s", Usage: fmt.Sprintf("most `bytes/s` each slow reader reads (default %d with --slow-readers)", DefaultSlowReadBytesPerSec), Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.SlowReadBytesPerSec) }},
	{Name: "conn-lifetime", Usage: "`messages` per connection, then it closes and a new one takes its place (0: the whole window)",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.ConnLifetime) }},
	{Name: "connect-burst", Usage: "extra connections that all connect at the start of the window, echo one message and close",
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.ConnectBurst) }},
	{Name: "start-at", Usage: "start the measured window at this wall-clock `time` (RFC 3339, e.g. 2026-11-27T15:00:00.5Z): connect and warm up before it; a start barrier for several generators",
		Value: func(c *Config) flag.Value { return (*argv.Time)(&c.StartAt) }},
}

// Args returns the flags (without the command) that make `echobench load`
// run c: every field that is set (zero means "the default" in Config) and
// differs from CommandDefaults. ParseArgs(nil, c.Args()) returns c for every
// c whose fields are all set; a zero field comes back as the command's
// default.
func (c Config) Args() []string { return Flags.Args(c, CommandDefaults()) }

// ParseArgs parses the Config flags of `echobench load` from args, starting
// from CommandDefaults. The command's own flags (--json, --hdr-out) are the
// caller's to bind on fs first; nil fs means a silent set of its own. Errors
// from Config's flags are *ConfigError.
func ParseArgs(fs *flag.FlagSet, args []string) (Config, error) {
	if fs == nil {
		fs = flag.NewFlagSet("load", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
	}
	c := CommandDefaults()
	Flags.Register(fs, &c)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() != 0 {
		return Config{}, configErrorf("unexpected arguments %q", fs.Args())
	}
	if err := Flags.CheckPositive(fs, &c); err != nil {
		return Config{}, &ConfigError{Msg: err.Error()}
	}
	return c, nil
}

type modeValue Mode

func (v *modeValue) String() string     { return string(*v) }
func (v *modeValue) Set(s string) error { *v = modeValue(s); return nil }

// sourceIPsValue writes the addresses as a comma list, which
// ParseSourceIPs reads back.
type sourceIPsValue []netip.Addr

func (v *sourceIPsValue) String() string {
	if v == nil {
		return ""
	}
	parts := make([]string, len(*v))
	for i, ip := range *v {
		parts[i] = ip.String()
	}
	return strings.Join(parts, ",")
}

func (v *sourceIPsValue) Set(s string) error {
	ips, err := parseSourceIPs(s, true)
	if err != nil {
		return err
	}
	*v = ips
	return nil
}
