package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Output file names inside the report directory.
const (
	IndexFile   = "index.html"
	SummaryFile = "summary.md"
	CSVFile     = "results.csv"
	ChartsDir   = "charts"
)

// Written lists what Write produced.
type Written struct {
	Index, Summary, CSV, Charts string
	// ChartFiles are the PNG and SVG files, relative to the output directory.
	ChartFiles []string
	// ChartNotes say which charts were not drawn and why.
	ChartNotes []string
}

// WriteOptions tune Write. The zero value writes everything.
type WriteOptions struct {
	// SkipPNG leaves out the PNG charts, the slowest part of a report; the
	// HTML embeds SVG and does not need them.
	SkipPNG bool
}

// Write renders every output of the analysis into outDir (created if
// needed). Each file is written to a temporary name and renamed, so a reader
// never sees half a report.
func Write(a *Analysis, outDir string, opt WriteOptions) (Written, error) {
	w := Written{Index: filepath.Join(outDir, IndexFile), Summary: filepath.Join(outDir, SummaryFile),
		CSV: filepath.Join(outDir, CSVFile), Charts: filepath.Join(outDir, ChartsDir)}
	if err := os.MkdirAll(w.Charts, 0o755); err != nil {
		return w, fmt.Errorf("report: %w", err)
	}
	charts, notes, err := a.charts(!opt.SkipPNG)
	if err != nil {
		return w, fmt.Errorf("report: %w", err)
	}
	w.ChartNotes = notes
	for _, c := range charts {
		for ext, data := range map[string][]byte{".png": c.PNG, ".svg": c.SVG} {
			if data == nil {
				continue
			}
			name := filepath.Join(ChartsDir, c.Name+ext)
			if err := writeFileAtomic(filepath.Join(outDir, name), data); err != nil {
				return w, err
			}
			w.ChartFiles = append(w.ChartFiles, name)
		}
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, a.Run); err != nil {
		return w, err
	}
	if err := writeFileAtomic(w.CSV, b.Bytes()); err != nil {
		return w, err
	}
	b.Reset()
	if err := WriteSummary(&b, a); err != nil {
		return w, err
	}
	if err := writeFileAtomic(w.Summary, b.Bytes()); err != nil {
		return w, err
	}
	b.Reset()
	if err := WriteHTML(&b, a, charts, notes); err != nil {
		return w, err
	}
	if err := writeFileAtomic(w.Index, b.Bytes()); err != nil {
		return w, err
	}
	return w, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
