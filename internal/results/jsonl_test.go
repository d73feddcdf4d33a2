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
			Load: &Load{Intended: 10, Completed: 9, TimedOut: 1}}
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
}

func TestReadTornTail(t *testing.T) {
	t.Parallel()
	good := `{"schema":1,"point_id":"a","status":"ok"}` + "\n"
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
		"malformed middle line": "{\"schema\":1}\nnot json\n{\"schema\":1}\n",
		"unknown schema":        "{\"schema\":99}\n",
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
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Read(bytes.NewReader(b))
		if err == nil && res.TornTail && (res.TornOffset < 0 || res.TornOffset > int64(len(b))) {
			t.Fatalf("torn offset %d outside input of %d bytes", res.TornOffset, len(b))
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
