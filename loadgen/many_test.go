package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"echobench/loadgen/faultserver"
)

// helperEnv makes the test binary run as a plain echo server in a child
// process, so the server's sockets do not count against this process's
// open-file limit.
const helperEnv = "LOADGEN_TEST_ECHO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(echoServerMain())
	}
	os.Exit(m.Run())
}

// echoServerMain prints "ADDR host:port", serves until stdin closes, then
// prints its stats as JSON.
func echoServerMain() int {
	s, err := faultserver.Start(faultserver.Faults{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	st := s.Stats()
	s.Close()
	json.NewEncoder(os.Stdout).Encode(st)
	return 0
}

// Thousands of connections from one process, spread over several source
// addresses, connect within seconds and all carry load. The default is 1,500
// connections to keep `make test` light on a shared machine; set
// LOADGEN_MANY_CONNS=15000 for the full-size check.
func TestManyConnections(t *testing.T) {
	conns := 1500
	if v := os.Getenv("LOADGEN_MANY_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LOADGEN_MANY_CONNS=%q: want a positive integer", v)
		}
		conns = n
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // our own child, by its PID
			<-done
		}
	})
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("helper server said %q, %v", line, err)
	}
	srcs, err := ParseSourceIPs("127.0.0.2-127.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := run(t, Config{
		Addr: addr, Conns: conns, SizeBytes: 64, Duration: time.Second, Timeout: 5 * time.Second,
		ConnectTimeout: 5 * time.Second, SourceIPs: srcs,
	})
	l := res.Load
	if res.ConnectedAtStart != conns || l.ConnFailed != 0 {
		t.Errorf("%d of %d connected at start, %d attempts failed", res.ConnectedAtStart, conns, l.ConnFailed)
	}
	// Every connection sends at least its first message in the window.
	if l.Intended < int64(conns) || l.Completed < l.Intended*99/100 {
		t.Errorf("intended %d, completed %d, for %d connections", l.Intended, l.Completed, conns)
	}
	t.Logf("%d conns: connected and ran in %v; %.0f msgs/s", conns, time.Since(start), l.ThroughputMsgsPerSec)

	stdin.Close()
	var st faultserver.Stats
	if err := json.NewDecoder(out).Decode(&st); err != nil {
		t.Fatalf("helper stats: %v", err)
	}
	if st.RemoteIPs != len(srcs) {
		t.Errorf("server saw %d client addresses, want %d (--source-ips)", st.RemoteIPs, len(srcs))
	}
	if st.Accepted != int64(conns) {
		t.Errorf("server accepted %d connections, want %d", st.Accepted, conns)
	}
}
