package external

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"echobench/servers/native"
)

// The native baseline (c-epoll) is a foreign stack whose runtime is the
// system C compiler: its source is embedded (servers/native) and compiled on
// first use into the private cache directory the scripts use, as
// native-KEY/c-epoll, where KEY hashes the source, the flags and the
// compiler's identity (its path and its whole --version output), so a new
// source or another compiler gives a new binary and never replaces one a
// running server uses.

// nativeCFlags build c-epoll the way a distribution builds a program: -O2,
// and no -march=native, so the binary uses what every x86-64 has, as a Go
// binary does by default (GOAMD64=v1). -Wall -Wextra are quiet on a clean
// build; the tests add -Werror, so a new warning fails CI rather than
// making the baseline unavailable on a user's newer compiler.
var nativeCFlags = []string{"-O2", "-Wall", "-Wextra"}

const (
	nativeBinaryName = "c-epoll"
	// nativeSumName holds the binary's SHA-256, checked before it runs: a
	// binary cannot be compared with the embedded source as a script is.
	nativeSumName = nativeBinaryName + ".sha256"
	// compileTimeout bounds one compile, about 0.3 s on the 2-core machine.
	compileTimeout = 2 * time.Minute
)

// cCompiler is the compiler that builds c-epoll.
type cCompiler struct {
	setting string   // what it was asked as: "cc", or $CC
	argv    []string // setting split into words, e.g. ["ccache", "gcc"]
	path    string   // argv[0] as found on PATH
	version string   // its whole --version output
}

// name is the first line of the compiler's --version, e.g. "cc (Debian
// 12.2.0-14+deb12u1) 12.2.0": the stack's version.
func (c cCompiler) name() string {
	first, _, _ := strings.Cut(strings.TrimSpace(c.version), "\n")
	return strings.TrimSpace(first)
}

// label says which compiler was asked for, in messages.
func (c cCompiler) label() string {
	if c.setting == "cc" {
		return "cc"
	}
	return "CC=" + c.setting
}

// ccSetting is $CC, as make and most build tools read it, else "cc".
func ccSetting() string {
	if cc := strings.TrimSpace(os.Getenv("CC")); cc != "" {
		return cc
	}
	return "cc"
}

// findCompiler looks cc up on PATH and asks its version. A missing compiler
// is the message users see in `echobench models` and in reports.
func findCompiler(ctx context.Context, cc string) (cCompiler, error) {
	c := cCompiler{setting: cc, argv: strings.Fields(cc)}
	if len(c.argv) == 0 {
		c.setting, c.argv = "cc", []string{"cc"}
	}
	path, err := exec.LookPath(c.argv[0])
	if err != nil {
		return cCompiler{}, fmt.Errorf("no C compiler (%s): %s: %w", c.label(), debianHint, err)
	}
	c.path = path
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, append(append([]string(nil), c.argv[1:]...), "--version")...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return cCompiler{}, fmt.Errorf("C compiler %s: %s --version: %w (stderr: %q)", c.label(), path, err, strings.TrimSpace(stderr.String()))
	}
	c.version = string(out)
	if c.name() == "" {
		return cCompiler{}, fmt.Errorf("C compiler %s: %s --version printed nothing", c.label(), path)
	}
	return c, nil
}

