package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"echobench/servers"
	"echobench/servers/all"
	"echobench/servers/external"
)

func TestModelsJSON(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(&stdout, &stderr, []string{"models", "--json"}); err != nil {
		t.Fatalf("models --json: %v; stderr: %s", err, &stderr)
	}
	var infos []modelInfo
	if err := json.Unmarshal(stdout.Bytes(), &infos); err != nil {
		t.Fatalf("decode: %v\n%s", err, &stdout)
	}
	byName := map[string]modelInfo{}
	for _, m := range infos {
		if _, dup := byName[m.Name]; dup {
			t.Errorf("model %s listed twice", m.Name)
		}
		byName[m.Name] = m
		if m.Available == (m.Reason != "") {
			t.Errorf("%s: available=%v but reason=%q: exactly one of them must say it", m.Name, m.Available, m.Reason)
		}
		if m.Available && m.Version == "" {
			t.Errorf("%s: available without a version", m.Name)
		}
	}
	for _, name := range all.Models.Names() {
		m, ok := byName[name]
		probe := all.Models[name].Available()
		if !ok || m.Kind != "go" || m.Available != (probe == nil) {
			t.Errorf("Go model %s: listed=%v %+v, want kind go and available unless its probe fails (%v)", name, ok, m, probe)
		}
	}
	for _, s := range external.Stacks() {
		m, ok := byName[s.Name]
		if !ok || m.Kind != "foreign" {
			t.Errorf("stack %s: listed=%v %+v, want kind foreign", s.Name, ok, m)
			continue
		}
		if len(m.Command) == 0 {
			t.Errorf("stack %s: no command", s.Name)
		}
	}
	if len(infos) != len(all.Models)+len(external.Stacks()) {
		t.Errorf("%d models listed, want %d", len(infos), len(all.Models)+len(external.Stacks()))
	}
}

// A Go model whose probe fails (iouring without io_uring) is listed as
// unavailable with the probe's reason; one without a probe is available.
func TestGoModelProbe(t *testing.T) {
	t.Parallel()
	reg := servers.Registry{
		"plain":  {Name: "plain", Doc: "no probe"},
		"uring":  {Name: "uring", Doc: "probed", Probe: func() error { return errors.New("io_uring is disabled") }},
		"probed": {Name: "probed", Doc: "probe passes", Probe: func() error { return nil }},
	}
	got := map[string]modelInfo{}
	for _, m := range goModelInfos(reg) {
		got[m.Name] = m
	}
	if m := got["uring"]; m.Available || m.Reason != "io_uring is disabled" || m.Version != "" {
		t.Errorf("failing probe: %+v, want unavailable with the reason", m)
	}
	for _, n := range []string{"plain", "probed"} {
		if m := got[n]; !m.Available || m.Reason != "" || m.Version == "" {
			t.Errorf("%s: %+v, want available with a version", n, m)
		}
	}
}

func TestModelsTable(t *testing.T) {
	t.Parallel()
	infos := []modelInfo{
		{Name: "epoll", Kind: "go", Doc: "raw epoll", Available: true, Version: "go1.26"},
		{Name: "curio", Kind: "foreign", Doc: "curio tasks", Reason: "curio is not installed: x"},
	}
	var b bytes.Buffer
	if err := writeModelsTable(&b, infos); err != nil {
		t.Fatal(err)
	}
	want := "MODEL  KIND     AVAILABLE  VERSION  DESCRIPTION\n" +
		"epoll  go       yes        go1.26   raw epoll\n" +
		"curio  foreign  no         -        curio tasks\n" +
		"\nNot available here:\n  curio: curio is not installed: x\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestModelsUsage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(&stdout, &stderr, []string{"models", "extra"})
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("models extra: err = %v, want a usage error", err)
	}
	err = run(&stdout, &stderr, []string{"models", "-h"})
	if exitCode(err, &stderr) != 0 || !strings.Contains(stderr.String(), "Usage: echobench models") {
		t.Errorf("models -h: err = %v, stderr = %q", err, stderr.String())
	}
}

func TestModelsArgv(t *testing.T) {
	t.Parallel()
	type argvCase struct {
		model    string
		wantTail string // the last argument
		wantErr  bool
	}
	cases := []argvCase{
		{model: "trio", wantTail: "echo_trio.py"},
		{model: "uvloop-protocol", wantTail: "uvloop"},
		{model: "node", wantTail: "echo.js"},
		{model: "no-such-model", wantErr: true},
	}
	if names := all.Models.Names(); len(names) > 0 {
		cases = append(cases, argvCase{model: names[0], wantTail: names[0]})
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		err := run(&stdout, &stderr, []string{"models", "--argv", tc.model})
		if tc.wantErr {
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("--argv %s: err = %v, want a usage error", tc.model, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("--argv %s: %v", tc.model, err)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if len(lines) < 2 || !strings.HasSuffix(lines[len(lines)-1], tc.wantTail) {
			t.Errorf("--argv %s printed %q, want several lines ending in %q", tc.model, lines, tc.wantTail)
		}
	}
}

// A Go model built on a library shows the library's module version, read
// from this binary's build info; one on the standard library shows Go's.
func TestModelsLibraryVersion(t *testing.T) {
	t.Parallel()
	infos := listModels(t.Context())
	byName := map[string]modelInfo{}
	for _, m := range infos {
		byName[m.Name] = m
	}
	withLibrary := 0
	for _, name := range all.Models.Names() {
		m := all.Models[name]
		got := byName[name].Version
		if !strings.HasPrefix(got, runtime.Version()) {
			t.Errorf("%s: version %q does not start with %s", name, got, runtime.Version())
		}
		if m.Library == "" {
			if got != runtime.Version() {
				t.Errorf("%s: no library, version %q, want %q", name, got, runtime.Version())
			}
			continue
		}
		withLibrary++
		if !regexp.MustCompile(`^go[0-9.]+.*, ` + regexp.QuoteMeta(m.Library) + ` v[0-9]+\.[0-9]+\.[0-9]+`).MatchString(got) {
			t.Errorf("%s: version %q, want the Go version then %s vX.Y.Z", name, got, m.Library)
		}
	}
	for _, name := range []string{"gnet", "evio"} {
		if all.Models[name].Library == "" {
			t.Errorf("%s is registered without its library", name)
		}
	}
	if withLibrary == 0 {
		t.Error("no Go model names a library: the test checks nothing")
	}
	var b bytes.Buffer
	if err := writeModelsTable(&b, infos); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), byName["gnet"].Version) {
		t.Errorf("the table does not show gnet's version %q:\n%s", byName["gnet"].Version, b.String())
	}
}
