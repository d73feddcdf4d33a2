package loadgen

import "bytes"

// patternLen is the length of the random pattern messages are cut from. It
// is a power of two so an offset is a mask, and small enough to stay in
// cache.
const patternLen = 1 << 20

// payload derives every message's bytes from (connection id, sequence
// number): message (c, s) is pattern[off(c,s) : off(c,s)+size] for a hashed
// offset, so nothing is stored to check an echo, and a message that arrives
// on the wrong connection or at the wrong place differs from the expected
// bytes (except with probability 256^-n for an n-byte overlap). The pattern
// is read-only after construction and shared by all workers.
type payload struct {
	pattern []byte
	size    int64
}

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

// message returns the bytes of message seq of connection id. The slice
// aliases the shared pattern: callers must not modify it.
func (p *payload) message(id int32, seq int64) []byte {
	off := int64(mix64(uint64(seq)^uint64(id)*0x9e3779b97f4a7c15) & (patternLen - 1))
	return p.pattern[off : off+p.size]
}

// fill writes into dst the bytes of a connection's stream starting at stream
// offset off, where the stream is messages base, base+1, ... back to back.
func (p *payload) fill(dst []byte, id int32, base, off int64) {
	for len(dst) > 0 {
		k := off / p.size
		within := off - k*p.size
		n := copy(dst, p.message(id, base+k)[within:])
		dst = dst[n:]
		off += int64(n)
	}
}

// matches reports whether b equals the stream bytes at offset off; b must not
// cross a message boundary.
func (p *payload) matches(b []byte, id int32, seq, within int64) bool {
	return bytes.Equal(b, p.message(id, seq)[within:within+int64(len(b))])
}
