// Package config decodes and validates the matrix file that `echobench run`
// executes: which servers, which loads, how long, how many repeats.
//
// Decoding is strict: an unknown key is an error naming it, the file is capped
// at MaxFileBytes before the TOML parser sees it (a deeply nested file
// overflows the parser's stack, which cannot be recovered), and every value is
// checked before anything starts, so a typo never costs a half-finished run.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"echobench/bench/netns"
	"echobench/loadgen"
	"echobench/servers"
)

// MaxFileBytes caps a matrix file. Real ones are a few KiB.
const MaxFileBytes = 1 << 20

// FDHeadroom is the number of descriptors a server or load generator needs
// beyond one per connection: listener, epoll, pipes, runtime files.
const FDHeadroom = 64

// Defaults applied by Decode to keys the file leaves out.
const (
	DefaultRepeats       = 3
	DefaultSLOP99        = 10 * time.Millisecond
	DefaultSLOCompletion = 0.999
	DefaultSLOSteps      = 3
	DefaultReadyTimeout  = 10 * time.Second
	DefaultAddr          = "127.0.0.1:0"
	// DefaultSlowReadBytesPerSec is the load generator's default.
	DefaultSlowReadBytesPerSec = 64 << 10
	// MaxSlowReadBytesPerSec is the load generator's bound.
	MaxSlowReadBytesPerSec = 1 << 30
	// MaxLoadFraction bounds an open-loop fraction of capacity: far beyond
	// saturation every figure is the same overload. It bounds overload
	// factors too.
	MaxLoadFraction = 10.0
	// MaxRatePerSlotMsgsPerSec bounds an absolute rate per message slot
	// (rate / (conns x depth)): one connection at depth 1 turns around at
	// most ~16k msgs/s on loopback (wake-up bound), so a slot asked for more
	// than a quarter of that queues messages in the client, and the latency
	// measured is the client's queue, not the server.
	MaxRatePerSlotMsgsPerSec = 4000
)

// Values of network.
const (
	NetworkLoopback = "loopback"
	NetworkNetns    = "netns"
)

// Modes of a scenario.
const (
	ModeClosed = "closed"
	ModeOpen   = "open"
)

// Duration is a time.Duration written as a Go duration string ("1.5s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Config is a decoded, validated matrix file. See docs/bench.md for every key.
type Config struct {
	// Duration is the measured window of each point.
	Duration Duration `toml:"duration"`
	// Warmup precedes each window; nothing in it is measured.
	Warmup Duration `toml:"warmup"`
	// Repeats is how many times every point runs (interleaved).
	Repeats int `toml:"repeats"`
	// Seed fixes the shuffle of the model order per repeat. Zero means "pick
	// one from the clock"; the one used is recorded in the run's env.json.
	Seed int64 `toml:"seed"`
	// ServerCPUs and ClientCPUs are CPU lists ("0", "2-3,6"); empty means
	// the default (server 0, client 1) or the command-line flags.
	ServerCPUs string `toml:"server_cpus"`
	ClientCPUs string `toml:"client_cpus"`
	// ReadyTimeout bounds the wait for a server's LISTENING line.
	ReadyTimeout Duration `toml:"ready_timeout"`
	// MsgTimeout, when set, is passed to the load generator as --timeout:
	// how long a message may take before it counts as timed out.
	MsgTimeout Duration `toml:"msg_timeout"`
	// SLOP99 and SLOCompletion define the latency objective of the SLO
	// search: the highest open-loop rate whose p99 stays at or under SLOP99
	// with a completion ratio of at least SLOCompletion.
	SLOP99        Duration `toml:"slo_p99"`
	SLOCompletion float64  `toml:"slo_completion"`
	// SLOSteps is the number of bisection steps per model and open-loop
	// group in each repeat; 0 turns the search off. Pointer so that an
	// explicit 0 differs from "not set".
	SLOSteps *int `toml:"slo_steps"`

	// Network is the path between load generator and server: NetworkLoopback
	// (default) or NetworkNetns, where the run puts the server and the load
	// in network namespaces of their own joined by veth pairs.
	Network string `toml:"network"`
	// RTT and Loss emulate a round trip and a loss rate with netem on the
	// server's side of each veth pair (network = "netns" only; the host's
	// kernel must have sch_netem, which the runner checks).
	RTT  Duration `toml:"rtt"`
	Loss float64  `toml:"loss"`
	// AllowRemote lets a server listen, and the load connect, beyond
	// loopback (servers' addr may then be any IP literal): for a user's
	// own hosts. Namespace addresses need no opt-in.
	AllowRemote bool `toml:"allow_remote"`

	// Servers are the [[servers]] entries; Families the [[scenarios]]
	// entries, each a family of points.
	Servers  []ServerEntry `toml:"servers"`
	Families []Family      `toml:"scenarios"`
}

