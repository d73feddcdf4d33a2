// Package rawio is read(2) and write(2) for the non-blocking sockets of an
// event loop (the raw epoll server model and the load generator), at the
// cost of one system call and nothing else.
//
// unix.Read and unix.Write pay the runtime's syscall bookkeeping
// (entersyscall/exitsyscall), which exists so the scheduler can run other
// goroutines while a thread blocks in the kernel; a non-blocking socket
// returns at once, so there is nothing to hand over. unix.RawSyscall skips
// that but still goes through three wrapper layers. Only non-blocking
// descriptors may be passed here: a blocking call would hold its P.
package rawio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads into p once. EAGAIN and EINTR come back as the unboxed
// unix.EAGAIN and unix.EINTR, so a loop can compare them without allocating.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return result(syscall3(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p))))
}

// Write writes p once and returns how much the kernel took.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return result(syscall3(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p))))
}

func result(n uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return 0, errnoErr(e)
	}
	return int(n), nil
}

// errnoErr returns the common errnos without boxing, so the hot path does not
// allocate for them.
func errnoErr(e unix.Errno) error {
	switch e {
	case unix.EAGAIN:
		return unix.EAGAIN
	case unix.EINTR:
		return unix.EINTR
	}
	return e
}
