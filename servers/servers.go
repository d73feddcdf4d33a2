// Package servers defines the contract every echo server model honours and the
// registry that names them. It knows nothing of measurement: a model only has to
// accept connections and echo every byte, in order, with bounded buffering.
package servers

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sort"

	"echobench/servers/work"
)

// DefaultMaxPendingBytes is the per-connection cap on unsent output when
// Config.MaxPendingBytes is zero. A connection that reaches it stops being read
// until its output drains (or, where a library cannot pause reads, is closed).
const DefaultMaxPendingBytes = 4 << 20

// Config is what every model is started with. The zero value of each field
// means its documented default.
type Config struct {
	// Addr is the TCP address to listen on; port 0 picks a free port.
	// Default "127.0.0.1:0": servers bind loopback unless told otherwise.
	Addr string
	// Loops is the number of event loops (or, for goroutine-per-connection,
	// it is ignored; GOMAXPROCS is set by the caller). Default 1.
	Loops int
	// MaxPendingBytes caps unsent output per connection. Default
	// DefaultMaxPendingBytes.
	MaxPendingBytes int
	// Work is what the handler does per request (docs/servers.md, "Work
	// per request"). Default work.None: plain echo, no framing.
	Work work.Spec
	// RequestSizeBytes frames the stream into requests for Work: each time
	// another RequestSizeBytes of a connection have arrived, that request
	// gets its work, then its bytes are echoed. Required with Work; with
	// work.None it changes nothing. Default 0, unset.
	RequestSizeBytes int
	// Procs is the number of server processes. A foreign stack runs Procs
	// worker processes that share the port (its production idiom:
	// SO_REUSEPORT workers under a supervising parent in Python, a Node
	// cluster), so that on N server CPUs it competes with a Go model's N
	// loops. The Go models run in one process and refuse more than 1.
	// Default 1.
	Procs int
	// Log receives diagnostics. Never stdout: stdout carries only the
	// LISTENING line. Default io.Discard.
	Log io.Writer
}

// Bounds of Config. MaxLoops keeps start-up and shutdown within the
// contract's 2 s (each loop is an epoll instance and a thread); 1024 is far
// beyond any CPU count this tool pins a server to. MaxRequestSizeBytes
// bounds what a model may hold of one unfinished request. MaxProcs bounds
// the interpreters a foreign stack starts at once, each tens of MB and a
// fraction of a second of start-up.
const (
	MaxLoops            = 1024
	MaxMaxPendingBytes  = 1 << 30
	MaxRequestSizeBytes = 16 << 20
	MaxProcs            = 256
)

// Validate checks c (after WithDefaults): bounds, and an address that is an
// IP literal (a host name would need a DNS query) on loopback unless
// allowRemote, since a benchmark server is never meant to be reachable from
// elsewhere by accident.
func (c Config) Validate(allowRemote bool) error {
	switch {
	case c.Loops < 1 || c.Loops > MaxLoops:
		return fmt.Errorf("--loops must be 1..%d, got %d", MaxLoops, c.Loops)
	case c.MaxPendingBytes < 1 || c.MaxPendingBytes > MaxMaxPendingBytes:
		return fmt.Errorf("--max-pending must be 1..%d bytes, got %d", MaxMaxPendingBytes, c.MaxPendingBytes)
	case c.Procs < 1 || c.Procs > MaxProcs:
		return fmt.Errorf("--procs must be 1..%d, got %d", MaxProcs, c.Procs)
	}
	if err := c.validateWork(); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want IP:port, e.g. 127.0.0.1:0 or [::1]:0 (no host names: they would need a DNS query)", c.Addr)
	}
	if ip := ap.Addr().Unmap(); !allowRemote && (!ip.IsLoopback() || ip.Zone() != "") {
		return fmt.Errorf("--addr %s is not loopback (127.0.0.0/8 or ::1): it would accept connections from other hosts; pass --allow-remote if you mean it", c.Addr)
	}
	return nil
}

