package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"echobench/bench/config"
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
