package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"echobench/internal/results"
)

// progress reports the run's advance on stderr: a bar on a terminal, one
// plain line per point start and end otherwise (logs, CI, tests).
type progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	total    int
	ran      int // points run by this process
	started  time.Time
	finished bool
}

func newProgress(w io.Writer, terminal bool, total, done int) *progress {
	p := &progress{w: w, total: total, started: time.Now()}
	if terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
		_ = p.bar.Set(done)
	}
	return p
}

// Write prints a message without breaking the bar.
func (p *progress) Write(b []byte) (int, error) {
	if p.bar != nil && !p.finished {
		_ = p.bar.Clear()
		n, err := p.w.Write(b)
		_ = p.bar.RenderBlank()
		return n, err
	}
	return p.w.Write(b)
}

func describe(pt Point) string {
	sc := pt.Scenario
	s := fmt.Sprintf("%s r%d %s c%d s%d d%d", pt.Server.Name, pt.Repeat, sc.Kind, sc.Conns, sc.SizeBytes, sc.Depth)
	if sc.IdleConns > 0 {
		s += fmt.Sprintf(" +%d idle", sc.IdleConns)
	}
	if sc.SlowReaders > 0 {
		s += fmt.Sprintf(" +%d slow@%dB/s", sc.SlowReaders, sc.SlowReadBytesPerSec)
	}
	if sc.ConnLifetime > 0 {
		s += fmt.Sprintf(" life %d", sc.ConnLifetime)
	}
	if sc.ConnectBurst > 0 {
		s += fmt.Sprintf(" +%d burst", sc.ConnectBurst)
	}
	if sc.Work != "" {
		s += " work " + sc.Work
	}
	if pt.MsgTimeout > 0 {
		s += fmt.Sprintf(" timeout %v", pt.MsgTimeout)
	}
	switch sc.Kind {
	case results.KindSweep:
		s += fmt.Sprintf(" load %g", sc.LoadFraction)
	case results.KindSLO:
		s += fmt.Sprintf(" step %d", pt.SLOStep)
	case results.KindRate:
		s += fmt.Sprintf(" rate %g", sc.RateMsgsPerSec)
	case results.KindOverload:
		s += fmt.Sprintf(" overload x%g", sc.LoadFraction)
	}
	return s
}

func (p *progress) begin(i int, pt Point) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("[%d/%d] %s", i, p.total, describe(pt)))
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] run  %s\n", i, p.total, describe(pt))
}

func (p *progress) end(i int, pt Point, rec *results.Record) {
	p.ran++
	line := fmt.Sprintf("[%d/%d] done %s: %s", i, p.total, describe(pt), outcome(rec))
	if p.bar != nil {
		_ = p.bar.Set(i)
		if rec.Status != results.StatusOK {
			fmt.Fprintln(p, line)
		}
		return
	}
	left := p.total - i
	eta := time.Duration(float64(time.Since(p.started)) / float64(p.ran) * float64(left)).Round(time.Second)
	fmt.Fprintf(p.w, "%s; ETA %v\n", line, eta)
}

// outcome is a one-line account of a record.
func outcome(rec *results.Record) string {
	switch {
	case rec.Status == results.StatusSkipped:
		return "skipped: " + rec.Error
	case rec.Status == results.StatusFailed:
		s := "FAILED: " + rec.Error
		if rec.StderrTail != "" {
			s += " (stderr: " + lastLines(rec.StderrTail, 3) + ")"
		}
		return s
	case rec.Load == nil:
		return rec.Status
	}
	l := rec.Load
	s := fmt.Sprintf("ok, %.0f msg/s, p99 %.0f µs, completion %.4f", l.ThroughputMsgsPerSec, l.LatencyUs.P99, l.CompletionRatio)
	if rec.Scenario.RateMsgsPerSec > 0 {
		s += fmt.Sprintf(", offered %.0f msg/s", rec.Scenario.RateMsgsPerSec)
	}
	if st := rec.ServerStats; st != nil {
		s += fmt.Sprintf(", server CPU %.2f", st.CPUUtil)
	}
	if len(rec.Warnings) > 0 {
		s += "; warnings: " + strings.Join(rec.Warnings, "; ")
	}
	return s
}

func (p *progress) finish() {
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
