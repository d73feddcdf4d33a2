package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// FileName is the results file inside a run directory.
const FileName = "results.jsonl"

// maxLineBytes bounds one record: a record carries an encoded histogram and a
// timeline, far below this.
const maxLineBytes = 16 << 20

// Writer appends records to a JSON Lines file, one line per record, and syncs
// after each so that a crash or Ctrl-C loses nothing that was written.
type Writer struct {
	f *os.File
}

// OpenWriter opens path for appending, creating it if needed.
func OpenWriter(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	return &Writer{f: f}, nil
}

// Append writes rec as one line and syncs it to disk.
func (w *Writer) Append(rec *Record) error {
	if rec.Schema == 0 {
		rec.Schema = SchemaVersion
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", rec.PointID, err)
	}
	b = append(b, '\n')
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("append record %s: %w", rec.PointID, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync results: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// ReadResult is what Read found in a results file.
type ReadResult struct {
	Records []Record
	// TornTail is true when the last line was incomplete (no newline and not
	// valid JSON): the writer died mid-line. It is dropped, not an error.
	TornTail bool
	// TornOffset is the byte offset where the torn line starts; a resumed
	// writer truncates the file there.
	TornOffset int64
}

// Read decodes every record in r. A torn final line is reported in the
// result, not as an error; any other malformed line, or a schema version this
// code does not know, is an error naming the line. Records of an older
// schema it knows come back in the current one (see toCurrent).
func Read(r io.Reader) (ReadResult, error) {
	var res ReadResult
	br := bufio.NewReaderSize(r, 64<<10)
	var offset int64
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > maxLineBytes {
			return res, fmt.Errorf("line %d: longer than %d bytes", line, maxLineBytes)
		}
		complete := err == nil
		if err != nil && !errors.Is(err, io.EOF) {
			return res, fmt.Errorf("line %d: %w", line, err)
		}
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) > 0 {
			var rec Record
			if jerr := json.Unmarshal(trimmed, &rec); jerr != nil {
				if !complete {
					res.TornTail = true
					res.TornOffset = offset
					return res, nil
				}
				return res, fmt.Errorf("line %d: %w", line, jerr)
			}
			if err := toCurrent(trimmed, &rec); err != nil {
				return res, fmt.Errorf("line %d: %w", line, err)
			}
			res.Records = append(res.Records, rec)
		}
		offset += int64(len(b))
		if !complete {
			return res, nil
		}
	}
}

// ReadFile reads the results file at path.
func ReadFile(path string) (ReadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReadResult{}, fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	res, err := Read(f)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}
