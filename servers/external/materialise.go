package external

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"echobench/servers/node"
	"echobench/servers/python"
)

// scriptFile is one embedded script, at rel (slash-separated) under the
// scripts directory.
type scriptFile struct {
	rel  string
	data []byte
}

// embedded lists every script of every runtime, sorted by path, so the
// content hash does not depend on walk order.
func embedded() ([]scriptFile, error) {
	var files []scriptFile
	for _, src := range []struct {
		dir  string
		fsys fs.FS
	}{{"python", python.FS}, {"node", node.FS}} {
		err := fs.WalkDir(src.fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(src.fsys, p)
			if err != nil {
				return err
			}
			files = append(files, scriptFile{rel: src.dir + "/" + p, data: data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read embedded %s scripts: %w", src.dir, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, nil
}

// contentHash names a set of scripts: any change to any file, or to the set,
// gives a new directory, so a running server never sees its files change.
func contentHash(files []scriptFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.rel, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	scriptDirMu   sync.Mutex
	scriptDirPath string // set once materialised in this process
)

// scriptDir returns the directory holding the embedded scripts, writing them
// out on first use in this process.
func scriptDir() (string, error) {
	scriptDirMu.Lock()
	defer scriptDirMu.Unlock()
	if scriptDirPath != "" {
		return scriptDirPath, nil
	}
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	dir, err := materialise(root)
	if err != nil {
		return "", err
	}
	scriptDirPath = dir
	return dir, nil
}

// cacheRoot is os.UserCacheDir()/echobench, or a per-user directory under
// os.TempDir() where there is no cache directory (no $HOME, as in some CI).
func cacheRoot() (string, error) {
	if base, err := os.UserCacheDir(); err == nil {
		return filepath.Join(base, "echobench"), nil
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("echobench-%d", os.Getuid())), nil
}

// materialise makes sure root/scripts-HASH holds exactly the embedded scripts
// and returns its path. The directory is built under a temporary name and
// renamed into place, so concurrent echobench processes either see the whole
// directory or none of it; when two race, the loser's copy is discarded.
func materialise(root string) (string, error) {
	files, err := embedded()
	if err != nil {
		return "", err
	}
	if err := privateDir(root); err != nil {
		return "", err
	}
	final := filepath.Join(root, "scripts-"+contentHash(files))
	fill := func(tmp string) error {
		for _, f := range files {
			p := filepath.Join(tmp, filepath.FromSlash(f.rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("write script cache: %w", err)
			}
			if err := os.WriteFile(p, f.data, 0o644); err != nil {
				return fmt.Errorf("write script cache: %w", err)
			}
		}
		return nil
	}
	err = installDir(root, final, "script cache", fill, func() error { return verify(final, files) })
	if err != nil {
		return "", err
	}
	return final, nil
}

// installDir makes final, a directory under root named by what it holds,
// complete: one that exists is only checked (check); otherwise fill writes
// it under a temporary name, renamed into place, so concurrent echobench
// processes see the whole directory or none of it. When two race, the
// loser's copy is discarded and the winner's checked. what names the
// directory in errors.
func installDir(root, final, what string, fill func(tmp string) error, check func() error) error {
	if _, err := os.Stat(final); err == nil {
		return check()
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+strings.ReplaceAll(what, " ", "-")+"-")
	if err != nil {
		return fmt.Errorf("create %s: %w", what, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(final); statErr == nil {
			return check() // another process got there first
		}
		return fmt.Errorf("install %s %s: %w", what, final, err)
	}
	return nil
}

// privateDir makes root a directory that only this user can use: created
// 0700 if missing, and refused when it is a symbolic link, belongs to another
// user, or is open to others (a predictable path such as /tmp/echobench-0
// could have been made by someone else, who could then swap the scripts the
// servers run). The checks read the opened directory itself (fstat of an
// O_NOFOLLOW descriptor), not its path again, so there is no gap between
// check and use; a directory of ours left open by an older version is made
// private.
func privateDir(root string) error {
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return fmt.Errorf("create script cache %s: %w", root, err)
	}
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create script cache %s: %w", root, err)
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("script cache %s: not a directory of its own (a symbolic link?): %w", root, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("script cache %s: %w", root, err)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("script cache %s belongs to uid %d, not to this user (%d): refusing to run scripts from it; remove it or set XDG_CACHE_HOME", root, st.Uid, os.Getuid())
	}
	if st.Mode&0o077 != 0 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("script cache %s is open to other users and cannot be made private: %w", root, err)
		}
	}
	return nil
}

// verify checks that dir holds files as embedded: a directory named by a
// hash is never rewritten, so a difference means someone edited it.
func verify(dir string, files []scriptFile) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.rel))
		got, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("script cache %s is incomplete (remove it to rebuild): %w", dir, err)
		}
		if !bytes.Equal(got, f.data) {
			return fmt.Errorf("script cache %s: %s differs from the embedded copy (remove the directory to rebuild): %w",
				dir, f.rel, errModified)
		}
	}
	return nil
}

var errModified = errors.New("cached script modified")

// joinPath joins a slash-separated path under dir.
func joinPath(dir string, elem ...string) string {
	return filepath.Join(append([]string{dir}, elem...)...)
}
