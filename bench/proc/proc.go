// Package proc reads what the orchestrator needs from Linux /proc: a server
// process group's CPU time, memory, threads and context switches, its CPU
// affinity, and the addresses its listening sockets are bound to.
//
// Everything is read from text files; a process that exits between listing
// and reading is skipped, not an error, because process groups change.
package proc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const ClockTicks = 100

// Root is the proc file system's mount point.
const Root = "/proc"

// Stat is the part of /proc/PID/stat the orchestrator uses.
type Stat struct {
	PID   int
	State byte
	PPID  int
	PGRP  int
	// UTime and STime are CPU times in clock ticks (ClockTicks per second),
	// summed over every thread of the process.
	UTime, STime uint64
}

// ParseStat decodes one /proc/PID/stat line. The command name may hold
// spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(b []byte) (Stat, error) {
	var s Stat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return s, errors.New("stat: no command name")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, fmt.Errorf("stat: pid: %w", err)
	}
	s.PID = pid
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return s, fmt.Errorf("stat: %d fields after the name, want at least 13", len(f))
	}
	s.State = f[0][0]
	if s.PPID, err = strconv.Atoi(f[1]); err != nil {
		return s, fmt.Errorf("stat: ppid: %w", err)
	}
	if s.PGRP, err = strconv.Atoi(f[2]); err != nil {
		return s, fmt.Errorf("stat: pgrp: %w", err)
	}
	if s.UTime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return s, fmt.Errorf("stat: utime: %w", err)
	}
	if s.STime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return s, fmt.Errorf("stat: stime: %w", err)
	}
	return s, nil
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// Status is the part of /proc/PID/status the orchestrator uses.
type Status struct {
	VmRSS, VmHWM int64 // bytes
	Threads      int
	// VolCtxSw and InvolCtxSw are the counts of the task the file belongs
	// to: for /proc/PID/status that is the main thread only. Use
	// CtxSwitches for the whole process.
	VolCtxSw, InvolCtxSw int64
	CPUsAllowed          string // Cpus_allowed_list, e.g. "0-1"
}

// ParseStatus decodes /proc/PID/status.
func ParseStatus(b []byte) (Status, error) {
	var s Status
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "VmRSS":
			s.VmRSS, err = parseKB(val)
		case "VmHWM":
			s.VmHWM, err = parseKB(val)
		case "Threads":
			s.Threads, err = strconv.Atoi(val)
		case "voluntary_ctxt_switches":
			s.VolCtxSw, err = strconv.ParseInt(val, 10, 64)
		case "nonvoluntary_ctxt_switches":
			s.InvolCtxSw, err = strconv.ParseInt(val, 10, 64)
		case "Cpus_allowed_list":
			s.CPUsAllowed = val
		}
		if err != nil {
			return s, fmt.Errorf("status: %s: %w", key, err)
		}
	}
	return s, sc.Err()
}

func parseKB(v string) (int64, error) {
	num, unit, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(unit) != "kB" {
		return 0, fmt.Errorf("unit %q, want kB", unit)
	}
	return n << 10, nil
}

// ReadStatus reads /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	b, err := os.ReadFile(filepath.Join(Root, strconv.Itoa(pid), "status"))
	if err != nil {
		return Status{}, err
	}
	return ParseStatus(b)
}

// CtxSwitches sums voluntary and involuntary context switches over every
// live thread of pid. Threads that already exited are not counted.
func CtxSwitches(pid int) (vol, invol int64, err error) {
	dir := filepath.Join(Root, strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		st, err := ParseStatus(b)
		if err != nil {
			return 0, 0, fmt.Errorf("task %s: %w", e.Name(), err)
		}
		vol += st.VolCtxSw
		invol += st.InvolCtxSw
	}
	return vol, invol, nil
}

// GroupMembers lists the live processes whose process group is pgid,
// including the leader. Zombies are left out: they hold no resources.
func GroupMembers(pgid int) ([]int, error) {
	ents, err := os.ReadDir(Root)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil {
			continue
		}
		if st.PGRP == pgid && st.State != 'Z' {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != 'Z'
}

// Sample is one reading of a process group, summed over its members.
type Sample struct {
	Members    int
	UTicks     uint64 // user CPU, clock ticks
	STicks     uint64 // system CPU, clock ticks
	RSS        int64  // bytes
	HWM        int64  // peak RSS, bytes (sum of each member's peak)
	Threads    int
	VolCtxSw   int64 // only when ReadGroup is asked for them
	InvolCtxSw int64
}

// ReadGroup samples every member of pids. With ctxsw it also sums context
// switches over all threads, which costs one file per thread.
func ReadGroup(pids []int, ctxsw bool) (Sample, error) {
	var s Sample
	for _, pid := range pids {
		st, err := ReadStat(pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return s, err
		}
		status, err := ReadStatus(pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return s, err
		}
		s.Members++
		s.UTicks += st.UTime
		s.STicks += st.STime
		s.RSS += status.VmRSS
		s.HWM += status.VmHWM
		s.Threads += status.Threads
		if ctxsw {
			v, iv, err := CtxSwitches(pid)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return s, err
			}
			s.VolCtxSw += v
			s.InvolCtxSw += iv
		}
	}
	return s, nil
}

