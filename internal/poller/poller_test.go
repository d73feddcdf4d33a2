package poller

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestReadinessAndWake(t *testing.T) {
	t.Parallel()
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, b := socketpair(t)
	if err := p.Add(a, In); err != nil {
		t.Fatal(err)
	}
	evs := make([]Event, 0, 16)
	evs, woken, err := p.Wait(evs, 0)
	if err != nil || woken || len(evs) != 0 {
		t.Fatalf("idle poll: %v %v %v", evs, woken, err)
	}
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	evs, _, err = p.Wait(evs, 1000)
	if err != nil || len(evs) != 1 || int(evs[0].Fd) != a || evs[0].Events&In == 0 {
		t.Fatalf("want readable fd %d, got %v %v", a, evs, err)
	}
	if err := p.Del(a); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.Wake()
	}()
	evs, woken, err = p.Wait(evs, 5000)
	if err != nil || !woken || len(evs) != 0 {
		t.Fatalf("wake: %v %v %v", evs, woken, err)
	}
	// The wake-up was drained: the next poll is quiet.
	if _, woken, _ = p.Wait(evs, 0); woken {
		t.Fatal("wake reported twice")
	}
}

func TestErrorsNotPanics(t *testing.T) {
	t.Parallel()
	p, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(-1, In); err == nil {
		t.Error("Add(-1) succeeded")
	}
	if err := p.Mod(123456, In); err == nil {
		t.Error("Mod of an unknown fd succeeded")
	}
	if err := p.Del(123456); err == nil {
		t.Error("Del of an unknown fd succeeded")
	}
}

func TestWaitAllocatesNothing(t *testing.T) {
	p, err := New(16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, b := socketpair(t)
	p.Add(a, In)
	unix.Write(b, []byte("x"))
	evs := make([]Event, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		evs, _, _ = p.Wait(evs, 0)
	})
	if allocs != 0 {
		t.Fatalf("Wait allocates %.1f per call", allocs)
	}
}