// nativeKey names one build: any change to the source, the flags or the
// compiler gives another directory.
func nativeKey(cc cCompiler, src []byte) string {
	h := sha256.New()
	for _, part := range []string{nativeBinaryName, strings.Join(nativeCFlags, " "), cc.path,
		strings.Join(cc.argv, " "), cc.version, string(src)} {
		fmt.Fprintf(h, "%d\x00%s", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	nativeMu    sync.Mutex
	nativeBuilt = map[string]string{} // nativeKey → binary, verified in this process
)

// nativeBinary returns the path of c-epoll built by cc, compiling it on the
// first use of this source with this compiler.
func nativeBinary(ctx context.Context, cc cCompiler) (string, error) {
	src := native.EchoEpollC
	key := nativeKey(cc, src)
	nativeMu.Lock()
	defer nativeMu.Unlock()
	if bin, ok := nativeBuilt[key]; ok {
		return bin, nil
	}
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	bin, err := buildNative(ctx, root, cc, src)
	if err != nil {
		return "", err
	}
	nativeBuilt[key] = bin
	return bin, nil
}

// buildNative makes sure root/native-KEY holds src and its binary, built by
// cc, and returns the binary's path. It is installed as the scripts are
// (installDir): built under a temporary name and renamed into place.
func buildNative(ctx context.Context, root string, cc cCompiler, src []byte) (string, error) {
	if err := privateDir(root); err != nil {
		return "", err
	}
	final := filepath.Join(root, "native-"+nativeKey(cc, src))
	fill := func(tmp string) error {
		if err := compileC(ctx, cc, src, tmp, nativeBinaryName); err != nil {
			return err
		}
		sum, err := fileSum(filepath.Join(tmp, nativeBinaryName))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, nativeSumName), []byte(sum+"\n"), 0o644); err != nil {
			return fmt.Errorf("write native build: %w", err)
		}
		return nil
	}
	if err := installDir(root, final, "native build", fill, func() error { return verifyNative(final, src) }); err != nil {
		return "", err
	}
	return filepath.Join(final, nativeBinaryName), nil
}

// compileC writes src into dir and compiles it there into dir/out with
// nativeCFlags and then extra. A failure carries the compiler's own
// diagnostics.
func compileC(ctx context.Context, cc cCompiler, src []byte, dir, out string, extra ...string) error {
	srcPath := filepath.Join(dir, native.SourceName)
	if err := os.WriteFile(srcPath, src, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", srcPath, err)
	}
	ctx, cancel := context.WithTimeout(ctx, compileTimeout)
	defer cancel()
	args := append(append(append([]string(nil), cc.argv[1:]...), nativeCFlags...), extra...)
	args = append(args, "-o", filepath.Join(dir, out), srcPath)
	cmd := exec.CommandContext(ctx, cc.path, args...)
	cmd.Dir = dir
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("compile %s with %s (%s): %w\n%s", native.SourceName, cc.label(), cc.name(), err, tail(output, 40))
	}
	return nil
}

// tail is the last n lines of out: the end of a compiler's output names the
// error that stopped it.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func fileSum(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("native build: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// verifyNative checks that dir holds src and the binary compiled from it: a
// directory named by a key is never rewritten, so a difference means
// someone edited it.
func verifyNative(dir string, src []byte) error {
	got, err := os.ReadFile(filepath.Join(dir, native.SourceName))
	if err != nil {
		return fmt.Errorf("native build %s is incomplete (remove it to rebuild): %w", dir, err)
	}
	if !bytes.Equal(got, src) {
		return fmt.Errorf("native build %s: %s differs from the embedded copy (remove the directory to rebuild): %w", dir, native.SourceName, errModified)
	}
	want, err := os.ReadFile(filepath.Join(dir, nativeSumName))
	if err != nil {
		return fmt.Errorf("native build %s is incomplete (remove it to rebuild): %w", dir, err)
	}
	sum, err := fileSum(filepath.Join(dir, nativeBinaryName))
	if err != nil {
		return fmt.Errorf("native build %s is incomplete (remove it to rebuild): %w", dir, err)
	}
	if sum != strings.TrimSpace(string(want)) {
		return fmt.Errorf("native build %s: %s is not the binary compiled there (remove the directory to rebuild): %w", dir, nativeBinaryName, errModified)
	}
	return nil
}

// checkNative is Check for c-epoll: the compiler's version, once the
// binary is built (or found built) with it.
func checkNative(ctx context.Context) (string, error) {
	cc, err := findCompiler(ctx, ccSetting())
	if err != nil {
		return "", err
	}
	if _, err := nativeBinary(ctx, cc); err != nil {
		return "", err
	}
	return cc.name(), nil
}

// nativeArgv is Argv for c-epoll: the binary, built if need be.
func nativeArgv() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cc, err := findCompiler(ctx, ccSetting())
	if err != nil {
		return nil, err
	}
	bin, err := nativeBinary(ctx, cc)
	if err != nil {
		return nil, err
	}
	return []string{bin}, nil
}
