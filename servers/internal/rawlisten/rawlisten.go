// Package rawlisten binds the listening sockets of the models that drive
// raw file descriptors (epoll, iouring): one per loop, SO_REUSEPORT when
// there are several, so each loop accepts for itself. It is one copy of the
// socket, setsockopt, bind, listen and getsockname sequence, so a fix to
// binding is made once.
package rawlisten

import (
	"fmt"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// Backlog is asked of listen(2); the kernel caps it at net.core.somaxconn.
const Backlog = 65535

// All binds n listeners to addr; the first picks the port when addr has
// port 0 and the others join it. nonblock makes the sockets O_NONBLOCK (an
// epoll loop's accepts must not block; io_uring wants blocking sockets and
// polls them itself). model names the caller in errors. On error nothing
// stays open.
func All(model, addr string, n int, nonblock bool) ([]int, net.Addr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: resolve %q: %w", model, addr, err)
	}
	var fds []int
	var bound *net.TCPAddr
	for i := 0; i < n; i++ {
		target := ta
		if bound != nil {
			target = bound
		}
		fd, got, err := one(model, target, n > 1, nonblock)
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

func one(model string, ta *net.TCPAddr, reusePort, nonblock bool) (int, *net.TCPAddr, error) {
	family, sa := Sockaddr(ta)
	typ := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, typ, unix.IPPROTO_TCP)
	if err != nil {
		return -1, nil, fmt.Errorf("%s: socket: %w", model, err)
	}
	fail := func(what string, err error) (int, *net.TCPAddr, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("%s: %s %s: %w", model, what, ta, err)
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
	if err := unix.Listen(fd, Backlog); err != nil {
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

// Sockaddr is ta as the kernel takes it, with its address family; a nil IP
// is IPv4's any address.
func Sockaddr(ta *net.TCPAddr) (int, unix.Sockaddr) {
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
