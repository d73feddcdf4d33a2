package reports

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"echobench/internal/results"
)

// rec builds an ok closed-loop record with the given throughput.
func rec(server string, conns, size, depth, repeat int, tput float64) results.Record {
	return results.Record{
		Schema: results.SchemaVersion, RunID: "t", PointID: server, Repeat: repeat, Status: results.StatusOK,
		Server:   results.ServerInfo{Name: server},
		Scenario: results.Scenario{Kind: results.KindClosed, Mode: "closed", Conns: conns, SizeBytes: size, Depth: depth},
		Load: &results.Load{Mode: "closed", Intended: int64(tput), Completed: int64(tput), CompletionRatio: 1,
			ThroughputMsgsPerSec: tput, RateMet: true, LatencyUs: results.Latency{P50: 100, P99: 200, P999: 300}},
		ServerStats: &results.ServerStats{MsgsPerCPUSecond: tput, RSSBytesPerConn: 1000},
	}
}

// sample returns n records of server at one point, centred on tput with ±2%
// noise from a fixed seed.
func sample(seed uint64, server string, conns, n int, tput float64) []results.Record {
	r := rand.New(rand.NewPCG(seed, 3))
	var out []results.Record
	for i := 1; i <= n; i++ {
		out = append(out, rec(server, conns, 64, 1, i, tput*(1+0.04*(r.Float64()-0.5))))
	}
	return out
}

func classOf(t *testing.T, a *Analysis, id string) ClassResult {
	t.Helper()
	for _, c := range a.Classes {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no class %q", id)
	return ClassResult{}
}

func TestRecommendVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		records    []results.Record
		wantStatus string
		wantPick   string
	}{
		{"A/A is a tie", append(sample(1, "a", 1, 6, 100e3), sample(2, "b", 1, 6, 100e3)...), StatusTie, "a,b"},
		{"20% faster with 6 repeats is picked", append(sample(3, "a", 1, 6, 100e3), sample(4, "b", 1, 6, 120e3)...), StatusPick, "b"},
		{"20% faster with 3 repeats cannot be claimed", append(sample(5, "a", 1, 3, 100e3), sample(6, "b", 1, 3, 120e3)...), StatusTooFew, ""},
		{"best at different points is mixed",
			append(append(sample(7, "a", 1, 6, 100e3), sample(8, "b", 1, 6, 130e3)...), append(sample(9, "a", 4, 6, 150e3), sample(10, "b", 4, 6, 110e3)...)...),
			StatusMixed, "a,b"},
		{"a client-bound rival at least as fast leaves it undecided",
			append(sample(11, "a", 1, 6, 100e3), func() []results.Record {
				s := sample(12, "b", 1, 6, 101e3)
				for i := range s {
					s[i].Load.ClientBound = true
				}
				return s
			}()...), StatusUndecided, ""},
		{"client-bound while the server was saturated too is ranked",
			func() []results.Record {
				s := append(sample(17, "a", 1, 6, 100e3), sample(18, "b", 1, 6, 120e3)...)
				for i := range s {
					s[i].Load.ClientBound = true
					s[i].Env.ServerGOMAXPROCS = 1
					s[i].ServerStats.CPUUtil = 0.97
				}
				return s
			}(), StatusPick, "b"},
		{"client-bound with a server at 60% CPU leaves it undecided",
			append(sample(19, "a", 1, 6, 100e3), func() []results.Record {
				s := sample(20, "b", 1, 6, 120e3)
				for i := range s {
					s[i].Load.ClientBound = true
					s[i].Env.ServerGOMAXPROCS = 1
					s[i].ServerStats.CPUUtil = 0.6
				}
				return s
			}()...), StatusUndecided, ""},
		{"one client-limited repeat of six is left out and the rest rank",
			append(sample(21, "a", 1, 6, 100e3), func() []results.Record {
				s := sample(22, "b", 1, 6, 120e3)
				for i := range s {
					s[i].Env.ServerGOMAXPROCS = 1
					s[i].ServerStats.CPUUtil = 0.97
				}
				// The client capped this repeat well below b's capacity.
				s[3].Load.ClientBound, s[3].ServerStats.CPUUtil = true, 0.5
				s[3].Load.ThroughputMsgsPerSec = 60e3
				return s
			}()...), StatusPick, "b"},
		{"a failed repeat keeps a faster model out of the ranking",
			append(sample(13, "a", 1, 6, 100e3), func() []results.Record {
				s := sample(14, "b", 1, 6, 150e3)
				s[2].Status, s[2].Load, s[2].Error = results.StatusFailed, nil, "boom"
				return s
			}()...), StatusPick, "a"},
		{"corrupted data is never ranked",
			append(sample(15, "a", 1, 6, 100e3), func() []results.Record {
				s := sample(16, "b", 1, 6, 150e3)
				s[0].Load.Corrupted = 1
				return s
			}()...), StatusPick, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := Analyze(&Run{Path: "mem", Records: tt.records}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := classOf(t, a, "few")
			pick := slices.Sorted(slices.Values(c.Pick)) // best first; order checked elsewhere
			if c.Status != tt.wantStatus || strings.Join(pick, ",") != tt.wantPick {
				t.Fatalf("few: status %q pick %v, want %q %q\nwhy: %s", c.Status, c.Pick, tt.wantStatus, tt.wantPick, c.Why)
			}
		})
	}
}

