package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
)

// HDRDir is the folder of the run directory that holds, per record, the
// latency exports other tools read: POINT.hgrm (the percentile
// distribution HdrHistogram's plotter reads, in µs) and POINT.hlog (an
// HdrHistogram V2 interval log, in ns, that HistogramLogProcessor and
// hdrhistogram-go's log reader read).
const HDRDir = "hdr"

// ExportName is the file name (without extension) of a point's exports:
// its point ID with every character but letters, digits, '.', '-' and '_'
// made '_', so "epoll/closed/c64/s64/d1/r1" is one file, not a tree.
func ExportName(pointID string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, pointID)
}

// writeHDRExports writes the exports of one ok record into runDir/hdr.
// The orchestrator calls it as soon as the record is on disk, so a run
// killed at any point has the exports of every point it recorded: a report
// is not needed to produce them.
func writeHDRExports(runDir string, rec *results.Record) error {
	if rec.Status != results.StatusOK || rec.Load == nil || rec.Load.HDR == "" {
		return nil
	}
	h, err := hdrhistogram.Decode([]byte(rec.Load.HDR))
	if err != nil {
		return fmt.Errorf("export %s: decode histogram: %w", rec.PointID, err)
	}
	dir := filepath.Join(runDir, HDRDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export %s: %w", rec.PointID, err)
	}
	base := filepath.Join(dir, ExportName(rec.PointID))
	var b bytes.Buffer
	// Values in µs, as `echobench load --hdr-out` writes them.
	if _, err := h.PercentilesPrint(&b, 5, 1e3); err != nil {
		return fmt.Errorf("export %s: %w", rec.PointID, err)
	}
	if err := writeFileSynced(base+".hgrm", b.Bytes()); err != nil {
		return fmt.Errorf("export %s: %w", rec.PointID, err)
	}
	b.Reset()
	if err := writeIntervalLog(&b, rec, h); err != nil {
		return fmt.Errorf("export %s: %w", rec.PointID, err)
	}
	if err := writeFileSynced(base+".hlog", b.Bytes()); err != nil {
		return fmt.Errorf("export %s: %w", rec.PointID, err)
	}
	return syncDir(dir)
}

// writeIntervalLog writes h as a V2 interval log of one interval: the
// record's measured window, which ends at the record's end. The load
// generator merges its histogram over the window, so there is one
// interval; the log format still lets the usual tools read it.
func writeIntervalLog(b *bytes.Buffer, rec *results.Record, h *hdrhistogram.Histogram) error {
	endMs := rec.End.UnixMilli()
	startMs := endMs - int64(rec.Load.DurationS*1000)
	h.SetStartTimeMs(startMs)
	h.SetEndTimeMs(endMs)
	lw := hdrhistogram.NewHistogramLogWriter(b)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("[echobench %s %s repeat %d, latency in ns]", rec.RunID, rec.PointID, rec.Repeat)); err != nil {
		return err
	}
	if err := lw.OutputStartTime(startMs); err != nil {
		return err
	}
	if err := lw.OutputLegend(); err != nil {
		return err
	}
	return lw.OutputIntervalHistogram(h)
}
