package bench

import (
	"context"
	"slices"
	"time"

	"echobench/bench/proc"
	"echobench/internal/results"
)

// tick is one periodic reading of the server group during the window.
type tick struct {
	at     time.Time
	monoNs int64  // CLOCK_MONOTONIC, the load generator's clock
	ticks  uint64 // user+system clock ticks
	user   uint64
	sys    uint64
}

// newTick stamps a reading of s with the time.
func newTick(s proc.Sample) tick {
	return tick{at: time.Now(), monoNs: monoNowNs(), ticks: s.UTicks + s.STicks, user: s.UTicks, sys: s.STicks}
}

// window samples a server's process group over the measured window, in its
// own goroutine. Read the outcome with stats.
//
// A member that forks during the window is counted from the next listing
// (at most rescanEvery later) on.
type window struct {
	done chan struct{}

	ok     bool // both ends of the window were read
	t0, t1 time.Time
	s0, s1 proc.Sample
	ticks  []tick
	// tail holds readings after the window's end reading, until the load
	// generator exits: its window started after ours (it connects first),
	// so its last intervals end after ours.
	tail        []tick
	peakHWM     int64
	peakRSS     int64
	peakThreads int

	members []int // the group as last listed
	scanned time.Time

	cpus       cpuProbe
	cpu0, cpu1 cpuReading // both ends of the window, for Noise
}

// cpuProbe names what the window reads to tell what else ran on the pinned
// CPUs: the server's and the client's CPU lists and the client's PID.
type cpuProbe struct {
	srvCPUs, cliCPUs []int
	// clientTicks is the client's CPU time so far, in clock ticks: from
	// /proc while it runs, from its rusage once it has exited (the window
	// often ends because the client did).
	clientTicks func() (uint64, bool)
}

// cpuReading is /proc/stat for both CPU sets and the client's CPU time, read
// together with a server sample.
type cpuReading struct {
	ok         bool
	srv, cli   proc.CPUTimes
	clientTick uint64
}

func (c cpuProbe) read() cpuReading {
	if len(c.srvCPUs) == 0 || len(c.cliCPUs) == 0 || c.clientTicks == nil {
		return cpuReading{}
	}
	srvCPUs, cliCPUs := c.srvCPUs, c.cliCPUs
	if overlaps(srvCPUs, cliCPUs) {
		// Who ran where inside shared CPUs is unknown: measure the union.
		union := append(append([]int(nil), srvCPUs...), cliCPUs...)
		slices.Sort(union)
		union = slices.Compact(union)
		srvCPUs, cliCPUs = union, union
	}
	srv, err1 := proc.ReadCPUStat(srvCPUs)
	cli, err2 := proc.ReadCPUStat(cliCPUs)
	client, ok := c.clientTicks()
	if err1 != nil || err2 != nil || !ok {
		return cpuReading{}
	}
	return cpuReading{ok: true, srv: srv, cli: cli, clientTick: client}
}

// sampleWindow samples group pgid from start for dur, stopping early when
// stop closes (the load generator exited) or ctx ends. Group membership is
// re-read every rescanEvery and at both ends, so a server that forks workers
// is summed whole.
func sampleWindow(ctx context.Context, pgid int, cpus cpuProbe, start time.Time, dur time.Duration, stop <-chan struct{}, every time.Duration) *window {
	w := &window{done: make(chan struct{}), cpus: cpus}
	go w.run(ctx, pgid, start, dur, stop, every)
	return w
}

// rescanEvery is how often group membership is re-read: listing it scans
// all of /proc, which costs more than reading the members themselves.
const rescanEvery = time.Second

func (w *window) read(pgid int, ctxsw bool) (proc.Sample, bool) {
	s, ok := w.readGroup(pgid, ctxsw)
	if !ok {
		return s, false
	}
	w.peakHWM = max(w.peakHWM, s.HWM)
	w.peakRSS = max(w.peakRSS, s.RSS)
	w.peakThreads = max(w.peakThreads, s.Threads)
	return s, true
}

// readGroup reads the group without counting it towards the window's peaks.
func (w *window) readGroup(pgid int, ctxsw bool) (proc.Sample, bool) {
	if w.members == nil || ctxsw || time.Since(w.scanned) >= rescanEvery {
		members, err := proc.GroupMembers(pgid)
		if err != nil || len(members) == 0 {
			return proc.Sample{}, false
		}
		w.members, w.scanned = members, time.Now()
	}
	s, err := proc.ReadGroup(w.members, ctxsw)
	if err != nil || s.Members == 0 {
		return proc.Sample{}, false
	}
	return s, true
}

