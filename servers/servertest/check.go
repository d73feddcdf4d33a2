package servertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Check runs the suite against target outside go test, as `echobench
// check` does: each case through the same code as Run, against a report of
// its own instead of a subtest.

// Status is how a case ended.
type Status string

// The statuses of a case, as `echobench check` prints them (lower case in
// its JSON).
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one case's outcome.
type Result struct {
	Case    string
	Status  Status
	Elapsed time.Duration
	// Reason is the first failure of a failed case, or why a case was
	// skipped; "" for a pass.
	Reason string
	// Messages are everything the case reported (failures, logs, the skip),
	// in order, Reason included: the server's stderr tail and the seed to
	// replay with follow a failure.
	Messages []string
}

// CheckOptions tune Check; the zero value runs every case as go test would.
type CheckOptions struct {
	// Match selects cases by name (CaseNames); nil selects every case.
	Match func(name string) bool
	// CaseTimeout bounds each case once its server is up; 0 means
	// DefaultCaseTimeout.
	CaseTimeout time.Duration
	// Parallel is how many cases run at once, each with its own server;
	// 0 means GOMAXPROCS, as go test's -parallel.
	Parallel int
	// Report, if set, receives each result in suite order, as soon as that
	// case and every case before it have finished. Calls do not overlap.
	Report func(Result)
}

// Check runs the selected cases against target and returns their results in
// suite order. Once ctx is done no further case starts; those are returned
// as skipped, with the reason. An error means the target or the selection
// is unusable, and no case ran.
func Check(ctx context.Context, target Target, opts CheckOptions) ([]Result, error) {
	if err := errors.Join(target.validate(), checkLimitations(target)); err != nil {
		return nil, err
	}
	selected := selectCases(opts.Match)
	if len(selected) == 0 {
		return nil, errors.New("servertest: no case selected")
	}
	bound := opts.CaseTimeout
	if bound <= 0 {
		bound = DefaultCaseTimeout
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	out := &orderedResults{results: make([]Result, len(selected)), done: make([]bool, len(selected)), report: opts.Report}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range selected {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			out.finish(i, Result{Case: c.name, Status: Skip, Reason: "not run: interrupted"})
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out.finish(i, checkCase(target, c, bound))
		})
	}
	wg.Wait()
	return out.results, nil
}

// selectCases returns the cases match selects, in suite order.
func selectCases(match func(string) bool) []testCase {
	var out []testCase
	for _, c := range cases {
		if match == nil || match(c.name) {
			out = append(out, c)
		}
	}
	return out
}

// checkCase runs one case under Check.
func checkCase(target Target, c testCase, bound time.Duration) Result {
	r := &caseReport{}
	start := time.Now()
	r.run(func(t Reporter) { caseBody(t, target, c, bound, nil) })
	return r.result(c.name, time.Since(start))
}

// orderedResults hands results to report in suite order while cases finish
// in any order.
type orderedResults struct {
	mu      sync.Mutex
	results []Result
	done    []bool
	next    int // the first result not yet reported
	report  func(Result)
}

func (o *orderedResults) finish(i int, r Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results[i], o.done[i] = r, true
	for ; o.next < len(o.done) && o.done[o.next]; o.next++ {
		if o.report != nil {
			o.report(o.results[o.next])
		}
	}
}

// caseReport is the Reporter of one case under Check: what package testing
// does for a subtest, reduced to what the cases use.
type caseReport struct {
	mu       sync.Mutex
	failed   bool
	skipped  bool
	reason   string
	messages []string
	cleanups []func()
}

// run runs body in a goroutine of its own, so that Fatal and Skip can end
// it, then the cleanups, last registered first, as package testing does. A
// panic in body fails the case instead of the program.
func (r *caseReport) run(body func(Reporter)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		body(r)
	}()
	<-done
}

// runCleanups runs the last cleanup, then, deferred, the others: a cleanup
// that calls Fatal (runtime.Goexit) does not stop the rest.
func (r *caseReport) runCleanups() {
	r.mu.Lock()
	n := len(r.cleanups)
	if n == 0 {
		r.mu.Unlock()
		return
	}
	f := r.cleanups[n-1]
	r.cleanups = r.cleanups[:n-1]
	r.mu.Unlock()
	defer r.runCleanups()
	f()
}

func (r *caseReport) result(name string, elapsed time.Duration) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Case: name, Status: Pass, Elapsed: elapsed, Reason: r.reason, Messages: r.messages}
	switch {
	case r.failed:
		res.Status = Fail
	case r.skipped:
		res.Status = Skip
	}
	return res
}

func (r *caseReport) add(msg string, fail, skip bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, msg)
	switch {
	case fail && !r.failed:
		r.failed, r.reason = true, msg
	case skip && !r.failed:
		r.skipped, r.reason = true, msg
	}
}

// sprintln formats as the Println-like methods of package testing do.
func sprintln(args ...any) string { return strings.TrimSuffix(fmt.Sprintln(args...), "\n") }

func (r *caseReport) Helper() {}

func (r *caseReport) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *caseReport) Error(args ...any) { r.add(sprintln(args...), true, false) }
func (r *caseReport) Errorf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...), true, false)
}
func (r *caseReport) Logf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...), false, false)
}

func (r *caseReport) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *caseReport) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *caseReport) Skip(args ...any) {
	r.add(sprintln(args...), false, true)
	runtime.Goexit()
}

func (r *caseReport) Skipf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...), false, true)
	runtime.Goexit()
}

func (r *caseReport) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
