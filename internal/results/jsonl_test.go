package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b"} {
		rec := &Record{RunID: "r", PointID: id, Repeat: i, Status: StatusOK,
			Scenario: Scenario{SizeBytes: 64, LoadFraction: 0.5, RateMsgsPerSec: 100, CapacityMsgsPerSec: 200},
			Load:     &Load{Intended: 10, Completed: 9, TimedOut: 1, SizeBytes: 64, RateMsgsPerSec: 100}}
		if err := w.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.TornTail || len(res.Records) != 2 || res.Records[1].PointID != "b" || res.Records[0].Load.TimedOut != 1 {
		t.Fatalf("read back %+v", res)
	}
	if r := res.Records[1]; r.Schema != SchemaVersion || r.Scenario.CapacityMsgsPerSec != 200 || r.Load.RateMsgsPerSec != 100 {
		t.Fatalf("read back %+v", r)
	}
}

func TestReadTornTail(t *testing.T) {
	t.Parallel()
	good := `{"schema":1,"run_id":"r","point_id":"a","repeat":1,"status":"skipped"}` + "\n"
	torn := `{"schema":1,"point_id":"b","sta`
	res, err := Read(strings.NewReader(good + torn))
	if err != nil {
		t.Fatal(err)
	}
	if !res.TornTail || res.TornOffset != int64(len(good)) || len(res.Records) != 1 {
		t.Fatalf("got %+v", res)
	}
}

func TestReadRejectsBadLineAndSchema(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"malformed middle line":  "{\"schema\":1}\nnot json\n{\"schema\":1}\n",
		"unknown schema":         "{\"schema\":99}\n",
		"next schema":            "{\"schema\":3}\n",
		"no schema":              "{\"point_id\":\"a\"}\n",
		"schema 1, bad old name": "{\"schema\":1,\"scenario\":{\"size\":\"64\"}}\n",
	}
	for name, in := range cases {
		if _, err := Read(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"schema":1,"point_id":"a"}` + "\n"))
	f.Add([]byte(`{"schema":1,"load":{"intended":3}}` + "\n{\"sch"))
	f.Add([]byte(`{"schema":1,"scenario":{"size":64,"load":0.5,"rate":10,"capacity":20},"load":{"size":64,"rate":10,"timeline":[{"t_s":1}]}}` + "\n"))
	f.Add([]byte(`{"schema":2,"scenario":{"size_bytes":64},"load":{"timeline":[{"elapsed_s":1}]}}` + "\n" + `{"schema":1,"load":{"timeline":[]}}`))
	f.Add([]byte(`{"schema":2,"run_id":"r","point_id":"a","repeat":1,"status":"ok","load":{"intended":2,"completed":2,"completion_ratio":1}}` + "\n" +
		`{"schema":2,"run_id":"r","point_id":"a","repeat":1,"status":"ok","load":{"intended":2,"completed":2,"completion_ratio":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkReadInvariants(t, b)
		res, err := Read(bytes.NewReader(b))
		if err == nil && res.TornTail && (res.TornOffset < 0 || res.TornOffset > int64(len(b))) {
			t.Fatalf("torn offset %d outside input of %d bytes", res.TornOffset, len(b))
		}
		for _, rec := range res.Records {
			if rec.Schema != SchemaVersion {
				t.Fatalf("record read as schema %d, want every record in the current %d", rec.Schema, SchemaVersion)
			}
		}
	})
}

func TestOpenWriterMissingDir(t *testing.T) {
	t.Parallel()
	_, err := OpenWriter(filepath.Join(t.TempDir(), "missing", FileName))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("want not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
