package bench

import (
	"fmt"

	"echobench/internal/results"
)

// checkLoads puts every distinct load of the plan through the load
// generator's own validation (loadgen.Config.Validate, what `echobench
// load` runs) before any server starts. The matrix decoder has its own
// bounds, but one source of truth decides: a value it accepted and the load
// generator refuses would otherwise fail that point, in every repeat, hours
// into a run.
func (r *Runner) checkLoads() error {
	seen := map[string]bool{}
	for _, p := range r.plan {
		sc := p.Scenario
		key := fmt.Sprintf("%s|%d|%d|%d|%d|%d|%d|%d|%d|%s", sc.Mode, sc.Conns, sc.SizeBytes, sc.Depth, sc.IdleConns, sc.SlowReaders, sc.SlowReadBytesPerSec, sc.ConnLifetime, sc.ConnectBurst, p.SourceIPs)
		if seen[key] {
			continue
		}
		seen[key] = true
		// The address is a placeholder: the server's comes at run time.
		cfg, err := r.loadConfig(p, sc, "127.0.0.1:9")
		if err == nil {
			if sc.Kind == results.KindSweep || sc.Kind == results.KindSLO {
				// The rate derives from the capacity measured at run
				// time; the load generator bounds it on its own.
				cfg.RateMsgsPerSec = 1
			}
			// The load generator runs one worker per client CPU.
			cfg.Workers = max(1, min(len(r.cliCPUs), cfg.Conns))
			err = cfg.WithDefaults().Validate()
		}
		if err != nil {
			return fmt.Errorf("config: the load generator refuses %s (conns %d, size %d B, depth %d, idle_conns %d, slow_readers %d, conn_lifetime %d, connect_burst %d, duration %v, warmup %v, msg_timeout %v): %v",
				p.ID, sc.Conns, sc.SizeBytes, sc.Depth, sc.IdleConns, sc.SlowReaders, sc.ConnLifetime, sc.ConnectBurst, cfg.Duration, cfg.Warmup, cfg.Timeout, err)
		}
	}
	return nil
}
