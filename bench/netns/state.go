package netns

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// StateFile is the state file's name in a run directory.
const StateFile = "netns.json"

// stateVersion is written in every state file; Remove refuses others.
const stateVersion = 1

// teardownTimeout bounds removing a network. Removal runs after the run's
// own context is cancelled (a second Ctrl-C), so it has its own.
const teardownTimeout = 30 * time.Second

// State is the state file: everything a run's network consists of, written
// before the first of it is created. Links and qdiscs live inside the
// recorded namespaces and go with them; they are listed for the reader.
type State struct {
	Version int    `json:"version"`
	RunID   string `json:"run_id"`
	// OwnerPID is the process that created the network; informative (the
	// run directory's lock says whether it still runs).
	OwnerPID   int       `json:"owner_pid"`
	Created    time.Time `json:"created"`
	Namespaces []string  `json:"namespaces"`
	Links      []Link    `json:"links"`
	Qdiscs     []Qdisc   `json:"qdiscs,omitempty"`
}

// Link is one veth pair, each end in its namespace.
type Link struct {
	Dev           string `json:"dev"`
	Namespace     string `json:"namespace"`
	PeerDev       string `json:"peer_dev"`
	PeerNamespace string `json:"peer_namespace"`
}

// Qdisc is one qdisc this package adds.
type Qdisc struct {
	Namespace string `json:"namespace"`
	Dev       string `json:"dev"`
	Kind      string `json:"kind"`
	// Args are its parameters as given to tc.
	Args []string `json:"args"`
}

// StateOf is the state of layout l for run runID.
func StateOf(l Layout, runID string) State {
	st := State{Version: stateVersion, RunID: runID, OwnerPID: os.Getpid(), Created: time.Now().UTC(),
		Namespaces: l.Namespaces()}
	for _, g := range l.Generators {
		st.Links = append(st.Links, Link{Dev: g.ServerDev, Namespace: l.Server, PeerDev: g.Dev, PeerNamespace: g.Namespace})
		if l.Options.Netem() {
			cmd := NetemCommand(l.Server, g.ServerDev, l.Options)
			st.Qdiscs = append(st.Qdiscs, Qdisc{Namespace: l.Server, Dev: g.ServerDev, Kind: "netem", Args: cmd[slices.Index(cmd, "netem")+1:]})
		}
	}
	return st
}

// WriteState writes st to path: a temporary file renamed over path, so a
// run killed mid-write leaves the old file or the new one, never half of
// one. It is not fsynced: the file only has to outlive the process (the
// page cache keeps it through kill -9), and a machine that crashes takes
// the namespaces with it (/run is memory).
func WriteState(path string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err = os.WriteFile(tmp, append(b, '\n'), 0o644); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("netns: state file %s: %w", path, err)
	}
	return nil
}

// ReadState reads a state file.
func ReadState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("netns: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("netns: state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	return st, nil
}

// Existing lists the namespaces `ip netns list` shows.
func Existing(ctx context.Context, run Runner) ([]string, error) {
	out, err := run.Run(ctx, []string{"ip", "netns", "list"})
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "NAME" or "NAME (id: 3)".
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, sc.Err()
}

// Remove deletes the namespaces st records that exist (their veth ends,
// peers and qdiscs go with them) and returns those it deleted. It touches
// nothing st does not name, and no name outside this package's pattern.
func Remove(ctx context.Context, run Runner, st State) ([]string, error) {
	existing, err := Existing(ctx, run)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	// Generators first, the server last: the reverse of creation.
	for _, ns := range slices.Backward(st.Namespaces) {
		switch {
		case !ValidName(ns):
			errs = append(errs, fmt.Errorf("netns: %q is not a name echobench creates; left alone", ns))
			continue
		case !slices.Contains(existing, ns):
			continue
		}
		if _, err := run.Run(ctx, []string{"ip", "netns", "del", ns}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, ns)
	}
	return removed, errors.Join(errs...)
}

// RemoveStateFile removes what the state file at path records and then the
// file. A missing file is nothing to do.
func RemoveStateFile(ctx context.Context, run Runner, path string) ([]string, error) {
	st, err := ReadState(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	removed, err := Remove(ctx, run, st)
	if err != nil {
		return removed, err
	}
	return removed, os.Remove(path)
}

// Net is a created network. Close removes it; it is safe from any
// goroutine and more than once (the run's deferred teardown and a signal
// handler's may race).
type Net struct {
	Layout
	run       Runner
	statePath string

	mu     sync.Mutex
	closed bool
}

// Setup picks a token no existing namespace uses, writes the state file at
// statePath, and creates the network. On error everything it created is
// removed again, and the state file with it.
func Setup(ctx context.Context, run Runner, statePath, runID string, o Options) (*Net, error) {
	l, err := freshLayout(ctx, run, o)
	if err != nil {
		return nil, err
	}
	if err := WriteState(statePath, StateOf(l, runID)); err != nil {
		return nil, err
	}
	n := &Net{Layout: l, run: run, statePath: statePath}
	for _, cmd := range l.SetupCommands() {
		if _, err = run.Run(ctx, cmd); err != nil {
			break
		}
	}
	if err != nil {
		if cerr := n.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("and removing what was created: %w", cerr))
		}
		return nil, fmt.Errorf("netns: create: %w", err)
	}
	return n, nil
}

// freshLayout is a layout whose names no existing namespace has. A clash
// of random tokens is unlikely; a second draw makes it negligible.
func freshLayout(ctx context.Context, run Runner, o Options) (Layout, error) {
	existing, err := Existing(ctx, run)
	if err != nil {
		return Layout{}, fmt.Errorf("netns: list namespaces: %w", err)
	}
	for range 5 {
		token, err := NewToken()
		if err != nil {
			return Layout{}, err
		}
		l, err := NewLayout(token, o)
		if err != nil {
			return Layout{}, err
		}
		clash := slices.ContainsFunc(l.Namespaces(), func(ns string) bool { return slices.Contains(existing, ns) })
		if !clash {
			return l, nil
		}
	}
	return Layout{}, errors.New("netns: no unused token after 5 draws")
}

// Close removes the network and then its state file. A failure leaves the
// state file, so `echobench cleanup` can try again.
func (n *Net) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	st := State{Version: stateVersion, Namespaces: n.Namespaces()}
	if _, err := Remove(ctx, n.run, st); err != nil {
		return err
	}
	n.closed = true
	if err := os.Remove(n.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ServerExec is argv run in the server namespace.
func (n *Net) ServerExec(argv []string) []string { return ExecIn(n.Server, argv) }

// GeneratorExec is argv run in generator i's namespace.
func (n *Net) GeneratorExec(i int, argv []string) []string {
	return ExecIn(n.Generators[i].Namespace, argv)
}
