package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"echobench/bench/proc"
)

// The test binary doubles as the child: with SUPERVISE_HELPER set it runs
// the named behaviour instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SUPERVISE_HELPER"); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(mode string) {
	// Bound every helper: nothing may linger if a test goes wrong.
	time.AfterFunc(30*time.Second, func() { os.Exit(9) })
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch mode {
	case "ready":
		fmt.Println("noise before")
		fmt.Println("LISTENING 127.0.0.1:1234")
		<-term
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("LISTENING 127.0.0.1:1")
		select {}
	case "crash":
		fmt.Fprintln(os.Stderr, "fatal: cannot bind")
		os.Exit(3)
	case "never":
		<-term
	case "fork":
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), "SUPERVISE_HELPER=never")
		if err := c.Start(); err != nil {
			os.Exit(4)
		}
		fmt.Printf("CHILD %d\n", c.Process.Pid)
		fmt.Println("LISTENING 127.0.0.1:2")
		<-term
	case "burn":
		// Spin for 200 ms of CPU, then exit.
		end := time.Now().Add(200 * time.Millisecond)
		for x := 0; time.Now().Before(end); x++ {
			_ = x * x
		}
	case "spew":
		chunk := strings.Repeat("x", 1000) + "\n"
		for i := 0; i < 2000; i++ {
			os.Stderr.WriteString(chunk)
			os.Stdout.WriteString(chunk)
		}
		fmt.Fprintln(os.Stderr, "THE END")
	}
}

func spec(mode string, cpus []int) Spec {
	return Spec{Argv: []string{os.Args[0]}, Env: append(os.Environ(), "SUPERVISE_HELPER="+mode, "GORACE=atexit_sleep_ms=0"), CPUs: cpus}
}

func start(t *testing.T, s Spec) *Proc {
	t.Helper()
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(0) })
	return p
}

func TestReadyAndStop(t *testing.T) {
	t.Parallel()
	cpus := []int{0}
	if runtime.NumCPU() > 1 {
		cpus = []int{1}
	}
	p := start(t, spec("ready", cpus))
	addr, err := p.WaitLine(context.Background(), "LISTENING ", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1:1234" {
		t.Errorf("addr = %q", addr)
	}
	st, err := proc.ReadStatus(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(cpus[0]); st.CPUsAllowed != want {
		t.Errorf("child runs on CPUs %q, want %q", st.CPUsAllowed, want)
	}
	if pg, _ := syscall.Getpgid(p.PID); pg != p.PID {
		t.Errorf("child process group %d, want its own %d", pg, p.PID)
	}
	res := p.Stop(5 * time.Second)
	if res.Killed || res.ExitedBefore || res.ExitCode != 0 {
		t.Errorf("Stop = %+v, want a clean exit on SIGTERM", res)
	}
	if proc.Alive(p.PID) {
		t.Error("child still alive after Stop")
	}
	for _, pid := range Live() {
		if pid == p.PID {
			t.Error("stopped child still listed as live")
		}
	}
}

func TestIgnoresTerm(t *testing.T) {
	t.Parallel()
	p := start(t, spec("ignoreterm", nil))
	if _, err := p.WaitLine(context.Background(), "LISTENING ", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	res := p.Stop(200 * time.Millisecond)
	if !res.Killed || res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("Stop = %+v, want killed by SIGKILL", res)
	}
	if proc.Alive(p.PID) {
		t.Error("child survived SIGKILL")
	}
}

func TestCrash(t *testing.T) {
	t.Parallel()
	p := start(t, spec("crash", nil))
	_, err := p.WaitLine(context.Background(), "LISTENING ", 10*time.Second)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("WaitLine = %v, want ErrExited", err)
	}
	res := p.Stop(time.Second)
	if !res.ExitedBefore || res.ExitCode != 3 {
		t.Errorf("Stop = %+v, want exited before with 3", res)
	}
	if tail := p.StderrTail(); !strings.Contains(tail, "cannot bind") {
		t.Errorf("stderr tail %q lacks the message", tail)
	}
}

func TestNeverReady(t *testing.T) {
	t.Parallel()
	p := start(t, spec("never", nil))
	_, err := p.WaitLine(context.Background(), "LISTENING ", 200*time.Millisecond)
	if err == nil || errors.Is(err, ErrExited) {
		t.Fatalf("WaitLine = %v, want a timeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.WaitLine(ctx, "LISTENING ", time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitLine after cancel = %v", err)
	}
}

func TestGroupKilled(t *testing.T) {
	t.Parallel()
	p := start(t, spec("fork", nil))
	line, err := p.WaitLine(context.Background(), "CHILD ", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(line)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(context.Background(), "LISTENING ", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	members, err := proc.GroupMembers(p.PID)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 {
		t.Errorf("group members = %v, want leader and child", members)
	}
	p.Stop(2 * time.Second)
	// The grandchild is not ours to reap; wait until init has.
	deadline := time.Now().Add(5 * time.Second)
	for proc.Alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived Stop", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDrainsOutput(t *testing.T) {
	t.Parallel()
	p := start(t, spec("spew", nil))
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("child blocked on its output")
	}
	res := p.Stop(time.Second)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, p.StderrTail())
	}
	tail := p.StderrTail()
	if len(tail) > TailBytes || !strings.HasSuffix(tail, "THE END\n") {
		t.Errorf("tail is %d bytes ending %q", len(tail), tail[max(0, len(tail)-20):])
	}
	if got := len(p.Stdout()); got != 2000*1001 {
		t.Errorf("stdout kept %d bytes, want %d", got, 2000*1001)
	}
}

// TestKillAll is not parallel: KillAll ends every child of this process.
func TestKillAll(t *testing.T) {
	p := start(t, spec("ignoreterm", nil))
	if _, err := p.WaitLine(context.Background(), "LISTENING ", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	KillAll()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("KillAll left the child running")
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	if _, err := Start(Spec{}); err == nil {
		t.Error("empty argv accepted")
	}
	if _, err := Start(Spec{Argv: []string{"/no/such/program"}}); err == nil {
		t.Error("missing program accepted")
	}
}

func TestAllowedCPUs(t *testing.T) {
	t.Parallel()
	cpus, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) != runtime.NumCPU() {
		t.Errorf("AllowedCPUs = %v, NumCPU = %d", cpus, runtime.NumCPU())
	}
}

func TestCPUTimeAfterExit(t *testing.T) {
	t.Parallel()
	p := start(t, spec("burn", nil))
	if _, ok := p.CPUTime(); ok {
		select {
		case <-p.Done():
		default:
			t.Fatal("CPUTime reported before the child exited")
		}
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("burn helper did not exit")
	}
	d, ok := p.CPUTime()
	// It spun for 200 ms of wall time; on a loaded machine it gets less CPU,
	// but never none.
	if !ok || d <= 0 || d > 10*time.Second {
		t.Fatalf("CPUTime = %v, %v after exit", d, ok)
	}
}
