package argv

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

type cfg struct {
	Name  string
	N     int
	Rate  float64
	Every time.Duration
	At    time.Time
	On    bool
}

var table = Table[cfg]{
	{Name: "name", Value: func(c *cfg) flag.Value { return (*String)(&c.Name) }},
	{Name: "n", Positive: true, Value: func(c *cfg) flag.Value { return (*Int)(&c.N) }},
	{Name: "rate", Value: func(c *cfg) flag.Value { return (*Float)(&c.Rate) }},
	{Name: "every", Positive: true, Value: func(c *cfg) flag.Value { return (*Duration)(&c.Every) }},
	{Name: "at", Value: func(c *cfg) flag.Value { return (*Time)(&c.At) }},
	{Name: "on", Value: func(c *cfg) flag.Value { return (*Bool)(&c.On) }},
}

func parse(t *testing.T, args []string) (cfg, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c cfg
	table.Register(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, table.CheckPositive(fs, &c)
}

func TestArgsRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 15, 0, 0, 123456789, time.FixedZone("CET", 3600))
	c := cfg{Name: "x y", N: 3, Rate: 1.0 / 3, Every: 1500 * time.Microsecond, At: at.UTC()}
	got, err := parse(t, table.Args(c))
	if err != nil || got != c {
		t.Fatalf("round trip of %q = %+v, %v; want %+v", table.Args(c), got, err, c)
	}
	// An offset is the same instant, kept in UTC.
	if got, err := parse(t, []string{"--at", "2026-11-27T15:00:00.123456789+01:00"}); err != nil || got.At != c.At {
		t.Errorf("--at with an offset = %v, %v; want %v", got.At, err, c.At)
	}
	// Zero fields, and fields equal to an omitted configuration, stay out.
	if a := table.Args(cfg{}); len(a) != 0 {
		t.Errorf("zero config gave %q", a)
	}
	def := cfg{N: 3}
	if a, want := table.Args(c, def), []string{"--name", "x y", "--rate", "0.3333333333333333", "--every", "1.5ms", "--at", "2026-11-27T14:00:00.123456789Z"}; !slices.Equal(a, want) {
		t.Errorf("Args with defaults = %q, want %q", a, want)
	}
}

// A bool flag crosses as "--on" alone: the flag package would read a
// separate "true" as a positional argument.
func TestArgsBool(t *testing.T) {
	t.Parallel()
	c := cfg{N: 1, On: true}
	if a, want := table.Args(c), []string{"--n", "1", "--on"}; !slices.Equal(a, want) {
		t.Errorf("Args = %q, want %q", a, want)
	}
	if got, err := parse(t, table.Args(c)); err != nil || got != c {
		t.Errorf("round trip of %q = %+v, %v", table.Args(c), got, err)
	}
	if a, want := table.Args(cfg{N: 1}), []string{"--n", "1"}; !slices.Equal(a, want) {
		t.Errorf("Args without the bool = %q, want %q", a, want)
	}
	if _, err := parse(t, []string{"--on=maybe"}); err == nil {
		t.Error("--on=maybe parsed")
	}
}

func TestCheckPositive(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--n", "0"}, "--n must be positive"},
		{[]string{"--every", "-1s"}, "--every must be positive"},
		{[]string{"--n", "1.5"}, "want a whole number"},
		{[]string{"--rate", "x"}, "want a number"},
		{[]string{"--every", "3"}, "want a duration"},
		{[]string{"--at", "15:00"}, "want an RFC 3339 time"},
	} {
		if _, err := parse(t, tt.args); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.msg)
		}
	}
	// Zero is fine where it is not explicit: it means the default.
	if _, err := parse(t, []string{"--name", "a"}); err != nil {
		t.Error(err)
	}
}