// ServerEntry is one [[servers]] entry of the matrix file, as written: a Go
// model, a foreign stack known to servers/external, or any command that
// honours the server contract. The runner resolves it into a bench.Target.
type ServerEntry struct {
	// Model names a Go model (`echobench serve MODEL`) or a foreign stack.
	Model string `toml:"model"`
	// Name is the display name; it defaults to Model and is required with
	// Command. Unique within a file.
	Name string `toml:"name"`
	// Command is the full argv of a server honouring the contract; the
	// orchestrator appends --addr and --loops (and --max-pending if set).
	Command []string `toml:"command"`
	// Addr is passed as --addr; it must be a loopback address.
	Addr string `toml:"addr"`
	// Loops is passed as --loops; 0 means the number of server CPUs.
	Loops int `toml:"loops"`
	// Procs is passed as --procs: the server processes of a foreign stack
	// (0 means the number of server CPUs, so that N cores get N processes
	// as a Go model gets N loops) or of a command (passed only when set).
	// A Go model runs in one process: it refuses more than 1.
	Procs int `toml:"procs"`
	// MaxPending is passed as --max-pending when set (bytes).
	MaxPending int `toml:"max_pending"`
	// Env adds environment variables (e.g. MALLOC_TRIM_THRESHOLD_).
	Env map[string]string `toml:"env"`
}

// FamilySLOSteps is the number of SLO bisection steps an open-loop family
// runs per repeat: slo_steps when it has load fractions or absolute rates
// (they bracket the search), none for a family of overload factors alone.
func (c *Config) FamilySLOSteps(f Family) int {
	if f.Mode != ModeOpen || len(f.Load)+len(f.RatesMsgsPerSec) == 0 || c.SLOSteps == nil {
		return 0
	}
	return *c.SLOSteps
}

// DisplayName is Name, or Model when Name is empty.
func (s ServerEntry) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Model
}

