package servertest

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseListening(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want, wantErr string
	}{
		{"LISTENING 127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"LISTENING [::1]:9", "[::1]:9", ""},
		{"LISTENING 127.0.0.1:0", "", "not 1-65535"},
		{"LISTENING 127.0.0.1", "", "missing port"},
		{"LISTENING :80", "", "empty host"},
		{"listening 127.0.0.1:80", "", "want \"LISTENING host:port\""},
		{"gnet: engine started", "", "logs belong on stderr"},
	}
	for _, tc := range tests {
		got, err := parseListening(tc.line)
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("parseListening(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseListening(%q) error %v, want one containing %q", tc.line, err, tc.wantErr)
		}
	}
}

func TestParseStatusKiB(t *testing.T) {
	t.Parallel()
	const status = "Name:\tfakeecho\nVmHWM:\t    5000 kB\nVmRSS:\t    4712 kB\nThreads:\t5\nBad:\t12 pages\n"
	tests := []struct {
		field   string
		want    int64
		wantErr string
	}{
		{"VmRSS", 4712, ""},
		{"VmHWM", 5000, ""},
		{"VmSwap", 0, "no VmSwap field"},
		{"Threads", 0, `want "N kB"`},
		{"Bad", 0, `want "N kB"`},
	}
	for _, tc := range tests {
		got, err := parseStatusKiB(strings.NewReader(status), tc.field)
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s = %d, %v; want %d", tc.field, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.field, err, tc.wantErr)
		}
	}
}

func TestStatusOfSelf(t *testing.T) {
	t.Parallel()
	rss, err := statusKiB(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS of this process = %d, %v", rss, err)
	}
	n, err := fdCount(os.Getpid())
	if err != nil || n < 3 {
		t.Fatalf("fd count of this process = %d, %v; want at least stdin, stdout, stderr", n, err)
	}
}

func TestParseListeners(t *testing.T) {
	t.Parallel()
	// Lines in the format of /proc/net/tcp and /proc/net/tcp6 (kernel 6.x),
	// trimmed after the inode.
	const tcp4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1002
   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 1003
   3: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1004
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2001
   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2002
   2: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2003
`
	tests := []struct {
		name  string
		table string
		port  int
		want  []string
	}{
		{"ipv4 loopback and any, not the connection", tcp4, 8080, []string{"127.0.0.1", "0.0.0.0"}},
		{"other port", tcp4, 8081, []string{"127.0.0.1"}},
		{"no listener", tcp4, 9, nil},
		{"ipv6 loopback, mapped loopback, any", tcp6, 8080, []string{"::1", "127.0.0.1", "::"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addrs, err := parseListeners(strings.NewReader(tc.table), tc.port)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("listeners on %d = %v, want %v", tc.port, got, tc.want)
			}
		})
	}
	if _, err := parseListeners(strings.NewReader("hdr\n 0: 0100007:1F90 0 0A\n"), 8080); err == nil {
		t.Error("a 7-digit address parsed without error")
	}
	if a, _ := parseProcAddr("0100007F"); a != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("0100007F = %v, want 127.0.0.1", a)
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	rest := " S 41 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000000 200 18446744073709551615"
	tests := []struct {
		line    string
		want    procStat
		wantErr bool
	}{
		{"43 (sleep)" + rest, procStat{comm: "sleep", state: 'S', ppid: 41, start: 98765}, false},
		{"43 (a) b (c))" + rest, procStat{comm: "a) b (c)", state: 'S', ppid: 41, start: 98765}, false},
		{"43 sleep S 41", procStat{}, true},
		{"43 (sleep) S 41 42", procStat{}, true},
	}
	for _, tc := range tests {
		got, err := parseProcStat(tc.line)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseProcStat(%q) = %+v, %v; want %+v, error %v", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
	self, err := readProcStat(os.Getpid())
	if err != nil || self.ppid != os.Getppid() {
		t.Errorf("stat of this process: %+v, %v; want ppid %d", self, err, os.Getppid())
	}
}

func TestCompareEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		want, got string
		wantErr   string
	}{
		{"equal", "abcdef", "abcdef", ""},
		{"empty", "", "", ""},
		{"short", "abcdef", "abc", "echo length 3, want 6"},
		{"long", "abc", "abcd", "echo length 4, want 3"},
		{"differs", "abcdef", "abXdef", "differs at byte 2 of 6"},
	}
	for _, tc := range tests {
		err := compareEcho([]byte(tc.want), []byte(tc.got))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk"} {
		b.Write([]byte(s))
	}
	if got := string(b.Bytes()); got != "defghijk" {
		t.Fatalf("tail = %q, want the last 8 bytes %q", got, "defghijk")
	}
}
