package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile is held, with an exclusive flock, by the one process that writes
// a run directory, from New to the end of Run: a second `run --resume` of
// the same run (or one started while the run still goes) would otherwise
// append its own records to the same file.
const lockFile = ".lock"

// runLock is a held lock on a run directory. The kernel releases it when
// the process exits, however it exits, so a killed run never leaves a stale
// lock behind.
type runLock struct{ f *os.File }

// lockRun takes the lock of dir or says who holds it.
func lockRun(dir string) (*runLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(f.Name()); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = "process " + strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("run directory %s is in use by %s (an echobench run or resume that is still going); wait for it or stop it first", dir, holder)
		}
		return nil, fmt.Errorf("lock run directory %s: %w", dir, err)
	}
	// Who holds it, for the error above; informative only.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &runLock{f: f}, nil
}

// release drops the lock; safe on nil.
func (l *runLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// writeFileSynced writes path and syncs it, so that a run directory holds
// its config and env.json on disk before its first record.
func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir syncs a directory, so the entries created in it survive a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
