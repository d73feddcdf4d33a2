package results

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func encodeHDR(t testing.TB, h *hdrhistogram.Histogram) string {
	t.Helper()
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeHDR(t *testing.T) {
	t.Parallel()
	good := NewHDR()
	for v := int64(1000); v < 2_000_000; v += 997 {
		if err := good.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	goodS := encodeHDR(t, good)
	otherGeometry := encodeHDR(t, hdrhistogram.New(1, 1_000_000, 2))

	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"valid", goodS, ""},
		{"empty", "", "empty"},
		{"not base64", "!!!", "base64"},
		{"short", base64.StdEncoding.EncodeToString([]byte{1, 2, 3}), "envelope"},
		{"wrong cookie", base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 0}), "cookie"},
		{"foreign geometry", otherGeometry, "geometry"},
		{"truncated", goodS[:len(goodS)/2/4*4], "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := DecodeHDR(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if h.TotalCount() != good.TotalCount() || h.ValueAtQuantile(99) != good.ValueAtQuantile(99) {
					t.Fatalf("round trip lost data: %d values p99 %d, want %d, %d", h.TotalCount(), h.ValueAtQuantile(99), good.TotalCount(), good.ValueAtQuantile(99))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeHDR error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeHDR: garbage returns an error, never a panic, and whatever decodes
// has our geometry (so merging it is exact).
func FuzzDecodeHDR(f *testing.F) {
	h := NewHDR()
	for _, v := range []int64{1, 1500, 20_000, 3_000_000, 59_000_000_000} {
		_ = h.RecordValue(v)
	}
	b, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	f.Add(string(b))
	f.Add("")
	f.Add("HISTFAAAAB54nJNpmSzMwMDAwQABTFCaEUoz2X+AMIQ")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHDR(s)
		if err != nil {
			return
		}
		if h.LowestTrackableValue() != 1 || h.SignificantFigures() != 3 {
			t.Fatalf("decoded a histogram of foreign geometry: %d, %d", h.LowestTrackableValue(), h.SignificantFigures())
		}
		if d := NewHDR().Merge(h); d != 0 {
			t.Fatalf("merge dropped %d values of a decoded histogram", d)
		}
	})
}
