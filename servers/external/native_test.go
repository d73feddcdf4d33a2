package external

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"echobench/servers/native"
)

// requireCompiler returns the C compiler, or skips (fails under
// ECHOBENCH_REQUIRE_STACKS=1: make deps installs gcc) when there is none.
func requireCompiler(t *testing.T) cCompiler {
	t.Helper()
	cc, err := findCompiler(context.Background(), ccSetting())
	if err != nil {
		if requireStacks() {
			t.Fatalf("ECHOBENCH_REQUIRE_STACKS=1 and %v", err)
		}
		t.Skip(err)
	}
	return cc
}

// checkNativeArgv is TestArgv for c-epoll: the command is the built binary,
// an absolute path in a build directory that also holds its source.
func checkNativeArgv(t *testing.T, s Stack) {
	t.Helper()
	if _, err := s.Check(context.Background()); err != nil && !requireStacks() {
		t.Logf("%s unavailable here: %v", s.Name, err)
		return
	}
	argv, err := s.Argv()
	if err != nil {
		t.Fatalf("%s: Argv: %v", s.Name, err)
	}
	if len(argv) != 1 || !filepath.IsAbs(argv[0]) || filepath.Base(argv[0]) != nativeBinaryName {
		t.Fatalf("%s: Argv %q, want the absolute path of %s alone", s.Name, argv, nativeBinaryName)
	}
	if st, err := os.Stat(argv[0]); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("%s: %s is not an executable: %v", s.Name, argv[0], err)
	}
	if err := verifyNative(filepath.Dir(argv[0]), native.EchoEpollC); err != nil {
		t.Error(err)
	}
}

// Without a C compiler c-epoll is unavailable with the reason users see in
// `echobench models` and in reports. Not parallel: it empties PATH.
func TestNativeNoCompiler(t *testing.T) {
	s, ok := Lookup("c-epoll")
	if !ok {
		t.Fatal("no c-epoll stack")
	}
	t.Setenv("PATH", t.TempDir())
	for _, tc := range []struct{ cc, want string }{
		{"", "no C compiler (cc): run make deps"},
		{"/no/such/dir/gcc -m64", "no C compiler (CC=/no/such/dir/gcc -m64): run make deps"},
	} {
		t.Setenv("CC", tc.cc)
		if _, err := s.Check(context.Background()); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("CC=%q: Check = %v, want an error starting %q", tc.cc, err, tc.want)
		}
		if _, err := s.Argv(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CC=%q: Argv = %v, want an error with %q", tc.cc, err, tc.want)
		}
	}
}

// A source the compiler refuses gives an error that says what was compiled
// with which compiler and ends with the compiler's own diagnostic, and
// leaves nothing behind in the cache.
func TestNativeCompileError(t *testing.T) {
	t.Parallel()
	cc := requireCompiler(t)
	root := filepath.Join(t.TempDir(), "cache")
	_, err := buildNative(context.Background(), root, cc, []byte("int main(void) { return echobench_undeclared; }\n"))
	if err == nil {
		t.Fatal("a broken source compiled")
	}
	for _, want := range []string{"compile " + native.SourceName + " with " + cc.label(), cc.name(), "echobench_undeclared"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a failed compile left %d entries in the cache: %v", len(entries), entries)
	}
}

// A build is found again rather than redone, a different compiler gets a
// directory of its own, and a replaced binary is refused, never run.
func TestNativeBuildCache(t *testing.T) {
	t.Parallel()
	cc := requireCompiler(t)
	root := filepath.Join(t.TempDir(), "cache")
	src := []byte("int main(void) { return 0; }\n")
	bin, err := buildNative(context.Background(), root, cc, src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	again, err := buildNative(context.Background(), root, cc, src)
	if st2, _ := os.Stat(again); err != nil || again != bin || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatalf("second build = %q, %v; want %q found, not rebuilt", again, err, bin)
	}
	other := cc
	other.version += "patched\n"
	if nativeKey(other, src) == nativeKey(cc, src) || nativeKey(cc, append(src, ' ')) == nativeKey(cc, src) {
		t.Error("the cache key ignores the compiler's version or the source")
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache root mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho LISTENING 1.2.3.4:5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := buildNative(context.Background(), root, cc, src); !errors.Is(err, errModified) {
		t.Errorf("build over a replaced binary: err = %v, want errModified", err)
	}
}
