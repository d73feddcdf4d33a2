package bench

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"echobench/internal/results"
)

// printPlan lists the points of a dry run and the time they should take.
func (r *Runner) printPlan() {
	per := r.cfg.Warmup.Duration + r.cfg.Duration.Duration + estOverhead
	// A skipped server's points are written at once: they cost no time.
	timed := 0
	for _, p := range r.plan {
		if p.Server.Skip == "" {
			timed++
		}
	}
	fmt.Fprintf(r.stdout, "%d points (%d servers, %d repeats), about %v for the %d that run, at %v each (warm-up + window + %v start/stop)\n",
		len(r.plan), len(r.targets), r.cfg.Repeats, (per * time.Duration(timed)).Round(time.Second), timed, per, estOverhead)
	for i, p := range r.plan {
		fmt.Fprintf(r.stdout, "%4d %s\n", i+1, p.ID)
	}
	for _, s := range r.targets {
		if s.Skip != "" {
			fmt.Fprintf(r.stdout, "SKIPPED %s: %s\n", s.Name, s.Skip)
		}
	}
}

// estOverhead is the per-point cost beyond warm-up and window: starting and
// stopping a server and the load generator, connecting, reading /proc. The
// quick matrix measured 0.45 s per point on the 2-core development machine
// under a load average of 13; an idle machine needs less.
const estOverhead = 350 * time.Millisecond

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pointKey is a PointID without its repeat.
func pointKey(id string) string {
	_, rest, _ := strings.Cut(id, "/")
	return rest
}

// printSummary prints, per point and server, the medians over repeats, then
// the SLO rates, the skipped servers and where the results are.
func (r *Runner) printSummary(w io.Writer) {
	type row struct {
		server, label string
		n, ok         int
		thr, p99, cmp []float64
		extra         bool      // the point has idle connections or slow readers
		idleFailed    []float64 // per ok repeat
		slowClosed    []float64
	}
	rows := map[string]*row{}
	var keys []string
	for _, p := range r.plan {
		if p.Scenario.Kind == results.KindSLO {
			continue
		}
		k := pointKey(p.ID)
		rec := r.records[p.ID]
		if rec == nil {
			continue
		}
		rw := rows[k]
		if rw == nil {
			label := strings.TrimPrefix(describe(p), p.Server.Name+" ")
			label = strings.Join(slices.Delete(strings.Fields(label), 0, 1), " ") // drop the repeat
			rw = &row{server: p.Server.Name, label: label, extra: p.Scenario.IdleConns+p.Scenario.SlowReaders > 0}
			rows[k] = rw
			keys = append(keys, k)
		}
		rw.n++
		if rec.Status == results.StatusOK && rec.Load != nil {
			rw.ok++
			rw.thr = append(rw.thr, rec.Load.ThroughputMsgsPerSec)
			rw.p99 = append(rw.p99, rec.Load.LatencyUs.P99)
			rw.cmp = append(rw.cmp, rec.Load.CompletionRatio)
			rw.idleFailed = append(rw.idleFailed, float64(rec.Load.IdleFailed))
			rw.slowClosed = append(rw.slowClosed, float64(rec.Load.SlowClosed))
		}
	}
	fmt.Fprintf(w, "\nRun %s: medians over repeats\n", r.runID)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tpoint\tok/runs\tmsg/s\tp99 µs\tcompletion\tidle failed / slow closed")
	for _, k := range keys {
		rw := rows[k]
		if rw.ok == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t-\t-\t-\t\n", rw.server, rw.label, rw.ok, rw.n)
			continue
		}
		extra := ""
		if rw.extra {
			// Medians over repeats, like the other columns.
			extra = fmt.Sprintf("%.0f / %.0f", median(rw.idleFailed), median(rw.slowClosed))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0f\t%.0f\t%.4f\t%s\n", rw.server, rw.label, rw.ok, rw.n, median(rw.thr), median(rw.p99), median(rw.cmp), extra)
	}
	tw.Flush()

	r.printSLO(w)

	failed := 0
	for _, rec := range r.records {
		if rec.Status == results.StatusFailed {
			failed++
		}
	}
	for _, s := range r.targets {
		if s.Skip != "" {
			fmt.Fprintf(w, "SKIPPED %s: %s\n", s.Name, s.Skip)
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "%d points FAILED; their records carry the error and the server's stderr tail\n", failed)
	}
	fmt.Fprintf(w, "Results: %s (%d of %d points recorded)\n", filepath.Join(r.runDir, results.FileName), len(r.records), len(r.plan))
}

// printSLO prints, per server and open-loop family, the highest rate that
// met the objective in each repeat (sweep, absolute-rate and SLO points
// together), and its median.
func (r *Runner) printSLO(w io.Writer) {
	type fam struct {
		server, group string
		capacity      []float64
		found         map[int][]results.RateTry
	}
	fams := map[string]*fam{}
	var keys []string
	for _, p := range r.plan {
		if k := p.Scenario.Kind; k != results.KindSweep && k != results.KindSLO && k != results.KindRate {
			continue
		}
		rec := r.records[p.ID]
		if rec == nil || rec.Scenario.RateMsgsPerSec <= 0 {
			continue
		}
		k := p.Server.Name + " " + p.Group
		f := fams[k]
		if f == nil {
			f = &fam{server: p.Server.Name, group: p.Group, found: map[int][]results.RateTry{}}
			fams[k] = f
			keys = append(keys, k)
		}
		f.found[p.Repeat] = append(f.found[p.Repeat], results.RateTry{RateMsgsPerSec: results.OfferedRate(rec), Held: r.slo().Held(rec)})
		if rec.Scenario.CapacityMsgsPerSec > 0 && len(f.found[p.Repeat]) == 1 {
			f.capacity = append(f.capacity, rec.Scenario.CapacityMsgsPerSec)
		}
	}
	if len(keys) == 0 {
		return
	}
	fmt.Fprintf(w, "\nHighest open-loop rate held with p99 <= %v and completion >= %g, rate met, client not the limit, nothing corrupted (median over repeats)\n", r.cfg.SLOP99.Duration, r.cfg.SLOCompletion)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tfamily\tSLO msg/s\tof capacity\trepeats")
	for _, k := range keys {
		f := fams[k]
		var rates []float64
		for _, s := range f.found {
			rates = append(rates, results.HighestRateHeld(s))
		}
		rate, capacity := median(rates), median(f.capacity)
		frac := "-"
		if capacity > 0 {
			frac = fmt.Sprintf("%.2f", rate/capacity)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%d\n", f.server, f.group, rate, frac, len(rates))
	}
	tw.Flush()
}
