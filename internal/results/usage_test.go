package results

import (
	"strings"
	"testing"
)

func TestReadServerUsage(t *testing.T) {
	t.Parallel()
	u, err := ReadServerUsage(strings.NewReader(`{"cpu_user_s":3,"cpu_sys_s":1,"peak_rss_bytes":1048576,"voluntary_ctxsw":5,"involuntary_ctxsw":1,"wall_s":8}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := u.Stats(4000)
	if s.CPUUtil != 0.5 || s.MsgsPerCPUSecond != 1000 || s.PeakRSSBytes != 1<<20 || s.VolCtxSw != 5 {
		t.Errorf("stats %+v: want util 4 CPU-s / 8 s, 4000 msgs / 4 CPU-s", s)
	}
	for _, tt := range []struct{ in, want string }{
		{`{"cpu_user_s":-1,"wall_s":1}`, "cpu_user_s -1"},
		{`{"cpu_user_s":1}`, "wall_s 0"},
		{`{"peak_rss_bytes":1e300,"wall_s":1}`, "peak_rss_bytes"},
		{`not json`, "not a usage line"},
		{strings.Repeat(" ", maxUsageBytes+1), "longer than"},
	} {
		if _, err := ReadServerUsage(strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.30q: %v, want %q", tt.in, err, tt.want)
		}
	}
}
