package servertest

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// fdCount is the number of open file descriptors of process pid.
func fdCount(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("count fds of pid %d: %w", pid, err)
	}
	return len(ents), nil
}

// fdTargets lists what the open fds of pid point at, for failure messages.
func fdTargets(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			target = err.Error()
		}
		out = append(out, e.Name()+"->"+target)
	}
	return out
}

// statusKiB reads one "Name:   123 kB" field of /proc/PID/status, in KiB.
func statusKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	defer f.Close()
	v, err := parseStatusKiB(f, field)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return v, nil
}

func parseStatusKiB(r io.Reader, field string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok {
			return 0, fmt.Errorf("status field %s = %q: want \"N kB\"", field, rest)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status field %s = %q: %w", field, rest, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scan status: %w", err)
	}
	return 0, fmt.Errorf("status has no %s field", field)
}

// listeningAddrs returns the local addresses of the TCP sockets in LISTEN
// state on port, as seen from pid's network namespace.
func listeningAddrs(pid, port int) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if os.IsNotExist(err) && table == "tcp6" {
			continue // IPv6 disabled
		}
		if err != nil {
			return nil, fmt.Errorf("read TCP table of pid %d: %w", pid, err)
		}
		got, err := parseListeners(f, port)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/net/%s: %w", pid, table, err)
		}
		addrs = append(addrs, got...)
	}
	return addrs, nil
}

// tcpListen is the LISTEN state in /proc/net/tcp (include/net/tcp_states.h).
const tcpListen = "0A"

// parseListeners parses a /proc/net/tcp or tcp6 table. Addresses there are
// hex words in host byte order (little-endian here): 127.0.0.1 is 0100007F.
func parseListeners(r io.Reader, port int) ([]netip.Addr, error) {
	var out []netip.Addr
	sc := bufio.NewScanner(r)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			return nil, fmt.Errorf("short line %q", sc.Text())
		}
		if fields[3] != tcpListen {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			return nil, fmt.Errorf("local address %q has no port", fields[1])
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("local port %q: %w", hexPort, err)
		}
		if int(p) != port {
			continue
		}
		addr, err := parseProcAddr(hexAddr)
		if err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return out, nil
}

func parseProcAddr(s string) (netip.Addr, error) {
	raw, err := hex.DecodeString(s)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, fmt.Errorf("address %q: want 8 or 32 hex digits", s)
	}
	// Each 32-bit word was printed as a number; undo the host byte order.
	var b [16]byte
	for i := 0; i < len(raw); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	if len(raw) == 4 {
		return netip.AddrFrom4([4]byte(b[:4])), nil
	}
	return netip.AddrFrom16(b).Unmap(), nil
}

// procID names a process across pid reuse: its pid and its start time in
// clock ticks since boot.
type procID struct {
	pid   int
	start uint64
	comm  string
}

func (p procID) String() string { return fmt.Sprintf("%d (%s)", p.pid, p.comm) }

// procStat is the part of /proc/PID/stat the suite needs.
type procStat struct {
	comm  string
	state byte
	ppid  int
	start uint64
}

// parseProcStat parses /proc/PID/stat. The command name is in parentheses
// and may itself contain spaces and parentheses, so fields are counted from
// the last ')'.
func parseProcStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("stat %q: no (comm)", s)
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("stat %q: too few fields", s)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat ppid %q: %w", f[1], err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat starttime %q: %w", f[19], err)
	}
	return procStat{comm: s[open+1 : end], state: f[0][0], ppid: ppid, start: start}, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// descendants lists the live descendants of pid. A child that moved to its
// own process group or session escapes a group signal; this finds it anyway,
// as long as it is taken while the parent lives.
func descendants(pid int) []procID {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	stats := map[int]procStat{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(p)
		if err != nil {
			continue // exited meanwhile
		}
		stats[p] = st
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []procID
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			st := stats[c]
			out = append(out, procID{pid: c, start: st.start, comm: st.comm})
			queue = append(queue, c)
		}
	}
	return out
}

// alive reports whether the process still runs (a zombie does not count:
// it has exited and only waits for its parent).
func (p procID) alive() bool {
	st, err := readProcStat(p.pid)
	return err == nil && st.start == p.start && st.state != 'Z'
}
