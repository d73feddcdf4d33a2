package loadgen

import (
	"flag"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// setConfig holds, per exported field of Config, a value that is neither
// zero nor the command's default, so that the round trip must carry it.
var setConfig = map[string]func(c *Config){
	"Addr":           func(c *Config) { c.Addr = "127.0.0.1:9000" },
	"AllowRemote":    func(c *Config) { c.AllowRemote = true },
	"Conns":          func(c *Config) { c.Conns = 17 },
	"SizeBytes":      func(c *Config) { c.SizeBytes = 1500 },
	"Duration":       func(c *Config) { c.Duration = 1234 * time.Millisecond },
	"Warmup":         func(c *Config) { c.Warmup = 250 * time.Millisecond },
	"Mode":           func(c *Config) { c.Mode = Open },
	"Depth":          func(c *Config) { c.Depth = 16 },
	"RateMsgsPerSec": func(c *Config) { c.RateMsgsPerSec = 12345.678901234567 },
	"Timeout":        func(c *Config) { c.Timeout = 500 * time.Millisecond },
	"ConnectTimeout": func(c *Config) { c.ConnectTimeout = 7 * time.Second },
	"SourceIPs": func(c *Config) {
		c.SourceIPs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	},
	"Workers":             func(c *Config) { c.Workers = 2 },
	"IdleConns":           func(c *Config) { c.IdleConns = 5000 },
	"SlowReaders":         func(c *Config) { c.SlowReaders = 4 },
	"SlowReadBytesPerSec": func(c *Config) { c.SlowReadBytesPerSec = 1000 },
	"ConnLifetime":        func(c *Config) { c.ConnLifetime = 10 },
	"ConnectBurst":        func(c *Config) { c.ConnectBurst = 500 },
	"StartAt":             func(c *Config) { c.StartAt = time.Date(2026, 11, 27, 15, 0, 0, 500_000_000, time.UTC) },
}

// Every exported field of Config crosses the process boundary: a field added
// without a flag, or a flag that loses its value on the way, fails here.
func TestArgsRoundTrip(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[Config]()
	var full Config
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		set, ok := setConfig[f.Name]
		if !ok {
			t.Fatalf("Config.%s has no value in setConfig: add a flag for it to Flags and a value here", f.Name)
		}
		set(&full)
		// Each field alone, so a flag that writes another field shows.
		one := CommandDefaults()
		set(&one)
		got, err := ParseArgs(nil, one.Args())
		if err != nil {
			t.Fatalf("%s: ParseArgs(%q): %v", f.Name, one.Args(), err)
		}
		if !reflect.DeepEqual(got, one) {
			t.Errorf("%s: round trip of %q gave\n%+v\nwant\n%+v", f.Name, one.Args(), got, one)
		}
	}
	got, err := ParseArgs(nil, full.Args())
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", full.Args(), err)
	}
	if !reflect.DeepEqual(got, full) {
		t.Errorf("round trip of %q gave\n%+v\nwant\n%+v", full.Args(), got, full)
	}
	flags := 0
	for _, w := range full.Args() {
		if strings.HasPrefix(w, "--") {
			flags++
		}
	}
	if flags != len(Flags) {
		t.Errorf("a Config with every field set gave %d flags in %q for %d in the table", flags, full.Args(), len(Flags))
	}
}

// Zero fields mean "the default": they are left out of argv, and the
// defaults themselves need no flags.
func TestArgsOmitDefaults(t *testing.T) {
	t.Parallel()
	if a := (Config{}).Args(); len(a) != 0 {
		t.Errorf("zero Config gave %q, want no flags", a)
	}
	if a := CommandDefaults().Args(); len(a) != 0 {
		t.Errorf("CommandDefaults gave %q, want no flags", a)
	}
	c := Config{Addr: "127.0.0.1:1", Conns: 3}
	want := []string{"--addr", "127.0.0.1:1", "--conns", "3"}
	if a := c.Args(); !slices.Equal(a, want) {
		t.Errorf("Args = %q, want %q", a, want)
	}
}

func TestParseArgsErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--depth", "0"}, "--depth must be positive"},
		{[]string{"--timeout", "-1s"}, "--timeout must be positive"},
		{[]string{"--conns", "x"}, "want a whole number"},
		{[]string{"--rate", "fast"}, "want a number"},
		{[]string{"--duration", "5"}, "want a duration"},
		{[]string{"--addr", "127.0.0.1:1", "extra"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		_, err := ParseArgs(nil, tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseArgs(%q) = %v, want an error mentioning %q", tt.args, err, tt.msg)
		}
	}
	// The caller's own flags sit beside Config's on its FlagSet.
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	jsonOut := fs.Bool("json", false, "")
	c, err := ParseArgs(fs, []string{"--json", "--conns", "9"})
	if err != nil || !*jsonOut || c.Conns != 9 {
		t.Errorf("ParseArgs with a caller flag: %+v, json %v, err %v", c, *jsonOut, err)
	}
}