// Family is one [[scenarios]] entry: a family of points, the cross product
// of its lists. The plan expands each into points, each with a
// results.Scenario.
type Family struct {
	// Mode is "closed" or "open".
	Mode  string `toml:"mode"`
	Conns []int  `toml:"conns"`
	Sizes []int  `toml:"sizes"`
	// Depth is the messages kept in flight per connection (closed loop) or
	// allowed in flight (open loop). Default [1].
	Depth []int `toml:"depth"`
	// Load lists the open-loop rates as fractions of the closed-loop
	// capacity measured for each model (a sweep: each model at its own
	// rates); open mode only.
	Load []float64 `toml:"load"`
	// RatesMsgsPerSec lists absolute open-loop rates (msgs/s in total),
	// the same for every model, so the client does the same work whatever
	// the server; open mode only, exclusive with Load.
	RatesMsgsPerSec []float64 `toml:"rates"`
	// Overload lists factors above 1 of each model's reference rate (the
	// most it completed per second at the same load earlier in the repeat,
	// see results.Scenario.ReferenceMsgsPerSec): who keeps answering under
	// overload; open mode only. An open-loop scenario needs at least one of
	// Load, RatesMsgsPerSec and Overload.
	Overload []float64 `toml:"overload"`
	// MsgTimeout, when set, overrides the top-level msg_timeout for every
	// point of this scenario (and is part of their PointIDs): under
	// overload, a timeout a client would really use (100 ms) is what
	// "answered" means.
	MsgTimeout Duration `toml:"msg_timeout"`
	// SourceIPs is passed to the load generator as --source-ips, to spread
	// many connections over several loopback source addresses (each source
	// address has its own 28k ephemeral ports): "127.0.0.2-127.0.0.9" or a
	// comma list.
	SourceIPs string `toml:"source_ips"`
	// IdleConns and SlowReaders are matrix dimensions like Conns: extra
	// connections the load holds beside the active ones (silent to the end,
	// or writing continuously and reading slowly). Default [0].
	IdleConns   []int `toml:"idle_conns"`
	SlowReaders []int `toml:"slow_readers"`
	// SlowReadBytesPerSec is how fast each slow reader reads its echo.
	// Default DefaultSlowReadBytesPerSec.
	SlowReadBytesPerSec int `toml:"slow_read_bytes_per_s"`
	// Work is a matrix dimension: what the server's handler does per
	// request (the server contract's --work SPEC: "none", "cpu:20us",
	// "wait:10ms", "block:1ms:exp"), each the server's --request-size
	// being the point's size. Default ["none"]; after Decode every spec
	// is in its canonical form ("cpu:20µs").
	Work []string `toml:"work"`

	// ConnLifetime and ConnectBurst are dimensions too: messages per
	// connection before it is replaced (0: the whole window; load
	// --conn-lifetime), and extra connections that all connect at the start
	// of the window, echo one message and close (load --connect-burst).
	// Default [0].
	ConnLifetime []int `toml:"conn_lifetime"`
	ConnectBurst []int `toml:"connect_burst"`

	// LoadProcs is how many load generator processes run each point of
	// the family (default 1): each gets an equal share of the connections,
	// the rate, the extra connections and the client CPUs (so at most one
	// per client CPU), all start their window at one instant (load
	// --start-at), and the record holds their exact merge.
	LoadProcs int `toml:"load_procs"`
}

// Error is a matrix file that cannot run as written: it does not parse, or a
// key has a value validation refuses (the message names the key). The
// command reports it as a usage error (exit status 2); a file that cannot
// be read is not one.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Checker supplies what validation needs from the world, so that tests can
// run it without a real registry or PATH.
type Checker struct {
	// IsGoModel reports whether name is a Go model of `echobench serve`.
	IsGoModel func(name string) bool
	// IsStack reports whether name is a foreign stack known to
	// servers/external (available or not: availability is checked later and
	// turns into skipped records, not a config error).
	IsStack func(name string) bool
	// LookPath resolves a command; exec.LookPath in production.
	LookPath func(file string) (string, error)
	// MaxFiles is the per-process open-file limit that children get.
	MaxFiles int
	// NumCPU is the number of CPUs this process may use.
	NumCPU int
}

// Load reads and decodes the file at path (see Decode).
func Load(path string, ck Checker) (*Config, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	// Read one byte past the cap so an oversized file is detected without
	// reading all of it.
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := Decode(raw, ck)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, raw, nil
}

// Decode parses raw as a matrix file, applies defaults and validates it.
// Every error it returns is an *Error.
func Decode(raw []byte, ck Checker) (*Config, error) {
	c, err := decode(raw, ck)
	if err != nil {
		return nil, &Error{err}
	}
	return c, nil
}

