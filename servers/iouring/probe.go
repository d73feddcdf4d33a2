//go:build linux && (amd64 || arm64)

package iouring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ringFlags are the IORING_SETUP_* flags every loop's ring is created with.
// DEFER_TASKRUN (Linux 6.1, which needs SINGLE_ISSUER) runs completions
// only when the loop enters the kernel to wait for them, in its own
// thread: no interrupt of a busy loop to post them, and completions come
// in batches. The price is that one OS thread must own the ring, so each
// loop locks its goroutine to its thread.
const ringFlags = setupSingleIssuer | setupDeferTaskrun

// requiredFeatures are the IORING_FEAT_* bits the loop relies on, with
// what each one gives it.
var requiredFeatures = []struct {
	bit  uint32
	name string
	why  string
}{
	{featSingleMmap, "IORING_FEAT_SINGLE_MMAP", "one mapping for both rings"},
	{featNoDrop, "IORING_FEAT_NODROP", "completions are never dropped when the CQ is full"},
	{featFastPoll, "IORING_FEAT_FAST_POLL", "socket operations wait by polling, not in worker threads"},
}

// requiredOps are the operations the loop submits.
var requiredOps = []struct {
	op   uint8
	name string
}{
	{opAccept, "IORING_OP_ACCEPT"},
	{opRecv, "IORING_OP_RECV"},
	{opSend, "IORING_OP_SEND"},
	{opPollAdd, "IORING_OP_POLL_ADD"},
	{opTimeout, "IORING_OP_TIMEOUT"},
	{opAsyncCancel, "IORING_OP_ASYNC_CANCEL"},
}

// probeResult is what the kernel said about each feature, gathered by
// probeKernel and judged by check, so the judging can be tested with
// results no test host would give.
type probeResult struct {
	setupErr     error // io_uring_setup with ringFlags
	plainErr     error // io_uring_setup without flags, tried when setupErr != nil
	disabled     string
	features     uint32
	probeErr     error // IORING_REGISTER_PROBE
	ops          [256]bool
	pbufErr      error // IORING_REGISTER_PBUF_RING
	multishotErr error // a multishot recv with buffer select, for real
}

