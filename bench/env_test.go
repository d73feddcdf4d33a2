package bench

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"echobench/internal/results"
)

// fakeRoot writes files (path relative to root → content) under a new
// directory and returns it.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestHostEnvFromFakeSys(t *testing.T) {
	t.Parallel()
	sys := fakeRoot(t, map[string]string{
		"devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
		"devices/system/cpu/cpu1/cpufreq/scaling_governor": "performance\n",
		"devices/system/cpu/smt/control":                   "off\n",
		"kernel/mm/transparent_hugepage/enabled":           "always [madvise] never\n",
		"devices/system/node/node0/cpulist":                "0-1\n",
		"devices/system/node/node1/cpulist":                "2-3\n",
		"devices/system/node/possible":                     "0-1\n",
		"class/dmi/id/sys_vendor":                          "QEMU\n",
	})
	proc := fakeRoot(t, map[string]string{
		"cpuinfo": "processor\t: 0\nflags\t\t: fpu sse2 hypervisor lm\n\nprocessor\t: 1\nflags\t\t: fpu\n",
	})
	var env results.Env
	hostEnv{sys: sys, proc: proc}.fill(&env, []int{1, 0})
	want := results.Env{CPUGovernor: "performance", SMT: "off", THPMode: "madvise", NUMANodes: 2,
		Virtualization: "virtual machine (QEMU)"}
	if env.CPUGovernor != want.CPUGovernor || env.SMT != want.SMT || env.THPMode != want.THPMode ||
		env.NUMANodes != want.NUMANodes || env.Virtualization != want.Virtualization {
		t.Errorf("env = %+v\nwant %+v", env, want)
	}
	if env.NoFileLimit == 0 {
		t.Error("rlimit_nofile not read")
	}
	for _, u := range env.Unknown {
		if !strings.HasPrefix(u, "echobench_commit:") { // a test binary has no VCS stamp
			t.Errorf("unexpected unknown figure: %s", u)
		}
	}

	// Governors that differ are named per CPU.
	sys2 := fakeRoot(t, map[string]string{
		"devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
		"devices/system/cpu/cpu1/cpufreq/scaling_governor": "powersave\n",
	})
	if g, err := (hostEnv{sys: sys2}).governor([]int{0, 1}); err != nil || g != "cpu0 performance, cpu1 powersave" {
		t.Errorf("governor = %q, %v", g, err)
	}
}

// An empty /sys and /proc (a container) leave every host figure empty and
// say why for each, without failing.
func TestHostEnvMissing(t *testing.T) {
	t.Parallel()
	var env results.Env
	hostEnv{sys: t.TempDir(), proc: t.TempDir()}.fill(&env, []int{0})
	if env.CPUGovernor != "" || env.SMT != "" || env.THPMode != "" || env.NUMANodes != 0 || env.Virtualization != "" {
		t.Errorf("figures from an empty /sys: %+v", env)
	}
	var fields []string
	for _, u := range env.Unknown {
		f, _, _ := strings.Cut(u, ":")
		fields = append(fields, f)
	}
	for _, f := range []string{"cpu_governor", "smt", "thp_mode", "numa_nodes", "virtualization"} {
		if !slices.Contains(fields, f) {
			t.Errorf("%s missing but not said so: %q", f, env.Unknown)
		}
	}
}

func TestVirtualization(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, vendor, cpuinfo, want string
	}{
		{"bare metal", "Dell Inc.", "flags\t: fpu sse2\n", "none detected (Dell Inc.)"},
		{"flag, no vendor", "", "flags\t: fpu hypervisor\n", "virtual machine"},
		{"vendor only", "VMware, Inc.", "", "virtual machine (VMware, Inc.)"},
		{"unknown vendor only", "Dell Inc.", "", ""},
	} {
		files := map[string]string{}
		if tt.vendor != "" {
			files["class/dmi/id/sys_vendor"] = tt.vendor + "\n"
		}
		procFiles := map[string]string{}
		if tt.cpuinfo != "" {
			procFiles["cpuinfo"] = tt.cpuinfo
		}
		got, err := hostEnv{sys: fakeRoot(t, files), proc: fakeRoot(t, procFiles)}.virtualization()
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("%s: virtualization = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestBuildVCS(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	if c, d, err := buildVCS(bi, true); c != "abc123" || !d || err != nil {
		t.Errorf("buildVCS = %q, %v, %v", c, d, err)
	}
	if _, _, err := buildVCS(&debug.BuildInfo{}, true); err == nil {
		t.Error("no VCS stamp must be said")
	}
}

func TestRuntimeVersions(t *testing.T) {
	t.Parallel()
	env := results.Env{StackVersions: map[string]string{"uvloop-protocol": "python 3.11.2, uvloop 0.17.0", "node": "node v20.19.2"}}
	setRuntimeVersions(&env)
	if env.PythonVersion != "3.11.2" || env.NodeVersion != "v20.19.2" {
		t.Errorf("python %q node %q", env.PythonVersion, env.NodeVersion)
	}
}