// Socket is one line of /proc/net/tcp or tcp6.
type Socket struct {
	IP     net.IP
	Port   int
	State  int // 0x0A is LISTEN
	Inode  uint64
	Family string // "tcp" or "tcp6"
}

// StateListen is the TCP_LISTEN state in /proc/net/tcp.
const StateListen = 0x0A

// ParseNetTCP decodes /proc/net/tcp or /proc/net/tcp6.
func ParseNetTCP(b []byte, family string) ([]Socket, error) {
	var out []Socket
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		ip, port, err := parseHexAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s: local address %q: %w", family, f[1], err)
		}
		state, err := strconv.ParseInt(f[3], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: state %q: %w", family, f[3], err)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: inode %q: %w", family, f[9], err)
		}
		out = append(out, Socket{IP: ip, Port: port, State: int(state), Inode: inode, Family: family})
	}
	return out, sc.Err()
}

// parseHexAddr decodes "0100007F:1F90": the address is in the kernel's
// byte order, each 32-bit word little-endian on the machines we run.
func parseHexAddr(s string) (net.IP, int, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, errors.New("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, err
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address %q", h)
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	return ip, int(port), nil
}

// SocketInodes returns the inodes of the sockets pid has open.
func SocketInodes(pid int) (map[uint64]bool, error) {
	dir := filepath.Join(Root, strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if rest, ok := strings.CutPrefix(target, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out, nil
}

// Listeners returns the listening TCP sockets (IPv4 and IPv6) that belong to
// the processes pids. Each process's sockets are looked up in its own
// network namespace (/proc/PID/net/tcp, not /proc/net/tcp, which is this
// process's): a server started in another namespace listens there.
func Listeners(pids []int) ([]Socket, error) {
	inodes := map[uint64]bool{}
	for _, pid := range pids {
		in, err := SocketInodes(pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("sockets of %d: %w", pid, err)
		}
		for k := range in {
			inodes[k] = true
		}
	}
	var out []Socket
	seen := map[string]bool{} // network namespaces already read
	for _, pid := range pids {
		dir := filepath.Join(Root, strconv.Itoa(pid))
		ns, err := os.Readlink(filepath.Join(dir, "ns", "net"))
		if err == nil && seen[ns] {
			continue
		}
		socks, err := listening(filepath.Join(dir, "net"), inodes)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the process exited
		}
		if err != nil {
			return nil, err
		}
		seen[ns] = true
		out = append(out, socks...)
	}
	return out, nil
}

// listening returns the listening sockets in netDir's tcp and tcp6 tables
// whose inodes are in inodes.
func listening(netDir string, inodes map[uint64]bool) ([]Socket, error) {
	var out []Socket
	for _, fam := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(netDir, fam))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && fam == "tcp6" {
				continue // no IPv6 in this kernel
			}
			return nil, err
		}
		socks, err := ParseNetTCP(b, fam)
		if err != nil {
			return nil, err
		}
		for _, s := range socks {
			if s.State == StateListen && inodes[s.Inode] {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// IsLoopback reports whether ip is loopback, counting IPv4-mapped IPv6.
func IsLoopback(ip net.IP) bool {
	if v4 := ip.To4(); v4 != nil {
		return v4.IsLoopback()
	}
	return ip.IsLoopback()
}

// CheckLoopbackOnly returns an error naming every listening socket of pids
// that is bound beyond loopback (0.0.0.0, ::, or a real interface), and an
// error if pids listen on nothing at all.
func CheckLoopbackOnly(pids []int) ([]Socket, error) {
	return CheckListeners(pids, IsLoopback, "loopback", "127.0.0.1 or ::1 only")
}

// CheckListeners returns an error naming every listening socket of pids
// whose address allowed refuses, and an error if pids listen on nothing at
// all. The error says the server listens beyond scope and must bind want.
func CheckListeners(pids []int, allowed func(net.IP) bool, scope, want string) ([]Socket, error) {
	socks, err := Listeners(pids)
	if err != nil {
		return nil, err
	}
	if len(socks) == 0 {
		return nil, errors.New("the server has no listening TCP socket")
	}
	var bad []string
	for _, s := range socks {
		if !allowed(s.IP) {
			bad = append(bad, net.JoinHostPort(s.IP.String(), strconv.Itoa(s.Port)))
		}
	}
	if len(bad) > 0 {
		return socks, fmt.Errorf("the server listens beyond %s on %s; it must bind %s", scope, strings.Join(bad, ", "), want)
	}
	return socks, nil
}
