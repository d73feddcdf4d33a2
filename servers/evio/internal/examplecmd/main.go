// Command examplecmd is a minimal evio echo server written the way evio's
// own echo example is (Data returns its input, evio's defaults otherwise: no
// ReuseInputBuffer, no TCP_NODELAY). It is a yardstick: the evio model must
// not fall behind it under the same client.
//
//	examplecmd [--addr 127.0.0.1:0] [--loops 1]
//
// It prints "LISTENING host:port" on stdout once bound; logs go to stderr.
// SIGTERM or SIGINT ends it with status 0 (evio cannot be stopped from
// outside a callback, so it exits and lets the kernel close the sockets).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/tidwall/evio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "TCP `address` to listen on")
	loops := flag.Int("loops", 1, "number of event loops")
	flag.Parse()
	log.SetOutput(os.Stderr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		os.Exit(0)
	}()

	var events evio.Events
	events.NumLoops = *loops
	events.Serving = func(srv evio.Server) evio.Action {
		fmt.Printf("LISTENING %s\n", srv.Addrs[0])
		return evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		return in, evio.None
	}
	if err := evio.Serve(events, "tcp://"+*addr); err != nil {
		log.Fatal(err)
	}
}
