package kubernetes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// manifestFiles are the files run.sh renders and creates.
var manifestFiles = []string{"server.yaml", "load-job.yaml"}

// sample holds a value for every placeholder, of the form run.sh gives it.
var sample = map[string]string{
	"RUN_ID": "20261127-150000-0a1b", "IMAGE": "registry.example/echobench:v1", "MODEL": "epoll",
	"CONNS": "10", "SIZE_BYTES": "64", "DURATION": "10s", "WARMUP": "2s", "GENERATORS": "3",
	"SERVER_CPUS": "2", "LOAD_CPUS": "1", "MEMORY": "1Gi",
	"SERVER_DEADLINE_S": "610", "LOAD_DEADLINE_S": "130",
	"SERVER_ADDR": "[fd00:10:96::a]:9000", "START_AT": "2026-11-27T15:01:00Z",
}

var placeholder = regexp.MustCompile(`__([A-Z0-9_]+)__`)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// render replaces the placeholders of a manifest as run.sh does, with the
// sample values.
func render(t *testing.T, name string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(readFile(t, name), func(m string) string {
		v, ok := sample[strings.Trim(m, "_")]
		if !ok {
			t.Errorf("%s: placeholder %s has no sample value in this test", name, m)
		}
		return v
	})
}

// The objects the manifests create, as far as the tests below read them.
// Strictness (no unknown field, every value of its field's kind) comes from
// the schema check that decodeRecipe runs first, against the API's own
// types.
type (
	meta struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	}
	pod struct {
		Metadata meta    `json:"metadata"`
		Spec     podSpec `json:"spec"`
	}
	podSpec struct {
		RestartPolicy         string      `json:"restartPolicy"`
		ActiveDeadlineSeconds *int64      `json:"activeDeadlineSeconds"`
		Affinity              *affinity   `json:"affinity"`
		InitContainers        []container `json:"initContainers"`
		Containers            []container `json:"containers"`
	}
	affinity struct {
		PodAntiAffinity *struct {
			Preferred []struct {
				PodAffinityTerm struct {
					LabelSelector struct {
						MatchLabels map[string]string `json:"matchLabels"`
					} `json:"labelSelector"`
				} `json:"podAffinityTerm"`
			} `json:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `json:"podAntiAffinity"`
	}
	container struct {
		Name    string   `json:"name"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
		Env     []struct {
			Name      string `json:"name"`
			ValueFrom *struct {
				ResourceFieldRef *struct {
					Resource string `json:"resource"`
					Divisor  scalar `json:"divisor"`
				} `json:"resourceFieldRef"`
			} `json:"valueFrom"`
		} `json:"env"`
		Ports []struct {
			Name          string `json:"name"`
			ContainerPort int32  `json:"containerPort"`
			Protocol      string `json:"protocol"`
		} `json:"ports"`
		Resources struct {
			Requests map[string]scalar `json:"requests"`
			Limits   map[string]scalar `json:"limits"`
		} `json:"resources"`
	}
	service struct {
		Metadata meta `json:"metadata"`
		Spec     struct {
			Selector map[string]string `json:"selector"`
			Ports    []struct {
				Port       int32  `json:"port"`
				TargetPort scalar `json:"targetPort"`
				Protocol   string `json:"protocol"`
			} `json:"ports"`
		} `json:"spec"`
	}
	job struct {
		Metadata meta `json:"metadata"`
		Spec     struct {
			CompletionMode        string `json:"completionMode"`
			Completions           *int32 `json:"completions"`
			Parallelism           *int32 `json:"parallelism"`
			BackoffLimit          *int32 `json:"backoffLimit"`
			ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds"`
			Template              pod    `json:"template"`
		} `json:"spec"`
	}
)

// scalar is a JSON string or number as written: a quantity ("2", 2,
// "1Gi") or a targetPort (9000, "echo").
type scalar string

func (v *scalar) UnmarshalJSON(b []byte) error {
	*v = scalar(strings.Trim(string(b), `"`))
	return nil
}

