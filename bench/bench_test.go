package bench

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"echobench/bench/config"
	"echobench/bench/internal/fake"
	"echobench/bench/proc"
	"echobench/internal/results"
)

func fakeDeps() Deps {
	return Deps{
		GoModels: fake.Modes,
		Stacks: func(name string) (Stack, bool) {
			if s, ok := fake.LookupStack(name); ok {
				return s, true
			}
			return nil, false
		},
	}
}

// --- pure parts ---

func testConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	ck := config.Checker{
		IsGoModel: func(n string) bool { return slices.Contains(fake.Modes, n) },
		IsStack:   func(string) bool { return false },
		LookPath:  exec.LookPath,
		MaxFiles:  20000,
		NumCPU:    64,
	}
	c, err := config.Decode([]byte(body), ck)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanInterleavedAndShuffled(t *testing.T) {
	t.Parallel()
	c := testConfig(t, `
duration = "1s"
repeats = 4
slo_steps = 2
[[servers]]
model = "echo"
[[servers]]
model = "crash"
[[servers]]
model = "never"
[[scenarios]]
mode = "closed"
conns = [1, 2]
sizes = [64]
[[scenarios]]
mode = "closed"
conns = [1]
sizes = [64]
[[scenarios]]
mode = "open"
conns = [4]
sizes = [64]
load = [0.5, 0.9]
`)
	servers := []*Target{{Name: "echo"}, {Name: "crash"}, {Name: "never"}}
	plan := Plan(c, servers, 42)
	// 2 closed (the duplicate dropped) + capacity + 2 sweep + 2 SLO = 7
	// templates, times 3 servers, times 4 repeats.
	if len(plan) != 7*3*4 {
		t.Fatalf("plan has %d points, want %d", len(plan), 7*3*4)
	}
	ids := map[string]bool{}
	var orders [][]string
	for i, p := range plan {
		if ids[p.ID] {
			t.Fatalf("duplicate PointID %s", p.ID)
		}
		ids[p.ID] = true
		// Interleaving: repeat r occupies one contiguous block, and within
		// it every template is run by all servers before the next one.
		if want := i/(7*3) + 1; p.Repeat != want {
			t.Fatalf("point %d (%s) in repeat %d, want %d", i, p.ID, p.Repeat, want)
		}
		if i%3 == 0 {
			orders = append(orders, nil)
		}
		orders[len(orders)-1] = append(orders[len(orders)-1], p.Server.Name)
		if i%3 == 2 && pointKey(plan[i-2].ID)[len(plan[i-2].Server.Name):] != pointKey(p.ID)[len(p.Server.Name):] {
			t.Fatalf("template block %d mixes points: %s vs %s", i/3, plan[i-2].ID, p.ID)
		}
	}
	// One order per repeat, the same for every template of the repeat.
	distinct := map[string]bool{}
	for i, o := range orders {
		if !reflect.DeepEqual(o, orders[i-i%7]) {
			t.Fatalf("server order changes within repeat: %v vs %v", o, orders[i-i%7])
		}
		distinct[strings.Join(o, ",")] = true
	}
	if len(distinct) < 2 {
		t.Errorf("the server order never changed across 4 repeats: %v", orders[0])
	}
	if again := Plan(c, servers, 42); !reflect.DeepEqual(ids, planIDs(again)) || again[0].ID != plan[0].ID || again[len(again)-1].ID != plan[len(plan)-1].ID {
		t.Error("the same seed gave a different plan")
	}
	// Dependencies run first: capacity, then sweep, then SLO steps in order.
	pos := map[string]int{}
	for i, p := range plan {
		pos[p.ID] = i
	}
	for _, p := range plan {
		switch p.Scenario.Kind {
		case results.KindSweep, results.KindSLO:
			if pos[capacityID(p)] >= pos[p.ID] {
				t.Errorf("%s runs before its capacity point", p.ID)
			}
		}
		if p.Scenario.Kind == results.KindSLO && p.SLOStep > 1 {
			prev := strings.Replace(p.ID, "step"+strconv.Itoa(p.SLOStep), "step"+strconv.Itoa(p.SLOStep-1), 1)
			if pos[prev] >= pos[p.ID] {
				t.Errorf("%s runs before %s", p.ID, prev)
			}
		}
	}
	if _, ok := ids["r1/echo/sweep/c4-s64-d1/l0.5"]; !ok {
		t.Errorf("PointID format changed: %v", plan[:3])
	}
}

