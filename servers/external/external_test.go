package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"echobench/servers/native"
)

// requireStacks makes a missing Debian-packaged stack a failure instead of
// a skip; CI sets it after scripts/install-stacks.sh has run.
func requireStacks() bool { return os.Getenv("ECHOBENCH_REQUIRE_STACKS") == "1" }

// debianPackaged reports whether the stack's runtime and framework come from
// the machine's packages (everything but curio), so it must be available in CI.
func debianPackaged(s Stack) bool { return s.module == "" || s.debianPkg != "" }

func TestRegistry(t *testing.T) {
	t.Parallel()
	want := []string{"asyncio-protocol", "asyncio-streams", "uvloop-protocol", "uvloop-streams",
		"gevent", "tornado", "twisted", "trio", "curio", "node", "c-epoll"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	files, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Stacks() {
		got, ok := Lookup(s.Name)
		if !ok || got.Name != s.Name {
			t.Errorf("Lookup(%q) = %q, %v", s.Name, got.Name, ok)
		}
		if s.Doc == "" {
			t.Errorf("%s: empty Doc", s.Name)
		}
		if s.runtime == runtimeNative {
			if s.script != native.SourceName || len(native.EchoEpollC) == 0 || !s.EchoOnly {
				t.Errorf("%s: source %q (%d bytes embedded), EchoOnly %v; want %s, embedded, echo only",
					s.Name, s.script, len(native.EchoEpollC), s.EchoOnly, native.SourceName)
			}
			continue
		}
		dir := map[runtime]string{runtimePython: "python/", runtimeNode: "node/"}[s.runtime]
		if !slices.ContainsFunc(files, func(f scriptFile) bool { return f.rel == dir+s.script }) {
			t.Errorf("%s: script %s%s is not embedded", s.Name, dir, s.script)
		}
		if s.debianPkg != "" && s.debianPkg != "python3-"+s.module {
			t.Errorf("%s: module %s comes from Debian package %s, want python3-%s", s.Name, s.module, s.debianPkg, s.module)
		}
	}
	if _, ok := Lookup("no-such-stack"); ok {
		t.Error("Lookup(no-such-stack) succeeded")
	}
}

// TestStacksIsACopy guards the registry against callers that edit what they
// were given, e.g. adding a limitation for one test run.
func TestStacksIsACopy(t *testing.T) {
	t.Parallel()
	s := Stacks()
	s[0].Name = "changed"
	s[2].args[0] = "changed"
	if Names()[0] == "changed" {
		t.Error("Stacks() shares its slice with the registry")
	}
	if u, _ := Lookup("uvloop-protocol"); u.args[0] != "--loop" {
		t.Error("Stacks() shares args with the registry")
	}
}

func TestMaterialise(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 9 {
		t.Fatalf("only %d embedded scripts: %v", len(files), files)
	}

	// Concurrent first use, as when several echobench processes start at
	// once: every caller gets the same complete directory.
	const callers = 8
	dirs := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { dirs[i], errs[i] = materialise(root) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("materialise #%d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Fatalf("materialise gave %q and %q", dirs[0], dirs[i])
		}
	}
	if err := verify(dirs[0], files); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("cache root holds %d entries, want only the scripts directory (temporaries left behind?)", len(entries))
	}
	if !strings.HasPrefix(filepath.Base(dirs[0]), "scripts-") {
		t.Errorf("directory %s is not named by content hash", dirs[0])
	}

	// A second use finds the directory and rewrites nothing.
	again, err := materialise(root)
	if err != nil || again != dirs[0] {
		t.Fatalf("second materialise = %q, %v; want %q", again, err, dirs[0])
	}

	// An edited cached script is reported, never run.
	edited := filepath.Join(dirs[0], "python", "echo_trio.py")
	if err := os.WriteFile(edited, []byte("print('LISTENING 1.2.3.4:5')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := materialise(root); !errors.Is(err, errModified) {
		t.Errorf("materialise over an edited script: err = %v, want errModified", err)
	}
}

func TestContentHashChangesWithContent(t *testing.T) {
	t.Parallel()
	a := []scriptFile{{rel: "python/a.py", data: []byte("x")}}
	b := []scriptFile{{rel: "python/a.py", data: []byte("y")}}
	c := []scriptFile{{rel: "python/b.py", data: []byte("x")}}
	// Moving a byte between name and content must not collide.
	d := []scriptFile{{rel: "python/a.p", data: []byte("yx")}}
	seen := map[string]string{}
	for name, files := range map[string][]scriptFile{"a": a, "b": b, "c": c, "d": d} {
		h := contentHash(files)
		if prev, dup := seen[h]; dup {
			t.Errorf("sets %s and %s share hash %s", prev, name, h)
		}
		seen[h] = name
	}
}

func TestArgv(t *testing.T) {
	t.Parallel()
	for _, s := range Stacks() {
		if s.runtime == runtimeNative {
			checkNativeArgv(t, s)
			continue
		}
		argv, err := s.Argv()
		if err != nil {
			t.Fatalf("%s: Argv: %v", s.Name, err)
		}
		script := ""
		for _, a := range argv {
			if strings.HasSuffix(a, "/"+s.script) {
				script = a
			}
		}
		if script == "" || !filepath.IsAbs(script) {
			t.Fatalf("%s: Argv %q has no absolute path to %s", s.Name, argv, s.script)
		}
		if _, err := os.Stat(script); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if !slices.Equal(argv[len(argv)-len(s.args):], s.args) {
			t.Errorf("%s: Argv %q does not end with the stack's own flags %q", s.Name, argv, s.args)
		}
	}
}

// TestCheck runs every stack's version probe. A stack that cannot run here
// must say why, with the install hint; in CI every Debian-packaged one must run.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, s := range Stacks() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			version, err := s.Check(context.Background())
			if err != nil {
				if s.module != "" && !strings.Contains(err.Error(), s.installHint()) {
					t.Errorf("Check error %q lacks the install hint %q", err, s.installHint())
				}
				if requireStacks() && debianPackaged(s) {
					t.Fatalf("ECHOBENCH_REQUIRE_STACKS=1 and %s is unavailable: %v", s.Name, err)
				}
				t.Skipf("unavailable here: %v", err)
			}
			wantPrefix := map[runtime]string{runtimePython: "python 3.", runtimeNode: "node v"}[s.runtime]
			// c-epoll's is the first line of the C compiler's --version,
			// which starts with the name it was run as and ends with its
			// version number.
			if s.runtime == runtimeNative && (strings.Contains(version, "\n") || !regexp.MustCompile(`\d+\.\d+`).MatchString(version)) {
				t.Errorf("version %q, want one line with a version number", version)
			}
			if !strings.HasPrefix(version, wantPrefix) {
				t.Errorf("version %q, want prefix %q", version, wantPrefix)
			}
			if s.module != "" && !strings.Contains(version, ", "+s.module+" ") {
				t.Errorf("version %q does not name module %s", version, s.module)
			}
		})
	}
}

