package kubernetes

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The walker that reads the subcommands' own flags from source finds what
// their -h lists: the docs' flag tables, which cmd/echobench's
// TestFlagsDocumented holds equal to -h.
func TestCommandFlagsMatchDocs(t *testing.T) {
	t.Parallel()
	known := knownFlags(t)
	for sub, doc := range map[string]string{"load": "../../docs/loadgen.md", "serve": "../../docs/servers.md"} {
		documented := map[string]bool{}
		for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\|").FindAllStringSubmatch(readFile(t, doc), -1) {
			documented[m[1]] = true
		}
		for f := range documented {
			if !known[sub][f] {
				t.Errorf("%s documents --%s, which this test did not find in echobench %s's flags", doc, f, sub)
			}
		}
		for f := range known[sub] {
			if !documented[f] {
				t.Errorf("this test found --%s in echobench %s's flags, but %s does not document it", f, sub, doc)
			}
		}
	}
}

func TestRunScriptSyntax(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("bash", "-n", "run.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n run.sh: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (make deps installs it): run.sh checked by bash -n only")
	}
	if out, err := exec.Command("shellcheck", "run.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck run.sh: %v\n%s", err, out)
	}
}

// run.sh refuses bad options with exit 2 and a message naming the option,
// before it touches kubectl or a cluster.
func TestRunScriptUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-h"}, 0, "Usage: deploy/kubernetes/run.sh --image IMAGE --model MODEL"},
		{[]string{"--model", "epoll"}, 2, "--image is required"},
		{[]string{"--image", "x", "--model", "epoll", "--conns", "1", "--generators", "2"}, 2, "--conns (1) must be at least --generators (2)"},
		{[]string{"--image", "x", "--model", "epoll", "--server-cpus", "1.5"}, 2, "--server-cpus must be a whole number"},
		{[]string{"--image", "x", "--model", "epoll", "--duration", "1m"}, 2, "--duration must be whole seconds"},
		{[]string{"--image", "x|y", "--model", "epoll"}, 2, "--image must be an image reference"},
		{[]string{"--image", "x", "--model", "epoll", "--start-in", "3601s"}, 2, "--start-in must be at most 3000s"},
		{[]string{"--image", "x", "--model", "epoll", "--bogus", "1"}, 2, "unknown option --bogus"},
		{[]string{"--image"}, 2, "--image needs a value"},
	} {
		// Each case stops at the checks, before run.sh looks for kubectl.
		out, err := exec.Command("bash", append([]string{"run.sh"}, tt.args...)...).CombinedOutput()
		if code := exitCode(t, err); code != tt.code || !strings.Contains(string(out), tt.msg) {
			t.Errorf("run.sh %q: exit %d, output\n%s\nwant exit %d and %q", tt.args, code, out, tt.code, tt.msg)
		}
	}
}

// The Dockerfile builds from the repository root as its context, with the
// Go the module asks for, and runs on Debian slim.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	df := readFile(t, "Dockerfile")
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, "../../go.mod"))
	if goVersion == nil {
		t.Fatal("no go line in go.mod")
	}
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) != 2 || !strings.HasPrefix(froms[0][1], "golang:"+goVersion[1]+"-") || !regexp.MustCompile(`^debian:[a-z]+-slim$`).MatchString(froms[1][1]) {
		t.Errorf("FROM lines %q: want golang:%s-* to build and debian:*-slim to run", froms, goVersion[1])
	}
	// Every COPY from the context names a file of the repository root.
	for _, m := range regexp.MustCompile(`(?m)^COPY ([^-].*) \S+$`).FindAllStringSubmatch(df, -1) {
		for _, src := range strings.Fields(m[1]) {
			if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
				t.Errorf("COPY %s: not in the repository root: %v", src, err)
			}
		}
	}
	for _, m := range regexp.MustCompile(`go build .* (\./\S+)`).FindAllStringSubmatch(df, -1) {
		if _, err := os.Stat(filepath.Join("../..", m[1], "main.go")); err != nil {
			t.Errorf("go build %s: no main package there: %v", m[1], err)
		}
	}
}

