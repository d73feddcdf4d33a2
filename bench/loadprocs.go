package bench

import (
	"context"
	"fmt"
	"time"

	"echobench/bench/supervise"
	"echobench/internal/results"
	"echobench/loadgen"
)

// A point with load_procs = N runs N `echobench load` processes, each
// pinned to its share of the client CPUs and given its share of the load,
// all with one --start-at: their windows start at the same instant, and
// the record holds their merge (results.Merge, the code of `echobench
// merge`) with each generator's own result in Load.Generators.

// Start barrier of a point with several generators: the window starts
// this long after they are started, plus the warm-up, so every one has
// connected by then. A generator that has not fails the point, saying
// by how much.
const (
	startLeadBase    = time.Second
	startLeadPerConn = 2 * time.Millisecond // as loadLimit's allowance
)

// loadShares splits cfg among n generators: the connections, idle
// connections, slow readers and connect burst as evenly as whole numbers
// allow, the open-loop rate in proportion to the connections, and the
// client CPUs in contiguous shares. n is at most len(cpus) and cfg.Conns
// (checked with the matrix).
func loadShares(cfg loadgen.Config, cpus []int, n int) ([]loadgen.Config, [][]int) {
	if n <= 1 {
		return []loadgen.Config{cfg}, [][]int{cpus}
	}
	shares := make([]loadgen.Config, n)
	cpuShares := make([][]int, n)
	for i := range shares {
		s := cfg
		s.Conns = shareOf(cfg.Conns, n, i)
		s.IdleConns = shareOf(cfg.IdleConns, n, i)
		s.SlowReaders = shareOf(cfg.SlowReaders, n, i)
		s.ConnectBurst = shareOf(cfg.ConnectBurst, n, i)
		if cfg.RateMsgsPerSec > 0 {
			s.RateMsgsPerSec = cfg.RateMsgsPerSec * float64(s.Conns) / float64(cfg.Conns)
		}
		shares[i] = s
		cpuShares[i] = cpus[i*len(cpus)/n : (i+1)*len(cpus)/n]
	}
	return shares, cpuShares
}

// shareOf is generator i's share of total among n: the first total%n get
// one more.
func shareOf(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

// startLead is how long a point's generators get to start and connect
// before the warm-up that precedes their common window.
func startLead(shares []loadgen.Config) time.Duration {
	most := 0
	for _, s := range shares {
		most = max(most, s.Conns+s.IdleConns+s.SlowReaders)
	}
	return startLeadBase + time.Duration(most)*startLeadPerConn
}

// generators are the load generator processes of one point.
type generators []*supervise.Proc

// startLoads starts the generators of a point: one for cfg as it is, or n
// with their shares and one --start-at. It returns them and the instant
// their window starts (for one generator, once it has started, plus the
// warm-up: it connects first, so the sampler starts slightly early). On
// error none is left running.
func (r *Runner) startLoads(cfg loadgen.Config, n int) (generators, time.Time, error) {
	shares, cpus := loadShares(cfg, r.cliCPUs, n)
	var windowStart time.Time
	if n > 1 {
		// Round(0) drops the monotonic reading: the instant crosses the
		// process boundary as wall-clock time.
		windowStart = time.Now().Add(startLead(shares) + cfg.Warmup).Round(0)
		for i := range shares {
			shares[i].StartAt = windowStart
		}
	}
	var gens generators
	for i, s := range shares {
		argv := append(append([]string{r.deps.Exe, "load"}, s.Args()...), "--json")
		lp, err := supervise.Start(supervise.Spec{Argv: r.inLoadNetns(i, argv), CPUs: cpus[i]})
		if err != nil {
			gens.stop()
			return nil, windowStart, fmt.Errorf("start load generator %d of %d: %w", i+1, n, err)
		}
		gens = append(gens, lp)
	}
	if n == 1 {
		windowStart = time.Now().Add(cfg.Warmup)
	}
	return gens, windowStart, nil
}

// stop ends every generator still running, at once.
func (g generators) stop() {
	for _, p := range g {
		p.Stop(0)
	}
}

// anyDone closes when the first generator exits: the window the sampler
// measures ends there.
func (g generators) anyDone() <-chan struct{} {
	if len(g) == 1 {
		return g[0].Done()
	}
	done := make(chan struct{})
	for _, p := range g {
		go func() {
			<-p.Done()
			select {
			case <-done:
			default:
				close(done)
			}
		}()
	}
	return done
}

// clientTicks is the generators' CPU time together, in clock ticks.
func (g generators) clientTicks() func() (uint64, bool) {
	each := make([]func() (uint64, bool), len(g))
	for i, p := range g {
		each[i] = clientTicks(p)
	}
	return func() (uint64, bool) {
		var sum uint64
		for _, f := range each {
			t, ok := f()
			if !ok {
				return 0, false
			}
			sum += t
		}
		return sum, true
	}
}

// await waits until every generator has exited, the deadline passed or
// ctx ended. It returns the generator still running at the deadline, or
// ctx's error.
func (g generators) await(ctx context.Context, deadline time.Time) (*supervise.Proc, error) {
	t := time.NewTimer(max(0, time.Until(deadline)))
	defer t.Stop()
	for _, p := range g {
		select {
		case <-p.Done():
		case <-t.C:
			return p, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, nil
}

// results reads every exited generator's summary: one as it is, several
// merged. A generator that failed fails them all, named.
func (g generators) results() (*results.Load, error) {
	loads := make([]results.Load, len(g))
	names := make([]string, len(g))
	for i, p := range g {
		name := "load generator"
		if len(g) > 1 {
			name = fmt.Sprintf("load generator %d of %d", i+1, len(g))
		}
		names[i] = name
		if res := p.Stop(0); res.ExitCode != 0 {
			return nil, fmt.Errorf("%s exited with status %d: %s", name, res.ExitCode, lastLines(p.StderrTail(), 5))
		}
		l, err := parseLoad(p.Stdout())
		if err != nil {
			return nil, fmt.Errorf("%s output: %w (stderr: %s)", name, err, lastLines(p.StderrTail(), 5))
		}
		loads[i] = *l
	}
	if len(g) == 1 {
		return &loads[0], nil
	}
	m, err := results.Merge(loads, names)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