// check returns nil when everything the model uses is there, else an error
// naming the first missing feature.
func (p *probeResult) check() error {
	if p.setupErr != nil {
		return p.setupFailure()
	}
	var missing []string
	for _, f := range requiredFeatures {
		if p.features&f.bit == 0 {
			missing = append(missing, f.name+" ("+f.why+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("iouring: the kernel's io_uring lacks %s", strings.Join(missing, ", "))
	}
	if p.probeErr != nil {
		return fmt.Errorf("iouring: io_uring_register(IORING_REGISTER_PROBE) failed (Linux 5.6+): %w", p.probeErr)
	}
	for _, o := range requiredOps {
		if !p.ops[o.op] {
			missing = append(missing, o.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("iouring: the kernel does not support %s", strings.Join(missing, ", "))
	}
	if p.pbufErr != nil {
		return fmt.Errorf("iouring: no provided buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19): %w", p.pbufErr)
	}
	if p.multishotErr != nil {
		return fmt.Errorf("iouring: no multishot recv into a buffer ring (IORING_RECV_MULTISHOT, Linux 6.0): %w", p.multishotErr)
	}
	return nil
}

// setupFailure explains a failed io_uring_setup: io_uring missing or
// disabled altogether, or only the setup flags too new.
func (p *probeResult) setupFailure() error {
	sysctl := ""
	if p.disabled != "" {
		sysctl = "; sysctl kernel.io_uring_disabled = " + p.disabled
	}
	if p.plainErr == nil {
		return fmt.Errorf("iouring: io_uring_setup refuses IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN (Linux 6.1): %w", p.setupErr)
	}
	switch {
	case errors.Is(p.plainErr, unix.ENOSYS):
		return fmt.Errorf("iouring: io_uring is not available (kernel built without it, or a seccomp filter)%s: %w", sysctl, p.plainErr)
	case errors.Is(p.plainErr, unix.EPERM), errors.Is(p.plainErr, unix.EACCES):
		return fmt.Errorf("iouring: io_uring is disabled for this process (sysctl kernel.io_uring_disabled, kernel.io_uring_group, or a seccomp filter)%s: %w", sysctl, p.plainErr)
	}
	return fmt.Errorf("iouring: io_uring_setup failed%s: %w", sysctl, p.plainErr)
}

var (
	probeOnce   sync.Once
	probeFailed error
)

// Probe reports whether this kernel and process can run the model: nil, or
// an error naming what is missing. The kernel is asked once per process.
func Probe() error {
	probeOnce.Do(func() {
		r := probeKernel()
		probeFailed = r.check()
	})
	return probeFailed
}

// probeKernel sets up a small ring the way a loop does and tries each
// feature on it, stopping at the first failure (check reports that one).
func probeKernel() *probeResult {
	// A SINGLE_ISSUER ring may only be used from the thread that made it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p := &probeResult{}
	r, err := newRing(8, 16, ringFlags)
	if err != nil {
		p.setupErr = err
		if plain, err := newRing(8, 16, 0); err != nil {
			p.plainErr = err
			if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil {
				p.disabled = strings.TrimSpace(string(b))
			}
		} else {
			plain.close()
		}
		return p
	}
	defer r.close()
	p.features = r.features
	if p.probeErr = probeOps(r, &p.ops); p.probeErr != nil {
		return p
	}
	b, err := newBufRing(r, 2, 64, 0)
	if err != nil {
		p.pbufErr = err
		return p
	}
	p.multishotErr = tryMultishotRecv(r)
	// tryMultishotRecv left nothing in flight, so the buffers can go.
	b.free()
	return p
}

// probeOps asks the kernel which operations it supports.
func probeOps(r *ring, ops *[256]bool) error {
	const header, opSize, n = 16, 8, 256
	buf := make([]byte, header+opSize*n)
	if err := r.register(registerProbe, unsafe.Pointer(&buf[0]), n); err != nil {
		return err
	}
	count := int(buf[1]) // ops_len
	for i := 0; i < count && i < n; i++ {
		op := buf[header+opSize*i:]
		flags := uint16(op[2]) | uint16(op[3])<<8
		ops[op[0]] = flags&probeOpSupported != 0
	}
	return nil
}

// tryMultishotRecv arms a multishot recv with buffer select (group 0) on a
// socket pair holding one byte, and cancels it: a kernel without multishot
// recv rejects it (EINVAL), one with it delivers the byte with
// IORING_CQE_F_MORE set.
func tryMultishotRecv(r *ring) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte{1}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	const recvTag, cancelTag = 1, 2
	s := r.next()
	s.opcode, s.fd, s.ioprio, s.flags, s.userData = opRecv, int32(fds[0]), recvMultishot, sqeBufferSelect, recvTag
	if errno := r.enter(1, 0); errno != 0 {
		return fmt.Errorf("io_uring_enter: %w", errno)
	}
	c, err := r.pop()
	var result error
	switch {
	case err != nil:
		return err
	case c.userData != recvTag:
		result = fmt.Errorf("unexpected completion %d", c.userData)
	case c.res < 0:
		result = unix.Errno(-c.res)
	case c.res != 1 || c.flags&cqeFBuffer == 0:
		result = fmt.Errorf("recv returned %d (flags %#x), want 1 byte in a provided buffer", c.res, c.flags)
	case c.flags&cqeFMore == 0:
		result = errors.New("the recv ended after one completion: not multishot")
	}
	if c.flags&cqeFMore == 0 {
		return result
	}
	// Still armed: cancel it and wait for both completions, so nothing
	// refers to the buffers once the caller frees them.
	s = r.next()
	s.opcode, s.fd, s.addr, s.userData = opAsyncCancel, -1, recvTag, cancelTag
	for done := 0; done < 2; {
		if errno := r.enter(1, 0); errno != 0 && errno != unix.EINTR {
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
		for c, ok := r.peek(); ok; c, ok = r.peek() {
			r.advance()
			if c.userData == cancelTag || c.flags&cqeFMore == 0 {
				done++
			}
		}
	}
	return result
}

// pop waits for one completion and consumes it; for the probe only.
func (r *ring) pop() (cqe, error) {
	for {
		if c, ok := r.peek(); ok {
			r.advance()
			return c, nil
		}
		if errno := r.enter(1, 0); errno != 0 && errno != unix.EINTR {
			return cqe{}, fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
}
