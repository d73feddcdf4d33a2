package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mode selects how sends are scheduled.
type Mode string

const (
	// Closed keeps Depth messages in flight per connection and starts a new
	// one as soon as one completes; latency runs from the actual send.
	Closed Mode = "closed"
	// Open sends at RateMsgsPerSec spread evenly over the connections;
	// latency runs from each message's intended send time.
	Open Mode = "open"
)

// Limits on the configuration. They bound memory and keep arithmetic exact.
const (
	MaxSizeBytes      = 16 << 20
	MaxDepth          = 4096
	MaxDuration       = 24 * time.Hour
	MaxTimeout        = 10 * time.Minute
	MaxRateMsgsPerSec = 50e6
	MaxSourceIPs      = 256
	// MaxSlowReadBytesPerSec bounds --slow-read-bytes-per-s: a reader that
	// fast is not slow.
	MaxSlowReadBytesPerSec = 1 << 30
	// MaxStartAhead bounds --start-at: the connections wait, open and
	// silent, until the warm-up before it; an hour is far beyond any
	// set-up and catches a wrong date or time zone.
	MaxStartAhead = time.Hour
	// fdReserve is what the process needs besides the sockets: stdio, one
	// epoll, eventfd and timerfd per worker, the Go runtime's own, files.
	fdReserve = 64
)

// Defaults for the zero values of Config.
const (
	DefaultDepth          = 1
	DefaultTimeout        = 2 * time.Second
	DefaultConnectTimeout = 3 * time.Second
	// DefaultSlowReadBytesPerSec is how fast a slow reader reads its echo.
	DefaultSlowReadBytesPerSec = 64 << 10
)

// auxFds is what the idle/slow event loop holds besides its sockets: an
// epoll and an eventfd. The burst loop holds the same.
const (
	auxFds   = 2
	burstFds = 2
)

// Config describes one load run. Zero values mean the documented default.
type Config struct {
	// Addr is the server, "host:port"; the host must be a loopback IP
	// (127.0.0.0/8 or ::1) or "localhost", unless AllowRemote.
	Addr string
	// AllowRemote allows a destination and source addresses beyond
	// loopback: the user's own hosts, or the namespaces of a run with
	// network = "netns". Off, a typo in an address can never send load
	// to someone else's machine.
	AllowRemote bool
	// Conns is the number of concurrent connections.
	Conns int
	// SizeBytes is the message size.
	SizeBytes int
	// Duration is the measured window; Warmup precedes it and is excluded
	// from every figure.
	Duration time.Duration
	Warmup   time.Duration
	// Mode is Closed (default) or Open.
	Mode Mode
	// Depth is the most messages in flight per connection (default 1:
	// request/reply). In open loop, messages that are due while Depth are
	// in flight wait in the client, and that wait counts in their latency.
	Depth int
	// RateMsgsPerSec is the total target rate of the open loop.
	RateMsgsPerSec float64
	// Timeout: a message whose latency exceeds it is timed out, whether it
	// completes late or never. Default DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout bounds each connection attempt. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// SourceIPs, if set, are bound before connecting, round-robin over the
	// connections, so each source/destination pair has its own ephemeral
	// port range. Loopback only.
	SourceIPs []netip.Addr
	// Workers is the number of event-loop goroutines, each locked to an OS
	// thread and owning Conns/Workers connections. Default: the CPUs this
	// process may run on (sched_getaffinity), at most Conns.
	Workers int

	// IdleConns extra connections are opened with the others (same pacing,
	// same source addresses), send nothing during the window and are held
	// to the end, when each must echo one small message within Timeout.
	// They are not part of Intended and never touch the active accounting.
	IdleConns int
	// SlowReaders extra connections write a verified stream continuously
	// (as much as their socket accepts, never blocking) but read their echo
	// at no more than SlowReadBytesPerSec (default
	// DefaultSlowReadBytesPerSec when SlowReaders > 0): they load the
	// server's buffering and test its fairness to the active connections.
	SlowReaders         int
	SlowReadBytesPerSec int

	// ConnLifetime is how many messages a connection carries before it is
	// closed and replaced by a new one (0: it lives through the window).
	// The replacement connects like a reconnect, at most one attempt per
	// slot at a time, so Conns stays the concurrency and no SYN flood
	// arises unless asked for. Closed and open loop alike; in open loop a
	// message due while its slot reconnects waits, and the wait is part of
	// its latency.
	ConnLifetime int
	// ConnectBurst extra connections all start connecting at the start of
	// the window (no pacing: a storm, as when a fleet restarts), each
	// echoes one small message and closes. They live in a loop of their
	// own and never touch the active accounting.
	ConnectBurst int

	// StartAt, when set, is the wall-clock instant the measured window
	// starts: a start barrier for several load generators (on one host or
	// many) whose results `echobench merge` adds up. The connections are
	// made first, the warm-up runs in the Warmup before StartAt (shorter
	// if the set-up ended late), and the window runs [StartAt, StartAt +
	// Duration). A set-up that ends after StartAt fails the run
	// (*StartMissedError). Zero: the window follows the warm-up at once.
	StartAt time.Time

	// measureFromSend is a test-only knob: in open loop, measure latency from
	// the actual send instead of the intended time. It exists to show that the
	// accuracy tests catch coordinated omission.
	measureFromSend bool
}

