//go:build linux && !(amd64 || arm64)

package rawio

import "golang.org/x/sys/unix"

// socketCall is recvfrom or sendto with the last three arguments zero. Here
// x/sys's bare call does not zero them (or errors are not a negative
// result), so the six-argument form spells them out and decodes the error.
func socketCall(trap, fd, p, n uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.RawSyscall6(trap, fd, p, n, 0, 0, 0)
	return r, e
}
