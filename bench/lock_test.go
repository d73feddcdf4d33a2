package bench

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Two writers of one run directory are refused: a resume while the run (or
// another resume) still holds it gets a clear error, and the lock goes with
// the holder (issue #11 item 10).
func TestRunDirectoryLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", "duration = \"200ms\"\nwarmup = \"0s\"\nrepeats = 1\n[[servers]]\nmodel = \"echo\"\n[[scenarios]]\nmode = \"closed\"\nconns = [2]\nsizes = [64]\n")
	res := filepath.Join(dir, "res")
	first, err := New(t.Context(), Options{ConfigPath: cfg, ResultsDir: res}, fakeDeps(), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.toml", "env.json"} {
		if _, err := os.Stat(filepath.Join(first.runDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = New(t.Context(), Options{Resume: first.runID, ResultsDir: res}, fakeDeps(), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is in use by process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("a second writer: %v", err)
	}
	first.lock.release()
	second, err := New(t.Context(), Options{Resume: first.runID, ResultsDir: res}, fakeDeps(), io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("resume after the first writer let go: %v", err)
	}
	second.lock.release()
}
