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
	// sizeBytes is the file's length after the last complete record: a
	// failed write (a full disk) is cut back to it, so the file never
	// keeps half a line.
	sizeBytes int64
}

// OpenWriter opens path for appending, creating it if needed.
func OpenWriter(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open results: %w", err)
	}
	return &Writer{f: f, sizeBytes: st.Size()}, nil
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
		if terr := w.f.Truncate(w.sizeBytes); terr != nil {
			err = errors.Join(err, fmt.Errorf("cut the partial line: %w", terr))
		}
		return fmt.Errorf("append record %s: %w", rec.PointID, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync results: %w", err)
	}
	w.sizeBytes += int64(len(b))
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
	// Duplicates counts lines dropped because they repeat an earlier line
	// byte for byte (a file appended twice): a record counts once, never
	// as another repeat.
	Duplicates int
}

// recordKey identifies a record: a run records each point and repeat once.
type recordKey struct {
	runID, pointID string
	repeat         int
}

// seenRecords maps each record's key to its line and its index in the
// records read, to tell a duplicate (dropped) from a conflict (refused).
type seenRecords map[recordKey]seenRecord

type seenRecord struct{ line, index int }

// add admits rec, read at line, into records: false for a duplicate of an
// earlier record (equal once decoded, so a version-1 line and its version-2
// rewrite are one record), an error for a second record of the same point
// and repeat with other content.
func (s seenRecords) add(records []Record, rec *Record, line int) (bool, error) {
	k := recordKey{rec.RunID, rec.PointID, rec.Repeat}
	if first, dup := s[k]; dup {
		if sameRecord(&records[first.index], rec) {
			return false, nil
		}
		return false, fmt.Errorf("point %s repeat %d is recorded again, with other content than line %d", rec.PointID, rec.Repeat, first.line)
	}
	s[k] = seenRecord{line, len(records)}
	return true, nil
}

// sameRecord compares two records as they encode (nil and empty slices
// alike), which is what a line means.
func sameRecord(a, b *Record) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// Read decodes every record in r. A torn final line is reported in the
// result, not as an error; an exact duplicate line is dropped and counted;
// any other malformed line, a record that fails Check, a second record of
// one point and repeat with other content, or a schema version this code
// does not know, is an error naming the line. Records of an older
// schema it knows come back in the current one (see toCurrent).
func Read(r io.Reader) (ReadResult, error) {
	var res ReadResult
	seen := seenRecords{}
	br := bufio.NewReaderSize(r, 64<<10)
	var offset int64
	for line := 1; ; line++ {
		b, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return res, fmt.Errorf("line %d: %w", line, err)
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
			if err := rec.Check(); err != nil {
				return res, fmt.Errorf("line %d: %w", line, err)
			}
			switch fresh, err := seen.add(res.Records, &rec, line); {
			case err != nil:
				return res, fmt.Errorf("line %d: %w", line, err)
			case fresh:
				res.Records = append(res.Records, rec)
			default:
				res.Duplicates++
			}
		}
		offset += int64(len(b))
		if !complete {
			return res, nil
		}
	}
}

var errLineTooLong = fmt.Errorf("longer than %d bytes", maxLineBytes)

// readLine reads up to and including the next newline, refusing a line
// longer than maxLineBytes before it is all in memory.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLineBytes {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
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
