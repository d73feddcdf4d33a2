package bench

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"echobench/bench/config"
	"echobench/bench/netns"
	"echobench/bench/proc"
	"echobench/bench/supervise"
)

// netGenerators is the number of load generator namespaces a run with
// network = "netns" creates: one per generator of the point with the
// most (load_procs), each generator in its own.
func (r *Runner) netGenerators() int {
	n := 1
	for _, f := range r.cfg.Families {
		n = max(n, f.LoadProcs)
	}
	return n
}

// KeyError is a matrix key this host cannot honour (rtt or loss without
// sch_netem, network = "netns" without the ip command or the privileges):
// refused before anything starts, and a usage error (exit status 2), as a
// wrong value of the key would be.
type KeyError struct{ Key, Msg string }

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// nsSubnet is netns.Subnet, parsed once.
var nsSubnet = func() *net.IPNet {
	_, n, err := net.ParseCIDR(netns.Subnet)
	if err != nil {
		panic(err)
	}
	return n
}()

func (r *Runner) inNetns() bool { return r.cfg.Network == config.NetworkNetns }

// allowRemote says whether the children get --allow-remote: the file asks
// for it, or the run's own namespaces need it (their addresses are not
// loopback, and nothing outside the run can reach them).
func (r *Runner) allowRemote() bool { return r.cfg.AllowRemote || r.inNetns() }

func (r *Runner) netRunner() netns.Runner {
	if r.deps.Net != nil {
		return r.deps.Net
	}
	return netns.Exec{}
}

func (r *Runner) netOptions() netns.Options {
	return netns.Options{Generators: r.netGenerators(), RTT: r.cfg.RTT.Duration, LossFraction: r.cfg.Loss}
}

// checkNetwork refuses, before anything starts, a network this host cannot
// build: namespaces it may not create, or rtt and loss without sch_netem.
// Nothing is created by the checks (they run in throwaway namespaces).
func (r *Runner) checkNetwork(ctx context.Context) error {
	if !r.inNetns() {
		return nil
	}
	run := r.netRunner()
	if err := netns.CheckHost(ctx, run); err != nil {
		return &KeyError{Key: "network", Msg: fmt.Sprintf("%q: %v", config.NetworkNetns, err)}
	}
	if !r.netOptions().Netem() {
		return nil
	}
	if err := netns.CheckNetem(ctx, run); err != nil {
		var keys []string
		if r.cfg.RTT.Duration > 0 {
			keys = append(keys, "rtt")
		}
		if r.cfg.Loss > 0 {
			keys = append(keys, "loss")
		}
		return &KeyError{Key: strings.Join(keys, ", "), Msg: err.Error() + "; rtt and loss are emulated with netem"}
	}
	return nil
}

// setNetworkEnv records the network settings in every record's Env.
func (r *Runner) setNetworkEnv() {
	r.env.Network = r.cfg.Network
	r.env.NetworkRTTMs = float64(r.cfg.RTT.Duration) / 1e6
	r.env.NetworkLossFraction = r.cfg.Loss
}

// netnsAddrs points every server of a netns run at the server namespace's
// address, keeping the port its addr asks for.
func (r *Runner) netnsAddrs() {
	if !r.inNetns() {
		return
	}
	for _, t := range r.targets {
		_, port, err := net.SplitHostPort(t.Addr)
		if err != nil {
			port = "0" // addr was validated; this cannot happen
		}
		t.Addr = netns.ServerAddr(port)
	}
}

// startNetwork creates the run's namespaces. A state file found in the run
// directory was left by a killed run of it (this process holds the run's
// lock, so its writer is gone): what it records goes first.
func (r *Runner) startNetwork(ctx context.Context) error {
	if !r.inNetns() {
		return nil
	}
	path := filepath.Join(r.runDir, netns.StateFile)
	removed, err := netns.RemoveStateFile(ctx, r.netRunner(), path)
	if err != nil {
		return fmt.Errorf("remove the network a killed run left: %w", err)
	}
	if len(removed) > 0 {
		fmt.Fprintf(r.stderr, "removed the namespaces a killed run left: %s\n", strings.Join(removed, ", "))
	}
	n, err := netns.Setup(ctx, r.netRunner(), path, r.runID, r.netOptions())
	if err != nil {
		return err
	}
	r.netMu.Lock()
	r.net = n
	r.netMu.Unlock()
	fmt.Fprintf(r.stderr, "network: namespaces %s, server at %s in %s over veth pairs (state: %s)\n",
		strings.Join(n.Namespaces(), ", "), netns.ServerIP, n.Server, path)
	return nil
}

// Teardown kills the run's children and removes its network namespaces.
// Run does it on its way out; a signal handler that gives up waiting for
// Run calls it before exiting. Safe from any goroutine, more than once.
func (r *Runner) Teardown() error {
	supervise.KillAll()
	r.netMu.Lock()
	n := r.net
	r.netMu.Unlock()
	return n.Close()
}

// stopNetwork is Run's deferred Teardown: a failure is reported with the
// command that finishes the job.
func (r *Runner) stopNetwork() {
	if err := r.Teardown(); err != nil {
		fmt.Fprintf(r.stderr, "warning: removing the network namespaces: %v; run: echobench cleanup --results %s %s\n",
			err, r.opts.ResultsDir, r.runID)
	}
}

// inServerNetns is argv run in the server namespace, or argv itself.
func (r *Runner) inServerNetns(argv []string) []string {
	if r.net == nil {
		return argv
	}
	return r.net.ServerExec(argv)
}

// inLoadNetns is argv run in load generator i's namespace, or argv.
func (r *Runner) inLoadNetns(i int, argv []string) []string {
	if r.net == nil {
		return argv
	}
	return r.net.GeneratorExec(i, argv)
}

// mayListen says whether a server of this run may listen on ip: loopback;
// in a netns run also the namespaces' range (nothing outside the run
// reaches the server namespace); anything with allow_remote.
func (r *Runner) mayListen(ip net.IP) bool {
	return r.cfg.AllowRemote || proc.IsLoopback(ip) || (r.inNetns() && nsSubnet.Contains(ip))
}

// checkAnnounced checks the address a server announced against mayListen.
func (r *Runner) checkAnnounced(addr string) error {
	if !r.allowRemote() {
		return config.CheckLoopback(addr)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !r.mayListen(ip) {
		return fmt.Errorf("%q is outside loopback and the run's namespaces (%s)", addr, netns.Subnet)
	}
	return nil
}

// checkListeners checks every listening socket of the server's processes
// against mayListen, in the server's own network namespace.
func (r *Runner) checkListeners(members []int) ([]proc.Socket, error) {
	switch {
	case r.cfg.AllowRemote:
		return proc.CheckListeners(members, r.mayListen, "", "")
	case r.inNetns():
		return proc.CheckListeners(members, r.mayListen, "loopback and "+netns.Subnet, "loopback or "+netns.ServerIP+" only")
	}
	return proc.CheckLoopbackOnly(members)
}

// loadTarget is where the load connects for a server that announced addr:
// an unspecified host (a server told to listen everywhere, allowed by
// allow_remote) is reached over loopback.
func loadTarget(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			return net.JoinHostPort("127.0.0.1", port)
		}
		return net.JoinHostPort("::1", port)
	}
	return addr
}