// recipe is every object the manifests create.
type recipe struct {
	server  pod
	service service
	job     job
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeRecipe checks each YAML document of the rendered manifests against
// the API schema (no unknown or duplicate field, no value of the wrong
// kind: what the API server would refuse or silently drop) and decodes it.
func decodeRecipe(t *testing.T) recipe {
	t.Helper()
	schema := loadSchema(t)
	var r recipe
	targets := map[string]any{"v1 Pod": &r.server, "v1 Service": &r.service, "batch/v1 Job": &r.job}
	for _, name := range manifestFiles {
		for i, doc := range docSeparator.Split(render(t, name), -1) {
			kind, js, errs := checkDocument(schema, doc)
			obj, ok := targets[kind]
			if !ok {
				t.Fatalf("%s document %d: unexpected or repeated kind %q", name, i, kind)
			}
			delete(targets, kind)
			if len(errs) > 0 {
				t.Fatalf("%s document %d (%s):\n  %s", name, i, kind, strings.Join(errs, "\n  "))
			}
			if err := json.Unmarshal(js, obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", name, i, kind, err)
			}
		}
	}
	if len(targets) > 0 {
		t.Fatalf("the manifests lack %v", slices.Sorted(maps.Keys(targets)))
	}
	return r
}

// checkDocument converts one YAML document to JSON, refusing duplicate
// keys, and checks it against the schema of its apiVersion and kind.
func checkDocument(schema apiSchema, doc string) (kind string, js []byte, errs []string) {
	js, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return "", nil, []string{err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return "", nil, []string{err.Error()}
	}
	kind = fmt.Sprint(v["apiVersion"], " ", v["kind"])
	root, ok := schema.Roots[kind]
	if !ok {
		return kind, js, []string{"no API type for " + kind + " in " + schemaFile}
	}
	return kind, js, schema.check(kind, root, v)
}

// The schema check refuses what the API server would: a misspelt field, a
// field in the wrong place, a value of the wrong kind, a duplicate key.
func TestSchemaCatchesMistakes(t *testing.T) {
	t.Parallel()
	schema := loadSchema(t)
	good := render(t, "load-job.yaml")
	if _, _, errs := checkDocument(schema, good); len(errs) > 0 {
		t.Fatalf("load-job.yaml: %q", errs)
	}
	for _, tt := range []struct{ old, new, msg string }{
		{"restartPolicy: Never", "restartPolcy: Never", "spec.template.spec.restartPolcy: unknown field"},
		{"backoffLimit: 0", "backoffLimit: none", "spec.backoffLimit: none is not int"},
		{"completionMode: Indexed", "completionMode: Indexed\n  selector: {matchLabels: {a: b}}\n  completionMode: Indexed", `key "completionMode" already set`},
		{"              memory: \"1Gi\"", "              memory: \"1 GiB\"", "resources.requests.memory: 1 GiB is not quantity"},
		{"      restartPolicy: Never", "      restartPolicy: Never\n      containerPort: 9000", "spec.template.spec.containerPort: unknown field"},
	} {
		if !strings.Contains(good, tt.old) {
			t.Fatalf("load-job.yaml has no %q to break", tt.old)
		}
		_, _, errs := checkDocument(schema, strings.Replace(good, tt.old, tt.new, 1))
		if all := strings.Join(errs, "\n"); !strings.Contains(all, tt.msg) {
			t.Errorf("%q -> %q: errors %q, want %q", tt.old, tt.new, errs, tt.msg)
		}
	}
}

// Every placeholder of the manifests is one run.sh replaces, and run.sh
// replaces none that the manifests no longer have.
func TestPlaceholders(t *testing.T) {
	t.Parallel()
	inManifests := map[string]bool{}
	for _, name := range manifestFiles {
		for _, m := range placeholder.FindAllString(readFile(t, name), -1) {
			inManifests[m] = true
		}
	}
	script := readFile(t, "run.sh")
	replaced := map[string]bool{}
	for _, m := range regexp.MustCompile(`s\|(__[A-Z0-9_]+__)\|`).FindAllStringSubmatch(script, -1) {
		replaced[m[1]] = true
	}
	for m := range inManifests {
		if !replaced[m] {
			t.Errorf("the manifests use %s, which run.sh's render does not replace", m)
		}
	}
	for m := range replaced {
		if !inManifests[m] {
			t.Errorf("run.sh replaces %s, which no manifest uses", m)
		}
	}
}

// Both pods have Guaranteed QoS: every container's requests equal its
// limits for CPU and memory, CPUs whole, so a static CPU manager pins them;
// GOMAXPROCS follows the CPU limit.
func TestGuaranteedQoS(t *testing.T) {
	t.Parallel()
	r := decodeRecipe(t)
	for _, p := range []struct {
		name string
		spec podSpec
	}{{"server pod", r.server.Spec}, {"load job's pod", r.job.Spec.Template.Spec}} {
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			for _, err := range guaranteedErrors(c) {
				t.Errorf("%s, container %s: %v", p.name, c.Name, err)
			}
		}
	}
}

// wholeCPUs is a CPU quantity of whole CPUs: "2" or "2000m".
var wholeCPUs = regexp.MustCompile(`^[1-9][0-9]*(000m)?$`)

