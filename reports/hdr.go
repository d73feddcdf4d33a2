package reports

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
)

// maxHDRChars bounds one encoded histogram. Ours (1 ns–60 s, 3 digits) is
// under 100 KiB even when every bucket is used.
const maxHDRChars = 1 << 20

// V2 compressed encoding: an 8-byte envelope (cookie, compressed length) and a
// zlib stream whose first 40 bytes are the header that holds the geometry.
const (
	hdrEnvelopeBytes  = 8
	hdrHeaderBytes    = 40
	hdrCompressedBase = 0x1c849304
	hdrPlainBase      = 0x1c849303
)

// DecodeHDR decodes a Load.HDR string: an HdrHistogram V2 compressed, base64
// histogram of nanoseconds. It accepts only the geometry every histogram of
// this project uses (results.HistLowestNs, HistHighestNs, HistSigFigs), so
// histograms can be merged exactly and a corrupt header cannot make the
// decoder allocate a huge counts array. Garbage returns an error, never a
// panic.
func DecodeHDR(s string) (*hdrhistogram.Histogram, error) {
	if err := checkHDR(s); err != nil {
		return nil, err
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("hdr: %w", err)
	}
	return h, nil
}

// checkHDR checks the size, the base64 and the header's geometry: cheap
// enough to run on every record, unlike a full decode.
func checkHDR(s string) error {
	if s == "" {
		return errors.New("hdr: empty")
	}
	if len(s) > maxHDRChars {
		return fmt.Errorf("hdr: %d characters, more than %d", len(s), maxHDRChars)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hdr: base64: %w", err)
	}
	return checkHDRGeometry(raw)
}

// checkHDRGeometry reads only the envelope and the zlib-compressed header.
func checkHDRGeometry(raw []byte) error {
	if len(raw) < hdrEnvelopeBytes {
		return fmt.Errorf("hdr: %d bytes, shorter than the %d-byte envelope", len(raw), hdrEnvelopeBytes)
	}
	cookie := binary.BigEndian.Uint32(raw[0:4]) &^ 0xf0
	if cookie != hdrCompressedBase {
		return fmt.Errorf("hdr: cookie %#x is not V2 compressed", cookie)
	}
	n := binary.BigEndian.Uint32(raw[4:8])
	if uint64(n) > uint64(len(raw)-hdrEnvelopeBytes) {
		return fmt.Errorf("hdr: compressed length %d exceeds the %d bytes present", n, len(raw)-hdrEnvelopeBytes)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[hdrEnvelopeBytes : hdrEnvelopeBytes+int(n)]))
	if err != nil {
		return fmt.Errorf("hdr: zlib: %w", err)
	}
	defer z.Close()
	var hdr [hdrHeaderBytes]byte
	if _, err := io.ReadFull(z, hdr[:]); err != nil {
		return fmt.Errorf("hdr: header: %w", err)
	}
	if c := binary.BigEndian.Uint32(hdr[0:4]) &^ 0xf0; c != hdrPlainBase {
		return fmt.Errorf("hdr: inner cookie %#x is not V2", c)
	}
	sig := int32(binary.BigEndian.Uint32(hdr[12:16]))
	lo := int64(binary.BigEndian.Uint64(hdr[16:24]))
	hi := int64(binary.BigEndian.Uint64(hdr[24:32]))
	if sig != results.HistSigFigs || lo != results.HistLowestNs || hi != results.HistHighestNs {
		return fmt.Errorf("hdr: geometry %d..%d ns at %d digits, want %d..%d at %d",
			lo, hi, sig, results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
	}
	return nil
}

// NewHDR returns an empty histogram with the project's geometry.
func NewHDR() *hdrhistogram.Histogram {
	return hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs)
}