// ConfigError is a configuration the load generator refuses; the command
// maps it to a usage error.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Mode == "" {
		c.Mode = Closed
	}
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SlowReaders > 0 && c.SlowReadBytesPerSec == 0 {
		c.SlowReadBytesPerSec = DefaultSlowReadBytesPerSec
	}
	if c.Workers == 0 {
		c.Workers = UsableCPUs()
		if c.Conns > 0 && c.Workers > c.Conns {
			c.Workers = c.Conns
		}
	}
	return c
}

// Validate checks c (after WithDefaults) and returns a *ConfigError naming
// the first problem.
func (c Config) Validate() error {
	dst, err := ResolveAddr(c.Addr, c.AllowRemote)
	if err != nil {
		return err
	}
	switch {
	case c.Conns < 1:
		return configErrorf("conns must be at least 1, got %d", c.Conns)
	case c.SizeBytes < 1 || c.SizeBytes > MaxSizeBytes:
		return configErrorf("size must be 1..%d bytes, got %d", MaxSizeBytes, c.SizeBytes)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return configErrorf("duration must be in (0, %v], got %v", MaxDuration, c.Duration)
	case c.Warmup < 0 || c.Warmup > MaxDuration:
		return configErrorf("warmup must be in [0, %v], got %v", MaxDuration, c.Warmup)
	case c.Depth < 1 || c.Depth > MaxDepth:
		return configErrorf("depth must be 1..%d, got %d", MaxDepth, c.Depth)
	case c.Timeout <= 0 || c.Timeout > MaxTimeout:
		return configErrorf("timeout must be in (0, %v], got %v", MaxTimeout, c.Timeout)
	case c.ConnectTimeout <= 0 || c.ConnectTimeout > MaxTimeout:
		return configErrorf("connect-timeout must be in (0, %v], got %v", MaxTimeout, c.ConnectTimeout)
	case c.Workers < 1 || c.Workers > c.Conns:
		return configErrorf("workers must be 1..conns (%d), got %d", c.Conns, c.Workers)
	case c.IdleConns < 0:
		return configErrorf("idle-conns must not be negative, got %d", c.IdleConns)
	case c.SlowReaders < 0:
		return configErrorf("slow-readers must not be negative, got %d", c.SlowReaders)
	case c.SlowReadBytesPerSec < 0 || c.SlowReadBytesPerSec > MaxSlowReadBytesPerSec:
		return configErrorf("slow-read-bytes-per-s must be 1..%d, got %d", MaxSlowReadBytesPerSec, c.SlowReadBytesPerSec)
	case c.ConnLifetime < 0:
		return configErrorf("conn-lifetime must not be negative (0: the whole window), got %d", c.ConnLifetime)
	case c.ConnectBurst < 0:
		return configErrorf("connect-burst must not be negative, got %d", c.ConnectBurst)
	}
	if err := c.checkStartAt(time.Now()); err != nil {
		return err
	}
	switch c.Mode {
	case Closed:
		if c.RateMsgsPerSec != 0 {
			return configErrorf("rate applies to the open loop only; use --mode open")
		}
	case Open:
		if !(c.RateMsgsPerSec > 0) || c.RateMsgsPerSec > MaxRateMsgsPerSec {
			return configErrorf("open loop needs a rate in (0, %g] msgs/s, got %g", MaxRateMsgsPerSec, c.RateMsgsPerSec)
		}
	default:
		return configErrorf("mode must be %q or %q, got %q", Closed, Open, c.Mode)
	}
	if len(c.SourceIPs) > MaxSourceIPs {
		return configErrorf("at most %d source IPs, got %d", MaxSourceIPs, len(c.SourceIPs))
	}
	for _, ip := range c.SourceIPs {
		if !ip.IsLoopback() && !c.AllowRemote {
			return configErrorf("source IP %v is not loopback (127.0.0.0/8 or ::1); pass --allow-remote if you mean it", ip)
		}
		if ip.Is4() != dst.Addr().Is4() {
			return configErrorf("source IP %v is not the same family as %v", ip, dst.Addr())
		}
	}
	return c.checkConnectionBudget()
}

// checkStartAt refuses a start barrier that has passed or is implausibly
// far ahead of now (a wrong date or time zone).
func (c Config) checkStartAt(now time.Time) error {
	if c.StartAt.IsZero() {
		return nil
	}
	at := c.StartAt.UTC().Format(time.RFC3339Nano)
	switch ahead := c.StartAt.Sub(now); {
	case ahead <= 0:
		return configErrorf("start-at %s is in the past (%v ago, by this host's clock); pick an instant after the connections can be made", at, (-ahead).Round(time.Millisecond))
	case ahead > MaxStartAhead:
		return configErrorf("start-at %s is %v ahead, more than %v (by this host's clock): a wrong date or time zone?", at, ahead.Round(time.Second), MaxStartAhead)
	}
	return nil
}

