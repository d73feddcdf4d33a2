package servers

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"echobench/servers/work"
)

// Every contract field crosses the process boundary, and only the fields a
// Config sets appear in argv.
func TestArgsRoundTrip(t *testing.T) {
	t.Parallel()
	full := Config{Addr: "127.0.0.1:9000", Loops: 3, MaxPendingBytes: 12345,
		Work: work.Spec{Kind: work.Wait, Mean: 1500 * time.Microsecond, Dist: work.Exp}, RequestSizeBytes: 64, Procs: 4}
	// Every exported field but Log (a writer, not a flag) must be set above.
	typ := reflect.TypeFor[Config]()
	v := reflect.ValueOf(full)
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && f.Name != "Log" && v.Field(i).IsZero() {
			t.Fatalf("Config.%s is not set in this test: give it a flag in Flags and a value here", f.Name)
		}
	}
	for _, c := range []Config{full, {Addr: "[::1]:0"}, {Loops: 1}, {MaxPendingBytes: 1}, {},
		{Work: work.Spec{Kind: work.CPU, Mean: 20 * time.Microsecond}, RequestSizeBytes: 1},
		{Work: work.Spec{Kind: work.Block, Mean: time.Second}, RequestSizeBytes: MaxRequestSizeBytes},
		{RequestSizeBytes: 100}, {Procs: 1}, {Procs: MaxProcs}} {
		got, err := ParseArgs(nil, c.Args())
		if err != nil {
			t.Fatalf("ParseArgs(%q): %v", c.Args(), err)
		}
		want := c.WithDefaults()
		got.Log, want.Log = nil, nil
		if got != want {
			t.Errorf("round trip of %q gave %+v, want %+v", c.Args(), got, want)
		}
	}
	if a := (Config{Work: work.Spec{}, RequestSizeBytes: 0}).Args(); len(a) != 0 {
		t.Errorf("Args of a Config without work = %q, want none (--work none is the default)", a)
	}
	if a, want := (Config{Addr: "127.0.0.1:0"}).Args(), []string{"--addr", "127.0.0.1:0"}; !slices.Equal(a, want) {
		t.Errorf("Args = %q, want %q (no --loops for a server started without one)", a, want)
	}
	if n := len(full.Args()); n != 2*len(Flags) {
		t.Errorf("a full Config gave %d argv words for %d flags", n, len(Flags))
	}
}

func TestParseArgsErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--loops", "0"}, "--loops must be positive"},
		{[]string{"--max-pending", "-1"}, "--max-pending must be positive"},
		{[]string{"--loops", "two"}, "want a whole number"},
		{[]string{"--request-size", "0"}, "--request-size must be positive"},
		{[]string{"--work", "nap:1ms"}, `unknown kind "nap"`},
		{[]string{"--work", "cpu:1ms500us"}, `bad mean "1ms500us"`},
		{[]string{"--work", "wait:20s"}, "out of range"},
		{[]string{"--work", "wait:1ms:pareto"}, `unknown distribution "pareto"`},
		{[]string{"--procs", "0"}, "--procs must be positive"},
		{[]string{"--procs", "-3"}, "--procs must be positive"},
	} {
		_, err := ParseArgs(nil, tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseArgs(%q) = %v, want an error mentioning %q", tt.args, err, tt.msg)
		}
	}
}

// Work needs a request size, and a request size is bounded; the errors name
// the flag to fix.
func TestValidateWork(t *testing.T) {
	t.Parallel()
	wait := work.Spec{Kind: work.Wait, Mean: time.Millisecond}
	for _, tt := range []struct {
		c   Config
		msg string // "" = valid
	}{
		{Config{}, ""},
		{Config{RequestSizeBytes: 64}, ""}, // with none it changes nothing
		{Config{Work: wait, RequestSizeBytes: 1}, ""},
		{Config{Work: wait, RequestSizeBytes: MaxRequestSizeBytes}, ""},
		{Config{Work: wait}, "needs --request-size"},
		{Config{Work: wait, RequestSizeBytes: MaxRequestSizeBytes + 1}, "--request-size must be 1..16777216"},
		{Config{RequestSizeBytes: MaxRequestSizeBytes + 1}, "--request-size must be"},
		{Config{Work: wait, RequestSizeBytes: -1}, "--request-size must be"},
		{Config{Work: work.Spec{Kind: work.Wait}, RequestSizeBytes: 1}, "--work"},
	} {
		c := tt.c
		c.Addr = "127.0.0.1:0"
		err := c.WithDefaults().Validate(false)
		if (tt.msg == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Validate(work %v, request size %d) = %v, want %q", c.Work, c.RequestSizeBytes, err, tt.msg)
		}
	}
}

// --procs is bounded where the other bounds are, and names itself.
func TestValidateProcs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		procs int
		msg   string // "" = valid
	}{
		{0, ""}, // the default, 1
		{1, ""},
		{MaxProcs, ""},
		{MaxProcs + 1, "--procs must be 1..256, got 257"},
	} {
		err := Config{Procs: tt.procs}.WithDefaults().Validate(false)
		if (tt.msg == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Validate(procs %d) = %v, want %q", tt.procs, err, tt.msg)
		}
	}
}

func TestEchoOnly(t *testing.T) {
	t.Parallel()
	if err := EchoOnly("m", Config{}); err != nil {
		t.Errorf("no work: %v", err)
	}
	var c Config
	if err := c.Work.Set("wait:1ms"); err != nil {
		t.Fatal(err)
	}
	if err := EchoOnly("m", c); err == nil || !strings.Contains(err.Error(), "m does not implement --work wait:1ms") {
		t.Errorf("work: %v", err)
	}
}
