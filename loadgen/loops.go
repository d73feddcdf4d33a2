package loadgen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"echobench/internal/results"
)

// loops are a run's event loops, the workers and the idle/slow loop, and the
// channels that step each of them through the run: connect, report, wait
// for the schedule, run the window, finish. Run drives them from its own
// goroutine; each loop's state is touched only by the loop's goroutine
// until wait or abandon has returned.
type loops struct {
	sh      *shared
	workers []*worker
	ax      *aux // nil without idle connections and slow readers

	// setupDone receives one report per loop once it has attempted all its
	// connections: nil, or why it could not.
	setupDone chan error
	// workerStarts carries each worker's schedule; closed, it abandons the
	// worker before its schedule began.
	workerStarts []chan timing
	workerErrs   []error // workerErrs[i] is written by worker i before workersDone
	workersDone  sync.WaitGroup

	auxStart chan timing   // the idle/slow loop's schedule; closed to abandon it
	auxCheck chan struct{} // closed once the workers have drained: the idle check may run
	auxDone  chan error    // the idle/slow loop's outcome, always sent once

	bu         *burst      // nil without a connect burst
	burstStart chan timing // the burst's schedule; closed to abandon it
	burstDone  chan error  // the burst's outcome, always sent once
}

// newLoops creates the workers, each with its share of the connections
// (connection id i goes to worker i mod Workers), and the idle/slow loop
// when the run has idle connections or slow readers. On error nothing is
// left open.
func newLoops(sh *shared, fdLimit int) (*loops, error) {
	cfg := sh.cfg
	l := &loops{sh: sh, workers: make([]*worker, cfg.Workers)}
	for i := range l.workers {
		var ids []int32
		for id := i; id < cfg.Conns; id += cfg.Workers {
			ids = append(ids, int32(id))
		}
		w, err := newWorker(sh, ids, fdLimit)
		if err != nil {
			for _, w := range l.workers[:i] {
				w.close()
			}
			return nil, fmt.Errorf("start worker %d: %w", i, err)
		}
		l.workers[i] = w
	}
	if cfg.IdleConns+cfg.SlowReaders > 0 {
		ax, err := newAux(sh, fdLimit)
		if err != nil {
			for _, w := range l.workers {
				w.close()
			}
			return nil, fmt.Errorf("start idle/slow loop: %w", err)
		}
		l.ax = ax
	}
	if cfg.ConnectBurst > 0 {
		bu, err := newBurst(sh, fdLimit)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("start connect burst loop: %w", err)
		}
		l.bu = bu
	}
	return l, nil
}

// start runs every loop on its own goroutine. Each connects its
// connections at once and reports to setupDone.
func (l *loops) start() {
	l.setupDone = make(chan error, len(l.workers)+1)
	l.workerStarts = make([]chan timing, len(l.workers))
	l.workerErrs = make([]error, len(l.workers))
	for i := range l.workers {
		l.workerStarts[i] = make(chan timing, 1)
		l.workersDone.Add(1)
		go l.runWorker(i)
	}
	l.auxStart = make(chan timing, 1)
	l.auxCheck = make(chan struct{})
	l.auxDone = make(chan error, 1)
	if l.ax != nil {
		go l.runAux()
	} else {
		l.auxDone <- nil
	}
	l.burstStart = make(chan timing, 1)
	l.burstDone = make(chan error, 1)
	if l.bu != nil {
		go l.runBurst()
	} else {
		l.burstDone <- nil
	}
}

// runBurst is the connect burst's goroutine: it waits for the schedule and
// fires the burst at the start of the window. It takes no part in the
// set-up: a burst connected before the window would be no burst.
func (l *loops) runBurst() {
	t, ok := <-l.burstStart
	if !ok {
		l.burstDone <- nil
		return
	}
	l.burstDone <- l.bu.run(t)
}

// runWorker is worker i's goroutine: connect, report, wait for the
// schedule, run, finish.
func (l *loops) runWorker(i int) {
	defer l.workersDone.Done()
	w := l.workers[i]
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Sub-millisecond timers (the open loop's timerfd) would otherwise fire
	// up to 50 µs late: the default timer slack.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	if err := w.connectAll(); err != nil {
		l.setupDone <- err
		return
	}
	l.setupDone <- nil
	t, ok := <-l.workerStarts[i]
	if !ok {
		return
	}
	w.begin(t)
	err := w.loop()
	l.workerErrs[i] = errors.Join(err, w.finish(nanotime()))
}

// runAux is the idle/slow loop's goroutine: connect with the workers, run
// the window beside them, and check the idle connections once the workers
// have drained.
func (l *loops) runAux() {
	if err := l.ax.connectAll(); err != nil {
		l.setupDone <- err
		l.auxDone <- nil
		return
	}
	l.setupDone <- nil
	t, ok := <-l.auxStart
	if !ok {
		l.auxDone <- nil
		return
	}
	l.ax.begin(t)
	err := l.ax.loop()
	<-l.auxCheck
	if err == nil {
		err = l.ax.finalCheck()
	}
	l.auxDone <- err
}

func (l *loops) count() int {
	if l.ax != nil {
		return len(l.workers) + 1
	}
	return len(l.workers)
}

