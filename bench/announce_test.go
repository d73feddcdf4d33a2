package bench

import (
	"net"
	"strings"
	"testing"

	"echobench/bench/proc"
)

func TestAnnouncedOwnListener(t *testing.T) {
	t.Parallel()
	socks := []proc.Socket{{IP: net.ParseIP("127.0.0.1"), Port: 4000}, {IP: net.ParseIP("::1"), Port: 4001}}
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:4000", true},
		{"localhost:4000", true},
		{"[::1]:4001", true},
		{"127.0.0.1:4001", false}, // the right port on the wrong family
		{"127.0.0.1:5000", false}, // another process's port
		{"127.0.0.2:4000", false},
		{"127.0.0.1", false},
	} {
		err := announcedOwnListener(tt.addr, socks)
		if (err == nil) != tt.ok {
			t.Errorf("announcedOwnListener(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
		if err != nil && !tt.ok && strings.Contains(tt.addr, ":5000") && !strings.Contains(err.Error(), "127.0.0.1:4000") {
			t.Errorf("the error %q does not list the server's own sockets", err)
		}
	}
}