// run.sh against a stand-in kubectl (testdata/fakebin): the manifests it
// creates have every placeholder filled and pass the schema, it keeps each
// generator's JSON line and the server's figures apart from the logs'
// other lines, merges and reports with them, warns of the server's
// throttling, and deletes what it created. A failed generator fails the
// run, which is cleaned up all the same.
func TestRunScriptFlow(t *testing.T) {
	t.Parallel()
	fakebin, err := filepath.Abs("testdata/fakebin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		jobStatus string
		code      int
		want      []string
	}{
		{"2/", 0, []string{"their window starts at 2026-11-27T15:01:00Z",
			"warning: the server's CPU quota throttled it in 3 periods (4 ms stopped)"}},
		{"1/1", 1, []string{"a generator failed (succeeded/failed: 1/1)", "the run failed"}},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		cmd := exec.Command("bash", "run.sh", "--image", "registry.example/echobench:v1", "--model", "epoll",
			"--conns", "10", "--generators", "2", "--echobench", filepath.Join(fakebin, "echobench"), "--out", out)
		cmd.Env = append(os.Environ(), "PATH="+fakebin+string(filepath.ListSeparator)+os.Getenv("PATH"),
			"FAKE_LOG="+filepath.Join(dir, "calls"), "FAKE_DIR="+dir, "FAKE_JOB_STATUS="+tt.jobStatus)
		output, err := cmd.CombinedOutput()
		if code := exitCode(t, err); code != tt.code {
			t.Fatalf("job %s: run.sh exit %d, want %d; output:\n%s", tt.jobStatus, code, tt.code, output)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(output), w) {
				t.Errorf("job %s: output lacks %q:\n%s", tt.jobStatus, w, output)
			}
		}
		calls := readFile(t, filepath.Join(dir, "calls"))
		if !regexp.MustCompile(`(?m)^kubectl --namespace default delete job,pod,service -l app\.kubernetes\.io/instance=\d{8}-\d{6}-[0-9a-f]{4} `).MatchString(calls) {
			t.Errorf("job %s: run.sh did not delete what it created; its kubectl calls:\n%s", tt.jobStatus, calls)
		}
		merged := strings.Contains(calls, "echobench merge")
		if tt.code != 0 {
			if merged {
				t.Errorf("job %s: a failed run was merged", tt.jobStatus)
			}
			continue
		}
		checkFlowOutputs(t, dir, out, calls)
	}
}

// checkFlowOutputs checks what a successful run.sh created and kept.
func checkFlowOutputs(t *testing.T, dir, out, calls string) {
	t.Helper()
	schema := loadSchema(t)
	created := readFile(t, filepath.Join(dir, "created.yaml"))
	kinds := 0
	for _, doc := range docSeparator.Split(created, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		kinds++
		if m := placeholder.FindString(doc); m != "" {
			t.Errorf("run.sh created a manifest with %s unreplaced", m)
		}
		if kind, _, errs := checkDocument(schema, doc); len(errs) > 0 {
			t.Errorf("run.sh created a %s the API would refuse: %q", kind, errs)
		}
	}
	if kinds != 3 || !strings.Contains(created, `"10.96.0.10:9000"`) || !strings.Contains(created, `"2026-11-27T15:01:00Z"`) {
		t.Errorf("run.sh created %d objects, want 3 with the server's address and the start time:\n%s", kinds, created)
	}
	raw := filepath.Join(out, "raw")
	merge := fmt.Sprintf("echobench merge --out %s/merged.json --run %s --model epoll --server-usage %s/server-usage.json %s/gen-0.json %s/gen-1.json\n",
		out, out, raw, raw, raw)
	if !strings.Contains(calls, merge) || !strings.Contains(calls, "echobench report "+out+"\n") {
		t.Errorf("run.sh's echobench calls, want %q and a report of %s:\n%s", merge, out, calls)
	}
	for file, want := range map[string]string{
		"gen-0.json": `{"mode":"closed","completed":100}` + "\n", "gen-1.json": `{"mode":"closed","completed":100}` + "\n",
		"server-usage.json": `{"cpu_user_s":1.5}` + "\n",
	} {
		if got := readFile(t, filepath.Join(raw, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

// exitCode is a finished command's exit status.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
