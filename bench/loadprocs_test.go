package bench

import (
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"echobench/loadgen"
)

// The generators' shares add up to the point's load: connections, extra
// connections and the open-loop rate in proportion, the client CPUs in
// contiguous shares.
func TestLoadShares(t *testing.T) {
	t.Parallel()
	cfg := loadgen.Config{Addr: "127.0.0.1:9", Conns: 5, IdleConns: 3, SlowReaders: 1, ConnectBurst: 7,
		Mode: loadgen.Open, RateMsgsPerSec: 1000, Duration: time.Second}
	shares, cpus := loadShares(cfg, []int{1, 2, 3}, 2)
	if !reflect.DeepEqual(cpus, [][]int{{1}, {2, 3}}) {
		t.Errorf("CPU shares %v", cpus)
	}
	var conns, idle, slow, burst int
	var rate float64
	for _, s := range shares {
		conns, idle, slow, burst, rate = conns+s.Conns, idle+s.IdleConns, slow+s.SlowReaders, burst+s.ConnectBurst, rate+s.RateMsgsPerSec
		if s.Addr != cfg.Addr || s.Duration != cfg.Duration || s.Mode != cfg.Mode {
			t.Errorf("a share lost the point's load: %+v", s)
		}
	}
	if conns != 5 || idle != 3 || slow != 1 || burst != 7 || rate != 1000 {
		t.Errorf("shares add up to conns %d idle %d slow %d burst %d rate %v", conns, idle, slow, burst, rate)
	}
	if shares[0].Conns != 3 || shares[0].RateMsgsPerSec != 600 {
		t.Errorf("first share %d conns at %v msgs/s, want 3 at 600", shares[0].Conns, shares[0].RateMsgsPerSec)
	}
	one, oneCPUs := loadShares(cfg, []int{1, 2}, 1)
	if len(one) != 1 || !reflect.DeepEqual(one[0], cfg) || !reflect.DeepEqual(oneCPUs, [][]int{{1, 2}}) {
		t.Errorf("one generator: %+v on %v", one, oneCPUs)
	}
}

// load_procs appears in the point ID only when above one, and more
// generators than client CPUs are refused before anything starts.
func TestLoadProcsPlanAndCPUs(t *testing.T) {
	t.Parallel()
	body := "duration = \"200ms\"\nrepeats = 1\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\nconns = [4]\nsizes = [64]\nload_procs = 2\n[[scenarios]]\nmode = \"closed\"\nconns = [4]\nsizes = [64]\n"
	c := testConfig(t, body)
	plan := Plan(c, []*Target{{Name: "echo"}}, 1)
	if len(plan) != 2 || plan[0].ID != "r1/echo/closed/c4-s64-d1-procs2" || plan[0].Scenario.LoadProcs != 2 ||
		plan[1].ID != "r1/echo/closed/c4-s64-d1" || plan[1].Scenario.LoadProcs != 0 {
		t.Fatalf("plan %+v", plan)
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", body)
	opts := Options{ConfigPath: cfg, ResultsDir: filepath.Join(dir, "res"), DryRun: true, ServerCPUs: "0", ClientCPUs: "1"}
	_, err := New(t.Context(), opts, fakeDeps(), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "load_procs 2 of r1/echo/closed/c4-s64-d1-procs2 needs a client CPU per generator, the client CPUs are 1") {
		t.Errorf("two generators on one client CPU: %v", err)
	}
	opts.ClientCPUs = "0-1"
	if _, err := New(t.Context(), opts, fakeDeps(), io.Discard, io.Discard); err != nil {
		t.Errorf("two generators on two client CPUs: %v", err)
	}
}
