package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"

	"echobench/loadgen/faultserver"
)

// Ctrl-C during the set-up ends Run at once with an error that says so: no
// window runs, every loop is abandoned (with idle connections and slow
// readers too, so the idle/slow loop's channels are ended as well).
func TestCancelWhileConnecting(t *testing.T) {
	t.Parallel()
	s := startFault(t, faultserver.Faults{})
	cfg := closedCfg(s.Addr())
	cfg.Duration, cfg.IdleConns, cfg.SlowReaders = time.Minute, 2, 1
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	res, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Run = %v, %v; want no result and an error wrapping context.Canceled", res, err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Run returned %v after the cancel", el)
	}
}
