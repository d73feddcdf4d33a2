package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/HdrHistogram/hdrhistogram-go"
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
// this project uses (HistLowestNs, HistHighestNs, HistSigFigs), so
// histograms can be merged exactly and a corrupt header cannot make the
// decoder allocate a huge counts array. Garbage returns an error, never a
// panic.
func DecodeHDR(s string) (*hdrhistogram.Histogram, error) {
	if err := CheckHDR(s); err != nil {
		return nil, err
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("hdr: %w", err)
	}
	return h, nil
}

// CheckHDR checks the size, the base64 and the header's geometry: cheap
// enough to run on every record, unlike a full decode.
func CheckHDR(s string) error {
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
	if sig != HistSigFigs || lo != HistLowestNs || hi != HistHighestNs {
		return fmt.Errorf("hdr: geometry %d..%d ns at %d digits, want %d..%d at %d",
			lo, hi, sig, HistLowestNs, HistHighestNs, HistSigFigs)
	}
	return nil
}

// NewHDR returns an empty histogram with the project's geometry.
func NewHDR() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowestNs, HistHighestNs, HistSigFigs)
}

// EncodeHDR is the inverse of DecodeHDR: h as a Load.HDR string.
func EncodeHDR(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("hdr: encode: %w", err)
	}
	return string(b), nil
}

// LatencyOf is the percentiles of a histogram of nanoseconds, in µs. The
// load generator and `echobench merge` both derive Latency from a
// histogram this way, so a merge of one result gives that result back.
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	// ValueAtQuantile takes a percentile, 0..100.
	return Latency{
		Min:   us(h.Min()),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		P9999: us(h.ValueAtQuantile(99.99)),
		Max:   us(h.Max()),
		Mean:  h.Mean() / 1e3,
	}
}

// SendLagOf is the send lag percentiles of a histogram of nanoseconds, in
// µs, for the load generator and a merge alike.
func SendLagOf(h *hdrhistogram.Histogram) SendLag {
	return SendLag{
		P50: float64(h.ValueAtQuantile(50)) / 1e3,
		P99: float64(h.ValueAtQuantile(99)) / 1e3,
	}
}
