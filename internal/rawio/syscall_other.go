//go:build linux && !(amd64 || arm64 || riscv64 || loong64 || 386 || arm || s390x)

package rawio

import "golang.org/x/sys/unix"

// syscall3 is unix.RawSyscall where the kernel reports errors another way
// than a negative result (mips, ppc64: a flag register), which x/sys decodes.
func syscall3(trap, a1, a2, a3 uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.RawSyscall(trap, a1, a2, a3)
	return r, e
}
