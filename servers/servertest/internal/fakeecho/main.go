// Command fakeecho is a small goroutine-per-connection echo server that honours
// the echobench server contract. It exists only to test the conformance suite
// in servers/servertest: with --fault it breaks one rule of the contract on
// purpose, so the suite can prove it notices.
//
// It is not a benchmarked model; the real models live in servers/*.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Faults, one per contract rule the suite checks. Each is named for what the
// server does wrong.
const (
	faultNone         = ""
	faultCorrupt      = "corrupt"         // flips one bit in every 4096th byte echoed
	faultHoldLastByte = "hold-last-byte"  // never echoes the last byte before the client's half-close
	faultUnbounded    = "unbounded"       // keeps reading into an unbounded queue: no backpressure
	faultLeakOnError  = "leak-on-error"   // never closes a connection that failed with an error
	faultExit1        = "sigterm-exit-1"  // exits 1 on SIGTERM
	faultOrphanChild  = "orphan-child"    // starts a child that ignores SIGTERM and outlives it
	faultSetsidChild  = "setsid-child"    // starts a child in its own session, out of reach of a group signal
	faultNoListening  = "no-listening"    // never prints the LISTENING line
	faultBindAll      = "bind-all"        // binds every interface while announcing 127.0.0.1
	faultExtraStdout  = "extra-stdout"    // writes a log line on stdout after LISTENING
	faultSlowExit     = "slow-exit"       // takes 4 s to exit after SIGTERM
	faultNoEOF        = "no-close-on-eof" // keeps the connection open after the client's half-close
	faultLeakMemory   = "leak-memory"     // keeps 4 KiB of every connection for good
)

func main() {
	os.Exit(run(os.Stdout, os.Stderr, os.Args[1:]))
}

func run(stdout, stderr io.Writer, args []string) int {
	fs := flag.NewFlagSet("fakeecho", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "TCP `address` to listen on")
	fs.Int("loops", 1, "ignored: one goroutine per connection")
	fs.Int("max-pending", 4<<20, "ignored: a blocking write already bounds unsent output to one read buffer")
	fault := fs.String("fault", faultNone, "contract rule to break on purpose (for testing the suite)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := serve(stdout, stderr, *addr, *fault); err != nil {
		fmt.Fprintln(stderr, "fakeecho:", err)
		return 1
	}
	if *fault == faultExit1 {
		return 1
	}
	return 0
}

type server struct {
	fault string
	log   io.Writer

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	leaked []net.Conn // faultLeakOnError keeps these open for good
	kept   [][]byte   // faultLeakMemory keeps these for good
	wg     sync.WaitGroup
}

func serve(stdout, stderr io.Writer, addr, fault string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	listenAddr := addr
	if fault == faultBindAll {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("parse --addr %q: %w", addr, err)
		}
		listenAddr = net.JoinHostPort("0.0.0.0", port)
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listenAddr, err)
	}
	switch fault {
	case faultOrphanChild:
		// An ignored signal stays ignored across exec, so sleep ignores it too.
		child := exec.Command("sh", "-c", `trap "" TERM; sleep 30`)
		if err := child.Start(); err != nil {
			return fmt.Errorf("start child: %w", err)
		}
	case faultSetsidChild:
		child := exec.Command("sleep", "30")
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := child.Start(); err != nil {
			return fmt.Errorf("start child: %w", err)
		}
	}
	announced := ln.Addr().(*net.TCPAddr)
	if fault == faultBindAll {
		announced = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: announced.Port}
	}
	if fault != faultNoListening {
		if _, err := fmt.Fprintf(stdout, "LISTENING %s\n", announced); err != nil {
			return fmt.Errorf("announce address: %w", err)
		}
	}
	if fault == faultExtraStdout {
		fmt.Fprintln(stdout, "fakeecho: a log line on the wrong stream")
	}
	fmt.Fprintf(stderr, "fakeecho: listening on %s (fault %q)\n", ln.Addr(), fault)

	s := &server{fault: fault, log: stderr, conns: map[net.Conn]struct{}{}}
	acceptDone := make(chan error, 1)
	go func() { acceptDone <- s.acceptLoop(ln) }()

	select {
	case <-sigs:
	case err := <-acceptDone:
		return fmt.Errorf("accept: %w", err)
	}
	if fault == faultSlowExit {
		time.Sleep(4 * time.Second)
	}
	ln.Close()
	<-acceptDone
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *server) acceptLoop(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handle(c.(*net.TCPConn))
	}
}

func (s *server) handle(c *net.TCPConn) {
	defer s.wg.Done()
	var err error
	switch s.fault {
	case faultUnbounded:
		err = echoUnbounded(c)
	default:
		err = s.echo(c)
	}
	s.mu.Lock()
	delete(s.conns, c)
	if s.fault == faultLeakMemory {
		b := make([]byte, 4<<10)
		for i := range b {
			b[i] = byte(i) // touched, so it is resident
		}
		s.kept = append(s.kept, b)
	}
	if err != nil && s.fault == faultLeakOnError {
		s.leaked = append(s.leaked, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if err == nil && s.fault == faultNoEOF {
		return // the connection stays open until the process exits
	}
	c.Close()
}

// echo copies input to output through one buffer. The blocking write is the
// backpressure: while the client does not read, this goroutine does not read.
func (s *server) echo(c *net.TCPConn) error {
	buf := make([]byte, 32<<10)
	held := 0 // faultHoldLastByte: one byte kept back at buf[0]
	var total int64
	for {
		n, err := c.Read(buf[held:])
		if n > 0 {
			avail := held + n
			out := avail
			if s.fault == faultHoldLastByte {
				out = avail - 1
			}
			if s.fault == faultCorrupt {
				for i := 0; i < out; i++ {
					if (total+int64(i))%4096 == 4095 {
						buf[i] ^= 1
					}
				}
			}
			if _, werr := c.Write(buf[:out]); werr != nil {
				return werr
			}
			total += int64(out)
			if s.fault == faultHoldLastByte {
				buf[0] = buf[avail-1]
				held = 1
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// echoUnbounded is the faultUnbounded echo: a reader that never waits for
// the writer, so a client that does not read makes the server grow.
func echoUnbounded(c *net.TCPConn) error {
	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		queue  [][]byte
		closed bool
	)
	writeErr := make(chan error, 1)
	go func() {
		for {
			mu.Lock()
			for len(queue) == 0 && !closed {
				cond.Wait()
			}
			if len(queue) == 0 {
				mu.Unlock()
				writeErr <- nil
				return
			}
			b := queue[0]
			queue = queue[1:]
			mu.Unlock()
			if _, err := c.Write(b); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	var readErr error
	for {
		b := make([]byte, 64<<10)
		n, err := c.Read(b)
		if n > 0 {
			mu.Lock()
			queue = append(queue, b[:n])
			cond.Signal()
			mu.Unlock()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	mu.Lock()
	closed = true
	cond.Signal()
	mu.Unlock()
	if err := <-writeErr; err != nil {
		return err
	}
	return readErr
}
