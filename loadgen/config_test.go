package loadgen

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Counts whose sum wraps around must not slip under the open-file limit
// (issue #11: conns, idle_conns and slow_readers near MaxInt64 passed, and
// the load generator died of out-of-memory).
func TestValidateCountsDoNotOverflow(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Conns: 1, IdleConns: math.MaxInt64, SlowReaders: math.MaxInt64},
		{Conns: math.MaxInt64, IdleConns: math.MaxInt64 - 10, SlowReaders: 20},
		{Conns: 10, IdleConns: math.MaxInt64/2 + 1, SlowReaders: math.MaxInt64/2 + 1},
	} {
		c.Addr, c.SizeBytes, c.Duration = "127.0.0.1:9", 64, 1
		c.Workers = 1
		err := c.WithDefaults().Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "RLIMIT_NOFILE") {
			t.Errorf("conns %d idle %d slow %d: Validate = %v, want a ConfigError about the file limit", c.Conns, c.IdleConns, c.SlowReaders, err)
		}
	}
}

// Beyond loopback only with AllowRemote, for the destination and the
// sources alike; never an unspecified or multicast destination.
func TestValidateAllowRemote(t *testing.T) {
	t.Parallel()
	base := Config{Conns: 1, SizeBytes: 64, Duration: 1, Workers: 1}
	for _, tt := range []struct {
		addr, sources string
		remote        bool
		want          string // "" = valid
	}{
		{"127.0.0.1:9", "", false, ""},
		{"10.223.0.1:9", "", false, "not loopback"},
		{"10.223.0.1:9", "", true, ""},
		{"[2001:db8::1]:9", "", true, ""},
		{"0.0.0.0:9", "", true, "unspecified or multicast"},
		{"224.0.0.1:9", "", true, "unspecified or multicast"},
		{"example.com:9", "", true, "no name is looked up"},
		{"127.0.0.1:9", "10.0.0.1", false, "not loopback"},
		{"10.223.0.1:9", "10.223.1.2", true, ""},
		{"10.223.0.1:9", "127.255.255.254-128.0.0.1", false, "not loopback"},
	} {
		c := base
		c.Addr, c.AllowRemote = tt.addr, tt.remote
		if tt.sources != "" {
			ips, err := parseSourceIPs(tt.sources, true)
			if err != nil {
				t.Fatal(err)
			}
			c.SourceIPs = ips
		}
		err := c.WithDefaults().Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("addr %s sources %q allow-remote %v: %v, want %q", tt.addr, tt.sources, tt.remote, err, tt.want)
		}
	}
	if _, err := ParseSourceIPs("10.0.0.1"); err == nil {
		t.Error("ParseSourceIPs (the matrix file's parser) accepted a non-loopback source")
	}
}