// TestCheckMissingModule makes sure a missing framework is reported with its
// hint, not as a crash, whatever is installed here.
func TestCheckMissingModule(t *testing.T) {
	t.Parallel()
	s := Stack{Name: "fake", runtime: runtimePython, script: "echo_trio.py",
		module: "echobench_no_such_module", debianPkg: "python3-echobench-fake"}
	_, err := s.Check(context.Background())
	if err == nil {
		t.Skip("/usr/bin/python3 not here") // then LookPath failed first; covered below
	}
	if _, lookErr := os.Stat(DefaultPython); lookErr != nil {
		if !strings.Contains(err.Error(), "not found") {
			t.Errorf("err = %v, want interpreter not found", err)
		}
		return
	}
	if !strings.HasPrefix(err.Error(), "python3-echobench-fake is not installed: "+debianHint) || !strings.Contains(err.Error(), "echobench_no_such_module") {
		t.Errorf("err = %v, want the hint and the import error", err)
	}
}

func TestNodeRecentEnough(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"v20.20.2", true}, {"v18.3.0", true}, {"v18.19.0", true}, {"v22.1.0", true},
		{"v18.2.9", false}, {"v16.20.0", false}, {"20.1.0", false}, {"", false},
	} {
		if err := nodeRecentEnough(tc.v); (err == nil) != tc.ok {
			t.Errorf("nodeRecentEnough(%q) = %v, want ok=%v", tc.v, err, tc.ok)
		}
	}
}
