package servertest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"echobench/servers/work"
)

// caseNames is the Case of each result, in order.
func caseNames(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Case
	}
	return out
}

// Check runs the same cases as Run: a conforming server passes, one that
// breaks a rule fails the case that checks it with Run's explanation and the
// seed, and skips carry their reasons. Results come in suite order, to
// Report too.
func TestCheckRunsTheSuite(t *testing.T) {
	t.Parallel()
	fake := fakeEcho(t)
	match := func(name string) bool {
		return slices.Contains([]string{"one-byte", "one-mib-single-write", "half-close-8mib", "work-lone-cpu", "work-lone-wait"}, name)
	}
	var mu sync.Mutex
	var reported []Result
	results, err := Check(context.Background(), Target{
		Name:        "fakeecho-corrupt",
		Command:     []string{fake, "--fault", "corrupt"},
		Limitations: map[string]string{"half-close-8mib": "a documented reason"},
		WorkKinds:   []work.Kind{work.Wait},
	}, CheckOptions{Match: match, Parallel: 2, Report: func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, r)
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one-byte", "one-mib-single-write", "half-close-8mib", "work-lone-cpu", "work-lone-wait"}
	if got := caseNames(results); !slices.Equal(got, want) {
		t.Fatalf("results for %v, want %v in suite order", got, want)
	}
	if got := caseNames(reported); !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v in suite order", got, want)
	}
	byCase := map[string]Result{}
	for _, r := range results {
		byCase[r.Case] = r
	}
	expect := map[string]struct {
		status Status
		reason string
	}{
		"one-byte":             {Pass, ""},
		"one-mib-single-write": {Fail, "echo differs at byte 4095"},
		"half-close-8mib":      {Skip, "fakeecho-corrupt: documented limitation: a documented reason"},
		"work-lone-cpu":        {Skip, "does not implement --work cpu (its work kinds: wait)"},
		// fakeecho takes no --work: a claimed kind is checked, and fails.
		"work-lone-wait": {Fail, "exited before printing LISTENING"},
	}
	for name, e := range expect {
		r := byCase[name]
		if r.Status != e.status || !strings.Contains(r.Reason, e.reason) {
			t.Errorf("%s: %s %q, want %s with a reason containing %q\n%s", name, r.Status, r.Reason, e.status, e.reason, strings.Join(r.Messages, "\n"))
		}
	}
	if msgs := strings.Join(byCase["one-mib-single-write"].Messages, "\n"); !strings.Contains(msgs, "seed ") || !strings.Contains(msgs, "exited with status") && !strings.Contains(msgs, "killed by signal") {
		t.Errorf("a failure does not carry the seed and how the server ended:\n%s", msgs)
	}
	if r := byCase["one-byte"]; r.Elapsed <= 0 || r.Elapsed > time.Minute {
		t.Errorf("one-byte took %v", r.Elapsed)
	}
}

// Check refuses what could not run, before starting anything.
func TestCheckRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		target Target
		match  func(string) bool
		want   string
	}{
		{"empty command", Target{Name: "x"}, nil, "empty Command"},
		{"unknown limitation", Target{Name: "x", Command: []string{"x"}, Limitations: map[string]string{"nosuch": "r"}}, nil, `unknown case "nosuch"`},
		{"no case", Target{Name: "x", Command: []string{"x"}}, func(string) bool { return false }, "no case selected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Check(context.Background(), tt.target, CheckOptions{Match: tt.match})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// Once the context is done no case starts: each is reported as not run.
// The command does not exist, so a case that started would fail.
func TestCheckInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err := Check(ctx, Target{Name: "none", Command: []string{"/nonexistent/server"}}, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(cases) {
		t.Fatalf("%d results, want one per case (%d)", len(results), len(cases))
	}
	for _, r := range results {
		if r.Status != Skip || r.Reason != "not run: interrupted" {
			t.Errorf("%s: %s %q, want skipped as not run", r.Case, r.Status, r.Reason)
		}
	}
}

// caseReport behaves as package testing does for what the cases use: Fatal
// and Skip end the case, cleanups run last first even after a Fatal in one
// of them, a failure outranks a skip, and a panic fails the case.
func TestCaseReport(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		body     func(t Reporter, trace *[]string)
		status   Status
		reason   string
		wantTail []string
	}{
		{"pass", func(t Reporter, trace *[]string) {
			t.Logf("a note")
			*trace = append(*trace, "end")
		}, Pass, "", []string{"end"}},
		{"fatal stops the case", func(t Reporter, trace *[]string) {
			t.Cleanup(func() { *trace = append(*trace, "cleanup 1") })
			t.Cleanup(func() { *trace = append(*trace, "cleanup 2"); t.Fatal("cleanup fails") })
			t.Fatalf("stop %d", 1)
			*trace = append(*trace, "after fatal")
		}, Fail, "stop 1", []string{"cleanup 2", "cleanup 1"}},
		{"skip", func(t Reporter, trace *[]string) {
			t.Skipf("not here: %s", "reason")
			*trace = append(*trace, "after skip")
		}, Skip, "not here: reason", nil},
		{"error then skip", func(t Reporter, trace *[]string) {
			t.Error("broken", 2)
			t.Skip("then skipped")
		}, Fail, "broken 2", nil},
		{"panic", func(t Reporter, trace *[]string) {
			t.Cleanup(func() { *trace = append(*trace, "cleanup") })
			panic("boom")
		}, Fail, "panic: boom", []string{"cleanup"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var trace []string
			r := &caseReport{}
			r.run(func(rep Reporter) { tt.body(rep, &trace) })
			res := r.result(tt.name, time.Second)
			if res.Status != tt.status || !strings.HasPrefix(res.Reason, tt.reason) {
				t.Errorf("%s %q, want %s %q", res.Status, res.Reason, tt.status, tt.reason)
			}
			if !slices.Equal(trace, tt.wantTail) {
				t.Errorf("ran %q, want %q", trace, tt.wantTail)
			}
		})
	}
}
