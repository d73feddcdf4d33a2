package bench

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// exportRecord is an ok record whose histogram holds a fixed, skewed
// latency distribution (ns): most messages near 50 µs, a tail to 20 ms.
func exportRecord(t *testing.T) (*results.Record, *hdrhistogram.Histogram) {
	t.Helper()
	h := hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	for i := int64(0); i < 10000; i++ {
		v := 40_000 + (i*7919)%20_000 // 40–60 µs
		if i%100 == 0 {
			v = 1_000_000 + i*1_000 // the 1% tail: 1–11 ms
		}
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.RecordValue(20_000_000); err != nil {
		t.Fatal(err)
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 11, 1, 12, 0, 7, 0, time.UTC)
	return &results.Record{RunID: "run1", PointID: "epoll/closed/c64/s64/d1/r2", Repeat: 2, Status: results.StatusOK,
		Start: end.Add(-7 * time.Second), End: end,
		Load: &results.Load{DurationS: 5, HDR: string(enc)}}, h
}

// The exports of a record: an .hgrm whose rows are the histogram's
// percentiles (golden, and checked against the histogram row by row), and
// an interval log hdrhistogram-go's own reader reads back bucket for bucket.
func TestHDRExports(t *testing.T) {
	t.Parallel()
	rec, h := exportRecord(t)
	dir := t.TempDir()
	if err := writeHDRExports(dir, rec); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, HDRDir, "epoll_closed_c64_s64_d1_r2")
	hgrm, err := os.ReadFile(base + ".hgrm")
	if err != nil {
		t.Fatal(err)
	}
	checkExportGolden(t, "export.hgrm", hgrm)
	checkHgrmRows(t, hgrm, h)

	f, err := os.Open(base + ".hlog")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := hdrhistogram.NewHistogramLogReader(f)
	got, err := r.NextIntervalHistogram()
	if err != nil || got == nil {
		t.Fatalf("the log reader read no interval: %v", err)
	}
	if !slices.Equal(got.Distribution(), h.Distribution()) || got.TotalCount() != h.TotalCount() {
		t.Errorf("the interval log's histogram differs from the record's: %d vs %d values", got.TotalCount(), h.TotalCount())
	}
	if got.StartTimeMs() != rec.End.UnixMilli()-5000 || got.EndTimeMs() != rec.End.UnixMilli() {
		t.Errorf("interval %d–%d ms, want the 5 s window ending at %d", got.StartTimeMs(), got.EndTimeMs(), rec.End.UnixMilli())
	}
	if next, err := r.NextIntervalHistogram(); next != nil || err != nil {
		t.Errorf("a second interval: %v, %v", next, err)
	}
}

// checkHgrmRows checks every row "Value Percentile TotalCount 1/(1-P)" of
// an .hgrm against h: the value (µs) at that percentile, and the count of
// values at or below it.
func checkHgrmRows(t *testing.T, hgrm []byte, h *hdrhistogram.Histogram) {
	t.Helper()
	rows := 0
	sc := bufio.NewScanner(bytes.NewReader(hgrm))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || strings.HasPrefix(f[0], "#") || f[0] == "Value" {
			continue
		}
		v, err1 := strconv.ParseFloat(f[0], 64)
		p, err2 := strconv.ParseFloat(f[1], 64)
		n, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad row %q", sc.Text())
		}
		rows++
		// The row says: n values are at or below v, the first bucket at
		// which the share reaches p.
		vNs := int64(v*1e3 + 0.5)
		var atOrBelow, beforeBucket int64
		for _, bar := range h.Distribution() {
			if bar.To <= vNs {
				atOrBelow += bar.Count
			}
			if bar.To < vNs { // the buckets before v's own (v is its highest value)
				beforeBucket += bar.Count
			}
		}
		share := p * float64(h.TotalCount())
		if atOrBelow != n || float64(n) < share-0.01 || float64(beforeBucket) >= share+0.01 && p > 0 {
			t.Errorf("row %q: the histogram has %d values up to %.3f µs and %d below its bucket; %.6f of them is %.2f",
				sc.Text(), atOrBelow, v, beforeBucket, p, share)
		}
	}
	if rows < 20 {
		t.Errorf("only %d rows in the .hgrm:\n%s", rows, hgrm)
	}
}

func checkExportGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./bench -run Export -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s", name, got)
	}
}

func TestExportName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"epoll/closed/c1/s64/d1/r1":  "epoll_closed_c1_s64_d1_r1",
		"../x y/slo@2":               ".._x_y_slo_2",
		"uvloop-protocol/sweep/l0.5": "uvloop-protocol_sweep_l0.5",
	} {
		if got := ExportName(in); got != want {
			t.Errorf("ExportName(%q) = %q, want %q", in, got, want)
		}
	}
}