// wakeAll makes every loop look at shared.endNs and shared.abort now
// rather than at its next timeout.
func (l *loops) wakeAll() {
	for _, w := range l.workers {
		w.p.Wake()
	}
	if l.ax != nil {
		l.ax.p.Wake()
	}
	if l.bu != nil {
		l.bu.p.Wake()
	}
}

// awaitSetup waits until every loop has attempted its connections. Ctrl-C
// (ctx) aborts the set-up; the loops still report, and awaitSetup waits for
// them all so that none is left connecting.
func (l *loops) awaitSetup(ctx context.Context) error {
	var setupErr error
	for range l.count() {
		select {
		case err := <-l.setupDone:
			setupErr = errors.Join(setupErr, err)
		case <-ctx.Done():
			l.sh.abort.Store(true)
			l.wakeAll()
			setupErr = errors.Join(setupErr, <-l.setupDone)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted while connecting: %w", ctx.Err())
	}
	if setupErr != nil {
		return fmt.Errorf("connect: %w", setupErr)
	}
	return nil
}

func (l *loops) connectedAtStart() int {
	up := 0
	for _, w := range l.workers {
		up += w.st.connectedAtStart
	}
	return up
}

// begin hands every loop its schedule.
func (l *loops) begin(t timing) {
	for _, s := range l.workerStarts {
		s <- t
	}
	l.auxStart <- t
	l.burstStart <- t
}

// abandon ends the loops after the set-up, before any schedule began, and
// closes them.
func (l *loops) abandon() {
	for _, s := range l.workerStarts {
		close(s)
	}
	close(l.auxStart)
	close(l.auxCheck)
	close(l.burstStart)
	l.workersDone.Wait()
	<-l.auxDone
	<-l.burstDone
	l.close()
}

// wait lets the loops finish their schedule: the workers drain, then the
// idle connections are checked. It closes the loops and returns what went
// wrong in any of them.
func (l *loops) wait() error {
	l.workersDone.Wait()
	close(l.auxCheck)
	auxErr := <-l.auxDone
	burstErr := <-l.burstDone
	l.close()
	return errors.Join(append(l.workerErrs, auxErr, burstErr)...)
}

func (l *loops) close() {
	for _, w := range l.workers {
		w.close()
	}
	if l.ax != nil {
		l.ax.close()
	}
	if l.bu != nil {
		l.bu.close()
	}
}

// windowRun is what the schedule came to.
type windowRun struct {
	startNs, endNs int64
	cpuSeconds     float64              // this process's CPU time during the window
	throttle       *results.CPUThrottle // a CPU quota's stops in the window; nil under none
	interrupted    bool                 // ctx ended the window early, at endNs
}

// StartMissedError is a run whose set-up (connecting) ended after
// Config.StartAt: its window cannot start at the agreed instant, so
// nothing was measured.
type StartMissedError struct {
	StartAt time.Time
	// Late is how long after StartAt the set-up ended.
	Late  time.Duration
	Conns int
}

func (e *StartMissedError) Error() string {
	return fmt.Sprintf("--start-at %s missed: connecting %d connections ended %v after it; set it further ahead",
		e.StartAt.UTC().Format(time.RFC3339Nano), e.Conns, e.Late.Round(time.Microsecond))
}

// awaitStart decides the schedule once the connections are up and waits
// for the warm-up. Without StartAt the warm-up starts now. With it the
// window starts at StartAt exactly and the warm-up Warmup before, or now
// if that has passed; the wait is one timer, at most MaxStartAhead, and
// Ctrl-C (ctx) ends it. A timer that fires late delays the warm-up, never
// the window.
func (l *loops) awaitStart(ctx context.Context) (timing, error) {
	sh := l.sh
	now := nanotime()
	if sh.startAtNs == 0 {
		return timing{warmStartNs: now, windowStartNs: now + int64(sh.cfg.Warmup)}, nil
	}
	if now >= sh.startAtNs {
		return timing{}, &StartMissedError{StartAt: sh.cfg.StartAt, Late: time.Duration(now - sh.startAtNs), Conns: sh.cfg.Conns}
	}
	t := timing{warmStartNs: max(now, sh.startAtNs-int64(sh.cfg.Warmup)), windowStartNs: sh.startAtNs}
	if !sleepUntil(ctx, t.warmStartNs) {
		return timing{}, fmt.Errorf("interrupted while waiting for --start-at: %w", ctx.Err())
	}
	return t, nil
}

// runSchedule starts the warm-up and the window at t, and sleeps through
// both. Ctrl-C (ctx) ends the window where it is and tells the loops.
func (l *loops) runSchedule(ctx context.Context, t timing) windowRun {
	cfg := l.sh.cfg
	win := windowRun{startNs: t.windowStartNs}
	win.endNs = win.startNs + int64(cfg.Duration)
	l.sh.endNs.Store(win.endNs)
	l.begin(t)
	if !sleepUntil(ctx, win.startNs) {
		win.interrupted = true
		win.endNs = max(nanotime(), win.startNs)
	} else {
		cpuStartS, statStart := cpuSeconds(), hostCgroup.cpuStat()
		if !sleepUntil(ctx, win.endNs) {
			win.interrupted = true
			win.endNs = nanotime()
		}
		win.cpuSeconds = cpuSeconds() - cpuStartS
		win.throttle = throttleSince(statStart, hostCgroup.cpuStat())
	}
	if win.interrupted {
		l.sh.endNs.Store(win.endNs)
		l.wakeAll()
	}
	return win
}
