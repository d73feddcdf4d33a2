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
