package loadgen

import (
	"bytes"
	"encoding/binary"
)

// patternLen is the length of the random pattern messages are cut from. It
// is a power of two so an offset is a mask, and small enough to stay in the
// L1 cache between a message's send and its echo: the kernel's network path
// runs between the two and evicts most of the rest. Measured at 64 B and 50
// connections against the C reference server (perf, cpu-clock): a 1 MiB
// pattern cost 2.5% of the client's CPU in cache misses, 64 KiB still 2.5%
// (memmove 1.6% and memeqbody 0.9%, nearly all of it one load), 4 KiB under
// 0.3%. Messages are told apart by their header, not by the pattern offset;
// 4,096 offsets still make a misplaced body differ from the expected one.
const patternLen = 1 << 12

// payload derives every message's bytes from (connection id, sequence
// number), so nothing is stored to check an echo. A message is a 12-byte
// header (connection id, 4 bytes, and sequence number, 8 bytes, little
// endian; cut short for smaller messages) followed by a slice of a shared
// random pattern at an offset hashed from the same pair. A message that
// arrives on the wrong connection or at the wrong place therefore differs
// from the expected bytes in its header, and corrupted bytes anywhere differ
// from the regenerated ones. The pattern is read-only after construction and
// shared by all workers.
type payload struct {
	pattern []byte
	size    int64
}

const headerLen = 12

func newPayload(size int) *payload {
	p := &payload{pattern: make([]byte, patternLen+size), size: int64(size)}
	x := uint64(0x6a09e667f3bcc908) // fixed seed: runs are reproducible
	for i := 0; i < len(p.pattern); i += 8 {
		x += 0x9e3779b97f4a7c15
		v := mix64(x)
		for j := 0; j < 8 && i+j < len(p.pattern); j++ {
			p.pattern[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

// mix64 is the splitmix64 finaliser: a cheap bijective hash.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func header(id int32, seq int64) (h [headerLen]byte) {
	binary.LittleEndian.PutUint32(h[0:], uint32(id))
	binary.LittleEndian.PutUint64(h[4:], uint64(seq))
	return h
}

// body returns the pattern bytes of message (id, seq): the whole message
// length, of which bytes from headerLen on are used. It aliases the shared
// pattern: callers must not modify it.
func (p *payload) body(id int32, seq int64) []byte {
	off := int64(mix64(uint64(seq)^uint64(id)*0x9e3779b97f4a7c15) & (patternLen - 1))
	return p.pattern[off : off+p.size]
}

// copyMessage copies message (id, seq) from byte within on into dst and
// returns how many bytes it copied.
func (p *payload) copyMessage(dst []byte, id int32, seq, within int64) int {
	n := copy(dst, p.body(id, seq)[within:])
	if within < headerLen {
		h := header(id, seq)
		copy(dst[:n], h[within:min(headerLen, p.size)])
	}
	return n
}

// fill writes into dst the bytes of a connection's stream starting at stream
// offset off, where the stream is messages base, base+1, ... back to back.
func (p *payload) fill(dst []byte, id int32, base, off int64) {
	for len(dst) > 0 {
		k := off / p.size
		n := p.copyMessage(dst, id, base+k, off-k*p.size)
		dst = dst[n:]
		off += int64(n)
	}
}

// matches reports whether b equals bytes within.. of message (id, seq); b
// must not run past the message's end.
func (p *payload) matches(b []byte, id int32, seq, within int64) bool {
	if within < headerLen {
		h := header(id, seq)
		hb := h[within:min(headerLen, within+int64(len(b)), p.size)]
		if !bytes.Equal(b[:len(hb)], hb) {
			return false
		}
		b = b[len(hb):]
		within += int64(len(hb))
	}
	return bytes.Equal(b, p.body(id, seq)[within:within+int64(len(b))])
}

// matchesStream reports whether b equals the bytes of a connection's stream
// from offset off on, where the stream is messages 0, 1, 2, ... of
// connection id back to back (the slow readers' stream).
func (p *payload) matchesStream(b []byte, id int32, off int64) bool {
	for len(b) > 0 {
		k := off / p.size
		within := off - k*p.size
		m := min(int64(len(b)), p.size-within)
		if !p.matches(b[:m], id, k, within) {
			return false
		}
		b = b[m:]
		off += m
	}
	return true
}
