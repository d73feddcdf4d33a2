package bench

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"echobench/bench/config"
	"echobench/internal/results"
	"echobench/loadgen"
)

// Point is one matrix point of one repeat for one server: one record.
type Point struct {
	// ID is the record's PointID: unique within a run and stable across
	// --resume, so a finished point is recognised and skipped.
	ID     string
	Repeat int // 1-based
	Server *Target
	// Scenario is the load, with Kind set; the rate of sweep and SLO points
	// is filled in when the point runs, from the capacity just measured.
	Scenario results.Scenario
	// Group names the open-loop family (conns, size, depth and extras) a
	// capacity, sweep or SLO point belongs to; empty for closed points.
	Group string
	// SLOStep is the 1-based bisection step of an SLO point.
	SLOStep   int
	SourceIPs string
	// MsgTimeout is the scenario's own message timeout; 0 means the run's.
	MsgTimeout time.Duration
	// LoadKey names the load without its kind, rate and timeout: points of
	// one server and repeat with the same LoadKey measure the same load at
	// different offered rates (an overload point's reference comes from
	// them).
	LoadKey string
}

// template is a point without its server and repeat.
type template struct {
	sc         results.Scenario
	group      string
	sloStep    int
	sourceIPs  string
	msgTimeout time.Duration
}

// key is the PointID without repeat and server: kind, load, the scenario's
// own timeout when set, and what sets the rate of an open-loop point.
func (t template) key() string {
	k := t.sc.Kind + "/" + t.loadKey()
	if t.msgTimeout > 0 {
		k += "-timeout" + t.msgTimeout.String()
	}
	switch s := t.sc; s.Kind {
	case results.KindSweep:
		k += "/l" + strconv.FormatFloat(s.LoadFraction, 'g', -1, 64)
	case results.KindSLO:
		k += "/step" + strconv.Itoa(t.sloStep)
	case results.KindRate:
		k += "/rate" + strconv.FormatFloat(s.RateMsgsPerSec, 'f', -1, 64)
	case results.KindOverload:
		k += "/x" + strconv.FormatFloat(s.LoadFraction, 'g', -1, 64)
	}
	return k
}

// loadKey names the load: connections, size, depth and every set extra
// dimension. Only set dimensions show, so the IDs of plain points (and
// --resume of older runs) are unchanged.
func (t template) loadKey() string {
	s := t.sc
	k := fmt.Sprintf("c%d-s%d-d%d", s.Conns, s.SizeBytes, s.Depth)
	if s.IdleConns > 0 {
		k += fmt.Sprintf("-idle%d", s.IdleConns)
	}
	if s.SlowReaders > 0 {
		k += fmt.Sprintf("-slow%d-%dBps", s.SlowReaders, s.SlowReadBytesPerSec)
	}
	if s.ConnLifetime > 0 {
		k += fmt.Sprintf("-life%d", s.ConnLifetime)
	}
	if s.ConnectBurst > 0 {
		k += fmt.Sprintf("-burst%d", s.ConnectBurst)
	}
	if t.sourceIPs != "" {
		k += "-src" + strings.ReplaceAll(t.sourceIPs, ",", "+")
	}
	if s.LoadProcs > 1 {
		k += fmt.Sprintf("-procs%d", s.LoadProcs)
	}
	// Work last: a none point has none, so its ID is the one it always had.
	if s.Work != "" {
		k += "-work=" + s.Work
	}
	return k
}

// templates expands the scenarios into the points of one repeat, in file
// order, dropping exact duplicates. An open-loop family is its capacity
// point, then its sweep, then its SLO steps, so every dependency runs first.
func templates(c *config.Config) []template {
	var out []template
	seen := map[string]bool{}
	// closedLoads are the loads measured closed-loop so far in a repeat.
	closedLoads := map[string]bool{}
	add := func(t template) {
		if k := t.key(); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
		if t.sc.Mode == config.ModeClosed {
			closedLoads[t.loadKey()] = true
		}
	}
	for _, fam := range c.Families {
		for _, base := range familyScenarios(c, fam) {
			t := template{sc: base, sourceIPs: fam.SourceIPs, msgTimeout: fam.MsgTimeout.Duration}
			expand(c, t, fam, add, closedLoads[t.loadKey()])
		}
	}
	return out
}

// familyScenarios is the cross product of a family's dimensions, in file
// order: the scenario of each of its matrix cells, before expand gives it
// its kind (or kinds, for an open-loop family).
func familyScenarios(c *config.Config, fam config.Family) []results.Scenario {
	var out []results.Scenario
	for _, conns := range fam.Conns {
		for _, size := range fam.Sizes {
			for _, depth := range fam.Depth {
				for _, x := range familyExtras(fam) {
					for _, work := range orNone(fam.Work) {
						out = append(out, cellScenario(c, fam, conns, size, depth, x, work))
					}
				}
			}
		}
	}
	return out
}

