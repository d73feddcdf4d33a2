// Package poller is a small level-triggered epoll wrapper for event loops
// built on golang.org/x/sys/unix: the raw epoll server model and the load
// generator's workers. It returns errors and never panics.
//
// A Poller belongs to one goroutine (its loop), which is the only caller of
// Wait, Add, Mod and Del. Wake may be called from any goroutine: it makes a
// blocked Wait return so the loop can notice a shutdown request.
package poller

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Event masks, re-exported so loops need not import unix for them.
const (
	In    = unix.EPOLLIN
	Out   = unix.EPOLLOUT
	Err   = unix.EPOLLERR
	Hup   = unix.EPOLLHUP
	RDHup = unix.EPOLLRDHUP
)

// Event is one readiness report: Fd is ready for the bits in Events.
type Event struct {
	Fd     int32
	Events uint32
}

// Poller is an epoll instance plus an eventfd used to wake it.
type Poller struct {
	epfd   int
	wakefd int
	raw    []unix.EpollEvent
	wbuf   [8]byte
}

// New creates a poller whose Wait reports at most maxEvents events per call.
func New(maxEvents int) (*Poller, error) {
	if maxEvents <= 0 {
		maxEvents = 256
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, raw: make([]unix.EpollEvent, maxEvents)}
	if err := p.Add(wakefd, In); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Add starts watching fd for events.
func (p *Poller) Add(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add fd %d: %w", fd, err)
	}
	return nil
}

// Mod changes the events watched on fd.
func (p *Poller) Mod(fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl mod fd %d: %w", fd, err)
	}
	return nil
}

// Del stops watching fd. Closing fd also removes it; Del is for an fd that
// stays open.
func (p *Poller) Del(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("epoll_ctl del fd %d: %w", fd, err)
	}
	return nil
}

// Wait blocks until events arrive, Wake is called, or timeoutMs passes (-1
// waits forever, 0 polls). It appends the ready events to dst[:0] and returns
// it, with woken true when Wake caused (part of) the return. The wake-up fd
// itself never appears in the events. EINTR is retried. Wait allocates
// nothing when dst has room for the events.
func (p *Poller) Wait(dst []Event, timeoutMs int) (events []Event, woken bool, err error) {
	dst = dst[:0]
	var n int
	for {
		n, err = unix.EpollWait(p.epfd, p.raw, timeoutMs)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			return dst, false, fmt.Errorf("epoll_wait: %w", err)
		}
	}
	for i := 0; i < n; i++ {
		ev := p.raw[i]
		if int(ev.Fd) == p.wakefd {
			woken = true
			// Drain the counter so level-triggered epoll stops reporting it.
			unix.Read(p.wakefd, p.wbuf[:])
			continue
		}
		dst = append(dst, Event{Fd: ev.Fd, Events: ev.Events})
	}
	return dst, woken, nil
}

// Wake makes a blocked or the next Wait return with woken true. Safe from
// any goroutine.
func (p *Poller) Wake() error {
	var one = [8]byte{1}
	if _, err := unix.Write(p.wakefd, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("eventfd write: %w", err)
	}
	return nil
}

// Close releases the epoll and eventfd descriptors. The fds being watched are
// not closed; their owner closes them.
func (p *Poller) Close() error {
	err1 := unix.Close(p.wakefd)
	err2 := unix.Close(p.epfd)
	return errors.Join(err1, err2)
}
