package work

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from this implementation")

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Spec
	}{
		{"none", Spec{}},
		{"cpu:20us", Spec{CPU, 20 * time.Microsecond, Fixed}},
		{"cpu:20µs", Spec{CPU, 20 * time.Microsecond, Fixed}},
		{"wait:1ms:exp", Spec{Wait, time.Millisecond, Exp}},
		{"block:200us:fixed", Spec{Block, 200 * time.Microsecond, Fixed}},
		{"wait:1.5s", Spec{Wait, 1500 * time.Millisecond, Fixed}},
		{"cpu:10s", Spec{CPU, 10 * time.Second, Fixed}},
		{"cpu:1ns", Spec{CPU, 1, Fixed}},
		{"wait:0.25ms:exp", Spec{Wait, 250 * time.Microsecond, Exp}},
		{"block:007ms", Spec{Block, 7 * time.Millisecond, Fixed}},
	} {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("Parse(%q) gave a Spec that does not validate: %v", tt.in, err)
		}
	}
}

// Each bad spec is refused with an error that names --work and the bad part.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, part string }{
		{"", "want none, KIND:MEAN"},
		{"None", "want none, KIND:MEAN"},
		{"cpu", "want none, KIND:MEAN"},
		{"cpu:1ms:exp:x", "want none, KIND:MEAN"},
		{"sleep:1ms", `unknown kind "sleep"`},
		{"CPU:1ms", `unknown kind "CPU"`},
		{":1ms", `unknown kind ""`},
		{"none:1ms", `unknown kind "none"`},
		{"cpu:-1ms", `bad mean "-1ms"`},
		{"cpu:+1ms", `bad mean "+1ms"`},
		{"cpu:1ms500us", `bad mean "1ms500us"`},
		{"cpu:1", `bad mean "1"`},
		{"cpu:1h", `bad mean "1h"`},
		{"cpu:1m", `bad mean "1m"`},
		{"cpu:.5ms", `bad mean ".5ms"`},
		{"cpu:1.ms", `bad mean "1.ms"`},
		{"cpu:1 ms", `bad mean "1 ms"`},
		{"cpu:1μs", `bad mean "1μs"`}, // Greek mu, not the micro sign
		{"cpu:0ms", `mean "0ms" out of range`},
		{"cpu:0.1ns", `mean "0.1ns" out of range`},
		{"cpu:10.5s", `mean "10.5s" out of range`},
		{"wait:11s", `mean "11s" out of range`},
		{"wait:99999999999999999999s", `bad mean "99999999999999999999s"`},
		{"wait:1ms:normal", `unknown distribution "normal"`},
		{"wait:1ms:", `unknown distribution ""`},
	} {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted it", tt.in)
			continue
		}
		for _, want := range []string{"--work", strconv.Quote(tt.in), tt.part} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Parse(%q) = %q, want it to contain %q", tt.in, err, want)
			}
		}
	}
}

// String is canonical and Parse reads it back; Set and UnmarshalText are
// Parse.
func TestStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, canonical string }{
		{"none", "none"},
		{"cpu:20us", "cpu:20µs"},
		{"wait:1000us:fixed", "wait:1ms"},
		{"block:1500ms:exp", "block:1.5s:exp"},
		{"cpu:100ns", "cpu:100ns"},
		{"wait:10s:exp", "wait:10s:exp"},
	} {
		sp, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sp.String(); got != tt.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.canonical)
		}
		back, err := Parse(sp.String())
		if err != nil || back != sp {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", sp.String(), back, err, sp)
		}
		var viaFlag, viaText Spec
		if err := viaFlag.Set(tt.in); err != nil || viaFlag != sp {
			t.Errorf("Set(%q) = %+v, %v", tt.in, viaFlag, err)
		}
		if err := viaText.UnmarshalText([]byte(tt.in)); err != nil || viaText != sp {
			t.Errorf("UnmarshalText(%q) = %+v, %v", tt.in, viaText, err)
		}
	}
	if (Spec{}).String() != "none" {
		t.Error("the zero Spec is not none")
	}
	var s Spec
	if err := s.Set("cpu:1ms"); err != nil || s.Set("bogus") == nil || s != (Spec{CPU, time.Millisecond, Fixed}) {
		t.Errorf("a failed Set changed the value or a good one failed: %+v", s)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sp  Spec
		msg string // "" = valid
	}{
		{Spec{}, ""},
		{Spec{CPU, time.Millisecond, Exp}, ""},
		{Spec{Block, MaxMean, Fixed}, ""},
		{Spec{Kind: 9, Mean: time.Millisecond}, "unknown kind"},
		{Spec{CPU, time.Millisecond, 5}, "unknown distribution"},
		{Spec{Mean: time.Millisecond}, "none takes no mean"},
		{Spec{Dist: Exp}, "none takes no mean"},
		{Spec{Kind: Wait}, "out of range"},
		{Spec{Wait, -time.Millisecond, Fixed}, "out of range"},
		{Spec{Wait, MaxMean + 1, Fixed}, "out of range"},
	} {
		err := tt.sp.Validate()
		if (tt.msg == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.sp, err, tt.msg)
		}
		if err != nil && !strings.Contains(err.Error(), "--work") {
			t.Errorf("%+v.Validate() = %v, does not name --work", tt.sp, err)
		}
	}
}

