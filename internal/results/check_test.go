package results

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func goodRecord(point string, repeat int) Record {
	return Record{Schema: SchemaVersion, RunID: "r", PointID: point, Repeat: repeat, Status: StatusOK,
		Load: &Load{Mode: "closed", Conns: 4, SizeBytes: 64, DurationS: 1, Intended: 10, Completed: 9, TimedOut: 1,
			CompletionRatio: 0.9, ThroughputMsgsPerSec: 9, LatencyUs: Latency{P50: 10, P99: 20, Max: 30}},
		ServerStats: &ServerStats{CPUUserS: 0.5, PeakRSSBytes: 1 << 20}, Server: ServerInfo{Name: "s", Loops: 1, Procs: 2}}
}

func encodeLines(t *testing.T, recs ...Record) string {
	t.Helper()
	var b strings.Builder
	for i := range recs {
		line, err := json.Marshal(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	return b.String()
}

// Records whose figures cannot be true are refused, naming the field
// (issue #11 item 9).
func TestReadRefusesImpossibleRecords(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		break_ func(r *Record)
		msg    string
	}{
		{"completion ratio 5", func(r *Record) { r.Load.CompletionRatio = 5 }, "completion_ratio 5"},
		{"negative p99", func(r *Record) { r.Load.LatencyUs.P99 = -1 }, "latency_us.p99 -1"},
		{"throughput 1e308", func(r *Record) { r.Load.ThroughputMsgsPerSec = 1e308 }, "throughput_msgs_per_s"},
		{"intended that overflows a sum", func(r *Record) {
			r.Load.Intended, r.Load.Completed, r.Load.TimedOut = 1<<62, 1<<62, 0
		}, "intended"},
		{"outcomes that do not add up", func(r *Record) { r.Load.Completed = 3 }, "but intended = 10"},
		{"negative count", func(r *Record) { r.Load.Errored, r.Load.Completed = -1, 10 }, "errored -1"},
		{"no run id", func(r *Record) { r.RunID = "" }, "without run_id"},
		{"unknown status", func(r *Record) { r.Status = "great" }, `status "great"`},
		{"ok without load", func(r *Record) { r.Load = nil }, "without a load summary"},
		{"negative server CPU", func(r *Record) { r.ServerStats.CPUSysS = -2 }, "server_stats.cpu_sys_s"},
		{"reference of 1e308", func(r *Record) { r.Scenario.ReferenceMsgsPerSec = 1e308 }, "scenario.reference_msgs_per_s"},
		{"negative timeout", func(r *Record) { r.Scenario.MsgTimeoutS = -1 }, "scenario.msg_timeout_s -1"},
		{"more throttled periods than periods", func(r *Record) {
			r.Load.CPUThrottle = &CPUThrottle{Periods: 50, Throttled: 51}
		}, "cpu_throttle.throttled 51"},
		{"negative throttled time", func(r *Record) {
			r.Load.CPUThrottle = &CPUThrottle{Periods: 50, Throttled: 1, ThrottledUs: -1}
		}, "cpu_throttle.throttled_us -1"},
		{"window backwards", func(r *Record) { r.Load.WindowStartUnixNs, r.Load.WindowEndUnixNs = 2e18, 1e18 }, "window_start_unix_ns"},
		{"window of a year", func(r *Record) { r.Load.WindowStartUnixNs, r.Load.WindowEndUnixNs = 1e18, 1e18+365*86400e9 }, "window_start_unix_ns"},
		{"negative load_procs", func(r *Record) { r.Scenario.LoadProcs = -1 }, "scenario.load_procs -1"},
		{"impossible generator", func(r *Record) {
			g := *r.Load
			g.CompletionRatio = 7
			r.Load.Generators = []Load{*r.Load, g}
		}, "generators[1].completion_ratio 7"},
		{"negative procs", func(r *Record) { r.Server.Procs = -1 }, "server.procs -1"},
		{"absurd procs", func(r *Record) { r.Server.Procs = 1 << 20 }, "server.procs 1048576"},
		{"loss beyond everything", func(r *Record) { r.Env.NetworkLossFraction = 1.5 }, "env.network_loss_fraction 1.5"},
		{"negative rtt", func(r *Record) { r.Env.NetworkRTTMs = -1 }, "env.network_rtt_ms -1"},
	} {
		rec := goodRecord("p", 1)
		tt.break_(&rec)
		_, err := Read(strings.NewReader(encodeLines(t, goodRecord("q", 1), rec)))
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want an error at line 2 naming %q", tt.name, err, tt.msg)
		}
	}
}

// A file with every line written three times holds each record once:
// duplicates are dropped and counted, never taken as repeats (issue #11
// item 6); a second record of one point and repeat with other figures is
// refused.
func TestReadDuplicates(t *testing.T) {
	t.Parallel()
	recs := []Record{goodRecord("a", 1), goodRecord("a", 2), goodRecord("b", 1)}
	once := encodeLines(t, recs...)
	res, err := Read(strings.NewReader(once + once + once))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 3 || res.Duplicates != 6 {
		t.Fatalf("read %d records and %d duplicates, want 3 and 6", len(res.Records), res.Duplicates)
	}
	other := goodRecord("a", 2)
	other.Load.ThroughputMsgsPerSec = 99
	_, err = Read(strings.NewReader(once + encodeLines(t, other)))
	if err == nil || !strings.Contains(err.Error(), "line 4: point a repeat 2 is recorded again") {
		t.Errorf("a conflicting record: %v", err)
	}
	// The same point in another run is another record.
	elsewhere := goodRecord("a", 1)
	elsewhere.RunID = "r2"
	if res, err := Read(strings.NewReader(once + encodeLines(t, elsewhere))); err != nil || len(res.Records) != 4 {
		t.Errorf("another run's point: %d records, %v", len(res.Records), err)
	}
}

// Every record Read returns passes Check and is the only one of its key.
func checkReadInvariants(t *testing.T, b []byte) {
	res, err := Read(bytes.NewReader(b))
	if err != nil {
		return
	}
	keys := map[recordKey]bool{}
	for i := range res.Records {
		r := &res.Records[i]
		if err := r.Check(); err != nil {
			t.Fatalf("Read returned a record that fails Check: %v", err)
		}
		k := recordKey{r.RunID, r.PointID, r.Repeat}
		if keys[k] {
			t.Fatalf("Read returned point %s repeat %d twice", r.PointID, r.Repeat)
		}
		keys[k] = true
	}
}

// A line past the limit is refused without reading it whole.
func TestReadLongLine(t *testing.T) {
	t.Parallel()
	huge := strings.NewReader(encodeLines(t, goodRecord("a", 1)) + `{"schema":2,"run_id":"` + strings.Repeat("x", maxLineBytes) + "\"}\n")
	_, err := Read(huge)
	if err == nil || !strings.Contains(err.Error(), "line 2: longer than") {
		t.Errorf("a line of %d bytes: %v", maxLineBytes+20, err)
	}
}
