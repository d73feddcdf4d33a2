package results

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// fsizeChildEnv makes the test binary a writer limited by RLIMIT_FSIZE: the
// nearest thing to a full disk that needs no privileges.
const fsizeChildEnv = "RESULTS_TEST_FSIZE_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(fsizeChildEnv); path != "" {
		os.Exit(fsizeChild(path))
	}
	os.Exit(m.Run())
}

// fsizeChild appends records to path under a 4000-byte file size limit
// until a write fails; exit 0 when one failed as the disk-full case should.
func fsizeChild(path string) int {
	signal.Ignore(syscall.SIGXFSZ) // the write then fails with EFBIG
	lim := syscall.Rlimit{Cur: 4000, Max: 4000}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	w, err := OpenWriter(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	for i := 1; i <= 100; i++ {
		rec := goodRecord("p"+strconv.Itoa(i), 1)
		if err := w.Append(&rec); err != nil {
			fmt.Println(i - 1)
			return 0
		}
	}
	return 4
}

// A write that fails midway (a full disk) leaves no partial line: the file
// ends with the last complete record (issue #11 item 10).
func TestAppendFailureLeavesNoPartialLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fsizeChildEnv+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (%s)", err, out)
	}
	written, _ := strconv.Atoi(string(out[:len(out)-1]))
	res, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.TornTail || len(res.Records) != written || written == 0 {
		t.Fatalf("after a failed append: %d records (torn tail %v), want the %d written whole", len(res.Records), res.TornTail, written)
	}
	if st, _ := os.Stat(path); st.Size() >= 4000 {
		t.Errorf("file is %d bytes: the partial line was not cut", st.Size())
	}
}
