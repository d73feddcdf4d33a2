package proc

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := "4242 (we ird) (name)) S 1 4200 4200 0 -1 4194560 100 0 0 0 153 27 0 0 20 0 3 0 1000 1000000 200 18446744073709551615\n"
	s, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{PID: 4242, State: 'S', PPID: 1, PGRP: 4200, UTime: 153, STime: 27}
	if s != want {
		t.Fatalf("ParseStat = %+v, want %+v", s, want)
	}
	for _, bad := range []string{"", "12 no name", "x (a) S 1", "1 (a) S 1 2"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	in := "Name:\techo\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\nCpus_allowed_list:\t0\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n"
	s, err := ParseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{VmRSS: 1 << 20, VmHWM: 2 << 20, Threads: 5, VolCtxSw: 12, InvolCtxSw: 3, CPUsAllowed: "0"}
	if s != want {
		t.Fatalf("ParseStatus = %+v, want %+v", s, want)
	}
	if _, err := ParseStatus([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Error("accepted a unit other than kB")
	}
}

func TestParseNetTCP(t *testing.T) {
	t.Parallel()
	v4 := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0
`
	socks, err := ParseNetTCP([]byte(v4), "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 3 {
		t.Fatalf("got %d sockets", len(socks))
	}
	if !socks[0].IP.Equal(net.IPv4(127, 0, 0, 1)) || socks[0].Port != 8080 || socks[0].State != StateListen || socks[0].Inode != 111 {
		t.Errorf("socket 0 = %+v", socks[0])
	}
	if !socks[1].IP.Equal(net.IPv4zero) || IsLoopback(socks[1].IP) {
		t.Errorf("socket 1 = %+v", socks[1])
	}
	v6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0 100 0 0 10 0
   2: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 666 1 0 100 0 0 10 0
`
	socks, err = ParseNetTCP([]byte(v6), "tcp6")
	if err != nil {
		t.Fatal(err)
	}
	if !socks[0].IP.Equal(net.IPv6loopback) || !IsLoopback(socks[0].IP) {
		t.Errorf("::1 parsed as %v", socks[0].IP)
	}
	if !IsLoopback(socks[1].IP) {
		t.Errorf("::ffff:127.0.0.1 parsed as %v, not loopback", socks[1].IP)
	}
	if IsLoopback(socks[2].IP) {
		t.Errorf(":: counted as loopback")
	}
	if _, err := ParseNetTCP([]byte("h\n 0: zz:1 0:0 0A a b c d e 1\n"), "tcp"); err == nil {
		t.Error("accepted a bad address")
	}
}

func TestSelf(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != pid || st.PGRP != syscall.Getpgrp() {
		t.Errorf("stat = %+v", st)
	}
	s, err := ReadGroup([]int{pid, 1 << 30}, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Members != 1 || s.RSS <= 0 || s.HWM < s.RSS || s.Threads < 1 || s.VolCtxSw+s.InvolCtxSw <= 0 {
		t.Errorf("sample = %+v", s)
	}
	members, err := GroupMembers(syscall.Getpgrp())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range members {
		found = found || m == pid
	}
	if !found {
		t.Errorf("GroupMembers(%d) = %v, lacks %d", syscall.Getpgrp(), members, pid)
	}
	if !Alive(pid) || Alive(1<<30) {
		t.Error("Alive is wrong")
	}
}

// TestListeners opens listeners in this process and checks they are found
// and classified; binding 0.0.0.0 sends no traffic.
func TestListeners(t *testing.T) {
	// Not parallel: it inspects every socket of this process.
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	pid := []int{os.Getpid()}
	socks, err := CheckLoopbackOnly(pid)
	if err != nil {
		t.Fatalf("loopback listener rejected: %v", err)
	}
	port := lo.Addr().(*net.TCPAddr).Port
	found := false
	for _, s := range socks {
		found = found || s.Port == port
	}
	if !found {
		t.Fatalf("listener on port %d not found in %+v", port, socks)
	}

	any, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer any.Close()
	_, err = CheckLoopbackOnly(pid)
	if err == nil || !strings.Contains(err.Error(), "beyond loopback") {
		t.Fatalf("wildcard listener accepted: %v", err)
	}
}
