package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CPUTimes is what a set of CPUs did, from the per-CPU lines of /proc/stat,
// in clock ticks (ClockTicks per second).
type CPUTimes struct {
	// Tasks is time spent running tasks: user + nice + system. It excludes
	// interrupt and softirq time, which the kernel does not charge to a
	// process's utime/stime either, so Tasks minus a process's own CPU time
	// is what other processes took from those CPUs.
	Tasks uint64
	// Steal is time the hypervisor ran something else on these virtual CPUs.
	Steal uint64
	// Total is every column: busy, idle, iowait, interrupts and steal.
	Total uint64
}

// Sub returns t - u, column by column (zero where a counter went back).
func (t CPUTimes) Sub(u CPUTimes) CPUTimes {
	d := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	return CPUTimes{Tasks: d(t.Tasks, u.Tasks), Steal: d(t.Steal, u.Steal), Total: d(t.Total, u.Total)}
}

// ParseCPUStat sums the /proc/stat lines of the given CPUs. A CPU with no
// line (offline, or not on this machine) is an error naming it.
func ParseCPUStat(b []byte, cpus []int) (CPUTimes, error) {
	want := make(map[int]bool, len(cpus))
	for _, c := range cpus {
		want[c] = true
	}
	var t CPUTimes
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil || !want[n] {
			continue
		}
		// cpuN user nice system idle iowait irq softirq steal [guest guest_nice]
		// guest time is already inside user and nice.
		var v [8]uint64
		for i := range v {
			if v[i], err = strconv.ParseUint(f[1+i], 10, 64); err != nil {
				return CPUTimes{}, fmt.Errorf("/proc/stat %s column %d: %w", f[0], i+1, err)
			}
		}
		t.Tasks += v[0] + v[1] + v[2]
		t.Steal += v[7]
		for _, x := range v {
			t.Total += x
		}
		found++
		delete(want, n)
	}
	if err := sc.Err(); err != nil {
		return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
	}
	if len(want) > 0 {
		missing := make([]int, 0, len(want))
		for c := range want {
			missing = append(missing, c)
		}
		return CPUTimes{}, fmt.Errorf("/proc/stat has no line for CPUs %v", missing)
	}
	return t, nil
}

// ReadCPUStat reads /proc/stat for the given CPUs.
func ReadCPUStat(cpus []int) (CPUTimes, error) {
	b, err := os.ReadFile(filepath.Join(Root, "stat"))
	if err != nil {
		return CPUTimes{}, err
	}
	return ParseCPUStat(b, cpus)
}
