package proc

import (
	"strings"
	"testing"
)

const sampleStat = `cpu  300 10 200 5000 20 0 7 5 0 0
cpu0 100 5 50 2500 10 0 3 2 40 0
cpu1 200 5 150 2500 10 0 4 3 0 0
intr 12345
ctxt 999
`

func TestParseCPUStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cpus []int
		want CPUTimes
		err  string
	}{
		{"one cpu", []int{0}, CPUTimes{Tasks: 155, Steal: 2, Total: 100 + 5 + 50 + 2500 + 10 + 0 + 3 + 2}, ""},
		{"both cpus", []int{0, 1}, CPUTimes{Tasks: 155 + 355, Steal: 5, Total: 2670 + 2872}, ""},
		{"missing cpu", []int{0, 7}, CPUTimes{}, "no line for CPUs [7]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCPUStat([]byte(sampleStat), tt.cpus)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := ParseCPUStat([]byte("cpu0 1 2 x 4 5 6 7 8\n"), []int{0}); err == nil {
		t.Error("a malformed column parsed")
	}
}

func TestCPUTimesSub(t *testing.T) {
	t.Parallel()
	a := CPUTimes{Tasks: 10, Steal: 1, Total: 100}
	b := CPUTimes{Tasks: 4, Steal: 2, Total: 40}
	if got, want := a.Sub(b), (CPUTimes{Tasks: 6, Steal: 0, Total: 60}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestReadCPUStatLive(t *testing.T) {
	t.Parallel()
	got, err := ReadCPUStat([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total == 0 || got.Tasks > got.Total {
		t.Fatalf("implausible cpu0 times %+v", got)
	}
}
