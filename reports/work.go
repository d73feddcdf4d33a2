package reports

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"echobench/internal/results"
	"echobench/reports/stat"
	"echobench/servers/work"
)

// workNone is the spec of plain echo; records leave it out.
const workNone = "none"

// Kinds of work a server's handler does per request (the server contract's
// --work KIND:MEAN[:DIST]), in the order the report lists them.
var workKinds = []string{"cpu", "wait", "block"}

// workSpec is a work spec as the report reads it from a record.
type workSpec struct {
	kind string
	mean time.Duration
	exp  bool // exponential service times, else fixed
}

// parseWork reads a work spec with the server contract's own parser
// (servers/work); ok is false for none or a spec it refuses (a newer
// writer's): such a point is shown, but no work class takes it.
func parseWork(s string) (w workSpec, ok bool) {
	sp, err := work.Parse(s)
	if err != nil || sp.Kind == work.None {
		return w, false
	}
	return workSpec{kind: sp.Kind.String(), mean: sp.Mean, exp: sp.Dist == work.Exp}, true
}

func workKindOrder(kind string) int {
	for i, k := range workKinds {
		if k == kind {
			return i
		}
	}
	return -1
}

// compareWork orders work specs for tables and charts: none first, then by
// kind (cpu, wait, block), fixed before exp, then by mean; specs this
// reader does not know last, by name.
func compareWork(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" || b == "" {
		return cmp.Compare(len(a), len(b)) // none first
	}
	wa, oka := parseWork(a)
	wb, okb := parseWork(b)
	switch {
	case oka && okb:
		return cmp.Or(cmp.Compare(workKindOrder(wa.kind), workKindOrder(wb.kind)), cmpBool(wa.exp, wb.exp),
			cmp.Compare(wa.mean, wb.mean), cmp.Compare(a, b))
	case oka != okb:
		return cmpBool(!oka, !okb)
	}
	return cmp.Compare(a, b)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// workAdvice is what a user does with each work class's verdict: the
// report's sentence for someone who knows what their handlers do.
var workAdvice = map[string]string{
	"cpu": "If your handlers burn CPU, no concurrency model hides it: a core does one request at a time, so the per-request overhead decides, and past one core you need one loop or process per core.",
	"wait": "If your handlers wait on something slow (a database, another service), every model that overlaps the waits serves them; " +
		"make the wait non-blocking in your model's idiom (a goroutine, await, a timer) and pick on the other classes.",
	"block": "If your handlers block (a synchronous driver, time.sleep), an event loop stops serving every connection on it: " +
		"use a goroutine or thread per connection, or give the event loop an offload pool for the blocking calls.",
	"exp": "If a few requests are much slower than the rest, tail latency decides: a model that serves other connections while one is slow keeps p99 near the typical request; " +
		"one that serialises them makes requests queue behind the slowest.",
}

// workClassDefs are the work classes: one per kind with fixed service
// times, ranked on closed-loop throughput, and the heavy-tailed class
// (exponential service times, any kind), ranked on p99. Each looks at
// closed-loop points with work and no idle connections or slow readers.
func workClassDefs(a *Analysis) []classDef {
	cells := func(keep func(workSpec) bool) []Cell {
		return a.Cells(func(s Cell) bool {
			w, ok := parseWork(s.Work)
			return ok && s.Kind == results.KindClosed && s.IdleConns == 0 && s.SlowReaders == 0 && keep(w)
		})
	}
	ofKind := func(kind string) []Cell {
		return cells(func(w workSpec) bool { return w.kind == kind && !w.exp })
	}
	const rule = "closed loop, work %s (fixed service time), any connections, size and depth; throughput, and each model's share of the ideal"
	return []classDef{
		{Class{ID: "cpu", Name: "CPU-heavy handlers", Rule: fmt.Sprintf(rule, "cpu:MEAN") + ": server CPUs / mean",
			Metric: "throughput", Unit: "msgs/s", HigherIsBetter: true, Advice: workAdvice["cpu"]},
			ofKind("cpu"), throughputSample},
		{Class{ID: "wait", Name: "Handlers that wait", Rule: fmt.Sprintf(rule, "wait:MEAN") + ": connections / mean",
			Metric: "throughput", Unit: "msgs/s", HigherIsBetter: true, Advice: workAdvice["wait"]},
			ofKind("wait"), throughputSample},
		{Class{ID: "block", Name: "Handlers that block", Rule: fmt.Sprintf(rule, "block:MEAN") + ": connections / mean",
			Metric: "throughput", Unit: "msgs/s", HigherIsBetter: true, Advice: workAdvice["block"]},
			ofKind("block"), throughputSample},
		{Class{ID: "exp", Name: "Heavy-tailed handlers",
			Rule:   "closed loop, work KIND:MEAN:exp (exponential service times: a few requests take many times the mean), any connections, size and depth; p99 decides",
			Metric: "p99 latency", Unit: "µs", HigherIsBetter: false, Advice: workAdvice["exp"]},
			cells(func(w workSpec) bool { return w.exp }), p99Sample},
	}
}

func p99Sample(a *Analysis, model string, sc Cell) (stat.Summary, string, bool) {
	p := a.AggregateAt(model, sc)
	if p == nil {
		return stat.Summary{}, "", false
	}
	return p.P99Us, p.Unranked, true
}

// idealMsgsPerSec is the most a server can complete at a cell with fixed
// work w: each connection's requests run one after another, so connections
// / mean; with cpu work also at most server CPUs / mean, since a core burns
// one request at a time. serverCPUs < 1 counts as 1.
func idealMsgsPerSec(sc Cell, w workSpec, serverCPUs int) float64 {
	perConn := float64(time.Second) / float64(w.mean)
	ideal := float64(sc.Conns) * perConn
	if w.kind == "cpu" {
		ideal = min(ideal, float64(max(serverCPUs, 1))*perConn)
	}
	return ideal
}

// workBehaviour says, per cell of a fixed-work class, each model's
// throughput as a share of the ideal; one far above it is not doing the
// work, and in the block class the models that serialise are named.
func workBehaviour(a *Analysis, kind string, scs []Cell) string {
	var parts []string
	for _, sc := range scs {
		w, ok := parseWork(sc.Work)
		if !ok {
			continue
		}
		ideal := idealMsgsPerSec(sc, w, a.Env.ServerGOMAXPROCS)
		var shares, serial []string
		for _, m := range a.Models {
			p := a.AggregateAt(m, sc)
			if p == nil || p.ThroughputMsgsPerSec.N == 0 {
				continue
			}
			share := p.ThroughputMsgsPerSec.Median / ideal
			s := fmt.Sprintf("%s %.0f%%", m, 100*share)
			if share > 1.1 {
				s += " (above the bound: is it doing the work?)"
			}
			shares = append(shares, s)
			if share < 0.25 {
				serial = append(serial, m)
			}
		}
		if len(shares) == 0 {
			continue
		}
		part := fmt.Sprintf("share of the ideal %s msgs/s at %s: %s", num(ideal), sc.Label(), strings.Join(shares, ", "))
		if kind == "block" && len(serial) > 0 {
			verb := "serialise"
			if len(serial) == 1 {
				verb = "serialises"
			}
			part += fmt.Sprintf(" (%s %s blocking handlers: one blocked handler stops every connection of its loop)", strings.Join(serial, ", "), verb)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return " Behaviour: " + strings.Join(parts, "; ") + "."
}
