package reports

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"echobench/internal/results"
)

// EnvRow is one line of the report's environment table.
type EnvRow struct {
	Name, Value string
}

// envField is one figure of the environment: its JSON name (the key of
// Env.Unknown), its label, and its value as the report shows it ("" when
// not recorded).
type envField struct {
	key, name string
	value     func(e *results.Env) string
}

// hostFields are the figures that explain a measurement beyond the CPU,
// pinning, kernel and Go version: in the environment table and in
// compare's warnings.
var hostFields = []envField{
	{"echobench_commit", "echobench commit", func(e *results.Env) string {
		if e.EchobenchCommit != "" && e.EchobenchDirty {
			return e.EchobenchCommit + " (dirty tree: uncommitted changes)"
		}
		return e.EchobenchCommit
	}},
	{"cpu_governor", "CPU governor", func(e *results.Env) string { return e.CPUGovernor }},
	{"smt", "SMT", func(e *results.Env) string { return e.SMT }},
	{"thp_mode", "Transparent huge pages", func(e *results.Env) string { return e.THPMode }},
	{"numa_nodes", "NUMA nodes", func(e *results.Env) string { return itoaOrEmpty(e.NUMANodes) }},
	{"rlimit_nofile", "RLIMIT_NOFILE (soft)", func(e *results.Env) string {
		if e.NoFileLimit == 0 {
			return ""
		}
		return strconv.FormatUint(e.NoFileLimit, 10)
	}},
	{"virtualization", "Virtualisation", func(e *results.Env) string { return e.Virtualization }},
	{"network", "Network path", networkPath},
	{"python_version", "Python", func(e *results.Env) string { return e.PythonVersion }},
	{"node_version", "Node.js", func(e *results.Env) string { return e.NodeVersion }},
}

// baseFields are the figures every record has had since schema 1; compare
// warns on them too.
var baseFields = []envField{
	{"cpu_model", "CPU", func(e *results.Env) string { return e.CPUModel }},
	{"cores", "cores", func(e *results.Env) string { return itoaOrEmpty(e.Cores) }},
	{"kernel", "kernel", func(e *results.Env) string { return e.Kernel }},
	{"go_version", "Go", func(e *results.Env) string { return e.GoVersion }},
	{"server_cpus", "server CPUs", func(e *results.Env) string { return e.ServerCPUs }},
	{"client_cpus", "client CPUs", func(e *results.Env) string { return e.ClientCPUs }},
	{"server_gomaxprocs", "server GOMAXPROCS", func(e *results.Env) string { return itoaOrEmpty(e.ServerGOMAXPROCS) }},
	{"stack_versions", "stack versions", func(e *results.Env) string {
		var s []string
		for _, k := range slices.Sorted(maps.Keys(e.StackVersions)) {
			s = append(s, k+" "+e.StackVersions[k])
		}
		return strings.Join(s, ", ")
	}},
}

// networkPath says what lay between the load generator and the server.
// Records from before the network key ran on loopback, as every run did.
func networkPath(e *results.Env) string {
	if e.Network == "" || e.Network == "loopback" {
		return "loopback"
	}
	s := e.Network
	if e.Network == "netns" {
		s = "network namespaces joined by veth pairs (netns)"
	}
	if e.NetworkRTTMs > 0 {
		s += fmt.Sprintf(", netem on the server's side: +%s ms round trip", strconv.FormatFloat(e.NetworkRTTMs, 'g', 4, 64))
	}
	if e.NetworkLossFraction > 0 {
		s += fmt.Sprintf(", %s%% of the server's packets dropped", strconv.FormatFloat(100*e.NetworkLossFraction, 'g', 4, 64))
	}
	return s
}

func itoaOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// unknownWhy is why Env.Unknown says field could not be read, or "".
func unknownWhy(e *results.Env, key string) string {
	for _, u := range e.Unknown {
		if k, why, ok := strings.Cut(u, ": "); ok && k == key {
			return why
		}
	}
	return ""
}

// EnvRows are the environment table's rows beyond CPU, pinning, kernel and
// Go: each figure, or why it is missing ("unknown: …" when the run could
// not read it, "not recorded" for a run made before it was).
func (a *Analysis) EnvRows() []EnvRow {
	var rows []EnvRow
	for _, f := range hostFields {
		v := f.value(&a.Env)
		switch {
		case v != "":
		case unknownWhy(&a.Env, f.key) != "":
			v = "unknown: " + unknownWhy(&a.Env, f.key)
		case f.key == "python_version" || f.key == "node_version":
			v = "– (no stack of this runtime ran, or not recorded)"
		default:
			v = "not recorded"
		}
		rows = append(rows, EnvRow{f.name, v})
	}
	return append(rows, EnvRow{"Load generator", a.loadRuntime()})
}

// loadRuntime is the load generator's GOMAXPROCS and workers over the
// run's records: they follow each point's connections.
func (a *Analysis) loadRuntime() string {
	var procs, workers []int
	for i := range a.Run.Records {
		e := &a.Run.Records[i].Env
		if e.LoadGOMAXPROCS > 0 {
			procs = append(procs, e.LoadGOMAXPROCS)
			workers = append(workers, e.LoadWorkers)
		}
	}
	if len(procs) == 0 {
		return "GOMAXPROCS and workers not recorded"
	}
	span := func(v []int) string {
		lo, hi := slices.Min(v), slices.Max(v)
		if lo == hi {
			return strconv.Itoa(lo)
		}
		return fmt.Sprintf("%d–%d", lo, hi)
	}
	return fmt.Sprintf("GOMAXPROCS %s, workers %s (one worker per client CPU, at most one per connection)", span(procs), span(workers))
}

// EnvDifferences lists every figure of the environment that differs between
// two runs, "kernel: Linux 6.1 → Linux 6.2", including the load
// generator's GOMAXPROCS and workers over each run: a difference may
// explain a change that compare reports.
func EnvDifferences(old, new *Analysis) []string {
	var d []string
	show := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	for _, f := range slices.Concat(baseFields, hostFields) {
		if o, n := f.value(&old.Env), f.value(&new.Env); o != n {
			d = append(d, fmt.Sprintf("%s: %s → %s", f.name, show(o), show(n)))
		}
	}
	if o, n := old.loadRuntime(), new.loadRuntime(); o != n {
		d = append(d, fmt.Sprintf("load generator: %s → %s", o, n))
	}
	return d
}
