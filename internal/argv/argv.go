// Package argv carries a Go configuration type across a process boundary as
// command-line flags. One Table per type names each flag once and binds it to
// a field; the same table registers the flags on the child's side
// (Register), builds the argv on the parent's side (Args) and checks what
// flag parsing cannot (CheckPositive). With no second copy of a flag name,
// a renamed or added field cannot reach one side only; each table's
// round-trip test proves parse(Args(c)) == c for every field.
package argv

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"
)

// Field is one flag bound to a field of C.
type Field[C any] struct {
	Name, Usage string
	// Positive: an explicit zero or negative value on the command line is
	// a usage error, because in C zero means "the default".
	Positive bool
	// Value returns the flag.Value that reads and writes c's field.
	Value func(c *C) flag.Value
}

// Table is every flag of one configuration type, in argv order.
type Table[C any] []Field[C]

// Register binds every field of c to fs; c's current values are the
// defaults that --help shows.
func (t Table[C]) Register(fs *flag.FlagSet, c *C) {
	for _, f := range t {
		fs.Var(f.Value(c), f.Name, f.Usage)
	}
}

// Args returns "--name value" for every field of c that is set: not the
// zero value of its type and, for each of omit, not equal to that
// configuration's value (the defaults the child starts from, so argv stays
// short and readable).
func (t Table[C]) Args(c C, omit ...C) []string {
	var zero C
	var out []string
	for _, f := range t {
		v := f.Value(&c).String()
		skip := v == f.Value(&zero).String()
		for i := range omit {
			skip = skip || v == f.Value(&omit[i]).String()
		}
		switch {
		case skip:
		case isBool(f.Value(&c)):
			// Set means true (false is the zero value), and a bool flag
			// takes no separate value.
			out = append(out, "--"+f.Name)
		default:
			out = append(out, "--"+f.Name, v)
		}
	}
	return out
}

// CheckPositive refuses an explicit zero or negative value for a Positive
// field after fs has parsed into c.
func (t Table[C]) CheckPositive(fs *flag.FlagSet, c *C) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		for _, f := range t {
			if err == nil && f.Name == fl.Name && f.Positive && !positive(f.Value(c)) {
				err = fmt.Errorf("--%s must be positive, got %s", f.Name, fl.Value.String())
			}
		}
	})
	return err
}

func positive(v flag.Value) bool {
	switch v := v.(type) {
	case *Int:
		return *v > 0
	case *Duration:
		return *v > 0
	case *Float:
		return *v > 0
	}
	return true
}

// isBool reports whether v is a boolean flag, which the flag package reads
// as "--name" alone: a separate "true" would be a positional argument.
func isBool(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Bool is a flag.Value over a bool field, given as "--name" alone.
type Bool bool

func (v *Bool) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *Bool) IsBoolFlag() bool { return true }
func (v *Bool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = Bool(b)
	return nil
}

// String is a flag.Value over a string field: (*argv.String)(&c.Addr).
type String string

func (v *String) String() string     { return string(*v) }
func (v *String) Set(s string) error { *v = String(s); return nil }

// Int is a flag.Value over an int field, read as flag.Int reads it.
type Int int

func (v *Int) String() string { return strconv.Itoa(int(*v)) }
func (v *Int) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("want a whole number")
	}
	*v = Int(n)
	return nil
}

// Float is a flag.Value over a float64 field. String keeps every bit, so a
// value computed on one side (a rate derived from a capacity) is exactly the
// value the other side runs with.
type Float float64

func (v *Float) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *Float) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("want a number")
	}
	*v = Float(f)
	return nil
}

// Duration is a flag.Value over a time.Duration field.
type Duration time.Duration

func (v *Duration) String() string { return time.Duration(*v).String() }
func (v *Duration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 500ms or 2s")
	}
	*v = Duration(d)
	return nil
}

// Time is a flag.Value over a time.Time field, written as RFC 3339 with
// the fraction it needs (2026-11-27T15:00:00.5Z) and read back exactly, so
// one instant agreed on one side is the instant the other side uses. The
// zero time writes as "", which Args leaves out.
type Time time.Time

func (v *Time) String() string {
	t := time.Time(*v)
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (v *Time) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errors.New("want an RFC 3339 time such as 2026-11-27T15:00:00.5Z")
	}
	*v = Time(t.UTC())
	return nil
}
