package modeltest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The model tests are only as strong as these checks: each must reject
// corrupted, reordered or lost data.

func TestCheckPattern(t *testing.T) {
	t.Parallel()
	buf := make([]byte, 3<<16)
	Pattern(buf, 0)
	if err := CheckPattern(buf, 0); err != nil {
		t.Fatalf("intact data: %v", err)
	}
	// A stream checked in pieces matches when each piece has its offset.
	if err := CheckPattern(buf[70000:], 70000); err != nil {
		t.Fatalf("intact data from an offset: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"flipped byte", func(b []byte) []byte { b[1234] ^= 1; return b }, "byte 1234:"},
		{"lost byte", func(b []byte) []byte { return append(b[:500:500], b[501:]...) }, "byte 500:"},
		{"duplicated byte", func(b []byte) []byte { return append(b[:501:501], b[500:]...) }, "byte 501:"},
		{"swapped 256-byte blocks", func(b []byte) []byte {
			var tmp [256]byte
			copy(tmp[:], b[:256])
			copy(b[:256], b[256:512])
			copy(b[256:512], tmp[:])
			return b
		}, "byte 0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, 3<<16)
			Pattern(b, 0)
			err := CheckPattern(tt.mutate(b), 0)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestRoundTripRejectsWrongEcho(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		corrupt bool
	}{{"faithful", false}, {"corrupting", true}} {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go func() {
				defer server.Close()
				buf := make([]byte, 16)
				n, err := server.Read(buf)
				if err != nil {
					return
				}
				if tt.corrupt {
					buf[n-1] ^= 0x80
				}
				server.Write(buf[:n])
			}()
			err := RoundTrip(client, []byte("hello"), make([]byte, 5))
			if tt.corrupt != (err != nil) {
				t.Fatalf("corrupt=%v: RoundTrip returned %v", tt.corrupt, err)
			}
		})
	}
}

// TestReadAllRejectsGap serves the pattern with a hole over real TCP.
func TestReadAllRejectsGap(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 200<<10)
		Pattern(buf, 0)
		c.Write(buf[:100<<10])
		c.Write(buf[100<<10+1:]) // one byte lost
	}()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(Watchdog)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(c, 0)
	if err == nil {
		t.Fatalf("ReadAll accepted %d bytes with one missing", got)
	}
	if got > 100<<10 {
		t.Errorf("ReadAll counted %d good bytes, more than the %d before the gap", got, 100<<10)
	}
}

func TestRequireSequentialRejectsParallel(t *testing.T) {
	t.Run("parallel", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if recover() == nil {
				t.Error("requireSequential did not panic in a parallel test")
			}
		}()
		requireSequential(t)
	})
}

// A limitation must name a real case and give a reason, so a typo or a
// renamed case cannot silently skip nothing or stop a case being checked.
func TestCheckLimitations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits map[string]string
		want   string // "" means accepted
	}{
		{"none", nil, ""},
		{"case", map[string]string{"HalfCloseStream": "the library drops output at EOF"}, ""},
		{"subtest", map[string]string{"EchoSizes/1 MiB in one write": "half-closes with output pending"}, ""},
		{"unknown case", map[string]string{"HalfClose": "x"}, `unknown case "HalfClose"`},
		{"unknown subtest", map[string]string{"EchoSizes/2 MiB": "x"}, `unknown case "EchoSizes/2 MiB"`},
		{"no reason", map[string]string{"Pipelined": " "}, `case "Pipelined" has no reason`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLimitations(tt.limits)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