func decode(raw []byte, ck Checker) (*Config, error) {
	if len(raw) > MaxFileBytes {
		return nil, fmt.Errorf("file is larger than %d bytes", MaxFileBytes)
	}
	if err := checkNesting(raw); err != nil {
		return nil, err
	}
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(raw)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown key %q (known keys are listed in docs/bench.md)", strings.Join(keys, `", "`))
	}
	c.applyDefaults()
	if err := c.Validate(ck); err != nil {
		return nil, err
	}
	c.canonicalize()
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.Repeats == 0 {
		c.Repeats = DefaultRepeats
	}
	if c.SLOP99.Duration == 0 {
		c.SLOP99.Duration = DefaultSLOP99
	}
	if c.SLOCompletion == 0 {
		c.SLOCompletion = DefaultSLOCompletion
	}
	if c.SLOSteps == nil {
		n := DefaultSLOSteps
		c.SLOSteps = &n
	}
	if c.ReadyTimeout.Duration == 0 {
		c.ReadyTimeout.Duration = DefaultReadyTimeout
	}
	if c.Network == "" {
		c.Network = NetworkLoopback
	}
	for i := range c.Servers {
		if c.Servers[i].Addr == "" {
			c.Servers[i].Addr = DefaultAddr
		}
	}
	for i := range c.Families {
		sc := &c.Families[i]
		if len(sc.Depth) == 0 {
			sc.Depth = []int{1}
		}
		if len(sc.IdleConns) == 0 {
			sc.IdleConns = []int{0}
		}
		if len(sc.SlowReaders) == 0 {
			sc.SlowReaders = []int{0}
		}
		if len(sc.ConnLifetime) == 0 {
			sc.ConnLifetime = []int{0}
		}
		if len(sc.ConnectBurst) == 0 {
			sc.ConnectBurst = []int{0}
		}
		if sc.SlowReadBytesPerSec == 0 {
			sc.SlowReadBytesPerSec = DefaultSlowReadBytesPerSec
		}
		if len(sc.Work) == 0 {
			sc.Work = []string{WorkNone}
		}
	}
}

// Validate checks every value and returns the first problem, naming the key.
func (c *Config) Validate(ck Checker) error {
	if c.Duration.Duration <= 0 {
		return errors.New("duration: must be set and positive (e.g. \"2s\")")
	}
	if c.Warmup.Duration < 0 {
		return errors.New("warmup: must not be negative")
	}
	if c.Repeats < 1 {
		return fmt.Errorf("repeats: must be at least 1, got %d", c.Repeats)
	}
	if c.ReadyTimeout.Duration <= 0 {
		return errors.New("ready_timeout: must be positive")
	}
	if c.MsgTimeout.Duration < 0 {
		return errors.New("msg_timeout: must not be negative")
	}
	if c.SLOP99.Duration <= 0 {
		return errors.New("slo_p99: must be positive")
	}
	if !(c.SLOCompletion > 0 && c.SLOCompletion <= 1) {
		return fmt.Errorf("slo_completion: must be in (0, 1], got %v", c.SLOCompletion)
	}
	if *c.SLOSteps < 0 || *c.SLOSteps > 20 {
		return fmt.Errorf("slo_steps: must be 0..20, got %d", *c.SLOSteps)
	}
	if c.ServerCPUs != "" {
		if _, err := ParseCPUList(c.ServerCPUs, ck.NumCPU); err != nil {
			return fmt.Errorf("server_cpus: %w", err)
		}
	}
	if c.ClientCPUs != "" {
		if _, err := ParseCPUList(c.ClientCPUs, ck.NumCPU); err != nil {
			return fmt.Errorf("client_cpus: %w", err)
		}
	}
	if err := c.validateNetwork(); err != nil {
		return err
	}
	if len(c.Servers) == 0 {
		return errors.New("servers: at least one [[servers]] entry is needed")
	}
	names := map[string]int{}
	for i, s := range c.Servers {
		if err := s.validate(ck, c.AllowRemote); err != nil {
			return fmt.Errorf("servers[%d]: %w", i, err)
		}
		if j, dup := names[s.DisplayName()]; dup {
			return fmt.Errorf("servers[%d]: name %q is also used by servers[%d]; set a distinct name", i, s.DisplayName(), j)
		}
		names[s.DisplayName()] = i
	}
	if len(c.Families) == 0 {
		return errors.New("scenarios: at least one [[scenarios]] entry is needed")
	}
	for i, sc := range c.Families {
		if err := sc.validate(ck); err != nil {
			return fmt.Errorf("scenarios[%d]: %w", i, err)
		}
		if sc.SourceIPs != "" && c.Network == NetworkNetns {
			return fmt.Errorf("scenarios[%d]: source_ips: loopback sources cannot reach the server namespace with network = %q; leave source_ips out", i, NetworkNetns)
		}
	}
	return c.checkBounds()
}