// validateWork refuses work without a request size to frame it by, and
// request sizes a model should not have to buffer.
func (c Config) validateWork() error {
	if err := c.Work.Validate(); err != nil {
		return err
	}
	switch {
	case c.RequestSizeBytes < 0 || c.RequestSizeBytes > MaxRequestSizeBytes:
		return fmt.Errorf("--request-size must be 1..%d bytes, got %d", MaxRequestSizeBytes, c.RequestSizeBytes)
	case c.Work.Kind != work.None && c.RequestSizeBytes == 0:
		return fmt.Errorf("--work %s needs --request-size (the bytes of one request, 1..%d)", c.Work, MaxRequestSizeBytes)
	}
	return nil
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Loops <= 0 {
		c.Loops = 1
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if c.Procs <= 0 {
		c.Procs = 1
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Server is a running model. Addr is valid as soon as Start returns: the
// listener is bound and accepting. Close stops accepting, closes every
// connection and returns once the model's goroutines have ended; it is safe to
// call more than once.
type Server interface {
	Addr() net.Addr
	Close() error
}

// StartFunc starts a model. It returns only once the server accepts
// connections, or with an error. Cancelling ctx after Start returns has no
// effect; use Server.Close.
type StartFunc func(ctx context.Context, cfg Config) (Server, error)

// Model is one registry entry.
type Model struct {
	// Name is what `echobench serve NAME` takes.
	Name string
	// Doc is a one-line description: the concurrency model and its library.
	Doc string
	// Library is the module path of the library the model is built on
	// ("github.com/panjf2000/gnet/v2"), empty for the standard library and
	// x/sys. Records carry its version, read from this binary's build
	// info, so a result says which release of the library was measured.
	Library string
	// Start starts the model in this process.
	Start StartFunc
	// Probe, when set, says whether the model can run on this host: nil,
	// or what is missing (a kernel feature it needs, absent or disabled
	// here). Such a model is listed as unavailable with that reason and
	// skipped by the conformance suite and by a run, rather than started
	// to fail. Nil means always available.
	Probe func() error
	// WorkKinds are the --work kinds the model implements; nil means it
	// echoes only. `echobench serve` refuses any other kind as a usage
	// error (never fakes it), and the conformance suite runs the work
	// cases of exactly these kinds.
	WorkKinds []work.Kind
	// BlockSerializes says a blocking handler (--work block) stalls every
	// connection of its loop, as on an event loop; false where a handler
	// blocks only its own connection (a goroutine per connection). The
	// conformance case work-block-20-conns asserts whichever it says.
	BlockSerializes bool
	// Limitations maps a conformance case (servertest.CaseNames) to the
	// reason, in the words of the model's package doc, that its library
	// cannot pass it; the suite, under go test and `echobench check`,
	// skips that case with the reason. A key that names no case fails the
	// suite, so a renamed case cannot silently stop being checked.
	Limitations map[string]string
}

// EchoOnly is the refusal of a model that implements no work, for its Start:
// an in-process caller that skips the registry's CheckWork still gets an
// error, never an echo passed off as work.
func EchoOnly(model string, cfg Config) error {
	if cfg.Work.Kind == work.None {
		return nil
	}
	return fmt.Errorf("%s does not implement --work %s: it echoes only (--work none)", model, cfg.Work)
}

// CheckWork refuses a --work kind the model does not implement.
func (m Model) CheckWork(s work.Spec) error {
	if s.Kind == work.None || slices.Contains(m.WorkKinds, s.Kind) {
		return nil
	}
	return fmt.Errorf("--work %s: model %s does not implement %s work (it implements %v)", s, m.Name, s.Kind, m.WorkKinds)
}

// Available is nil when m can run here, else Probe's reason.
func (m Model) Available() error {
	if m.Probe == nil {
		return nil
	}
	return m.Probe()
}

// Registry maps model names to models.
type Registry map[string]Model

// Lookup returns the model called name, or an error that lists the known ones.
func (r Registry) Lookup(name string) (Model, error) {
	m, ok := r[name]
	if !ok {
		return Model{}, fmt.Errorf("unknown server model %q (known: %v)", name, r.Names())
	}
	return m, nil
}

// Names returns the registered names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