func TestAnalyzeFlagsAndWarnings(t *testing.T) {
	t.Parallel()
	recs := sample(1, "a", 1, 6, 100e3)
	recs[0].Load.HDR = "garbage"
	recs[1].Load.CPUThrottle = &results.CPUThrottle{Periods: 50, Throttled: 4, ThrottledUs: 12500}
	recs[2].Load.CPUThrottle = &results.CPUThrottle{Periods: 50} // under a quota, never stopped
	recs = append(recs, results.Record{Schema: 1, Server: results.ServerInfo{Name: "py"}, Status: results.StatusSkipped, Error: "not installed"},
		results.Record{Schema: 1, Server: results.ServerInfo{Name: "py"}, Status: results.StatusSkipped, Error: "not installed"},
		results.Record{Schema: 1, Server: results.ServerInfo{Name: "x"}, Status: "weird", PointID: "w"})
	a, err := Analyze(&Run{Path: "mem", Records: recs, TornTail: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Skipped) != 1 || a.Skipped[0].Error != "not installed" {
		t.Errorf("skipped = %v, want py listed once with its reason", a.Skipped)
	}
	all := strings.Join(a.Warnings, "\n")
	for _, want := range []string{"partial line", "histogram incomplete", `unknown status "weird"`,
		"1 of 6 records' load generators were throttled by a CPU quota during the window (12.5 ms stopped in all)"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if got := strings.Join(a.Models, ","); got != "a,py,x" {
		t.Errorf("models = %s: every server must keep a colour", got)
	}
}

func TestSLOFromRunAndOverride(t *testing.T) {
	t.Parallel()
	r := rec("a", 64, 64, 1, 1, 1000)
	r.Scenario.Kind, r.Scenario.Mode = results.KindSweep, "open"
	r.Scenario.SLOP99Us, r.Scenario.SLOCompletion = 500, 0.99
	run := &Run{Path: "mem", Records: []results.Record{r}}
	a, err := Analyze(run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Options.SLOP99Us != 500 || a.Options.SLOCompletion != 0.99 {
		t.Errorf("options %+v, want the run's SLO", a.Options)
	}
	a, err = Analyze(run, Options{SLOP99Us: 900})
	if err != nil {
		t.Fatal(err)
	}
	if a.Options.SLOP99Us != 900 {
		t.Errorf("an explicit SLO must win over the run's: %+v", a.Options)
	}
	if d := (Options{}).withDefaults(nil); d.SLOP99Us != 2000 || d.SLOCompletion != 0.999 {
		t.Errorf("defaults %+v", d)
	}
}

func TestResolveRun(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(name string, age time.Duration) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, results.FileName)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return d
	}
	old := mk("run-old", time.Hour)
	newest := mk("run-new", time.Minute)
	other := filepath.Join(old, "other.jsonl")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "not-a-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		latest bool
		want   string
	}{
		{"run directory", old, false, filepath.Join(old, results.FileName)},
		{"results file", filepath.Join(old, results.FileName), false, filepath.Join(old, results.FileName)},
		// Another file in a run directory is that file, not the
		// directory's results.jsonl (issue #11 item 7).
		{"another results file", other, false, other},
		{"parent means newest", root, false, filepath.Join(newest, results.FileName)},
		{"parent with --latest", root, true, filepath.Join(newest, results.FileName)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveRun(tt.path, tt.latest)
			if err != nil || got != tt.want {
				t.Fatalf("ResolveRun(%s, %v) = %s, %v; want %s", tt.path, tt.latest, got, err, tt.want)
			}
		})
	}
	if _, err := ResolveRun(filepath.Join(root, "not-a-run"), false); err == nil {
		t.Error("a directory without runs must be an error")
	}
	if _, err := ResolveRun(filepath.Join(root, "missing"), false); err == nil {
		t.Error("a missing path must be an error")
	}
}

