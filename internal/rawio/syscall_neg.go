//go:build linux && (amd64 || arm64 || riscv64 || loong64 || 386 || arm || s390x)

package rawio

import "golang.org/x/sys/unix"

// syscall3 is unix.RawSyscallNoError (a bare SYSCALL instruction in x/sys's
// assembly) with the error decoded here: on these architectures the kernel
// returns -errno, in [-4095, -1], in the result register.
func syscall3(trap, a1, a2, a3 uintptr) (uintptr, unix.Errno) {
	r, _ := unix.RawSyscallNoError(trap, a1, a2, a3)
	if n := int(r); n < 0 && n >= -4095 {
		return 0, unix.Errno(-n)
	}
	return r, 0
}
