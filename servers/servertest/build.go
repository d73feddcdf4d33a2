package servertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// buildDirPrefix names the per-process directory the built binaries go to.
// A test binary cannot remove it at exit, so each build sweeps away the
// directories of processes that are gone.
const buildDirPrefix = "echobench-servertest-"

var (
	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error

	buildsMu sync.Mutex
	builds   = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// BuildEchobench builds ./cmd/echobench once per test process (later calls
// return the cached result) and returns the binary's path. A Go model is then
// the target {BuildEchobench(t), "serve", MODEL}. The binary is built without
// -race whatever the test binary is: models are race-tested in their own
// packages, and here they should run at their normal speed.
func BuildEchobench(t interface {
	Helper()
	Fatalf(format string, args ...any)
}) string {
	t.Helper()
	path, err := buildPackage("echobench/cmd/echobench", "echobench")
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return path
}

// buildPackage runs `go build` for the main package pkg once per process.
func buildPackage(pkg, name string) (string, error) {
	buildsMu.Lock()
	r, ok := builds[pkg]
	if !ok {
		r = &buildResult{}
		builds[pkg] = r
	}
	buildsMu.Unlock()
	r.once.Do(func() {
		dir, err := processBuildDir()
		if err != nil {
			r.err = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			r.err = fmt.Errorf("build %s: find the go command: %w", pkg, err)
			return
		}
		out := filepath.Join(dir, name)
		cmd := exec.Command(goTool, "build", "-o", out, pkg)
		if msg, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build -o %s %s: %w\n%s", out, pkg, err, msg)
			return
		}
		r.path = out
	})
	return r.path, r.err
}

func processBuildDir() (string, error) {
	buildDirOnce.Do(func() {
		sweepBuildDirs()
		buildDir, buildDirErr = os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
		if buildDirErr != nil {
			buildDirErr = fmt.Errorf("create build directory: %w", buildDirErr)
		}
	})
	return buildDir, buildDirErr
}

// sweepBuildDirs removes build directories whose test process has exited.
func sweepBuildDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), buildDirPrefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			os.RemoveAll(m)
		}
	}
}