// cellScenario is one matrix cell's scenario. Work "none" is left empty,
// as in records written before work existed.
func cellScenario(c *config.Config, fam config.Family, conns, size, depth int, x extras, work string) results.Scenario {
	sc := results.Scenario{Conns: conns, SizeBytes: size, Depth: depth,
		DurationS: c.Duration.Seconds(), WarmupS: c.Warmup.Seconds(), IdleConns: x.idle, SlowReaders: x.slow,
		ConnLifetime: x.lifetime, ConnectBurst: x.burst}
	if x.slow > 0 {
		sc.SlowReadBytesPerSec = fam.SlowReadBytesPerSec
	}
	if work != config.WorkNone {
		sc.Work = work
	}
	sc.MsgTimeoutS = fam.MsgTimeout.Seconds()
	if fam.LoadProcs > 1 {
		sc.LoadProcs = fam.LoadProcs
	}
	return sc
}

// msgTimeout is the message timeout fam's points run with: its own, the
// run's, or the load generator's default.
func msgTimeout(c *config.Config, fam config.Family) time.Duration {
	return cmp.Or(fam.MsgTimeout.Duration, c.MsgTimeout.Duration, loadgen.DefaultTimeout)
}

// orNone is works, or ["none"] when empty: an unset work is plain echo.
func orNone(works []string) []string {
	if len(works) == 0 {
		return []string{config.WorkNone}
	}
	return works
}

// extras is one combination of a family's extra dimensions: idle
// connections, slow readers, connection lifetime and connect burst.
type extras struct{ idle, slow, lifetime, burst int }

// familyExtras is every combination of fam's extra dimensions, in file
// order (idle outermost, as before the churn keys, so existing plans keep
// their order).
func familyExtras(fam config.Family) []extras {
	var out []extras
	for _, idle := range orZero(fam.IdleConns) {
		for _, slow := range orZero(fam.SlowReaders) {
			for _, life := range orZero(fam.ConnLifetime) {
				for _, burst := range orZero(fam.ConnectBurst) {
					out = append(out, extras{idle, slow, life, burst})
				}
			}
		}
	}
	return out
}

// orZero is xs, or [0] when empty: an unset dimension is one point.
func orZero(xs []int) []int {
	if len(xs) == 0 {
		return []int{0}
	}
	return xs
}

// expand adds the points of one matrix cell: a closed point, or an open-loop
// family (capacity, sweep, absolute rates, SLO steps, overload, in that
// order, so every point runs after those it derives its rate from).
// A family of absolute rates alone needs no capacity point. closedBefore
// says whether an earlier point of the repeat measures the same load
// closed-loop: an overload point can take its reference from that, and a
// family that needs its capacity for nothing else then gets none of its
// own.
func expand(c *config.Config, t template, fam config.Family, add func(template), closedBefore bool) {
	if fam.Mode == config.ModeClosed {
		t.sc.Kind, t.sc.Mode = results.KindClosed, config.ModeClosed
		add(t)
		return
	}
	cp := t
	cp.sc.Kind, cp.sc.Mode = results.KindCapacity, config.ModeClosed
	cp.group = strings.TrimPrefix(cp.key(), results.KindCapacity+"/")
	steps := c.FamilySLOSteps(fam)
	if len(fam.Load) > 0 || steps > 0 || (len(fam.Overload) > 0 && !closedBefore) {
		add(cp)
	}
	open := func(kind string) template {
		o := cp
		o.sc.Kind, o.sc.Mode = kind, config.ModeOpen
		return o
	}
	for _, f := range fam.Load {
		sw := open(results.KindSweep)
		sw.sc.LoadFraction = f
		add(sw)
	}
	for _, rate := range fam.RatesMsgsPerSec {
		rt := open(results.KindRate)
		rt.sc.RateMsgsPerSec = rate
		add(rt)
	}
	for step := 1; step <= steps; step++ {
		sl := open(results.KindSLO)
		sl.sloStep = step
		add(sl)
	}
	for _, f := range fam.Overload {
		ov := open(results.KindOverload)
		// Its completion ratio means "answered within the timeout": the
		// record says which.
		ov.sc.LoadFraction, ov.sc.MsgTimeoutS = f, msgTimeout(c, fam).Seconds()
		add(ov)
	}
}

// Plan is every point of a run, in the order they run.
//
// Repeats are interleaved: for each repeat, for each template, every server
// in an order shuffled per repeat (seeded), so drift over the run (thermal,
// a noisy neighbour) spreads over all models instead of biasing one.
func Plan(c *config.Config, servers []*Target, seed uint64) []Point {
	ts := templates(c)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []Point
	for r := 1; r <= c.Repeats; r++ {
		order := make([]*Target, len(servers))
		copy(order, servers)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, t := range ts {
			for _, s := range order {
				out = append(out, Point{
					ID:         fmt.Sprintf("r%d/%s/%s", r, s.Name, t.key()),
					Repeat:     r,
					Server:     s,
					Scenario:   t.sc,
					Group:      t.group,
					SLOStep:    t.sloStep,
					SourceIPs:  t.sourceIPs,
					MsgTimeout: t.msgTimeout,
					LoadKey:    t.loadKey(),
				})
			}
		}
	}
	return out
}

// groupID is the PointID prefix shared by the capacity, sweep and SLO points
// of one server, repeat and open-loop family.
func groupID(repeat int, server, group string) string {
	return fmt.Sprintf("r%d/%s/%s", repeat, server, group)
}

// capacityID is the PointID of the capacity point a sweep or SLO point
// derives its rate from.
func capacityID(p Point) string {
	return fmt.Sprintf("r%d/%s/%s/%s", p.Repeat, p.Server.Name, results.KindCapacity, p.Group)
}
