package netns

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inNamespace runs f on an OS thread switched into namespace ns. A socket
// belongs to the namespace it was created in, so what f opens stays there
// whoever uses it later. The thread is never switched back: it exits with
// its goroutine (still locked), and no other goroutine ever runs on it.
func inNamespace[T any](t *testing.T, ns string, f func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		var r result
		if r.err = err; err == nil {
			r.v, r.err = f()
		}
		ch <- r
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("in namespace %s: %v", ns, r.err)
	}
	return r.v
}

// Two generators, each in its own namespace, reach one server in a third
// over their own veth pairs, from their own addresses; after Close nothing
// is left, not even the state file.
func TestRealNetwork(t *testing.T) {
	RequireHost(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StateFile)
	n, err := Setup(ctx, Exec{}, path, "test", Options{Generators: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ln := inNamespace(t, n.Server, func() (net.Listener, error) { return net.Listen("tcp", ServerAddr("0")) })
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	for _, g := range n.Generators {
		c := inNamespace(t, g.Namespace, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
		if got, want := c.LocalAddr().(*net.TCPAddr).IP.String(), strings.TrimSuffix(g.IP, "/24"); got != want {
			t.Errorf("generator %s connects from %s, want %s", g.Namespace, got, want)
		}
		msg := []byte("echo through " + g.Dev)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo through %s: %q, %v", g.Dev, got, err)
		}
		c.Close()
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	existing, err := Existing(ctx, Exec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range n.Namespaces() {
		if slices.Contains(existing, ns) {
			t.Errorf("namespace %s left after Close", ns)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after Close: %v", err)
	}
}
