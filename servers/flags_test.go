package servers

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every contract field crosses the process boundary, and only the fields a
// Config sets appear in argv.
func TestArgsRoundTrip(t *testing.T) {
	t.Parallel()
	full := Config{Addr: "127.0.0.1:9000", Loops: 3, MaxPendingBytes: 12345}
	// Every exported field but Log (a writer, not a flag) must be set above.
	typ := reflect.TypeFor[Config]()
	v := reflect.ValueOf(full)
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && f.Name != "Log" && v.Field(i).IsZero() {
			t.Fatalf("Config.%s is not set in this test: give it a flag in Flags and a value here", f.Name)
		}
	}
	for _, c := range []Config{full, {Addr: "[::1]:0"}, {Loops: 1}, {MaxPendingBytes: 1}, {}} {
		got, err := ParseArgs(nil, c.Args())
		if err != nil {
			t.Fatalf("ParseArgs(%q): %v", c.Args(), err)
		}
		if want := c.WithDefaults(); got.Addr != want.Addr || got.Loops != want.Loops || got.MaxPendingBytes != want.MaxPendingBytes {
			t.Errorf("round trip of %q gave %+v, want %+v", c.Args(), got, want)
		}
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
	} {
		_, err := ParseArgs(nil, tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseArgs(%q) = %v, want an error mentioning %q", tt.args, err, tt.msg)
		}
	}
}
