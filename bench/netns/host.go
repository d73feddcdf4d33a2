package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Exec runs commands as child processes.
type Exec struct{}

// Run runs argv and returns its combined output; the error names the
// command and carries its output, which is where ip and tc say why.
func (Exec) Run(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("netns: empty command")
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Capabilities a named namespace needs: CAP_NET_ADMIN for links,
// addresses and qdiscs, CAP_SYS_ADMIN for the bind mount under /run/netns
// that `ip netns add` makes and for the mount namespace `ip netns exec`
// sets up.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// ProbeCommand creates a veth pair in a throwaway network namespace: what
// the run does, on a namespace that dies with the command, so it leaves
// nothing behind whatever happens.
var ProbeCommand = []string{"unshare", "--net", "--", "ip", "link", "add", "ebnprobe0", "type", "veth", "peer", "name", "ebnprobe1"}

// CheckHost says why this host cannot build a run's network, or nil: the
// commands are missing, the process lacks the capabilities, or the kernel
// (or a container's seccomp profile) refuses namespaces or veth pairs.
func CheckHost(ctx context.Context, run Runner) error {
	for _, c := range []struct{ cmd, pkg string }{{"ip", "iproute2"}, {"unshare", "util-linux"}} {
		if _, err := exec.LookPath(c.cmd); err != nil {
			return fmt.Errorf("the %s command is not installed (Debian package %s; make deps installs it)", c.cmd, c.pkg)
		}
	}
	if err := checkCaps(); err != nil {
		return err
	}
	if _, err := run.Run(ctx, ProbeCommand); err != nil {
		return fmt.Errorf("this host cannot create a network namespace with a veth pair: %w", err)
	}
	return nil
}

// checkCaps reads this process's effective capabilities.
func checkCaps() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hexCaps, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(hexCaps), 16, 64)
		if err != nil {
			return fmt.Errorf("read capabilities: CapEff %q: %w", hexCaps, err)
		}
		if caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
			return errors.New("creating network namespaces needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run as root")
		}
		return nil
	}
	return errors.New("read capabilities: no CapEff in /proc/self/status")
}

// NetemProbeCommand adds a netem qdisc in a throwaway network namespace:
// the one sure test that this kernel has sch_netem (built in or loadable;
// /proc/modules and /lib/modules are often absent in VMs and containers).
var NetemProbeCommand = []string{"unshare", "--net", "--", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}

// ErrNoNetem is returned by CheckNetem when the kernel lacks sch_netem.
var ErrNoNetem = errors.New("this kernel has no sch_netem")

// CheckNetem says whether rtt and loss can be emulated here: nil, an error
// wrapping ErrNoNetem with tc's words, or why it could not be checked.
func CheckNetem(ctx context.Context, run Runner) error {
	if _, err := exec.LookPath("tc"); err != nil {
		return errors.New("the tc command is not installed (Debian package iproute2; make deps installs it)")
	}
	out, err := run.Run(ctx, NetemProbeCommand)
	if err == nil {
		return nil
	}
	if s := string(out); strings.Contains(s, "qdisc kind is unknown") || strings.Contains(s, "Unknown qdisc") {
		return fmt.Errorf("%w (tc: %s)", ErrNoNetem, strings.TrimSpace(s))
	}
	return fmt.Errorf("cannot check for sch_netem: %w", err)
}

// RequireEnv names the variable that makes the namespace tests fail
// instead of skipping where the host cannot build a network (CI sets it:
// its machine runs them as root).
const RequireEnv = "ECHOBENCH_REQUIRE_NETNS"

// TB is the part of testing.TB that RequireHost uses (this package does
// not import testing outside its tests).
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// RequireHost skips t, saying why, where this host cannot build a network
// (not root, no ip, a container without CAP_SYS_ADMIN); with RequireEnv=1
// it fails t instead. For the tests that create real namespaces.
func RequireHost(t TB) {
	t.Helper()
	err := CheckHost(context.Background(), Exec{})
	if err == nil {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s=1, but %v", RequireEnv, err)
	}
	t.Skipf("cannot create network namespaces here (%s=1 makes this a failure): %v", RequireEnv, err)
}