// 200k exponential draws, over many connections as a server would draw
// them, average within 3% of the mean (the standard error is 0.22%).
func TestExpMean(t *testing.T) {
	t.Parallel()
	const mean = time.Millisecond
	sp := Spec{Wait, mean, Exp}
	var sum float64
	n := 0
	for conn := range uint64(200) {
		r := NewRand(conn)
		for range 1000 {
			d := sp.Duration(&r)
			if d < 0 || d > 100*mean {
				t.Fatalf("draw %v outside [0, 100 × mean]", d)
			}
			sum += float64(d)
			n++
		}
	}
	if got := sum / float64(n); math.Abs(got-float64(mean)) > 0.03*float64(mean) {
		t.Errorf("mean of %d draws = %v, want %v ± 3%%", n, time.Duration(got), mean)
	}
	r := NewRand(0)
	if d := (Spec{CPU, mean, Fixed}).Duration(&r); d != mean {
		t.Errorf("fixed draw = %v, want %v", d, mean)
	}
}

func TestNoAllocs(t *testing.T) {
	sp := Spec{Wait, time.Millisecond, Exp}
	r := NewRand(3)
	if n := testing.AllocsPerRun(1000, func() { _ = sp.Duration(&r); Spin(1) }); n != 0 {
		t.Errorf("Duration and Spin allocate %v times per call", n)
	}
}

// Spin really takes the duration, on this thread's clock.
func TestSpin(t *testing.T) {
	t.Parallel()
	const d = 2 * time.Millisecond
	start := time.Now()
	Spin(d)
	if el := time.Since(start); el < d {
		t.Errorf("Spin(%v) returned after %v", d, el)
	}
	Spin(0)
	Spin(-time.Second)
}

// vectorFile is testdata/vectors.json: reference draws the Go, Python and
// Node implementations must all reproduce. u64 values are strings, since
// JSON numbers beyond 2^53 do not survive JavaScript's parser.
type vectorFile struct {
	Comment     string   `json:"comment"`
	MeanNs      int64    `json:"mean_ns"`
	ToleranceNs int64    `json:"tolerance_ns"`
	Vectors     []vector `json:"vectors"`
}

type vector struct {
	Ordinal uint64   `json:"ordinal"`
	U64     []string `json:"u64"`
	ExpNs   []int64  `json:"exp_ns"`
}

const vectorsPath = "testdata/vectors.json"

func computeVectors() vectorFile {
	f := vectorFile{
		Comment: "SplitMix64 draws of the --work contract (docs/servers.md, Work per request): " +
			"for each connection ordinal, state = ordinal XOR 0x9E3779B97F4A7C15; u64 are the first raw outputs " +
			"(decimal strings), exp_ns the first exponential draws at mean_ns: trunc(-mean * ln(1 - (u64 >> 11) * 2^-53)), " +
			"capped at 100 * mean. An implementation matches when every u64 is equal and every exp_ns is within tolerance_ns " +
			"(the last bit of ln may differ between math libraries). Regenerate: go test ./servers/work -run TestVectors -update",
		MeanNs:      int64(time.Millisecond),
		ToleranceNs: 1,
	}
	for _, n := range []uint64{0, 1, 2, 7} {
		v := vector{Ordinal: n}
		raw, r := NewRand(n), NewRand(n)
		for range 5 {
			v.U64 = append(v.U64, strconv.FormatUint(raw.Uint64(), 10))
			v.ExpNs = append(v.ExpNs, int64(r.Next(time.Duration(f.MeanNs))))
		}
		f.Vectors = append(f.Vectors, v)
	}
	return f
}

// The draws are the ones testdata/vectors.json holds, which the Python and
// Node implementations are checked against too.
func TestVectors(t *testing.T) {
	t.Parallel()
	got := computeVectors()
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // keep ">>" readable in the comment
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var want vectorFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Vectors) != 4 || want.MeanNs != int64(time.Millisecond) {
		t.Fatalf("%s holds %d vectors at mean %d ns, want 4 at 1 ms", vectorsPath, len(want.Vectors), want.MeanNs)
	}
	for i, w := range want.Vectors {
		g := got.Vectors[i]
		if w.Ordinal != g.Ordinal || len(w.U64) != 5 || len(w.ExpNs) != 5 {
			t.Fatalf("vector %d: ordinal %d with %d/%d draws, want ordinal %d with 5", i, w.Ordinal, len(w.U64), len(w.ExpNs), g.Ordinal)
		}
		for j := range 5 {
			if w.U64[j] != g.U64[j] || w.ExpNs[j] != g.ExpNs[j] {
				t.Errorf("ordinal %d draw %d: got %s / %d ns, %s holds %s / %d ns", w.Ordinal, j, g.U64[j], g.ExpNs[j], vectorsPath, w.U64[j], w.ExpNs[j])
			}
		}
	}
}

// The first output of SplitMix64 seeded with 0 is a published constant
// (Vigna's reference implementation), so the vectors are SplitMix64's and
// not merely self-consistent. Ordinal 0 XOR the golden gamma gives that
// seed only for the state, so check it on a raw generator.
func TestSplitMix64Reference(t *testing.T) {
	t.Parallel()
	r := Rand{s: 0}
	for _, want := range []uint64{0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F} {
		if got := r.Uint64(); got != want {
			t.Errorf("SplitMix64(seed 0) = %#x, want %#x", got, want)
		}
	}
}

// A Waiter marks its wait done and wakes once it has elapsed, is reusable,
// and never wakes after Stop.
func TestWaiter(t *testing.T) {
	t.Parallel()
	woken := make(chan struct{}, 4)
	w := NewWaiter(func() { woken <- struct{}{} })
	for range 2 {
		w.Start(time.Millisecond)
		if w.Done() {
			t.Fatal("done at once")
		}
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatal("never woke")
		}
		if !w.Done() {
			t.Fatal("woke before done")
		}
	}
	w.Start(20 * time.Millisecond)
	w.Stop()
	select {
	case <-woken:
		t.Fatal("woke after Stop")
	case <-time.After(60 * time.Millisecond):
	}
}
