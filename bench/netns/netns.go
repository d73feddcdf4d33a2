// Package netns builds, for one run, a network path that is not loopback:
// a server namespace and one namespace per load generator, each generator
// joined to the server by its own veth pair, with addresses from
// 10.223.0.0/16 that exist only inside these namespaces. Packets between
// load and server then cross a real device and the whole IP path (routing,
// neighbour lookup, the veth's queue), as they would between hosts, while
// nothing of the host's own network changes.
//
// Everything is done by iproute2 commands (`ip`, `tc`) run through a Runner,
// so the exact command lines are unit-tested without root. The state file
// is written before anything is created and names everything that will be,
// so a killed run can be cleaned up later (Remove) without ever touching a
// namespace this package did not record.
//
// Layout, with T a random token per run (six hex digits):
//
//	ebn-T-s   server namespace: lo up, 10.223.0.1/32 on lo (the server's address)
//	ebn-T-gI  generator I: lo up, veth ebnTgI 10.223.(I+1).2/24,
//	          route to 10.223.0.1 via 10.223.(I+1).1
//	          its peer ebnTsI (10.223.(I+1).1/24) is in the server namespace
//
// Each veth pair is created with both ends already in their namespaces,
// so no interface ever appears in the host's namespace, and deleting a
// namespace deletes its veth ends, their peers and their qdiscs with it.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
)

// Addresses. 10.223.0.0/16 is private (RFC 1918) and used only inside the
// namespaces of a run, never on a host interface.
const (
	// Subnet holds every address this package assigns.
	Subnet = "10.223.0.0/16"
	// ServerIP is the server's address, on lo of the server namespace: one
	// address reachable from every generator over its own veth.
	ServerIP = "10.223.0.1"
	// MaxGenerators is bounded by the third octet: link I uses
	// 10.223.(I+1).0/24.
	MaxGenerators = 254
	// NetemLimitPackets replaces netem's default queue of 1,000 packets,
	// which at 100k msgs/s and a 10 ms delay would be full and drop what
	// the loss setting did not ask for.
	NetemLimitPackets = 100000
	// MaxRTT bounds the emulated round trip: beyond it the load
	// generator's message timeouts would measure the emulation.
	MaxRTT = 10 * time.Second
)

// namePattern is every namespace name this package creates, and the only
// names Remove will delete: a state file edited by hand cannot make it
// delete another namespace.
var namePattern = regexp.MustCompile(`^ebn-[0-9a-f]{6}-(s|g[0-9]{1,3})$`)

// tokenPattern is a run's token: six lower-case hex digits.
var tokenPattern = regexp.MustCompile(`^[0-9a-f]{6}$`)

// ValidName reports whether name is a namespace name this package creates.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Options are the network of one run.
type Options struct {
	// Generators is the number of load generator namespaces (1..MaxGenerators).
	Generators int
	// RTT is added to the round trip by netem on the server's end of each
	// veth pair (egress toward the generator): on one side only, so the
	// configured RTT is the added round trip. Zero: no delay.
	RTT time.Duration
	// LossFraction of the packets the server sends are dropped by the same
	// netem qdisc. Zero: no loss.
	LossFraction float64
}

// Netem reports whether o needs the netem qdisc.
func (o Options) Netem() bool { return o.RTT > 0 || o.LossFraction > 0 }

// Validate refuses options no layout can have.
func (o Options) Validate() error {
	switch {
	case o.Generators < 1 || o.Generators > MaxGenerators:
		return fmt.Errorf("generators must be 1..%d, got %d", MaxGenerators, o.Generators)
	case o.RTT < 0 || o.RTT > MaxRTT:
		return fmt.Errorf("rtt must be in [0, %v], got %v", MaxRTT, o.RTT)
	case !(o.LossFraction >= 0 && o.LossFraction < 1): // NaN too
		return fmt.Errorf("loss must be a fraction in [0, 1), got %v", o.LossFraction)
	}
	return nil
}

// Generator is one load generator's namespace and its veth pair.
type Generator struct {
	// Namespace is where the load generator runs.
	Namespace string
	// Dev is the veth end in Namespace; IP its address with prefix.
	Dev, IP string
	// ServerDev is the peer in the server namespace; ServerSideIP its
	// address with prefix, the generator's gateway to ServerIP.
	ServerDev, ServerSideIP string
}

// Layout is every name and address of one run's network, derived from its
// token and options.
type Layout struct {
	Token   string
	Options Options
	// Server is the server namespace.
	Server     string
	Generators []Generator
}