// Idle connections and slow readers are matrix dimensions: every
// combination is its own point, with its own PointID, and plain points keep
// the IDs they always had.
func TestPlanIdleSlow(t *testing.T) {
	t.Parallel()
	c := testConfig(t, `
duration = "1s"
repeats = 1
slo_steps = 1
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
idle_conns = [0, 5000]
slow_readers = [0, 4]
[[scenarios]]
mode = "open"
conns = [8]
sizes = [64]
load = [0.5]
slow_readers = [2]
slow_read_bytes_per_s = 1000
`)
	plan := Plan(c, []*Target{{Name: "echo"}}, 1)
	var ids []string
	for _, p := range plan {
		ids = append(ids, p.ID)
	}
	want := []string{
		"r1/echo/closed/c64-s64-d1",
		"r1/echo/closed/c64-s64-d1-slow4-65536Bps",
		"r1/echo/closed/c64-s64-d1-idle5000",
		"r1/echo/closed/c64-s64-d1-idle5000-slow4-65536Bps",
		"r1/echo/capacity/c8-s64-d1-slow2-1000Bps",
		"r1/echo/sweep/c8-s64-d1-slow2-1000Bps/l0.5",
		"r1/echo/slo/c8-s64-d1-slow2-1000Bps/step1",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("plan IDs\n%s\nwant\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
	sc := plan[3].Scenario
	if sc.IdleConns != 5000 || sc.SlowReaders != 4 || sc.SlowReadBytesPerSec != 65536 {
		t.Errorf("scenario %+v", sc)
	}
	if plan[0].Scenario.SlowReadBytesPerSec != 0 {
		t.Errorf("a point without slow readers records a read rate: %+v", plan[0].Scenario)
	}
	if sw := plan[5]; sw.Group != "c8-s64-d1-slow2-1000Bps" || capacityID(sw) != plan[4].ID {
		t.Errorf("sweep group %q, capacity %s", sw.Group, capacityID(sw))
	}
}

// Work is a matrix dimension: a point per spec, in its canonical form in
// the PointID and the scenario; "none" keeps the IDs plain points always
// had, and two spellings of one spec are one point.
func TestPlanWork(t *testing.T) {
	t.Parallel()
	c := testConfig(t, `
duration = "1s"
repeats = 1
slo_steps = 1
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
work = ["none", "cpu:20us", "cpu:20µs", "block:10ms:fixed"]
[[scenarios]]
mode = "open"
conns = [8]
sizes = [64]
load = [0.5]
work = ["wait:1ms:exp"]
`)
	plan := Plan(c, []*Target{{Name: "echo"}}, 1)
	var ids []string
	for _, p := range plan {
		ids = append(ids, p.ID)
	}
	want := []string{
		"r1/echo/closed/c64-s64-d1",
		"r1/echo/closed/c64-s64-d1-work=cpu:20µs",
		"r1/echo/closed/c64-s64-d1-work=block:10ms",
		"r1/echo/capacity/c8-s64-d1-work=wait:1ms:exp",
		"r1/echo/sweep/c8-s64-d1-work=wait:1ms:exp/l0.5",
		"r1/echo/slo/c8-s64-d1-work=wait:1ms:exp/step1",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("plan IDs\n%s\nwant\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
	if w := plan[0].Scenario.Work; w != "" {
		t.Errorf("a none point records work %q, want none left out", w)
	}
	if w := plan[2].Scenario.Work; w != "block:10ms" {
		t.Errorf("work = %q", w)
	}
	if sw := plan[4]; sw.Scenario.Work != "wait:1ms:exp" || capacityID(sw) != plan[3].ID {
		t.Errorf("sweep work %q, capacity %s", sw.Scenario.Work, capacityID(sw))
	}
}

func TestHeldConns(t *testing.T) {
	t.Parallel()
	sc := results.Scenario{Conns: 10, IdleConns: 100, SlowReaders: 2}
	if got := heldConns(sc, nil); got != 112 {
		t.Errorf("planned: %d, want 112", got)
	}
	if got := heldConns(sc, &results.Load{Conns: 10, IdleConns: 100, SlowReaders: 2}); got != 112 {
		t.Errorf("measured: %d, want 112", got)
	}
}

func planIDs(plan []Point) map[string]bool {
	m := map[string]bool{}
	for _, p := range plan {
		m[p.ID] = true
	}
	return m
}

func TestNextSLORate(t *testing.T) {
	t.Parallel()
	try := func(rate float64, held bool) results.RateTry {
		return results.RateTry{RateMsgsPerSec: rate, Held: held}
	}
	tests := []struct {
		name     string
		tries    []results.RateTry
		capacity float64
		want     float64
	}{
		{"nothing known", nil, 1000, 500},
		{"bracketed", []results.RateTry{try(500, true), try(900, false)}, 1000, 700},
		{"all met", []results.RateTry{try(500, true), try(900, true)}, 1000, 1350},
		{"none met", []results.RateTry{try(500, false), try(900, false)}, 1000, 250},
		{"miss below a success is noise", []results.RateTry{try(300, false), try(500, true), try(900, false)}, 1000, 700},
		{"capped at max fraction", []results.RateTry{try(9000, true)}, 1000, 9500},
	}
	for _, tt := range tests {
		if got := nextSLORate(tt.tries, tt.capacity); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: nextSLORate = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := results.HighestRateHeld([]results.RateTry{try(300, false), try(500, true), try(700, true), try(900, false)}); got != 700 {
		t.Errorf("HighestRateHeld = %v, want 700", got)
	}
}

func TestCPUTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ticks := []tick{{at: at(0), ticks: 0}, {at: at(0.5), ticks: 50}, {at: at(1.0), ticks: 100}, {at: at(1.5), ticks: 110}, {at: at(2.01), ticks: 120}}
	got := cpuTimeline(ticks)
	want := []float64{1.0, 20 / 1.01 / proc.ClockTicks}
	if len(got) != 2 || math.Abs(got[0]-want[0]) > 1e-9 || math.Abs(got[1]-want[1]) > 1e-9 {
		t.Errorf("cpuTimeline = %v, want %v", got, want)
	}
	if cpuTimeline(ticks[:1]) != nil {
		t.Error("one reading made a timeline")
	}
}

func TestParseLoad(t *testing.T) {
	t.Parallel()
	good := `{"mode":"closed","conns":2,"completed":10}`
	for _, in := range []string{good, good + "\n", "a warning\n" + good} {
		l, err := parseLoad([]byte(in))
		if err != nil || l.Completed != 10 {
			t.Errorf("parseLoad(%q) = %+v, %v", in, l, err)
		}
	}
	for _, in := range []string{"", "{}", "not json", `{"mode":"closed"`} {
		if _, err := parseLoad([]byte(in)); err == nil {
			t.Errorf("parseLoad(%q) accepted", in)
		}
	}
}

func TestEnsureNewline(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "r.jsonl")
	os.WriteFile(p, []byte(`{"a":1}`), 0o644)
	if err := ensureNewline(p); err != nil {
		t.Fatal(err)
	}
	if err := ensureNewline(p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{\"a\":1}\n" {
		t.Errorf("file = %q", b)
	}
}

// New reports every problem before anything starts: mistakes in the
// options themselves as an *OptionError (the command's exit status 2), the
// rest (the file, the machine, the run directory) as plain errors; and a
// New that fails leaves no file behind.
func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.toml", "duration = \"1s\"\nbogus = 1\n")
	good := writeFile(t, dir, "good.toml", "duration = \"1s\"\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [1]\n")
	results := filepath.Join(dir, "results")
	tests := []struct {
		opts   Options
		option bool
		want   string
	}{
		{Options{}, true, "missing CONFIG"},
		{Options{ConfigPath: good, SLOP99: -time.Millisecond}, true, "--slo-p99"},
		{Options{ConfigPath: good, SLOCompletion: 2}, true, "--slo-completion"},
		{Options{ConfigPath: good, SLOCompletion: -0.5}, true, "--slo-completion"},
		{Options{ConfigPath: bad}, false, `unknown key "bogus"`},
		{Options{ConfigPath: filepath.Join(dir, "none.toml")}, false, "no such file"},
		{Options{Resume: "../etc"}, false, "not a run ID"},
		{Options{Resume: "20200101-000000"}, false, "no such file"},
		{Options{ConfigPath: good, ServerCPUs: "99"}, false, "server CPUs"},
	}
	for _, tt := range tests {
		tt.opts.ResultsDir = results
		_, err := New(t.Context(), tt.opts, fakeDeps(), io.Discard, io.Discard)
		var oe *OptionError
		if err == nil || errors.As(err, &oe) != tt.option || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v (option error %v), want option=%v containing %q", tt.opts, err, errors.As(err, &oe), tt.option, tt.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("a failed New left files: %v", ents)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Connection lifetime and connect burst are dimensions too: their points
// carry them in the PointID only when set, in the scenario, and on to the
// load generator through loadgen.Config.
func TestPlanChurn(t *testing.T) {
	t.Parallel()
	c := testConfig(t, `
duration = "1s"
repeats = 1
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
conn_lifetime = [0, 1, 10]
connect_burst = [0, 500]
`)
	plan := Plan(c, []*Target{{Name: "echo"}}, 1)
	var ids []string
	for _, p := range plan {
		ids = append(ids, p.ID)
	}
	want := []string{
		"r1/echo/closed/c64-s64-d1",
		"r1/echo/closed/c64-s64-d1-burst500",
		"r1/echo/closed/c64-s64-d1-life1",
		"r1/echo/closed/c64-s64-d1-life1-burst500",
		"r1/echo/closed/c64-s64-d1-life10",
		"r1/echo/closed/c64-s64-d1-life10-burst500",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("plan IDs\n%s\nwant\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
	p := plan[5]
	if sc := p.Scenario; sc.ConnLifetime != 10 || sc.ConnectBurst != 500 {
		t.Errorf("scenario %+v", sc)
	}
	r := &Runner{cfg: c}
	cfg, err := r.loadConfig(p, p.Scenario, "127.0.0.1:9")
	if err != nil || cfg.ConnLifetime != 10 || cfg.ConnectBurst != 500 {
		t.Errorf("load config %+v, %v", cfg, err)
	}
	if args := strings.Join(cfg.Args(), " "); !strings.Contains(args, "--conn-lifetime 10") || !strings.Contains(args, "--connect-burst 500") {
		t.Errorf("load argv %q", args)
	}
	if plain, _ := r.loadConfig(plan[0], plan[0].Scenario, "127.0.0.1:9"); strings.Contains(strings.Join(plain.Args(), " "), "conn-lifetime") {
		t.Errorf("a plain point passes a lifetime: %q", plain.Args())
	}
}

// ratesOverloadMatrix has a closed point, then at the same load a family of
// rates and one of overload factors with its own timeout, then overload
// and rates at loads of their own; slo_steps is a %d verb for the test.
const ratesOverloadMatrix = `
duration = "1s"
repeats = 1
slo_steps = %d
[[servers]]
model = "echo"
[[scenarios]]
mode = "closed"
conns = [64]
sizes = [64]
[[scenarios]]
mode = "open"
conns = [64]
sizes = [64]
rates = [20000, 50000]
[[scenarios]]
mode = "open"
conns = [64]
sizes = [64]
overload = [1.2, 2]
msg_timeout = "100ms"
[[scenarios]]
mode = "open"
conns = [256]
sizes = [64]
overload = [1.5]
[[scenarios]]
mode = "open"
conns = [128]
sizes = [64]
rates = [1000]
`

// Absolute rates and overload factors are points of an open-loop family:
// rates need no capacity point unless the SLO search runs, overload takes
// its reference from an earlier closed-loop point of the same load when
// there is one (no capacity point of its own), and a scenario's own
// message timeout is in its PointIDs, its scenario and its load.
func TestPlanRatesOverload(t *testing.T) {
	t.Parallel()
	body := ratesOverloadMatrix
	ids := func(plan []Point) []string {
		var out []string
		for _, p := range plan {
			out = append(out, strings.TrimPrefix(p.ID, "r1/echo/"))
		}
		return out
	}
	plan := Plan(testConfig(t, fmt.Sprintf(body, 1)), []*Target{{Name: "echo"}}, 1)
	want := []string{
		"closed/c64-s64-d1",
		"capacity/c64-s64-d1", "rate/c64-s64-d1/rate20000", "rate/c64-s64-d1/rate50000", "slo/c64-s64-d1/step1",
		"overload/c64-s64-d1-timeout100ms/x1.2", "overload/c64-s64-d1-timeout100ms/x2",
		"capacity/c256-s64-d1", "overload/c256-s64-d1/x1.5",
		"capacity/c128-s64-d1", "rate/c128-s64-d1/rate1000", "slo/c128-s64-d1/step1",
	}
	if got := ids(plan); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan IDs\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Without the SLO search a family of rates alone is its rate points.
	noSLO := ids(Plan(testConfig(t, fmt.Sprintf(body, 0)), []*Target{{Name: "echo"}}, 1))
	if got := strings.Join(noSLO, " "); strings.Contains(got, "capacity/c128") || strings.Contains(got, "capacity/c64") || !strings.Contains(got, "rate/c128-s64-d1/rate1000") {
		t.Errorf("without slo_steps: %s", got)
	}
	r := &Runner{cfg: testConfig(t, fmt.Sprintf(body, 1))}
	rate, ov, ov256 := plan[2], plan[5], plan[8]
	if sc := rate.Scenario; sc.Kind != results.KindRate || sc.Mode != "open" || sc.RateMsgsPerSec != 20000 || sc.MsgTimeoutS != 0 {
		t.Errorf("rate scenario %+v", sc)
	}
	if cfg, err := r.loadConfig(rate, rate.Scenario, "127.0.0.1:9"); err != nil || cfg.Mode != "open" || cfg.RateMsgsPerSec != 20000 || cfg.Timeout != 0 {
		t.Errorf("rate load %+v, %v", cfg, err)
	}
	if sc := ov.Scenario; sc.LoadFraction != 1.2 || sc.MsgTimeoutS != 0.1 || ov.MsgTimeout != 100*time.Millisecond || ov.LoadKey != plan[0].LoadKey {
		t.Errorf("overload point %+v, scenario %+v", ov, sc)
	}
	if cfg, err := r.loadConfig(ov, ov.Scenario, "127.0.0.1:9"); err != nil || cfg.Mode != "open" || cfg.Timeout != 100*time.Millisecond {
		t.Errorf("overload load %+v, %v", cfg, err)
	}
	// The run's timeout (the load generator's default here) is recorded
	// on an overload point whose scenario sets none: it is what
	// "answered" means there.
	if sc := ov256.Scenario; sc.MsgTimeoutS != 2 || ov256.MsgTimeout != 0 {
		t.Errorf("overload without its own timeout: %+v", sc)
	}
}

// An overload point's rate is its factor of the most this model completed
// per second at the same load earlier in the repeat, closed- or open-loop,
// never its own repeat's other overload points nor another repeat's or
// server's; without a closed-loop measurement it does not run.
func TestOverloadReference(t *testing.T) {
	t.Parallel()
	c := testConfig(t, strings.Replace(fmt.Sprintf(ratesOverloadMatrix, 1), "repeats = 1", "repeats = 2", 1)+"[[servers]]\nmodel = \"busy\"\n")
	echo, busy := &Target{Name: "echo"}, &Target{Name: "busy"}
	r := &Runner{cfg: c, plan: Plan(c, []*Target{echo, busy}, 1), records: map[string]*results.Record{}}
	tput := map[string]float64{
		"r1/echo/closed/c64-s64-d1": 100e3, "r1/echo/capacity/c64-s64-d1": 95e3,
		"r1/echo/rate/c64-s64-d1/rate20000": 20e3, "r1/echo/slo/c64-s64-d1/step1": 110e3,
		"r1/echo/overload/c64-s64-d1-timeout100ms/x1.2": 999e3, // never a reference
		"r2/echo/closed/c64-s64-d1":                     500e3, "r1/busy/closed/c64-s64-d1": 400e3,
	}
	for id, v := range tput {
		r.records[id] = &results.Record{PointID: id, Status: results.StatusOK, Load: &results.Load{ThroughputMsgsPerSec: v}}
	}
	point := func(id string) Point {
		for _, p := range r.plan {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("no point %s", id)
		return Point{}
	}
	p := point("r1/echo/overload/c64-s64-d1-timeout100ms/x2")
	rec := r.newRecord(p)
	if done := r.setOverloadRate(rec, p); done {
		t.Fatalf("the point did not run: %s", rec.Error)
	}
	if sc := rec.Scenario; sc.ReferenceMsgsPerSec != 110e3 || sc.ReferenceFrom != "r1/echo/slo/c64-s64-d1/step1" || sc.CapacityMsgsPerSec != 100e3 || sc.RateMsgsPerSec != 220e3 || sc.SLOCompletion == 0 {
		t.Errorf("overload scenario %+v", sc)
	}
	// busy's closed-loop points failed in repeat 1: nothing to derive from.
	r.records["r1/busy/closed/c64-s64-d1"].Status = results.StatusFailed
	r.records["r1/busy/rate/c64-s64-d1/rate20000"] = &results.Record{Status: results.StatusOK, Load: &results.Load{ThroughputMsgsPerSec: 20e3}}
	p = point("r1/busy/overload/c64-s64-d1-timeout100ms/x1.2")
	rec = r.newRecord(p)
	if done := r.setOverloadRate(rec, p); !done || rec.Status != results.StatusFailed || !strings.Contains(rec.Error, "no closed-loop measurement of load c64-s64-d1 succeeded in repeat 1") {
		t.Errorf("without a closed-loop measurement: done %v, %s %q", done, rec.Status, rec.Error)
	}
}