// validateNetwork checks network, rtt and loss. Whether this host can
// honour them (namespaces, sch_netem) is the runner's to check.
func (c *Config) validateNetwork() error {
	switch c.Network {
	case NetworkLoopback, NetworkNetns:
	default:
		return fmt.Errorf("network: must be %q or %q, got %q", NetworkLoopback, NetworkNetns, c.Network)
	}
	if c.RTT.Duration < 0 || c.RTT.Duration > netns.MaxRTT {
		return fmt.Errorf("rtt: must be in [0, %v], got %v", netns.MaxRTT, c.RTT.Duration)
	}
	if !(c.Loss >= 0 && c.Loss < 1) { // NaN too
		return fmt.Errorf("loss: must be a fraction in [0, 1), got %v", c.Loss)
	}
	if c.Network != NetworkNetns {
		// netem on lo would delay both directions: the round trip would
		// be twice the configured one.
		if c.RTT.Duration > 0 {
			return fmt.Errorf("rtt: needs network = %q (netem on the server's side of a veth pair; on loopback it would delay both directions)", NetworkNetns)
		}
		if c.Loss > 0 {
			return fmt.Errorf("loss: needs network = %q (netem on the server's side of a veth pair)", NetworkNetns)
		}
	}
	return nil
}

func (s ServerEntry) validate(ck Checker, allowRemote bool) error {
	switch {
	case s.Model == "" && len(s.Command) == 0:
		return errors.New("needs model = \"NAME\" or name + command = [...]")
	case s.Model != "" && len(s.Command) > 0:
		return errors.New("model and command are exclusive: a command is not a model")
	case len(s.Command) > 0 && s.Name == "":
		return errors.New("name: required with command")
	}
	if s.Name != "" && !validName(s.Name) {
		return fmt.Errorf("name: %q must be letters, digits, '-', '_' or '.'", s.Name)
	}
	if s.Model != "" {
		goModel := ck.IsGoModel != nil && ck.IsGoModel(s.Model)
		stack := ck.IsStack != nil && ck.IsStack(s.Model)
		if !goModel && !stack {
			return fmt.Errorf("model: unknown model %q (not a Go model nor a foreign stack)", s.Model)
		}
		if !validName(s.Model) {
			return fmt.Errorf("model: %q must be letters, digits, '-', '_' or '.'", s.Model)
		}
	}
	if len(s.Command) > 0 {
		if s.Command[0] == "" {
			return errors.New("command: the program is empty")
		}
		look := ck.LookPath
		if look == nil {
			return errors.New("command: no way to resolve programs")
		}
		if _, err := look(s.Command[0]); err != nil {
			return fmt.Errorf("command: program %q not found: %w", s.Command[0], err)
		}
	}
	if err := CheckAddr(s.Addr, allowRemote); err != nil {
		return fmt.Errorf("addr: %w", err)
	}
	if s.Loops < 0 {
		return fmt.Errorf("loops: must not be negative, got %d", s.Loops)
	}
	if s.MaxPending < 0 {
		return fmt.Errorf("max_pending: must not be negative, got %d", s.MaxPending)
	}
	if err := s.validateProcs(ck); err != nil {
		return err
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env: invalid variable name %q", k)
		}
	}
	return nil
}

