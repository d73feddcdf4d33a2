package bench

import (
	"fmt"
	"net"

	"echobench/bench/config"
	"echobench/internal/results"
	"echobench/loadgen"
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
		// The port is a placeholder (the server's comes at run time); the
		// host is the server's, whose family the source IPs must share.
		addr := placeholderAddr(p.Server.Addr)
		key := fmt.Sprintf("%s|%d|%d|%d|%d|%d|%d|%d|%d|%d|%s|%s|%v|%g", sc.Mode, sc.Conns, sc.SizeBytes, sc.Depth, sc.IdleConns, sc.SlowReaders, sc.SlowReadBytesPerSec, sc.ConnLifetime, sc.ConnectBurst, sc.LoadProcs, p.SourceIPs, addr, p.MsgTimeout, sc.RateMsgsPerSec)
		if seen[key] {
			continue
		}
		seen[key] = true
		if n := sc.LoadProcs; n > len(r.cliCPUs) {
			// Generators sharing a CPU would each measure their own CPU
			// use against a whole CPU: none would see that together
			// they saturate it, and client_bound would lie.
			return fmt.Errorf("config: load_procs %d of %s needs a client CPU per generator, the client CPUs are %s (set client_cpus or --client-cpus)",
				n, p.ID, config.FormatCPUList(r.cliCPUs))
		}
		err := r.checkLoad(p, sc, addr)
		if err != nil {
			return fmt.Errorf("config: the load generator refuses %s (conns %d, size %d B, depth %d, idle_conns %d, slow_readers %d, conn_lifetime %d, connect_burst %d, load_procs %d, duration %v, warmup %v, msg_timeout %v): %v",
				p.ID, sc.Conns, sc.SizeBytes, sc.Depth, sc.IdleConns, sc.SlowReaders, sc.ConnLifetime, sc.ConnectBurst, sc.LoadProcs,
				r.cfg.Duration.Duration, r.cfg.Warmup.Duration, r.cfg.MsgTimeout.Duration, err)
		}
	}
	return nil
}

// checkLoad validates the load of point p as each of its generators runs
// it: its share of the load and of the client CPUs.
func (r *Runner) checkLoad(p Point, sc results.Scenario, addr string) error {
	cfg, err := r.loadConfig(p, sc, addr)
	if err != nil {
		return err
	}
	if cfg.Mode == loadgen.Open && sc.Kind != results.KindRate {
		// The rate derives from the capacity measured at run time (sweep,
		// SLO and overload points); the load generator bounds it on its own.
		cfg.RateMsgsPerSec = 1
	}
	shares, cpus := loadShares(cfg, r.cliCPUs, max(sc.LoadProcs, 1))
	for i, share := range shares {
		// The load generator runs one worker per client CPU.
		share.Workers = max(1, min(len(cpus[i]), share.Conns))
		if err := share.WithDefaults().Validate(); err != nil {
			return err
		}
	}
	return nil
}

// placeholderAddr is the server's host with a port that validation accepts.
func placeholderAddr(serverAddr string) string {
	host, _, err := net.SplitHostPort(serverAddr)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "9")
}

// checkWork puts every distinct work and size of the plan through the
// server contract's own validation (servers.Config.Validate, what `echobench
// serve` runs), for the same reason as checkLoads: a work the matrix
// decoder let through and every server refuses would fail each of its
// points hours into a run. A model that cannot express a kind refuses it
// when it starts; that is a failed point with the model's reason, not this.
func (r *Runner) checkWork() error {
	seen := map[string]bool{}
	for _, p := range r.plan {
		sc := p.Scenario
		key := fmt.Sprintf("%s|%d", sc.Work, sc.SizeBytes)
		if sc.Work == "" || seen[key] {
			continue
		}
		seen[key] = true
		cfg, err := serverConfig(p.Server, sc)
		if err == nil {
			// Only the work is checked here: the address and the rest
			// were checked with the matrix file.
			cfg.Addr = "127.0.0.1:0"
			err = cfg.WithDefaults().Validate(false)
		}
		if err != nil {
			return fmt.Errorf("config: the servers refuse %s (work %s, size %d B): %v", p.ID, sc.Work, sc.SizeBytes, err)
		}
	}
	return nil
}
