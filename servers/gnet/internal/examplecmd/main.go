// Command examplecmd is a minimal gnet echo server written the way gnet's
// own echo example is (OnTraffic: Next(-1), then Write; gnet's defaults
// otherwise). It is a yardstick: the gnet model must not fall behind it
// under the same client.
//
//	examplecmd [--addr 127.0.0.1:0] [--loops 1] [--reuseport]
//
// It prints "LISTENING host:port" on stdout once bound. The only departure
// from the example is the logger: gnet's default one writes to stdout, which
// must carry only the LISTENING line, so logs go to stderr; and SO_REUSEADDR
// is set so it can be restarted on the same port at once. SIGTERM or SIGINT
// stops the engine and exits with status 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

type echoServer struct {
	gnet.BuiltinEventEngine
}

func (es *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	fd, err := eng.Dup()
	if err != nil {
		log.Fatalf("dup listener: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	unix.Close(fd)
	if err != nil {
		log.Fatalf("getsockname: %v", err)
	}
	var addr net.TCPAddr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		addr = net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrInet6:
		addr = net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	fmt.Printf("LISTENING %s\n", &addr)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		eng.Stop(context.Background())
	}()
	return gnet.None
}

func (es *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "TCP `address` to listen on")
	loops := flag.Int("loops", 1, "number of event loops")
	reuseport := flag.Bool("reuseport", false, "SO_REUSEPORT (with --loops > 1, needs a fixed port)")
	flag.Parse()
	log.SetOutput(os.Stderr)
	err := gnet.Run(&echoServer{}, "tcp://"+*addr,
		gnet.WithNumEventLoop(*loops),
		gnet.WithReusePort(*reuseport),
		// SO_REUSEADDR, as Go's net and our models set it: without it a
		// rebind on the same port fails while old connections sit in
		// TIME_WAIT, which breaks back-to-back measurements.
		gnet.WithReuseAddr(true),
		gnet.WithLogger(stderrLogger{}))
	if err != nil {
		log.Fatal(err)
	}
}

// stderrLogger keeps gnet's logs off stdout.
type stderrLogger struct{}

func (stderrLogger) Debugf(string, ...any)             {}
func (stderrLogger) Infof(format string, args ...any)  { log.Printf(format, args...) }
func (stderrLogger) Warnf(format string, args ...any)  { log.Printf(format, args...) }
func (stderrLogger) Errorf(format string, args ...any) { log.Printf(format, args...) }
func (stderrLogger) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
