//go:build linux && (amd64 || arm64)

package iouring

import (
	"fmt"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// listenAll binds n listeners to addr (SO_REUSEPORT when n > 1, so each
// loop accepts for itself; the first one picks the port when addr has port
// 0) and returns their fds and the bound address.
func listenAll(addr string, n int) ([]int, net.Addr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("iouring: resolve %q: %w", addr, err)
	}
	var fds []int
	var bound *net.TCPAddr
	for i := 0; i < n; i++ {
		target := ta
		if bound != nil {
			target = bound
		}
		fd, got, err := listen(target, n > 1)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, nil, err
		}
		fds = append(fds, fd)
		if bound == nil {
			bound = got
		}
	}
	return fds, bound, nil
}

// listen is the epoll model's, but the socket stays blocking: io_uring
// tries each operation without waiting and polls when it cannot complete,
// whereas an O_NONBLOCK socket's accepts would come back as EAGAIN.
func listen(ta *net.TCPAddr, reusePort bool) (int, *net.TCPAddr, error) {
	family, sa := sockaddr(ta)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, nil, fmt.Errorf("iouring: socket: %w", err)
	}
	fail := func(what string, err error) (int, *net.TCPAddr, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("iouring: %s %s: %w", what, ta, err)
	}
	// SO_REUSEADDR as Go's net does, so a restarted server can rebind the
	// port while old connections sit in TIME_WAIT.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return fail("listen", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	switch g := got.(type) {
	case *unix.SockaddrInet4:
		return fd, &net.TCPAddr{IP: net.IP(g.Addr[:]).To16(), Port: g.Port}, nil
	case *unix.SockaddrInet6:
		return fd, &net.TCPAddr{IP: net.IP(g.Addr[:]), Port: g.Port, Zone: ta.Zone}, nil
	}
	return fail("getsockname", fmt.Errorf("unexpected address type %T", got))
}

func sockaddr(ta *net.TCPAddr) (int, unix.Sockaddr) {
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s4 := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s4.Addr[:], ip4)
		}
		return unix.AF_INET, s4
	}
	s6 := &unix.SockaddrInet6{Port: ta.Port}
	copy(s6.Addr[:], ta.IP.To16())
	if ta.Zone != "" {
		if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
			s6.ZoneId = uint32(ifi.Index)
		} else if z, err := strconv.Atoi(ta.Zone); err == nil {
			s6.ZoneId = uint32(z)
		}
	}
	return unix.AF_INET6, s6
}
