//go:build linux && (amd64 || arm64)

package iouring

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The structures shared with the kernel must have its sizes exactly.
func TestLayout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		got, want uintptr
	}{
		{"struct io_uring_sqe", unsafe.Sizeof(sqe{}), 64},
		{"struct io_uring_cqe", unsafe.Sizeof(cqe{}), 16},
		{"struct io_uring_params", unsafe.Sizeof(params{}), 120},
		{"sqe.userData offset", unsafe.Offsetof(sqe{}.userData), 32},
		{"sqe.bufGroup offset", unsafe.Offsetof(sqe{}.bufGroup), 40},
		{"params.sqOff offset", unsafe.Offsetof(params{}.sqOff), 40},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %d bytes, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// allPresent is what a kernel with everything the model needs reports.
func allPresent() *probeResult {
	p := &probeResult{features: featSingleMmap | featNoDrop | featFastPoll}
	for _, o := range requiredOps {
		p.ops[o.op] = true
	}
	return p
}

// Each missing feature is refused with an error that names it, so that
// `echobench models` can say why the model is unavailable.
func TestProbeCheck(t *testing.T) {
	t.Parallel()
	if err := allPresent().check(); err != nil {
		t.Fatalf("everything present: %v", err)
	}
	tests := []struct {
		name   string
		break_ func(p *probeResult)
		want   []string
	}{
		{"disabled by sysctl", func(p *probeResult) {
			p.setupErr, p.plainErr, p.disabled = unix.EPERM, unix.EPERM, "2"
		}, []string{"io_uring is disabled", "kernel.io_uring_disabled = 2", "operation not permitted"}},
		{"seccomp ENOSYS", func(p *probeResult) {
			p.setupErr, p.plainErr = unix.ENOSYS, unix.ENOSYS
		}, []string{"io_uring is not available", "seccomp", "function not implemented"}},
		{"setup flags too new", func(p *probeResult) {
			p.setupErr = unix.EINVAL
		}, []string{"IORING_SETUP_DEFER_TASKRUN", "6.1"}},
		{"no fast poll", func(p *probeResult) {
			p.features &^= featFastPoll
		}, []string{"IORING_FEAT_FAST_POLL"}},
		{"no probe", func(p *probeResult) {
			p.probeErr = unix.EINVAL
		}, []string{"IORING_REGISTER_PROBE"}},
		{"no recv or send", func(p *probeResult) {
			p.ops[opRecv], p.ops[opSend] = false, false
		}, []string{"IORING_OP_RECV, IORING_OP_SEND"}},
		{"no accept", func(p *probeResult) {
			p.ops[opAccept] = false
		}, []string{"IORING_OP_ACCEPT"}},
		{"no buffer rings", func(p *probeResult) {
			p.pbufErr = unix.EINVAL
		}, []string{"IORING_REGISTER_PBUF_RING", "5.19"}},
		{"no multishot recv", func(p *probeResult) {
			p.multishotErr = unix.EINVAL
		}, []string{"IORING_RECV_MULTISHOT", "6.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := allPresent()
			tt.break_(p)
			err := p.check()
			if err == nil {
				t.Fatal("check accepted a kernel without it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestProbeHere runs the real probe. On a host where io_uring is enabled
// and new enough it must pass (else every other test here skips); the
// result is logged either way.
func TestProbeHere(t *testing.T) {
	t.Parallel()
	r := probeKernel()
	err := r.check()
	t.Logf("probe: features %#x, result: %v", r.features, err)
	if err == nil {
		if Probe() != nil {
			t.Errorf("Probe disagrees with a fresh probe: %v", Probe())
		}
		return
	}
	requireIOURing(t)
}

// The probe's own failure paths, on the real kernel: setup flags it does not
// know, and a multishot recv with no buffer ring to take from.
func TestProbeRealFailures(t *testing.T) {
	t.Parallel()
	requireIOURing(t)
	if r, err := newRing(8, 16, 1<<31); err == nil {
		r.close()
		t.Error("io_uring_setup accepted an unknown flag")
	} else if !errors.Is(err, unix.EINVAL) {
		t.Errorf("unknown setup flag: %v, want EINVAL", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newRing(8, 16, ringFlags)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	err = tryMultishotRecv(r) // buffer group 0 was never registered
	if !errors.Is(err, unix.ENOBUFS) {
		t.Errorf("multishot recv without buffers: %v, want ENOBUFS", err)
	}
	p := allPresent()
	p.multishotErr = err
	t.Logf("refusal: %v", p.check())
}
