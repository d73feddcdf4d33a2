//go:build linux && (amd64 || arm64)

package iouring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring ABI this model uses, from include/uapi/linux/io_uring.h.
// x/sys/unix has the system call numbers only, so the structures and
// constants are written out here; the layout tests check their sizes.
const (
	opNop         = 0
	opPollAdd     = 6
	opTimeout     = 11
	opAccept      = 13
	opAsyncCancel = 14
	opSend        = 26
	opRecv        = 27

	sqeBufferSelect = 1 << 5 // IOSQE_BUFFER_SELECT

	setupCQSize       = 1 << 3  // IORING_SETUP_CQSIZE
	setupSingleIssuer = 1 << 12 // IORING_SETUP_SINGLE_ISSUER
	setupDeferTaskrun = 1 << 13 // IORING_SETUP_DEFER_TASKRUN

	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	featNoDrop     = 1 << 1 // IORING_FEAT_NODROP
	featFastPoll   = 1 << 5 // IORING_FEAT_FAST_POLL

	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS

	registerProbe    = 8  // IORING_REGISTER_PROBE
	registerPbufRing = 22 // IORING_REGISTER_PBUF_RING

	recvMultishot   = 1 << 1 // IORING_RECV_MULTISHOT, in sqe.ioprio
	acceptMultishot = 1 << 0 // IORING_ACCEPT_MULTISHOT, in sqe.ioprio

	cancelAll = 1 << 0 // IORING_ASYNC_CANCEL_ALL
	cancelAny = 1 << 2 // IORING_ASYNC_CANCEL_ANY

	cqeFBuffer  = 1 << 0 // IORING_CQE_F_BUFFER: the upper 16 flag bits are a buffer id
	cqeFMore    = 1 << 1 // IORING_CQE_F_MORE: the multishot request stays armed
	bufferShift = 16     // IORING_CQE_BUFFER_SHIFT

	offSQRing = 0          // IORING_OFF_SQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES

	probeOpSupported = 1 << 0 // IO_URING_OP_SUPPORTED
)

// sqe is struct io_uring_sqe (64 bytes), with the unions this model needs
// named for what it puts in them.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16 // multishot flags for accept and recv
	fd          int32
	off         uint64
	addr        uint64 // buffer, timespec, or the user_data to cancel
	len         uint32
	opFlags     uint32 // msg_flags, accept_flags, poll32_events, cancel_flags, timeout_flags
	userData    uint64
	bufGroup    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// cqe is struct io_uring_cqe (16 bytes, no CQE32).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// ring is one io_uring instance and its three shared mappings. It belongs
// to the goroutine (and, with SINGLE_ISSUER, the OS thread) that created it.
type ring struct {
	fd       int
	features uint32
	sqMem    []byte // SQ ring; with FEAT_SINGLE_MMAP also the CQ ring
	cqMem    []byte // separate CQ mapping on old kernels, else nil
	sqeMem   []byte

	sqHead, sqTail *uint32
	sqMask, sqSize uint32
	sqes           []sqe
	localTail      uint32 // SQEs filled; published to *sqTail before entering

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe
}

// newRing calls io_uring_setup and maps the rings. flags are the
// IORING_SETUP_* bits; CQSIZE is added for cqEntries.
func newRing(entries, cqEntries, flags uint32) (*ring, error) {
	p := params{flags: flags | setupCQSize, cqEntries: cqEntries}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, &setupError{errno: errno, flags: flags}
	}
	r := &ring{fd: int(fd), features: p.features}
	if err := r.mapRings(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// setupError is a failed io_uring_setup; probe turns it into the reason the
// model cannot run.
type setupError struct {
	errno unix.Errno
	flags uint32
}

func (e *setupError) Error() string {
	return fmt.Sprintf("io_uring_setup (flags %#x): %v", e.flags, e.errno)
}

func (e *setupError) Unwrap() error { return e.errno }

func (r *ring) mapRings(p *params) error {
	sqLen := int(p.sqOff.array + p.sqEntries*4)
	cqLen := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	single := p.features&featSingleMmap != 0
	if single {
		sqLen = max(sqLen, cqLen)
	}
	var err error
	r.sqMem, err = mmapRing(r.fd, offSQRing, sqLen)
	if err != nil {
		return err
	}
	cqMem := r.sqMem
	if !single {
		const offCQRing = 0x8000000 // IORING_OFF_CQ_RING
		if r.cqMem, err = mmapRing(r.fd, offCQRing, cqLen); err != nil {
			return err
		}
		cqMem = r.cqMem
	}
	if r.sqeMem, err = mmapRing(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{}))); err != nil {
		return err
	}
	r.sqHead, r.sqTail = u32At(r.sqMem, p.sqOff.head), u32At(r.sqMem, p.sqOff.tail)
	r.sqMask, r.sqSize = *u32At(r.sqMem, p.sqOff.ringMask), p.sqEntries
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	// The SQ array maps ring slots to SQEs; the identity, set once.
	for i := uint32(0); i < p.sqEntries; i++ {
		*u32At(r.sqMem, p.sqOff.array+4*i) = i
	}
	r.cqHead, r.cqTail = u32At(cqMem, p.cqOff.head), u32At(cqMem, p.cqOff.tail)
	r.cqMask = *u32At(cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cqMem[p.cqOff.cqes])), p.cqEntries)
	r.localTail = *r.sqTail
	return nil
}