// checkConnectionBudget refuses more connections than the process may open
// (RLIMIT_NOFILE) or than the ephemeral ports of its source addresses allow.
func (c Config) checkConnectionBudget() error {
	limit, err := OpenFileLimit()
	if err != nil {
		return err
	}
	// Each count alone first, so that their sum cannot overflow.
	for _, n := range []struct {
		name  string
		count int
	}{{"conns", c.Conns}, {"idle-conns", c.IdleConns}, {"slow-readers", c.SlowReaders}, {"connect-burst", c.ConnectBurst}} {
		if uint64(n.count) > limit {
			return configErrorf("%s %d is above this process's limit of %d open files (RLIMIT_NOFILE); use fewer connections", n.name, n.count, limit)
		}
	}
	total := c.Conns + c.IdleConns + c.SlowReaders + c.ConnectBurst
	need := total + 3*c.Workers + fdReserve
	if c.IdleConns+c.SlowReaders > 0 {
		need += auxFds
	}
	if c.ConnectBurst > 0 {
		need += burstFds
	}
	if uint64(need) > limit {
		return configErrorf("conns %d + idle-conns %d + slow-readers %d + connect-burst %d need about %d open files, above this process's limit of %d (RLIMIT_NOFILE); use fewer connections",
			c.Conns, c.IdleConns, c.SlowReaders, c.ConnectBurst, need, limit)
	}
	ports := EphemeralPorts()
	sources := max(len(c.SourceIPs), 1)
	if perSource := (total + sources - 1) / sources; perSource > ports {
		return configErrorf("%d connections per source address exceed the %d ephemeral ports; spread them with --source-ips (e.g. 127.0.0.2-127.0.0.9)",
			perSource, ports)
	}
	return nil
}

// ResolveLoopback parses "host:port" and refuses anything but a loopback
// destination. "localhost" means 127.0.0.1.
func ResolveLoopback(addr string) (netip.AddrPort, error) { return ResolveAddr(addr, false) }

// ResolveAddr parses "host:port", an IP literal (no name is looked up;
// "localhost" means 127.0.0.1), and refuses anything but loopback unless
// allowRemote. An unspecified or multicast address is never a server.
func ResolveAddr(addr string, allowRemote bool) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, configErrorf("addr %q: want host:port: %v", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, configErrorf("addr %q: port must be 1..65535", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, configErrorf("addr %q: host must be a loopback IP address or localhost (any IP literal with --allow-remote; no name is looked up)", addr)
	}
	ip = ip.Unmap()
	switch {
	case allowRemote && (ip.IsUnspecified() || ip.IsMulticast()):
		return netip.AddrPort{}, configErrorf("addr %q: an unspecified or multicast address is not a server", addr)
	case !allowRemote && (!ip.IsLoopback() || ip.Zone() != ""):
		return netip.AddrPort{}, configErrorf("addr %q is not loopback: load may only go to 127.0.0.0/8 or ::1 unless --allow-remote", addr)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// ParseSourceIPs parses a comma-separated list of loopback addresses and
// IPv4 ranges such as "127.0.0.2-127.0.0.9".
func ParseSourceIPs(s string) ([]netip.Addr, error) { return parseSourceIPs(s, false) }

// parseSourceIPs is ParseSourceIPs, with any address when allowRemote:
// --source-ips is parsed before --allow-remote is known, so the flag
// parses with it and Validate refuses what --allow-remote does not allow.
func parseSourceIPs(s string, allowRemote bool) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, configErrorf("source IPs %q: %v", part, err)
		}
		b := a
		if isRange {
			if b, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, configErrorf("source IPs %q: %v", part, err)
			}
			if !a.Is4() || !b.Is4() || b.Less(a) {
				return nil, configErrorf("source IPs %q: a range is two IPv4 addresses, low-high", part)
			}
		}
		for ip := a; ; ip = ip.Next() {
			if !ip.IsLoopback() && !allowRemote {
				return nil, configErrorf("source IP %v is not loopback (127.0.0.0/8 or ::1)", ip)
			}
			if len(out) >= MaxSourceIPs {
				return nil, configErrorf("source IPs %q: more than %d addresses", s, MaxSourceIPs)
			}
			out = append(out, ip)
			if ip == b {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, configErrorf("source IPs %q: no address", s)
	}
	return out, nil
}

// UsableCPUs is the number of CPUs this process may run on.
func UsableCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() == 0 {
		return 1
	}
	return set.Count()
}

// OpenFileLimit is the soft RLIMIT_NOFILE of this process.
func OpenFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit nofile: %w", err)
	}
	return rl.Cur, nil
}

// EphemeralPorts is the size of the local port range, 28232 when it cannot be
// read.
func EphemeralPorts() int {
	const fallback = 60999 - 32768 + 1
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fallback
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err := errors.Join(err1, err2); err != nil || hi < lo {
		return fallback
	}
	return hi - lo + 1
}