func TestCompareRuns(t *testing.T) {
	t.Parallel()
	oldRecs := append(sample(1, "a", 1, 6, 100e3), sample(2, "b", 1, 6, 100e3)...)
	oldRecs = append(oldRecs, sample(3, "c", 1, 3, 100e3)...)
	newRecs := append(sample(4, "a", 1, 6, 120e3), sample(5, "b", 1, 6, 100e3)...)
	newRecs = append(newRecs, sample(6, "c", 1, 3, 150e3)...)
	newRecs = append(newRecs, sample(7, "d", 1, 6, 1)...)
	oldA, err := Analyze(&Run{Path: "old", Records: oldRecs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	newA, err := Analyze(&Run{Path: "new", Records: newRecs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := CompareRuns(&b, oldA, newA); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "closed" {
			if _, seen := lines[f[0]]; !seen { // the throughput section comes first
				lines[f[0]] = l
			}
		}
	}
	if l := lines["a"]; !strings.Contains(l, "+") || strings.Contains(l, " ~ ") {
		t.Errorf("a 20%% shift with 6 repeats must show a signed change:\n%s", l)
	}
	if l := lines["b"]; !strings.Contains(l, " ~ ") {
		t.Errorf("an A/A comparison must show ~:\n%s", l)
	}
	if l := lines["c"]; !strings.Contains(l, " ~ ") || !strings.Contains(l, "too few repeats") {
		t.Errorf("3 repeats must show ~ and say so:\n%s", l)
	}
	if !strings.Contains(out, "only in new: d / closed c=1 64B d=1") {
		t.Errorf("points only in one run must be listed:\n%s", out)
	}
}

// Idle connections and slow readers make their own points: they feed the
// memory and slow-reader classes, never the throughput classes, and a
// model that closes slow readers is named for it.
func TestIdleSlowClasses(t *testing.T) {
	t.Parallel()
	var recs []results.Record
	withIdle := func(rs []results.Record, idle int, rss float64, failed int64) []results.Record {
		for i := range rs {
			rs[i].Scenario.IdleConns = idle
			rs[i].Load.IdleConns = int64(idle)
			rs[i].Load.IdleFailed = failed
			rs[i].ServerStats.RSSBytesPerConn = rss * (1 + 0.01*float64(i))
		}
		return rs
	}
	withSlow := func(rs []results.Record, closed int64) []results.Record {
		for i := range rs {
			rs[i].Scenario.SlowReaders, rs[i].Scenario.SlowReadBytesPerSec = 4, 64<<10
			rs[i].Load.SlowReaders, rs[i].Load.SlowClosed = 4, closed
		}
		return rs
	}
	// Plain points: a is faster. With 5000 idle: b costs less memory per
	// connection; c dropped idle connections (lowest RSS, not ranked).
	recs = append(recs, sample(1, "a", 64, 6, 120e3)...)
	recs = append(recs, sample(2, "b", 64, 6, 100e3)...)
	recs = append(recs, sample(3, "c", 64, 6, 90e3)...)
	recs = append(recs, withIdle(sample(4, "a", 64, 6, 120e3), 5000, 3000, 0)...)
	// b's load generator was the bottleneck there: that leaves its
	// throughput unranked, not what a connection costs its server.
	bIdle := withIdle(sample(5, "b", 64, 6, 100e3), 5000, 900, 0)
	for i := range bIdle {
		bIdle[i].Load.ClientBound = true
	}
	recs = append(recs, bIdle...)
	recs = append(recs, withIdle(sample(6, "c", 64, 6, 90e3), 5000, 100, 37)...)
	// With slow readers: b keeps its throughput and now beats a, which
	// slows down; c closes the slow readers.
	recs = append(recs, withSlow(sample(7, "a", 64, 6, 60e3), 0)...)
	recs = append(recs, withSlow(sample(8, "b", 64, 6, 99e3), 0)...)
	recs = append(recs, withSlow(sample(9, "c", 64, 6, 90e3), 4)...)
	a, err := Analyze(&Run{Path: "mem", Records: recs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, p := range a.Aggregates {
		labels[p.Cell.Label()] = true
	}
	for _, l := range []string{"closed c=64 64B d=1", "closed c=64+5000 idle 64B d=1", "closed c=64+4 slow@64KiB/s 64B d=1"} {
		if !labels[l] {
			t.Errorf("no point labelled %q: %v", l, labels)
		}
	}
	many := classOf(t, a, "many")
	if len(many.Cells) != 1 || !many.Cells[0].Cell.Plain() || many.Headline != "a" {
		t.Errorf("many connections: %d points, headline %q: idle or slow points leaked into a throughput class", len(many.Cells), many.Headline)
	}
	mem := classOf(t, a, "memory")
	if len(mem.Cells) != 1 || mem.Cells[0].Cell.IdleConns != 5000 || mem.Headline != "b" {
		t.Errorf("memory: points %v, headline %q (why %s), want b at the idle point", mem.Cells, mem.Headline, mem.Why)
	}
	if v := mem.Cells[0]; len(v.Unranked) != 1 || v.Unranked[0].Model != "c" || !strings.Contains(v.Unranked[0].Unranked, "did not keep 222 of 30000 idle connections") {
		t.Errorf("memory: unranked %+v, want c for its failed idle connections", v.Unranked)
	}
	slow := classOf(t, a, "slow")
	if len(slow.Cells) != 1 || slow.Cells[0].Cell.SlowReaders != 4 || slow.Headline != "b" {
		t.Errorf("slow readers: headline %q, why %s", slow.Headline, slow.Why)
	}
	for _, want := range []string{`c closes slow readers \(24 of 24 closed over 6 of 6 repeats`, `: a (49|50|51)%`, `, b (9[6-9]|10[0-2])%`} {
		if !regexp.MustCompile(want).MatchString(slow.Why) {
			t.Errorf("slow readers: why lacks %s: %s", want, slow.Why)
		}
	}
	if strings.Contains(slow.Why, "a closes") || strings.Contains(slow.Why, "b closes") {
		t.Errorf("slow readers: a model that kept its slow readers is said to close them: %s", slow.Why)
	}
}

// Repeats measured with several load generators (load_procs, echobench
// merge) are a cell of their own, never extra repeats of the one-generator
// cell.
func TestLoadProcsCell(t *testing.T) {
	t.Parallel()
	recs := sample(1, "a", 64, 4, 100e3)
	two := sample(2, "a", 64, 4, 180e3)
	for i := range two {
		two[i].Scenario.LoadProcs = 2
		two[i].PointID += "-procs2"
	}
	a, err := Analyze(&Run{Path: "mem", Records: append(recs, two...)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	repeats := map[string]int{}
	for _, p := range a.Aggregates {
		repeats[p.Cell.Label()] = p.Repeats()
	}
	if repeats["closed c=64 64B d=1"] != 4 || repeats["closed c=64 64B d=1 procs=2"] != 4 {
		t.Errorf("cells and repeats %v, want 4 repeats with one generator and 4 with two", repeats)
	}
}
