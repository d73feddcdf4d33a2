package external

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"echobench/servers"
)

// parsedContract is what a server's own flag parser made of the argv.
type parsedContract struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	MaxPending int    `json:"maxPending"`
	Loops      int    `json:"loops"`
}

// contractParsers run each foreign runtime's real flag parser (the Python
// servers' _echo_common.parse_args, Node's parseContract) on argv and print
// what it parsed as JSON, or exit 2 as the server would.
var contractParsers = []struct {
	name    string
	runtime runtime
	argv    func(interp string, args []string) []string
}{
	{"python", runtimePython, func(interp string, args []string) []string {
		src := `import json, sys
sys.path.insert(0, sys.argv[1])
import _echo_common as c
a = c.parse_args("contract test", argv=sys.argv[2:])
print(json.dumps({"host": a.host or "", "port": a.port, "maxPending": a.max_pending, "loops": a.loops}))`
		dir, _ := filepath.Abs("../python")
		return append([]string{interp, "-E", "-c", src, dir}, args...)
	}},
	{"node", runtimeNode, func(interp string, args []string) []string {
		src := `const m = require(process.argv[1]); console.log(JSON.stringify(m.parseContract(process.argv.slice(2))));`
		script, _ := filepath.Abs("../node/echo.js")
		return append([]string{interp, "-e", src, script}, args...)
	}},
}

// The foreign servers parse the contract flags that Go builds from
// servers.Config (the orchestrator's and the conformance suite's argv) into
// the same values as `echobench serve`, and refuse what it refuses.
func TestForeignParsersReadTheContract(t *testing.T) {
	t.Parallel()
	good := []servers.Config{
		{Addr: "127.0.0.1:0", MaxPendingBytes: servers.DefaultMaxPendingBytes},
		{Addr: "127.0.0.5:8123", Loops: 1, MaxPendingBytes: 65536},
		{Addr: "[::1]:0", MaxPendingBytes: 1},
		{},
	}
	bad := []servers.Config{{Loops: 2}, {Loops: -1}, {MaxPendingBytes: -5}, {Addr: "127.0.0.1"}}
	for _, p := range contractParsers {
		interp, err := Stack{runtime: p.runtime}.interpreter()
		if err != nil {
			if requireStacks() {
				t.Fatalf("%s: %v", p.name, err)
			}
			t.Logf("skipping %s: %v", p.name, err)
			continue
		}
		for _, cfg := range good {
			args := cfg.Args()
			got, err := runParser(p.argv(interp, args))
			if err != nil {
				t.Errorf("%s %q: %v", p.name, args, err)
				continue
			}
			want, err := servers.ParseArgs(nil, args)
			if err != nil {
				t.Fatalf("Go %q: %v", args, err)
			}
			host, port, _ := net.SplitHostPort(want.Addr)
			if got.Host != host || strconv.Itoa(got.Port) != port || got.MaxPending != want.MaxPendingBytes || got.Loops != want.Loops {
				t.Errorf("%s parsed %q as %+v; Go parses it as %+v", p.name, args, got, want)
			}
		}
		for _, cfg := range bad {
			args := cfg.Args()
			_, err := runParser(p.argv(interp, args))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("%s %q: %v, want exit status 2 (usage)", p.name, args, err)
			}
		}
	}
}

func runParser(argv []string) (parsedContract, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return parsedContract{}, err
	}
	var pc parsedContract
	if err := json.Unmarshal(out.Bytes(), &pc); err != nil {
		return pc, errors.New("output " + out.String() + ": " + err.Error() + "; stderr " + errOut.String())
	}
	return pc, nil
}