// NewToken returns a random token: six hex digits. Run IDs are not unique
// enough (two result directories can hold runs started in the same
// second), and names must stay short (IFNAMSIZ is 16 with the NUL).
func NewToken() (string, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("netns: random token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// NewLayout names everything of a run's network.
func NewLayout(token string, o Options) (Layout, error) {
	if err := o.Validate(); err != nil {
		return Layout{}, err
	}
	if !tokenPattern.MatchString(token) {
		return Layout{}, fmt.Errorf("netns: token %q is not six hex digits", token)
	}
	l := Layout{Token: token, Options: o, Server: "ebn-" + token + "-s"}
	for i := range o.Generators {
		n := strconv.Itoa(i)
		l.Generators = append(l.Generators, Generator{
			Namespace:    "ebn-" + token + "-g" + n,
			Dev:          "ebn" + token + "g" + n,
			IP:           fmt.Sprintf("10.223.%d.2/24", i+1),
			ServerDev:    "ebn" + token + "s" + n,
			ServerSideIP: fmt.Sprintf("10.223.%d.1/24", i+1),
		})
	}
	return l, nil
}

// Namespaces lists every namespace of l, the server's first.
func (l Layout) Namespaces() []string {
	out := []string{l.Server}
	for _, g := range l.Generators {
		out = append(out, g.Namespace)
	}
	return out
}

// SetupCommands are the iproute2 commands that build l, in order.
func (l Layout) SetupCommands() [][]string {
	cmds := [][]string{
		{"ip", "netns", "add", l.Server},
		{"ip", "-n", l.Server, "link", "set", "lo", "up"},
		{"ip", "-n", l.Server, "addr", "add", ServerIP + "/32", "dev", "lo"},
	}
	for _, g := range l.Generators {
		gw := g.ServerSideIP[:len(g.ServerSideIP)-len("/24")]
		cmds = append(cmds,
			[]string{"ip", "netns", "add", g.Namespace},
			[]string{"ip", "-n", g.Namespace, "link", "set", "lo", "up"},
			// Both ends are born in their namespaces: nothing is ever
			// created in the host's.
			[]string{"ip", "link", "add", g.ServerDev, "netns", l.Server, "type", "veth", "peer", "name", g.Dev, "netns", g.Namespace},
			[]string{"ip", "-n", l.Server, "addr", "add", g.ServerSideIP, "dev", g.ServerDev},
			[]string{"ip", "-n", l.Server, "link", "set", g.ServerDev, "up"},
			[]string{"ip", "-n", g.Namespace, "addr", "add", g.IP, "dev", g.Dev},
			[]string{"ip", "-n", g.Namespace, "link", "set", g.Dev, "up"},
			[]string{"ip", "-n", g.Namespace, "route", "add", ServerIP + "/32", "via", gw, "dev", g.Dev},
		)
		if l.Options.Netem() {
			cmds = append(cmds, NetemCommand(l.Server, g.ServerDev, l.Options))
		}
	}
	return cmds
}

// NetemCommand is the tc command that puts o's delay and loss on dev, the
// server's end of a veth pair. Only the server's replies pass it, so the
// added round trip is o.RTT, not twice it (netem on both ends, or on lo,
// where a packet leaves twice, would double it).
func NetemCommand(namespace, dev string, o Options) []string {
	cmd := []string{"tc", "-n", namespace, "qdisc", "add", "dev", dev, "root", "netem",
		"limit", strconv.Itoa(NetemLimitPackets)}
	if o.RTT > 0 {
		// tc reads "us"; netem's resolution is finer than a microsecond.
		cmd = append(cmd, "delay", strconv.FormatInt(o.RTT.Microseconds(), 10)+"us")
	}
	if o.LossFraction > 0 {
		cmd = append(cmd, "loss", formatPercent(o.LossFraction))
	}
	return cmd
}

// formatPercent writes a fraction as tc's percentage: 0.01 is "1%". Six
// decimals are more than netem's 32-bit probability resolves, and they keep
// 0.07 from printing as 7.000000000000001%.
func formatPercent(f float64) string {
	pct := math.Round(f*100*1e6) / 1e6
	return strconv.FormatFloat(pct, 'f', -1, 64) + "%"
}

// ExecIn returns argv run in namespace ns: `ip netns exec NS ARGV...`. ip
// execs the command (it does not fork), so the PID the caller starts is the
// command's own: pinning, process groups and /proc sampling work as for any
// child.
func ExecIn(ns string, argv []string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// ServerAddr is the server's listen address with port.
func ServerAddr(port string) string { return ServerIP + ":" + port }

// Runner runs one command and returns its combined output. Exec runs it;
// tests record the argv instead.
type Runner interface {
	Run(ctx context.Context, argv []string) ([]byte, error)
}
