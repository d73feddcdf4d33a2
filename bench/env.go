package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"echobench/bench/config"
	"echobench/internal/results"
)

// collectEnv describes this machine and the run's pinning.
func collectEnv(serverCPUs, clientCPUs []int) results.Env {
	env := results.Env{
		CPUModel:         cpuModel(),
		Cores:            runtime.NumCPU(),
		GoVersion:        runtime.Version(),
		ServerCPUs:       config.FormatCPUList(serverCPUs),
		ClientCPUs:       config.FormatCPUList(clientCPUs),
		ServerGOMAXPROCS: len(serverCPUs),
		StackVersions:    map[string]string{},
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		env.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	return env
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
