package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
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
	hostEnv{sys: "/sys", proc: "/proc"}.fill(&env, slices.Concat(serverCPUs, clientCPUs))
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

// hostEnv reads the environment that explains a figure from a /sys and a
// /proc tree: the real ones, or a fake one in tests. Nothing it reads is
// required: a figure that cannot be read is left empty and the reason is
// appended to Env.Unknown, never returned as an error, because a container
// or a VM without cpufreq must still be able to run.
type hostEnv struct {
	sys, proc string
}

// fill sets the host figures of env; cpus are the pinned CPUs, whose
// governors count.
func (h hostEnv) fill(env *results.Env, cpus []int) {
	unknown := func(field string, err error) {
		env.Unknown = append(env.Unknown, field+": "+err.Error())
	}
	var err error
	if env.EchobenchCommit, env.EchobenchDirty, err = buildVCS(debug.ReadBuildInfo()); err != nil {
		unknown("echobench_commit", err)
	}
	if env.CPUGovernor, err = h.governor(cpus); err != nil {
		unknown("cpu_governor", err)
	}
	if env.SMT, err = h.firstLine("devices/system/cpu/smt/control"); err != nil {
		unknown("smt", err)
	}
	if env.THPMode, err = h.thpMode(); err != nil {
		unknown("thp_mode", err)
	}
	if env.NUMANodes, err = h.numaNodes(); err != nil {
		unknown("numa_nodes", err)
	}
	if env.NoFileLimit, err = noFileLimit(); err != nil {
		unknown("rlimit_nofile", err)
	}
	if env.Virtualization, err = h.virtualization(); err != nil {
		unknown("virtualization", err)
	}
}

// buildVCS is the revision and dirty flag the go command stamped into the
// binary (vcs.revision, vcs.modified); a test binary or one built with
// -buildvcs=false has none.
func buildVCS(bi *debug.BuildInfo, ok bool) (commit string, dirty bool, err error) {
	if !ok {
		return "", false, errors.New("the binary carries no build information")
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if commit == "" {
		return "", false, errors.New("the binary has no VCS stamp (built by go test, outside a git tree, or with -buildvcs=false)")
	}
	return commit, dirty, nil
}

// firstLine is the first line of a file under the /sys root, trimmed.
func (h hostEnv) firstLine(rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(h.sys, rel))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("%s is empty", filepath.Join(h.sys, rel))
	}
	return line, nil
}

// governor is the cpufreq governor of cpus: one name when they agree, else
// each CPU's.
func (h hostEnv) governor(cpus []int) (string, error) {
	slices.Sort(cpus)
	cpus = slices.Compact(cpus)
	var each []string
	seen := map[string]bool{}
	for _, c := range cpus {
		g, err := h.firstLine(fmt.Sprintf("devices/system/cpu/cpu%d/cpufreq/scaling_governor", c))
		if err != nil {
			return "", fmt.Errorf("no cpufreq governor for CPU %d (common in VMs and containers): %w", c, err)
		}
		each = append(each, fmt.Sprintf("cpu%d %s", c, g))
		seen[g] = true
	}
	if len(each) == 0 {
		return "", errors.New("no pinned CPU")
	}
	if len(seen) == 1 {
		_, g, _ := strings.Cut(each[0], " ")
		return g, nil
	}
	return strings.Join(each, ", "), nil
}

// thpMode is the bracketed choice of "always [madvise] never".
func (h hostEnv) thpMode() (string, error) {
	line, err := h.firstLine("kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return "", err
	}
	if _, rest, ok := strings.Cut(line, "["); ok {
		if mode, _, ok := strings.Cut(rest, "]"); ok {
			return mode, nil
		}
	}
	return "", fmt.Errorf("unexpected transparent_hugepage/enabled %q", line)
}

// numaNodes counts /sys/devices/system/node/nodeN.
func (h hostEnv) numaNodes() (int, error) {
	ents, err := os.ReadDir(filepath.Join(h.sys, "devices/system/node"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if id, ok := strings.CutPrefix(e.Name(), "node"); ok {
			if _, err := strconv.Atoi(id); err == nil {
				n++
			}
		}
	}
	if n == 0 {
		return 0, errors.New("no node directory in " + filepath.Join(h.sys, "devices/system/node"))
	}
	return n, nil
}

func noFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	return rl.Cur, nil
}

// virtualization says whether this is a virtual machine: the CPU's
// hypervisor flag decides, the DMI system vendor names it; without the
// flag's answer a vendor known to be a hypervisor decides.
func (h hostEnv) virtualization() (string, error) {
	vendor, vendorErr := h.firstLine("class/dmi/id/sys_vendor")
	hv, flagErr := h.hypervisorFlag()
	with := func(s string) string {
		if vendor == "" {
			return s
		}
		return s + " (" + vendor + ")"
	}
	switch {
	case flagErr == nil && hv:
		return with("virtual machine"), nil
	case flagErr == nil:
		return with("none detected"), nil
	case vendorErr == nil && hypervisorVendor(vendor):
		return with("virtual machine"), nil
	case vendorErr == nil:
		return "", fmt.Errorf("no CPU flags in %s and the vendor %q is not a known hypervisor", filepath.Join(h.proc, "cpuinfo"), vendor)
	}
	return "", fmt.Errorf("neither %s nor sys_vendor could be read: %v; %v", filepath.Join(h.proc, "cpuinfo"), flagErr, vendorErr)
}

// hypervisorFlag reports whether the first CPU's flags in cpuinfo include
// "hypervisor".
func (h hostEnv) hypervisorFlag() (bool, error) {
	b, err := os.ReadFile(filepath.Join(h.proc, "cpuinfo"))
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), "hypervisor"), nil
		}
	}
	return false, errors.New("no flags line in " + filepath.Join(h.proc, "cpuinfo"))
}

func hypervisorVendor(v string) bool {
	for _, k := range []string{"QEMU", "KVM", "VMware", "innotek", "Xen", "Amazon EC2", "Google", "Parallels", "OpenStack", "Bochs", "DigitalOcean", "Alibaba Cloud"} {
		if strings.Contains(v, k) {
			return true
		}
	}
	return false
}

// setRuntimeVersions takes the Python and Node.js versions from the
// versions of the stacks that will run ("python 3.11.2, uvloop 0.17.0",
// "node v20.19.2"), so a record says which runtime served it.
func setRuntimeVersions(env *results.Env) {
	names := make([]string, 0, len(env.StackVersions))
	for n := range env.StackVersions {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		first, _, _ := strings.Cut(env.StackVersions[n], ",")
		if v, ok := strings.CutPrefix(first, "python "); ok && env.PythonVersion == "" {
			env.PythonVersion = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(first, "node "); ok && env.NodeVersion == "" {
			env.NodeVersion = strings.TrimSpace(v)
		}
	}
}
