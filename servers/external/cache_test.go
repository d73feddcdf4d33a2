package external

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The script cache is private: made 0700, and refused when another user owns
// it or it is a symbolic link (issue #11 item 13: with $HOME unset it sits at
// a predictable path under /tmp).
func TestScriptCacheIsPrivate(t *testing.T) {
	t.Parallel()
	base := t.TempDir()

	fresh := filepath.Join(base, "fresh")
	if _, err := materialise(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("a new cache has mode %v (%v), want 0700", st.Mode().Perm(), err)
	}

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777) // past the umask
	if _, err := materialise(open); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(open); st.Mode().Perm() != 0o700 {
		t.Errorf("a cache of ours left open was not made private: %v", st.Mode().Perm())
	}

	link := filepath.Join(base, "link")
	if err := os.Symlink(fresh, link); err != nil {
		t.Fatal(err)
	}
	if _, err := materialise(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a cache that is a symbolic link: %v", err)
	}

	if os.Getuid() != 0 {
		t.Log("not root: cannot make a directory of another user; that case is not checked here")
		return
	}
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := materialise(theirs); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("a cache owned by another user: %v", err)
	}
}
