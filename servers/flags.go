package servers

import (
	"flag"
	"io"

	"echobench/internal/argv"
)

// The server contract's flags (--addr, --loops, --max-pending, --work,
// --request-size, --procs) are Config's
// fields, declared once in Flags: `echobench serve` parses with it, the
// orchestrator and the conformance suite build every server's argv with it
// (Config.Args), Go model or foreign. The foreign servers' parsers are
// driven through the same argv by servers/external's tests.

// CommandDefaults is the Config a server starts from before its flags
// apply; the foreign servers use the same defaults.
func CommandDefaults() Config {
	return Config{Addr: "127.0.0.1:0", Loops: 1, MaxPendingBytes: DefaultMaxPendingBytes, Procs: 1}
}

// Flags is every contract flag, in argv order.
var Flags = argv.Table[Config]{
	{Name: "addr", Usage: "TCP `address` to listen on (port 0 picks a free port)",
		Value: func(c *Config) flag.Value { return (*argv.String)(&c.Addr) }},
	{Name: "loops", Usage: "number of event loops (models without loops ignore it)", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.Loops) }},
	{Name: "max-pending", Usage: "cap on unsent output per connection, in `bytes`", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.MaxPendingBytes) }},
	{Name: "work", Usage: "per-request work `SPEC`: none, or KIND:MEAN[:DIST] with KIND cpu, wait or block and DIST fixed or exp (e.g. wait:1ms:exp)",
		Value: func(c *Config) flag.Value { return &c.Work }},
	{Name: "request-size", Usage: "`bytes` of one request, required with --work", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.RequestSizeBytes) }},
	{Name: "procs", Usage: "server processes, 1..256: a foreign stack runs N workers sharing the port (Python SO_REUSEPORT workers, a Node cluster); echobench serve refuses more than 1 (a Go model scales with --loops and GOMAXPROCS in one process)", Positive: true,
		Value: func(c *Config) flag.Value { return (*argv.Int)(&c.Procs) }},
}

// Args returns the contract flags for c: every field that is set, even to
// its default, since a foreign server or a user's command may have other
// defaults. A zero field is left out: the server's own default applies
// (a command that takes no --loops is started with Loops zero).
// ParseArgs(nil, c.Args()) returns c.WithDefaults() without its Log.
func (c Config) Args() []string { return Flags.Args(c) }

// ParseArgs parses the contract flags from args, starting from
// CommandDefaults; positional arguments are left in fs.Args(). The caller
// binds its own flags on fs first; nil fs means a silent set of its own.
func ParseArgs(fs *flag.FlagSet, args []string) (Config, error) {
	if fs == nil {
		fs = flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
	}
	c := CommandDefaults()
	Flags.Register(fs, &c)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if err := Flags.CheckPositive(fs, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}
