package loadgen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"echobench/internal/results"
)

// A CPU quota stops a process for the rest of a period once it has spent
// its share, which no figure of the load generator shows on its own: its
// CPU use looks moderate, and the stops land in its latencies. On a shared
// cluster (a Kubernetes CPU limit without the static CPU manager) that is
// the neighbour effect it can measure for itself, from its cgroup's
// cpu.stat read at the start and the end of the window: two small file
// reads a run. cgroup v2 only: Kubernetes nodes run it, and v1 keeps these
// counters elsewhere.

// cgroupFS is where a process finds its cgroup v2 files; tests point it at
// a fake tree.
type cgroupFS struct {
	// selfCgroup is /proc/self/cgroup, whose "0::PATH" line is the
	// process's cgroup v2.
	selfCgroup string
	// root is the cgroup2 mount.
	root string
}

var hostCgroup = cgroupFS{selfCgroup: "/proc/self/cgroup", root: "/sys/fs/cgroup"}

// cpuStat is the CFS bandwidth counters of one cpu.stat; ok is false when
// they could not be read (no cgroup v2, or its cpu controller is off).
type cpuStat struct {
	periods, throttled, throttledUs int64
	ok                              bool
}

// cpuStat reads the process's counters. In a container with a cgroup
// namespace of its own the path is "/". Without one, the path names a host
// cgroup that the container's mount does not hold, and the mount's root is
// the container's own cgroup; on a host the root is the root cgroup, which
// has no bandwidth counters, so falling back to it never misreads.
func (c cgroupFS) cpuStat() cpuStat {
	path, ok := cgroupV2Path(c.selfCgroup)
	if !ok {
		return cpuStat{}
	}
	b, err := os.ReadFile(filepath.Join(c.root, path, "cpu.stat"))
	if errors.Is(err, fs.ErrNotExist) && path != "/" {
		b, err = os.ReadFile(filepath.Join(c.root, "cpu.stat"))
	}
	if err != nil {
		return cpuStat{}
	}
	return parseCPUStat(b)
}

// cgroupV2Path is the path of the "0::PATH" line of a /proc/PID/cgroup
// file; false under cgroup v1 alone.
func cgroupV2Path(selfCgroup string) (string, bool) {
	b, err := os.ReadFile(selfCgroup)
	if err != nil {
		return "", false
	}
	for line := range strings.Lines(string(b)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok && strings.HasPrefix(path, "/") {
			return path, true
		}
	}
	return "", false
}

// parseCPUStat reads the "key value" lines of a cgroup v2 cpu.stat. The
// bandwidth counters are there only while the cpu controller is enabled
// for the cgroup.
func parseCPUStat(b []byte) cpuStat {
	var st cpuStat
	found := 0
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(strings.TrimSpace(line), " ")
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if !ok || err != nil || n < 0 {
			continue
		}
		switch key {
		case "nr_periods":
			st.periods, found = n, found+1
		case "nr_throttled":
			st.throttled, found = n, found+1
		case "throttled_usec":
			st.throttledUs, found = n, found+1
		}
	}
	st.ok = found == 3
	return st
}

// throttleSince is the throttling between two readings. It is nil when
// either reading failed or no period passed: the counters move only while
// a quota applies, so nil means the window ran under none.
func throttleSince(before, after cpuStat) *results.CPUThrottle {
	t := results.CPUThrottle{
		Periods:     after.periods - before.periods,
		Throttled:   after.throttled - before.throttled,
		ThrottledUs: after.throttledUs - before.throttledUs,
	}
	if !before.ok || !after.ok || t.Periods <= 0 || t.Throttled < 0 || t.ThrottledUs < 0 {
		return nil
	}
	return &t
}

// addThrottle records the window's throttling in l, with a warning when the
// quota stopped the generator at all.
func addThrottle(l *results.Load, t *results.CPUThrottle) {
	l.CPUThrottle = t
	if t == nil || t.Throttled == 0 {
		return
	}
	l.Warnings = append(l.Warnings, fmt.Sprintf(
		"CPU quota: the load generator's cgroup was throttled in %d of %d periods (%.1f ms stopped) during the window: it was a slower client than its CPU use says, and its latencies include the stops; run it on whole CPUs without a quota (docs/distributed.md)",
		t.Throttled, t.Periods, float64(t.ThrottledUs)/1e3))
}
