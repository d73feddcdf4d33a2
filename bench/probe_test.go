package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"echobench/bench/config"
	"echobench/internal/results"
	"echobench/servers/work"
)

// A Go model whose probe fails (iouring where io_uring is disabled) is
// skipped with the reason, as a missing foreign stack is; the others run.
func TestUnavailableGoModelSkipped(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	r := &Runner{
		deps: Deps{Exe: "echobench", GoModels: []string{"echo", "iouring"}, ModelProbe: func(m string) error {
			if m == "iouring" {
				return errors.New("iouring: io_uring is disabled for this process")
			}
			return nil
		}},
		stderr:  &stderr,
		srvCPUs: []int{0},
	}
	srv, err := r.resolveTarget(t.Context(), config.ServerEntry{Model: "iouring"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.Skip, "io_uring is disabled") {
		t.Errorf("Skip = %q, want the probe's reason", srv.Skip)
	}
	if !strings.Contains(stderr.String(), "SKIPPED iouring: iouring: io_uring is disabled") {
		t.Errorf("stderr %q does not say it was skipped", stderr.String())
	}
	if srv, err := r.resolveTarget(t.Context(), config.ServerEntry{Model: "echo"}); err != nil || srv.Skip != "" {
		t.Errorf("an available model: Skip %q, %v", srv.Skip, err)
	}
}

// A point whose work the model does not implement is a skipped record with
// the model's reason, without starting a server; a point without work, and
// a command's point (its server is not known), go on to run.
func TestWorkRefusedSkipped(t *testing.T) {
	t.Parallel()
	r := &Runner{deps: Deps{CheckWork: func(m string, s work.Spec) error {
		if m == "echo-only" && s.Kind != work.None {
			return fmt.Errorf("--work %s: %s echoes only", s, m)
		}
		return nil
	}}}
	echoOnly := &Target{Name: "echo-only", Info: results.ServerInfo{Model: "echo-only"}}
	p := Point{ID: "r1/echo-only/closed/c1-s64-d1-work=wait:1ms", Server: echoOnly,
		Scenario: results.Scenario{Kind: results.KindClosed, SizeBytes: 64, Work: "wait:1ms"}}
	rec := r.runPoint(t.Context(), p)
	if rec.Status != results.StatusSkipped || !strings.Contains(rec.Error, "echoes only") {
		t.Errorf("status %q, error %q: want skipped with the model's reason", rec.Status, rec.Error)
	}
	if got := r.workRefusal(Point{Server: echoOnly, Scenario: results.Scenario{SizeBytes: 64}}); got != "" {
		t.Errorf("a point without work is refused: %q", got)
	}
	cmd := &Target{Name: "mine", Argv: []string{"./server"}}
	if got := r.workRefusal(Point{Server: cmd, Scenario: results.Scenario{SizeBytes: 64, Work: "wait:1ms"}}); got != "" {
		t.Errorf("a command's point is refused before it runs: %q", got)
	}
}