func mmapRing(fd int, off int64, n int) ([]byte, error) {
	b, err := unix.Mmap(fd, off, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("mmap io_uring ring at %#x: %w", off, err)
	}
	return b, nil
}

func u32At(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// close unmaps the rings and closes the ring, which cancels whatever is
// still in flight.
func (r *ring) close() error {
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.sqMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMem, r.cqMem, r.sqMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// next returns a zeroed SQE to fill, submitting what is queued first when
// the SQ is full. It returns nil only when the kernel takes nothing.
func (r *ring) next() *sqe {
	if r.localTail-atomic.LoadUint32(r.sqHead) >= r.sqSize {
		r.enter(0, 0)
		if r.localTail-atomic.LoadUint32(r.sqHead) >= r.sqSize {
			return nil
		}
	}
	s := &r.sqes[r.localTail&r.sqMask]
	*s = sqe{}
	r.localTail++
	return s
}

// enter publishes the queued SQEs, submits them and, with wait > 0, waits
// until that many completions are in the CQ (running the deferred task
// work that posts them). EINTR and EAGAIN/EBUSY (CQ overflow backlog) come
// back as errnos for the loop to retry; nothing here allocates.
func (r *ring) enter(wait uint32, flags uint32) unix.Errno {
	atomic.StoreUint32(r.sqTail, r.localTail)
	submit := r.localTail - atomic.LoadUint32(r.sqHead)
	if wait > 0 {
		flags |= enterGetEvents
	}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), uintptr(flags), 0, 0)
	return errno
}

// register is io_uring_register(2).
func (r *ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// bufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING): the
// kernel takes a buffer from it for each multishot recv completion, and
// the loop gives buffers back by writing entries and moving the tail. Both
// the ring and the buffers are anonymous mappings, outside the Go heap, so
// the garbage collector never sees memory the kernel writes.
type bufRing struct {
	ring      []byte // entries × struct io_uring_buf
	pool      []byte // entries × size
	sizeBytes int
	mask      uint16
	tail      uint16 // local tail: entries written
	bid0      uint16 // buffer id last written to entry 0 (see publish)
	pubTail   uint16 // tail last published
}

// bufEntrySize is sizeof(struct io_uring_buf).
const bufEntrySize = 16

// newBufRing maps entries buffers of sizeBytes, registers them as buffer
// group gid of r, and provides them all. entries is a power of two.
func newBufRing(r *ring, entries, sizeBytes int, gid uint16) (*bufRing, error) {
	b := &bufRing{sizeBytes: sizeBytes, mask: uint16(entries - 1)}
	var err error
	if b.ring, err = mmapAnon(entries * bufEntrySize); err != nil {
		return nil, err
	}
	if b.pool, err = mmapAnon(entries * sizeBytes); err != nil {
		b.free()
		return nil, err
	}
	reg := struct {
		ringAddr    uint64
		ringEntries uint32
		bgid, pad   uint16
		resv        [3]uint64
	}{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ring[0]))), ringEntries: uint32(entries), bgid: gid}
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		b.free()
		return nil, fmt.Errorf("io_uring_register(IORING_REGISTER_PBUF_RING): %w", err)
	}
	for i := 0; i < entries; i++ {
		b.put(uint16(i))
	}
	b.publish()
	return b, nil
}

func mmapAnon(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", n, err)
	}
	return b, nil
}

// buf is buffer bid's first n bytes.
func (b *bufRing) buf(bid uint16, n int) []byte {
	off := int(bid) * b.sizeBytes
	return b.pool[off : off+n : off+b.sizeBytes]
}

// put queues buffer bid for the kernel; publish makes it visible.
func (b *bufRing) put(bid uint16) {
	i := int(b.tail & b.mask)
	e := b.ring[i*bufEntrySize : (i+1)*bufEntrySize]
	*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&b.pool[int(bid)*b.sizeBytes])))
	*(*uint32)(unsafe.Pointer(&e[8])) = uint32(b.sizeBytes)
	// Entry 0's last two bytes are the ring's tail: never written here.
	*(*uint16)(unsafe.Pointer(&e[12])) = bid
	if i == 0 {
		b.bid0 = bid
	}
	b.tail++
}

// publish stores the tail with release ordering, so the kernel sees every
// entry written before it. Go has no 16-bit atomic store, so it stores the
// 32-bit word at offset 12: entry 0's bid (which only this side writes, so
// it is rewritten with its own value) and the tail above it (little
// endian: the build constraint of this file's package).
func (b *bufRing) publish() {
	if b.tail == b.pubTail {
		return
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.ring[12])), uint32(b.bid0)|uint32(b.tail)<<16)
	b.pubTail = b.tail
}

// free unmaps the ring and the buffers. Only once no request can still
// write into them (the ring is drained or closed).
func (b *bufRing) free() {
	if b.ring != nil {
		unix.Munmap(b.ring)
		b.ring = nil
	}
	if b.pool != nil {
		unix.Munmap(b.pool)
		b.pool = nil
	}
}

// peek returns the oldest completion without consuming it.
func (r *ring) peek() (cqe, bool) {
	head := atomic.LoadUint32(r.cqHead)
	if head == atomic.LoadUint32(r.cqTail) {
		return cqe{}, false
	}
	return r.cqes[head&r.cqMask], true
}

// advance consumes the completion peek returned, freeing its CQ slot.
func (r *ring) advance() { atomic.StoreUint32(r.cqHead, atomic.LoadUint32(r.cqHead)+1) }