// validateProcs bounds procs, and refuses it for a Go model, which runs in
// one process and scales with loops instead.
func (s ServerEntry) validateProcs(ck Checker) error {
	switch {
	case s.Procs < 0 || s.Procs > servers.MaxProcs:
		return fmt.Errorf("procs: must be 0 (the number of server CPUs) to %d, got %d", servers.MaxProcs, s.Procs)
	case s.Procs > 1 && s.Model != "" && ck.IsGoModel != nil && ck.IsGoModel(s.Model):
		return fmt.Errorf("procs: %s is a Go model, which runs in one process and scales with loops (and GOMAXPROCS, the number of server CPUs); procs is for foreign stacks and commands", s.Model)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

func (sc Family) validate(ck Checker) error {
	if err := sc.validateMode(); err != nil {
		return err
	}
	if sc.MsgTimeout.Duration < 0 || sc.MsgTimeout.Duration > MaxTimeout {
		return fmt.Errorf("msg_timeout: must be 0 (the top-level one) up to %v, got %v", MaxTimeout, sc.MsgTimeout.Duration)
	}
	if len(sc.Conns) == 0 {
		return errors.New("conns: at least one connection count is needed")
	}
	if len(sc.Sizes) == 0 {
		return errors.New("sizes: at least one message size is needed")
	}
	for _, n := range sc.IdleConns {
		if n < 0 {
			return fmt.Errorf("idle_conns: must not be negative, got %d", n)
		}
	}
	for _, n := range sc.SlowReaders {
		if n < 0 {
			return fmt.Errorf("slow_readers: must not be negative, got %d", n)
		}
	}
	if sc.SlowReadBytesPerSec < 0 || sc.SlowReadBytesPerSec > MaxSlowReadBytesPerSec {
		return fmt.Errorf("slow_read_bytes_per_s: must be 1..%d, got %d", MaxSlowReadBytesPerSec, sc.SlowReadBytesPerSec)
	}
	// Each count alone first, so that no sum below can overflow.
	for _, l := range []struct {
		key string
		ns  []int
	}{{"conns", sc.Conns}, {"idle_conns", sc.IdleConns}, {"slow_readers", sc.SlowReaders}, {"connect_burst", sc.ConnectBurst}, {"conn_lifetime", sc.ConnLifetime}} {
		for _, n := range l.ns {
			if n > 1<<30 {
				return fmt.Errorf("%s: %d is beyond any open-file limit", l.key, n)
			}
		}
	}
	if err := sc.validateChurn(ck); err != nil {
		return err
	}
	if err := sc.validateLoadProcs(ck); err != nil {
		return err
	}
	if err := sc.validateConns(ck); err != nil {
		return err
	}
	// The load generator's own limits, so that a point is refused here
	// rather than after its server started (bench also runs the load
	// generator's whole validation on every point before the run).
	for _, n := range sc.Sizes {
		if n < 1 || n > loadgen.MaxSizeBytes {
			return fmt.Errorf("sizes: must be 1 byte to %d MiB, got %d", loadgen.MaxSizeBytes>>20, n)
		}
	}
	for _, n := range sc.Depth {
		if n < 1 || n > loadgen.MaxDepth {
			return fmt.Errorf("depth: must be 1..%d, got %d", loadgen.MaxDepth, n)
		}
	}
	if err := sc.validateRates(); err != nil {
		return err
	}
	if err := sc.checkWork(); err != nil {
		return err
	}
	return checkSourceIPs(sc.SourceIPs)
}

// validateMode checks the mode and the keys that only the open loop takes:
// an open-loop scenario needs load fractions, absolute rates or overload
// factors, and fractions of each model's own capacity and absolute rates
// are two different questions, so one scenario asks one of them.
func (sc Family) validateMode() error {
	switch sc.Mode {
	case ModeClosed:
		for _, k := range []struct {
			key string
			n   int
		}{{"load", len(sc.Load)}, {"rates", len(sc.RatesMsgsPerSec)}, {"overload", len(sc.Overload)}} {
			if k.n > 0 {
				return fmt.Errorf("%s: only open-loop scenarios (mode = %q) take it", k.key, ModeOpen)
			}
		}
	case ModeOpen:
		switch {
		case len(sc.Load) > 0 && len(sc.RatesMsgsPerSec) > 0:
			return errors.New("rates: exclusive with load in one scenario (load is fractions of each model's own capacity, rates the same absolute rates for every model); put them in two [[scenarios]]")
		case len(sc.Load)+len(sc.RatesMsgsPerSec)+len(sc.Overload) == 0:
			return errors.New("load: an open-loop scenario needs load fractions, absolute rates or overload factors, e.g. load = [0.5, 0.9], rates = [20000] or overload = [1.2, 2]")
		}
	default:
		return fmt.Errorf("mode: must be %q or %q, got %q", ModeClosed, ModeOpen, sc.Mode)
	}
	return nil
}

// validateRates bounds the load fractions, overload factors and absolute
// rates, and checks that every connection count and depth of the scenario
// has message slots enough for each absolute rate (see
// MaxRatePerSlotMsgsPerSec). Sizes, conns and depth are checked before.
func (sc Family) validateRates() error {
	for _, f := range sc.Load {
		if !(f > 0 && f <= MaxLoadFraction) {
			return fmt.Errorf("load: fractions must be in (0, %g], got %v", MaxLoadFraction, f)
		}
	}
	for _, f := range sc.Overload {
		if !(f > 1 && f <= MaxLoadFraction) {
			return fmt.Errorf("overload: factors must be in (1, %g] (at or below 1 is not overload: use load), got %v", MaxLoadFraction, f)
		}
	}
	slots := minOf(sc.Conns) * minOf(sc.Depth)
	for _, r := range sc.RatesMsgsPerSec {
		if !(r > 0 && r <= loadgen.MaxRateMsgsPerSec) {
			return fmt.Errorf("rates: must be in (0, %g] msgs/s, got %v", loadgen.MaxRateMsgsPerSec, r)
		}
		if perSlot := r / float64(slots); perSlot > MaxRatePerSlotMsgsPerSec {
			return fmt.Errorf("rates: %g msgs/s over %d connections x depth %d is %.0f msgs/s per connection, above %d: the client would queue messages a connection cannot turn around in time; use at least %d connections or a lower rate",
				r, minOf(sc.Conns), minOf(sc.Depth), perSlot, MaxRatePerSlotMsgsPerSec, int(math.Ceil(r/MaxRatePerSlotMsgsPerSec/float64(minOf(sc.Depth)))))
		}
	}
	return nil
}

// checkSourceIPs parses a source_ips value with the load generator's own
// parser. Their family must match each server's address: bench checks that
// per point with the load generator's validation.
func checkSourceIPs(list string) error {
	if list == "" {
		return nil
	}
	if _, err := loadgen.ParseSourceIPs(list); err != nil {
		return fmt.Errorf("source_ips: %v", err)
	}
	return nil
}

// validateConns checks the connection counts against the file limit:
// server and client each hold one descriptor per connection, idle
// connections and slow readers included.
func (sc Family) validateConns(ck Checker) error {
	maxIdle, maxSlow := maxOf(sc.IdleConns), maxOf(sc.SlowReaders)
	for _, n := range sc.Conns {
		if n < 1 {
			return fmt.Errorf("conns: must be at least 1, got %d", n)
		}
		if total := n + maxIdle + maxSlow; ck.MaxFiles > 0 && total+FDHeadroom > ck.MaxFiles {
			what := fmt.Sprintf("%d connections", n)
			if maxIdle+maxSlow > 0 {
				what = fmt.Sprintf("%d connections + %d idle + %d slow readers", n, maxIdle, maxSlow)
			}
			return fmt.Errorf("conns: %s need %d open files per process, the limit is %d",
				what, total+FDHeadroom, ck.MaxFiles)
		}
	}
	return nil
}

// validateChurn checks conn_lifetime and connect_burst. A burst's
// connections are open at once beside all the others, in the server and
// in the client, so they count against the file limit like conns.
func (sc Family) validateChurn(ck Checker) error {
	for _, n := range sc.ConnLifetime {
		if n < 0 {
			return fmt.Errorf("conn_lifetime: must not be negative (0: the whole window), got %d", n)
		}
	}
	for _, n := range sc.ConnectBurst {
		if n < 0 {
			return fmt.Errorf("connect_burst: must not be negative, got %d", n)
		}
	}
	burst := maxOf(sc.ConnectBurst)
	if burst == 0 || ck.MaxFiles <= 0 {
		return nil
	}
	if total := maxOf(sc.Conns) + maxOf(sc.IdleConns) + maxOf(sc.SlowReaders) + burst; total+FDHeadroom > ck.MaxFiles {
		return fmt.Errorf("connect_burst: %d burst connections beside %d others need %d open files per process, the limit is %d",
			burst, total-burst, total+FDHeadroom, ck.MaxFiles)
	}
	return nil
}

// minOf is the smallest of xs, 1 for none (xs are validated counts).
func minOf(xs []int) int {
	if len(xs) == 0 {
		return 1
	}
	return slices.Min(xs)
}

// MaxLoadProcs bounds load_procs: a share of the client CPUs each, and
// no machine we run on has more CPUs than this.
const MaxLoadProcs = 256

// validateLoadProcs checks load_procs: every generator needs a connection
// of its own, and a CPU of its own (bench checks the client CPUs it was
// given; here the machine's).
func (sc Family) validateLoadProcs(ck Checker) error {
	n := sc.LoadProcs
	switch {
	case n < 0 || n > MaxLoadProcs:
		return fmt.Errorf("load_procs: must be 1..%d (0: one), got %d", MaxLoadProcs, n)
	case n > 1 && ck.NumCPU > 0 && n > ck.NumCPU:
		return fmt.Errorf("load_procs: %d generators need a client CPU each; this machine has %d", n, ck.NumCPU)
	}
	for _, c := range sc.Conns {
		if n > 1 && c < n {
			return fmt.Errorf("load_procs: %d generators need at least one connection each, conns has %d", n, c)
		}
	}
	return nil
}

// maxOf is the largest of xs, 0 for none.
func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// CheckLoopback returns an error unless addr is host:port with a loopback
// host: echobench never puts load on a real network.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: bad port", addr)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		return nil
	}
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8 or ::1)", addr)
	}
	return nil
}