func guaranteedErrors(c container) []error {
	var errs []error
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, res := range []string{"cpu", "memory"} {
		q, ok := lim[res]
		if !ok {
			errs = append(errs, fmt.Errorf("no %s limit", res))
			continue
		}
		// Written alike, so equal; the kubelet would also take 1Gi and
		// 1024Mi as equal, but a reader would have to work it out.
		if rq, ok := req[res]; !ok || rq != q {
			errs = append(errs, fmt.Errorf("%s request %q differs from its limit %q", res, req[res], q))
		}
	}
	if cpu := lim["cpu"]; !wholeCPUs.MatchString(string(cpu)) {
		errs = append(errs, fmt.Errorf("CPU limit %q is not whole CPUs: the static CPU manager would not pin it", cpu))
	}
	for res := range req {
		if _, ok := lim[res]; !ok {
			errs = append(errs, fmt.Errorf("a %s request without a limit", res))
		}
	}
	if !gomaxprocsFromLimit(c) {
		errs = append(errs, fmt.Errorf("GOMAXPROCS is not taken from limits.cpu"))
	}
	return errs
}

func gomaxprocsFromLimit(c container) bool {
	for _, e := range c.Env {
		if e.Name == "GOMAXPROCS" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			ref := e.ValueFrom.ResourceFieldRef
			return ref.Resource == "limits.cpu" && ref.Divisor == "1"
		}
	}
	return false
}

// The load is one Indexed Job, a pod per generator all at once, none
// retried (a retried generator would miss the start barrier); both the Job
// and the server have deadlines that free the cluster if run.sh dies.
func TestIndexedJob(t *testing.T) {
	t.Parallel()
	r := decodeRecipe(t)
	s := r.job.Spec
	if s.CompletionMode != "Indexed" {
		t.Errorf("completionMode = %q, want Indexed", s.CompletionMode)
	}
	if s.Parallelism == nil || s.Completions == nil || *s.Parallelism != *s.Completions {
		t.Errorf("parallelism %s and completions %s must both be set and equal", show(s.Parallelism), show(s.Completions))
	} else if want, _ := strconv.Atoi(sample["GENERATORS"]); int(*s.Completions) != want {
		t.Errorf("completions = %d, want the generators (%d)", *s.Completions, want)
	}
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("backoffLimit = %s, want 0", show(s.BackoffLimit))
	}
	if s.Template.Spec.RestartPolicy != "Never" || r.server.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy: job's pods %q, server %q; want Never for both", s.Template.Spec.RestartPolicy, r.server.Spec.RestartPolicy)
	}
	if s.ActiveDeadlineSeconds == nil || r.server.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("activeDeadlineSeconds: job %s, server %s; want both set", show(s.ActiveDeadlineSeconds), show(r.server.Spec.ActiveDeadlineSeconds))
	}
}

// show is an optional field's value, or "unset".
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// The Service selects the server pod, and no generator, on the port the
// server listens on.
func TestServiceSelectsServer(t *testing.T) {
	t.Parallel()
	r := decodeRecipe(t)
	sel := r.service.Spec.Selector
	if len(sel) == 0 || !selects(sel, r.server.Metadata.Labels) {
		t.Errorf("service selector %v does not select the server's labels %v", sel, r.server.Metadata.Labels)
	}
	if selects(sel, r.job.Spec.Template.Metadata.Labels) {
		t.Errorf("service selector %v also selects the generators (%v)", sel, r.job.Spec.Template.Metadata.Labels)
	}
	srv := r.server.Spec.Containers[0]
	listen := addrPort(t, srv.Args)
	if len(r.service.Spec.Ports) == 0 {
		t.Fatal("the service has no port")
	}
	for _, sp := range r.service.Spec.Ports {
		port, proto, ok := targetPort(srv, string(sp.TargetPort))
		switch {
		case !ok:
			t.Errorf("service port %d: targetPort %q is none of the server's ports", sp.Port, sp.TargetPort)
		case port != listen || proto != cmp.Or(sp.Protocol, "TCP"):
			t.Errorf("service port %d reaches %d/%s, but the server listens on --addr port %d/TCP", sp.Port, port, proto, listen)
		}
	}
	// The generators' anti-affinity keeps them off the server's node.
	aff := r.job.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.Preferred) == 0 ||
		!selects(aff.PodAntiAffinity.Preferred[0].PodAffinityTerm.LabelSelector.MatchLabels, r.server.Metadata.Labels) {
		t.Errorf("the generators' anti-affinity does not name the server pod: %+v", aff)
	}
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// targetPort is the container port a Service's targetPort (a number or a
// port's name) reaches, and its protocol.
func targetPort(c container, tp string) (int32, string, bool) {
	for _, p := range c.Ports {
		if p.Name == tp || strconv.Itoa(int(p.ContainerPort)) == tp {
			return p.ContainerPort, cmp.Or(p.Protocol, "TCP"), true
		}
	}
	return 0, "", false
}

// addrPort is the port of the --addr in args.
func addrPort(t *testing.T, args []string) int32 {
	t.Helper()
	i := slices.Index(args, "--addr")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("server args %q have no --addr", args)
	}
	ap, err := netip.ParseAddrPort(args[i+1])
	if err != nil {
		t.Fatalf("server --addr: %v", err)
	}
	return int32(ap.Port())
}
