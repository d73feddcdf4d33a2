package netns

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The exact command lines of a layout with two generators and netem: what
// a root run executes, checked without root.
func TestSetupCommands(t *testing.T) {
	t.Parallel()
	l, err := NewLayout("0a1b2c", Options{Generators: 2, RTT: 10 * time.Millisecond, LossFraction: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range l.SetupCommands() {
		got = append(got, strings.Join(c, " "))
	}
	want := []string{
		"ip netns add ebn-0a1b2c-s",
		"ip -n ebn-0a1b2c-s link set lo up",
		"ip -n ebn-0a1b2c-s addr add 10.223.0.1/32 dev lo",
		"ip netns add ebn-0a1b2c-g0",
		"ip -n ebn-0a1b2c-g0 link set lo up",
		"ip link add ebn0a1b2cs0 netns ebn-0a1b2c-s type veth peer name ebn0a1b2cg0 netns ebn-0a1b2c-g0",
		"ip -n ebn-0a1b2c-s addr add 10.223.1.1/24 dev ebn0a1b2cs0",
		"ip -n ebn-0a1b2c-s link set ebn0a1b2cs0 up",
		"ip -n ebn-0a1b2c-g0 addr add 10.223.1.2/24 dev ebn0a1b2cg0",
		"ip -n ebn-0a1b2c-g0 link set ebn0a1b2cg0 up",
		"ip -n ebn-0a1b2c-g0 route add 10.223.0.1/32 via 10.223.1.1 dev ebn0a1b2cg0",
		"tc -n ebn-0a1b2c-s qdisc add dev ebn0a1b2cs0 root netem limit 100000 delay 10000us loss 1%",
		"ip netns add ebn-0a1b2c-g1",
		"ip -n ebn-0a1b2c-g1 link set lo up",
		"ip link add ebn0a1b2cs1 netns ebn-0a1b2c-s type veth peer name ebn0a1b2cg1 netns ebn-0a1b2c-g1",
		"ip -n ebn-0a1b2c-s addr add 10.223.2.1/24 dev ebn0a1b2cs1",
		"ip -n ebn-0a1b2c-s link set ebn0a1b2cs1 up",
		"ip -n ebn-0a1b2c-g1 addr add 10.223.2.2/24 dev ebn0a1b2cg1",
		"ip -n ebn-0a1b2c-g1 link set ebn0a1b2cg1 up",
		"ip -n ebn-0a1b2c-g1 route add 10.223.0.1/32 via 10.223.2.1 dev ebn0a1b2cg1",
		"tc -n ebn-0a1b2c-s qdisc add dev ebn0a1b2cs1 root netem limit 100000 delay 10000us loss 1%",
	}
	if !slices.Equal(got, want) {
		t.Errorf("setup commands:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := strings.Join(l.SetupCommands()[0], " "); strings.Contains(got, "tc") {
		t.Errorf("first command %q", got)
	}
}

// Without rtt and loss there is no tc command at all.
func TestSetupWithoutNetem(t *testing.T) {
	t.Parallel()
	l, err := NewLayout("abcdef", Options{Generators: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.SetupCommands() {
		if c[0] == "tc" {
			t.Errorf("netem command without rtt or loss: %q", c)
		}
	}
}

func TestNetemCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{RTT: 10 * time.Millisecond}, "limit 100000 delay 10000us"},
		{Options{RTT: 1500 * time.Microsecond}, "limit 100000 delay 1500us"},
		{Options{LossFraction: 0.07}, "limit 100000 loss 7%"},
		{Options{LossFraction: 0.001}, "limit 100000 loss 0.1%"},
		{Options{RTT: time.Second, LossFraction: 0.5}, "limit 100000 delay 1000000us loss 50%"},
	} {
		got := strings.Join(NetemCommand("ebn-000000-s", "ebn000000s0", tt.o), " ")
		want := "tc -n ebn-000000-s qdisc add dev ebn000000s0 root netem " + tt.want
		if got != want {
			t.Errorf("%+v: %q, want %q", tt.o, got, want)
		}
	}
}

// Every interface name fits IFNAMSIZ (15 characters and the NUL), at the
// most generators; every namespace name matches the pattern Remove obeys.
func TestNameLimits(t *testing.T) {
	t.Parallel()
	l, err := NewLayout("ffffff", Options{Generators: MaxGenerators})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range l.Generators {
		for _, dev := range []string{g.Dev, g.ServerDev} {
			if len(dev) > 15 {
				t.Errorf("interface name %q is %d characters, more than IFNAMSIZ-1 = 15", dev, len(dev))
			}
		}
	}
	for _, ns := range l.Namespaces() {
		if !ValidName(ns) {
			t.Errorf("namespace %q does not match the pattern Remove obeys", ns)
		}
	}
	if g := l.Generators[MaxGenerators-1]; g.IP != "10.223.254.2/24" || g.ServerSideIP != "10.223.254.1/24" {
		t.Errorf("last generator's addresses %s, %s", g.IP, g.ServerSideIP)
	}
	for _, bad := range []Options{{Generators: 0}, {Generators: MaxGenerators + 1}, {Generators: 1, RTT: -1}, {Generators: 1, LossFraction: 1}, {Generators: 1, RTT: MaxRTT + 1}} {
		if _, err := NewLayout("ffffff", bad); err == nil {
			t.Errorf("NewLayout(%+v) accepted", bad)
		}
	}
	if _, err := NewLayout("FFFFFF", Options{Generators: 1}); err == nil {
		t.Error("an upper-case token was accepted")
	}
}

func TestExecIn(t *testing.T) {
	t.Parallel()
	got := strings.Join(ExecIn("ebn-0a1b2c-s", []string{"/bin/echobench", "serve", "netconn", "--addr", ServerAddr("0"), "--allow-remote"}), " ")
	if want := "ip netns exec ebn-0a1b2c-s /bin/echobench serve netconn --addr 10.223.0.1:0 --allow-remote"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// Setup writes the state file before its first command, and the file names
// every namespace, link and qdisc it then creates.
func TestSetupWritesStateFirst(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), StateFile)
	var seen *State
	run := &stateChecker{Recorder: NewRecorder(), path: path, seen: &seen}
	n, err := Setup(context.Background(), run, path, "20261127-151500", Options{Generators: 1, RTT: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if seen == nil {
		t.Fatal("no state file when the first namespace was created")
	}
	if !slices.Equal(seen.Namespaces, n.Namespaces()) || len(seen.Links) != 1 || len(seen.Qdiscs) != 1 || seen.RunID != "20261127-151500" || seen.OwnerPID != os.Getpid() {
		t.Errorf("state before creation: %+v; layout namespaces %v", *seen, n.Namespaces())
	}
	if l := seen.Links[0]; l.Namespace != n.Server || l.PeerNamespace != n.Generators[0].Namespace || l.Dev != n.Generators[0].ServerDev {
		t.Errorf("link %+v", l)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after Close: %v", err)
	}
	if left := run.Namespaces(); len(left) != 0 {
		t.Errorf("namespaces left after Close: %v", left)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// stateChecker reads the state file when the first namespace is added.
type stateChecker struct {
	*Recorder
	path string
	seen **State
}

func (s *stateChecker) Run(ctx context.Context, argv []string) ([]byte, error) {
	if strings.Join(argv[:3], " ") == "ip netns add" && *s.seen == nil {
		if st, err := ReadState(s.path); err == nil {
			*s.seen = &st
		}
	}
	return s.Recorder.Run(ctx, argv)
}

// A command that fails half-way removes what was created, and the state
// file; the error names the command and tc's words.
func TestSetupFailureRemovesEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), StateFile)
	run := &Recorder{Fail: "tc ", Out: "Error: Specified qdisc kind is unknown."}
	_, err := Setup(context.Background(), run, path, "r", Options{Generators: 1, LossFraction: 0.01})
	if err == nil {
		t.Fatal("Setup succeeded with a failing tc")
	}
	if left := run.Namespaces(); len(left) != 0 {
		t.Errorf("namespaces left after a failed setup: %v", left)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after a failed setup: %v", err)
	}
	cmds := run.Commands()
	if last := cmds[len(cmds)-1]; !strings.HasPrefix(last, "ip netns del ebn-") || !strings.HasSuffix(last, "-s") {
		t.Errorf("last command %q, want the server namespace's removal", last)
	}
}

// Remove deletes only what the state names, only names of this package's
// form, and only those that exist.
func TestRemoveTouchesOnlyRecorded(t *testing.T) {
	t.Parallel()
	run := NewRecorder("ebn-123456-s", "ebn-123456-g0", "ebn-654321-s", "mine", "ebn-123456-g1")
	st := State{Version: stateVersion, Namespaces: []string{"ebn-123456-s", "ebn-123456-g0", "ebn-123456-g9", "mine"}}
	removed, err := Remove(context.Background(), run, st)
	if err == nil || !strings.Contains(err.Error(), `"mine" is not a name echobench creates`) {
		t.Errorf("Remove of a foreign name: %v", err)
	}
	if want := []string{"ebn-123456-g0", "ebn-123456-s"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if want := []string{"ebn-654321-s", "mine", "ebn-123456-g1"}; !slices.Equal(run.Namespaces(), want) {
		t.Errorf("left %v, want %v", run.Namespaces(), want)
	}
	for _, c := range run.Commands() {
		if strings.HasPrefix(c, "ip netns del") && !slices.Contains([]string{"ip netns del ebn-123456-g0", "ip netns del ebn-123456-s"}, c) {
			t.Errorf("ran %q", c)
		}
	}
}

// RemoveStateFile keeps the state file when a removal fails, so a later
// cleanup can try again, and is a no-op without one.
func TestRemoveStateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	if removed, err := RemoveStateFile(context.Background(), NewRecorder(), path); err != nil || removed != nil {
		t.Fatalf("no state file: %v, %v", removed, err)
	}
	st := State{Version: stateVersion, Namespaces: []string{"ebn-abcdef-s", "ebn-abcdef-g0"}}
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	run := NewRecorder(st.Namespaces...)
	run.Fail, run.Out = "ip netns del ebn-abcdef-s", "busy"
	if _, err := RemoveStateFile(context.Background(), run, path); err == nil {
		t.Fatal("a failed removal returned no error")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state file gone after a failed removal: %v", err)
	}
	run.Fail = ""
	removed, err := RemoveStateFile(context.Background(), run, path)
	if err != nil || !slices.Equal(removed, []string{"ebn-abcdef-s"}) {
		t.Fatalf("second removal: %v, %v", removed, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after removal: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"version": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveStateFile(context.Background(), run, path); err == nil {
		t.Error("a state file of another version was accepted")
	}
}

// A token whose names exist already is never used: the next draw is.
func TestSetupAvoidsExistingNames(t *testing.T) {
	t.Parallel()
	run := NewRecorder()
	n, err := Setup(context.Background(), run, filepath.Join(t.TempDir(), StateFile), "r", Options{Generators: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range run.Commands() {
		if strings.HasPrefix(c, "ip netns add") && !strings.Contains(c, n.Token) {
			t.Errorf("%q does not use the run's token %s", c, n.Token)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckNetem(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("no tc command here: CheckNetem says so before its probe")
	}
	run := &Recorder{Fail: "unshare", Out: "Error: Specified qdisc kind is unknown.\n"}
	err := CheckNetem(context.Background(), run)
	if !errors.Is(err, ErrNoNetem) || !strings.Contains(err.Error(), "this kernel has no sch_netem (tc: Error: Specified qdisc kind is unknown.)") {
		t.Errorf("CheckNetem without netem: %v", err)
	}
	if got, want := strings.Join(run.Commands(), "|"), "unshare --net -- tc qdisc add dev lo root netem delay 1ms"; got != want {
		t.Errorf("probe ran %q, want %q", got, want)
	}
	other := &Recorder{Fail: "unshare", Out: "unshare: unshare failed: Operation not permitted"}
	if err := CheckNetem(context.Background(), other); err == nil || errors.Is(err, ErrNoNetem) {
		t.Errorf("a probe failed for another reason: %v", err)
	}
	if err := CheckNetem(context.Background(), NewRecorder()); err != nil {
		t.Errorf("a probe that succeeds: %v", err)
	}
}