// CheckAddr is CheckLoopback, or with allowRemote any IP literal and port
// (no host name: it would need a DNS query).
func CheckAddr(addr string, allowRemote bool) error {
	if !allowRemote {
		return CheckLoopback(addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: bad port", addr)
	}
	if host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("%q: the host must be an IP literal (no name is looked up)", addr)
	}
	return nil
}

// ParseCPUList parses a Linux CPU list such as "0", "1-3" or "0,2-3" into
// sorted, distinct CPU numbers below numCPU (when numCPU > 0).
func ParseCPUList(s string, numCPU int) ([]int, error) {
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%q: empty element", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q: bad CPU number %q", s, lo)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(hi)
			if err != nil || b < a {
				return nil, fmt.Errorf("%q: bad range %q", s, part)
			}
		}
		if b-a > 4096 {
			return nil, fmt.Errorf("%q: range %q too large", s, part)
		}
		for i := a; i <= b; i++ {
			if numCPU > 0 && i >= numCPU {
				return nil, fmt.Errorf("%q: CPU %d does not exist (this machine has %d)", s, i, numCPU)
			}
			seen[i] = true
		}
	}
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	sort.Ints(out)
	return out, nil
}

// FormatCPUList writes cpus in the compact Linux list form ("0-2,5").
func FormatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