func (w *window) run(ctx context.Context, pgid int, start time.Time, dur time.Duration, stop <-chan struct{}, every time.Duration) {
	defer close(w.done)
	wait := time.NewTimer(time.Until(start))
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-stop:
		return // the load ended during its warm-up: no window to measure
	case <-ctx.Done():
		return
	}
	s0, ok := w.read(pgid, true)
	if !ok {
		return
	}
	t0 := newTick(s0)
	w.s0, w.t0 = s0, t0.at
	w.cpu0 = w.cpus.read()
	w.ticks = append(w.ticks, t0)
	end := time.NewTimer(dur)
	defer end.Stop()
	tk := time.NewTicker(every)
	defer tk.Stop()
	last := s0
	for {
		select {
		case <-tk.C:
			if s, ok := w.read(pgid, false); ok {
				w.ticks = append(w.ticks, newTick(s))
				last = s
			}
			continue
		case <-end.C:
		case <-stop:
		case <-ctx.Done():
			return
		}
		break
	}
	s1, ok := w.read(pgid, true)
	if !ok {
		// The server died: the last periodic reading is the best end.
		s1 = last
	}
	t1 := newTick(s1)
	w.s1, w.t1, w.ok = s1, t1.at, true
	w.cpu1 = w.cpus.read()
	w.ticks = append(w.ticks, t1)
	w.sampleTail(ctx, pgid, stop, tk.C)
}

// stats waits for the sampler and turns its readings into ServerStats;
// completed is the load generator's completed message count. It returns nil
// when the window was never measured.
func (w *window) stats(completed int64) *results.ServerStats {
	<-w.done
	if !w.ok {
		return nil
	}
	secs := w.t1.Sub(w.t0).Seconds()
	st := &results.ServerStats{
		CPUUserS:     ticksToS(w.s1.UTicks, w.s0.UTicks),
		CPUSysS:      ticksToS(w.s1.STicks, w.s0.STicks),
		PeakRSSBytes: max(w.peakHWM, w.peakRSS),
		VolCtxSw:     max(0, w.s1.VolCtxSw-w.s0.VolCtxSw),
		InvolCtxSw:   max(0, w.s1.InvolCtxSw-w.s0.InvolCtxSw),
		Threads:      w.peakThreads,
	}
	cpu := st.CPUUserS + st.CPUSysS
	if secs > 0 {
		st.CPUUtil = cpu / secs
	}
	if cpu > 0 {
		st.MsgsPerCPUSecond = float64(completed) / cpu
	}
	st.CPUTimeline = cpuTimeline(w.ticks)
	return st
}

// noise returns what else ran on the pinned CPUs during the window, or nil
// when either end could not be read. When the two CPU sets overlap, the
// share of their union is reported for both.
func (w *window) noise() *results.Noise {
	<-w.done
	if !w.ok || !w.cpu0.ok || !w.cpu1.ok {
		return nil
	}
	srv := w.cpu1.srv.Sub(w.cpu0.srv)
	cli := w.cpu1.cli.Sub(w.cpu0.cli)
	server := float64(sub0(w.s1.UTicks+w.s1.STicks, w.s0.UTicks+w.s0.STicks))
	client := float64(sub0(w.cpu1.clientTick, w.cpu0.clientTick))
	share := func(tasks, ours, total float64) float64 {
		if total <= 0 {
			return 0
		}
		return max(0, tasks-ours) / total
	}
	n := &results.Noise{}
	if overlaps(w.cpus.srvCPUs, w.cpus.cliCPUs) {
		// cpuProbe read the union into both: one share covers both sets.
		n.ServerCPUsOther = share(float64(srv.Tasks), server+client, float64(srv.Total))
		n.ClientCPUsOther = n.ServerCPUsOther
		if srv.Total > 0 {
			n.Steal = float64(srv.Steal) / float64(srv.Total)
		}
	} else {
		n.ServerCPUsOther = share(float64(srv.Tasks), server, float64(srv.Total))
		n.ClientCPUsOther = share(float64(cli.Tasks), client, float64(cli.Total))
		if total := srv.Total + cli.Total; total > 0 {
			n.Steal = float64(srv.Steal+cli.Steal) / float64(total)
		}
	}
	n.Disturbed = n.ServerCPUsOther > results.DisturbedShare || n.ClientCPUsOther > results.DisturbedShare ||
		n.Steal > results.DisturbedShare
	return n
}

func overlaps(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func ticksToS(end, start uint64) float64 {
	if end < start {
		return 0 // a member left the group: its time is gone
	}
	return float64(end-start) / proc.ClockTicks
}

// cpuTimeline spreads the CPU time between consecutive readings over the
// whole seconds of the window it falls in (by the midpoint of each interval)
// and returns utilisation in CPUs per second. The last, partial second is
// scaled by its real length.
func cpuTimeline(ts []tick) []float64 {
	if len(ts) < 2 {
		return nil
	}
	t0 := ts[0].at
	total := ts[len(ts)-1].at.Sub(t0).Seconds()
	// A sliver past the last whole second (the final reading lands a few
	// milliseconds late) joins the previous second instead of making a
	// nearly empty one.
	n := int(total)
	if total-float64(n) > 0.25 || n == 0 {
		n++
	}
	busy := make([]float64, n)
	for i := 1; i < len(ts); i++ {
		if ts[i].ticks < ts[i-1].ticks {
			continue
		}
		mid := (ts[i-1].at.Sub(t0).Seconds() + ts[i].at.Sub(t0).Seconds()) / 2
		b := min(int(mid), n-1)
		busy[b] += float64(ts[i].ticks-ts[i-1].ticks) / proc.ClockTicks
	}
	for i := range busy {
		length := 1.0
		if i == n-1 {
			length = total - float64(i)
		}
		if length > 0 {
			busy[i] /= length
		}
	}
	return busy
}
