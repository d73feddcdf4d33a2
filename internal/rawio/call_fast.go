//go:build linux && (amd64 || arm64)

package rawio

import "golang.org/x/sys/unix"

// socketCall is recvfrom or sendto with the last three arguments zero, as
// one bare system call: x/sys's RawSyscallNoError loads the first three
// arguments and zeroes the registers of the fourth to sixth on these two
// architectures (asm_linux_amd64.s: R10, R8, R9; asm_linux_arm64.s: R3-R5),
// so flags = 0 and no address. The kernel returns -errno, in [-4095, -1],
// in the result register; it is decoded here.
func socketCall(trap, fd, p, n uintptr) (uintptr, unix.Errno) {
	r, _ := unix.RawSyscallNoError(trap, fd, p, n)
	if v := int(r); v < 0 && v >= -4095 {
		return 0, unix.Errno(-v)
	}
	return r, 0
}
