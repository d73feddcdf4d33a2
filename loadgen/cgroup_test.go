package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echobench/internal/results"
)

// cpuStatFile is a cpu.stat as a kernel with the cpu controller enabled
// writes it.
func cpuStatFile(periods, throttled, throttledUs int64) string {
	return fmt.Sprintf(`usage_usec 8123456
user_usec 6000000
system_usec 2123456
core_sched.force_idle_usec 0
nr_periods %d
nr_throttled %d
throttled_usec %d
nr_bursts 0
burst_usec 0
`, periods, throttled, throttledUs)
}

// Without the cpu controller a cgroup's cpu.stat has only the usage lines.
const noControllerCPUStat = "usage_usec 8123456\nuser_usec 6000000\nsystem_usec 2123456\n"

// fakeCgroup writes a cgroup tree: the /proc/self/cgroup file and files
// under the mount, each at its path relative to the mount.
func fakeCgroup(t *testing.T, selfCgroup string, files map[string]string) cgroupFS {
	t.Helper()
	dir := t.TempDir()
	c := cgroupFS{selfCgroup: filepath.Join(dir, "cgroup"), root: filepath.Join(dir, "mnt")}
	if err := os.WriteFile(c.selfCgroup, []byte(selfCgroup), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(c.root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCgroupCPUStat(t *testing.T) {
	t.Parallel()
	const podPath = "/kubepods.slice/kubepods-pod1.slice/cri-containerd-c1.scope"
	for _, tt := range []struct {
		name, self string
		files      map[string]string
		want       cpuStat
	}{
		{"own cgroup namespace", "0::/\n", map[string]string{"cpu.stat": cpuStatFile(120, 7, 35000)},
			cpuStat{periods: 120, throttled: 7, throttledUs: 35000, ok: true}},
		{"host path", "0::" + podPath + "\n", map[string]string{podPath + "/cpu.stat": cpuStatFile(5, 0, 0), "cpu.stat": noControllerCPUStat},
			cpuStat{periods: 5, ok: true}},
		// A container without a cgroup namespace sees the host's path, but
		// its mount's root is its own cgroup.
		{"path not in the mount", "0::" + podPath + "\n", map[string]string{"cpu.stat": cpuStatFile(9, 2, 100)},
			cpuStat{periods: 9, throttled: 2, throttledUs: 100, ok: true}},
		{"cpu controller off", "0::/\n", map[string]string{"cpu.stat": noControllerCPUStat}, cpuStat{}},
		{"cgroup v1 only", "12:cpu,cpuacct:/docker/c1\n1:name=systemd:/docker/c1\n", map[string]string{"cpu.stat": cpuStatFile(120, 7, 35000)}, cpuStat{}},
		{"no cpu.stat", "0::/\n", map[string]string{}, cpuStat{}},
		{"garbage", "0::/\n", map[string]string{"cpu.stat": "nr_periods x\nnr_throttled -1\nthrottled_usec\n"}, cpuStat{}},
	} {
		if got := fakeCgroup(t, tt.self, tt.files).cpuStat(); got != tt.want {
			t.Errorf("%s: cpuStat() = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// A missing /proc/self/cgroup reads as nothing, not as an error.
	if got := (cgroupFS{selfCgroup: filepath.Join(t.TempDir(), "none"), root: t.TempDir()}).cpuStat(); got.ok {
		t.Errorf("missing self cgroup: %+v", got)
	}
}

func TestThrottleSince(t *testing.T) {
	t.Parallel()
	before := cpuStat{periods: 100, throttled: 3, throttledUs: 9000, ok: true}
	for _, tt := range []struct {
		name          string
		before, after cpuStat
		want          *results.CPUThrottle
	}{
		{"throttled", before, cpuStat{periods: 150, throttled: 13, throttledUs: 59000, ok: true},
			&results.CPUThrottle{Periods: 50, Throttled: 10, ThrottledUs: 50000}},
		{"under a quota, never stopped", before, cpuStat{periods: 150, throttled: 3, throttledUs: 9000, ok: true},
			&results.CPUThrottle{Periods: 50}},
		{"no quota: no period passed", before, before, nil},
		{"unreadable at the start", cpuStat{}, before, nil},
		{"unreadable at the end", before, cpuStat{}, nil},
		{"counters went back", before, cpuStat{periods: 150, throttled: 1, ok: true}, nil},
	} {
		got := throttleSince(tt.before, tt.after)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("%s: throttleSince = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestAddThrottle(t *testing.T) {
	t.Parallel()
	var l results.Load
	addThrottle(&l, &results.CPUThrottle{Periods: 50})
	if l.CPUThrottle == nil || len(l.Warnings) != 0 {
		t.Errorf("unthrottled window: %+v, warnings %q", l.CPUThrottle, l.Warnings)
	}
	addThrottle(&l, &results.CPUThrottle{Periods: 50, Throttled: 10, ThrottledUs: 50000})
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "throttled in 10 of 50 periods (50.0 ms stopped)") {
		t.Errorf("throttled window: warnings %q", l.Warnings)
	}
	addThrottle(&l, nil)
	if l.CPUThrottle != nil || len(l.Warnings) != 1 {
		t.Errorf("no quota: %+v, warnings %q", l.CPUThrottle, l.Warnings)
	}
}
